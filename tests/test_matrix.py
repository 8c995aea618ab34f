"""The matrix for real: a tiny project whose [tool.perfharness.matrix] has two versions of a small package
(tomli), each cell run by its own "CI job" (a separate clone, ``matrix --cell NAME``) in a real asv
virtualenv, the shards merged. The cells that ran are exactly the listed ones, and merging loses nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tinyasv
from perfharness.matrix import find_python
from perfharness.site.merge import merge_results

pytestmark = [pytest.mark.slow, pytest.mark.skipif(find_python("3.11") is None, reason="needs a Python 3.11")]

SUITE = '''
from importlib import metadata


def track_tomli():
    return int(metadata.version("tomli").replace(".", ""))
'''


def _project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "benchmarks" / "bench_m.py").write_text(SUITE)
    (root / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "m", "project_url": "http://example.invalid/", "repo": ".", "branches": ["main"],
        "environment_type": "virtualenv", "pythons": ["3.11"], "matrix": {"req": {"tomli": ["2.0.1"]}},
        # Nothing to build or install: the suite only reads which tomli its environment has.
        "build_command": [], "install_command": [], "uninstall_command": [],
        "benchmark_dir": "benchmarks", "results_dir": "results", "html_dir": "html", "env_dir": ".asv/env",
    }))
    (root / "pyproject.toml").write_text(
        '[tool.perfharness.matrix]\npythons = ["3.11"]\n'
        'packages = { "tomli" = { "2.0.1" = ["3.11"], "2.2.1" = ["3.11"] } }\n')
    (root / ".gitignore").write_text(".asv/\nresults/\n")
    tinyasv.git(root, "init", "-q", "-b", "main")
    tinyasv.git(root, "add", "-A")
    tinyasv.git(root, "commit", "-q", "-m", "m")
    return root


def _runner(root: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfharness.runner", "--repo", str(root), "--machine", "mbox",
                           "matrix", *args], env=tinyasv.env(home), capture_output=True, text=True, timeout=900)


def test_each_listed_cell_runs_as_its_own_job_and_the_shards_merge(tmp_path: Path) -> None:
    from asv.results import iter_results_for_machine

    project = _project(tmp_path / "proj")
    home = tmp_path / "home"
    home.mkdir()
    listing = _runner(project, home, "--list", "--json")
    assert listing.returncode == 0, listing.stderr
    cells = json.loads(listing.stdout)
    assert [(c["version"], c["default"]) for c in cells] == [("2.0.1", True), ("2.2.1", False)]

    shards = []
    for cell in cells:  # one CI job per cell: a fresh clone, `matrix --cell NAME`
        job = tmp_path / cell["name"]
        subprocess.run(["git", "clone", "-q", str(project), str(job)], check=True)
        proc = _runner(job, home, "--cell", cell["name"], "--quick")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert [line for line in proc.stdout.splitlines() if line.startswith("matrix: cell ")] == [
            f"matrix: cell {cell['name']}"]
        shards.append(job / "results")

    ran = {}
    for shard in shards:
        [result] = list(iter_results_for_machine(str(shard), "mbox"))
        ran[result.env_name] = result.get_result_value("bench_m.track_tomli", [])
    assert sorted(ran.values()) == [[201], [221]]  # each cell measured its own tomli, under its own env name

    dest = tmp_path / "merged"
    shutil.copytree(shards[0], dest)
    report = merge_results(shards[1:], dest)
    assert report.clean and not report.conflicts and not report.skipped
    merged = {r.env_name: r.get_result_value("bench_m.track_tomli", []) for r in iter_results_for_machine(
        str(dest), "mbox")}
    assert merged == ran
    # The site shows every cell: asv publish of the merged folder graphs both tomli versions.
    from perfharness.runner import asv_config

    conf = asv_config(project, tmp_path / "publish.json", results_dir=str(dest), html_dir=str(tmp_path / "html"))
    publish = subprocess.run([sys.executable, "-m", "asv", "publish", "--config", str(conf)], cwd=project,
                             env=tinyasv.env(home), capture_output=True, text=True, timeout=300)
    assert publish.returncode == 0, publish.stdout + publish.stderr
    graphs = {p.name for p in (tmp_path / "html" / "graphs").rglob("tomli-*")}
    assert graphs == {"tomli-2.0.1", "tomli-2.2.1"}
