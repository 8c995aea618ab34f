"""The gate is not tied to gdopt: it gates a second, TensorFlow-free asv project of its own.

The project is built in a temporary git repository: a one-module package (``tinywork``), an
``asv.conf.json`` with virtualenv environments holding only setuptools, wheel and build, a gate suite
(``benchmarks/gate.py``: ``Gate.time_work`` and ``Gate.track_final_loss``) and its own
``[tool.perfharness]`` table. Two commits: ``base``, and ``head`` whose ``work`` takes 25 % longer. The
gate runs as a subprocess, through the CLI that ``nox -s gate`` calls.

``work`` sleeps rather than spins: the change is the same 25 % however busy the shared machine is, and
the test spends its time in asv, not in holding a core.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import perfharness
import pytest

pytestmark = pytest.mark.slow

TIME = "gate.Gate.time_work"
LOSS = "gate.Gate.track_final_loss"

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinywork"
version = "0.1.0"

[tool.setuptools]
packages = ["tinywork"]

[tool.perfharness]
name = "tinywork"
machine_env = "TINYWORK_MACHINE"
watched = ["tinywork", "benchmarks", "asv.conf.json", "pyproject.toml"]

[tool.perfharness.gate]
bench = '^gate\\.Gate\\.'
"""

PACKAGE = """\
import time

SECONDS = {seconds!r}


def work() -> None:
    time.sleep(SECONDS)


def final_loss() -> float:
    return 0.125
"""

SUITE = """\
import tinywork


class Gate:
    number = 1
    repeat = (5, 10, 1.0)
    rounds = 1
    warmup_time = 0.0

    def time_work(self):
        tinywork.work()

    def track_final_loss(self):
        return tinywork.final_loss()
"""


def _asv_conf() -> str:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return json.dumps({
        "version": 1, "project": "tinywork", "project_url": "http://example.invalid/", "repo": ".",
        "branches": ["main"], "environment_type": "virtualenv", "pythons": [python],
        # `existing` would not install each commit: the gate needs asv to build and install both
        "matrix": {"req": {"setuptools": [""], "wheel": [""], "build": [""]}},
        "build_command": ["python -m build --wheel --no-isolation --outdir {build_cache_dir} {build_dir}"],
        "install_command": ["in-dir={env_dir} python -m pip install --no-deps --force-reinstall {wheel_file}"],
        "uninstall_command": [],
        "benchmark_dir": "benchmarks", "env_dir": ".asv/env", "results_dir": "results", "html_dir": "html",
    }, indent=1)


def _environ(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOX", "VIRTUAL_ENV", "GITHUB_STEP_SUMMARY", "PYTHONPATH", "GDOPT_"))}
    env.update(
        HOME=str(home),  # asv's ~/.asv-machine.json stays in the test's temp dir
        PYTHONPATH=str(Path(perfharness.__file__).resolve().parents[1]),  # this perfharness, nothing of gdopt
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The tiny project's repository, its commits (``base``, ``head``) and the environment to run in."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("portable")
    repo = root / "tinywork"
    env = _environ(root / "home")
    (root / "home").mkdir()
    (repo / "tinywork").mkdir(parents=True)
    (repo / "benchmarks").mkdir()
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / "asv.conf.json").write_text(_asv_conf())
    (repo / ".gitignore").write_text(".asv/\nresults/\nhtml/\n")
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "gate.py").write_text(SUITE)

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    commits = {}
    for name, seconds in (("base", 0.020), ("head", 0.025)):  # head: work 25 % slower
        (repo / "tinywork" / "__init__.py").write_text(PACKAGE.format(seconds=seconds))
        git("add", "-A")
        git("commit", "-q", "-m", f"{name}: work sleeps {seconds} s")
        commits[name] = git("rev-parse", "HEAD")
    return repo, commits, env


def _gate(repo: Path, env: dict[str, str], base: str, head: str, tag: str, *extra: str,
          cwd: Path | None = None) -> tuple[int, str, str]:
    """Run the gate's CLI on the tiny project (from inside it, as ``nox -s gate`` does, unless ``cwd``);
    its exit code, its output and the report."""
    work = repo.parent / f"work-{tag}"
    report = work.with_suffix(".md")
    proc = subprocess.run(
        [sys.executable, "-m", "perfharness.gate.run", base, head, "--repo", str(repo), "--work", str(work),
         "--report", str(report), "--budget", "600", *extra],
        cwd=cwd or repo, env=env, capture_output=True, text=True, timeout=1800,
    )
    log = work / "asv.log"
    output = proc.stdout + proc.stderr + (log.read_text() if proc.returncode == 2 and log.is_file() else "")
    return proc.returncode, output, report.read_text() if report.is_file() else ""


def _row(report: str, name: str) -> str:
    rows = [line for line in report.splitlines() if line.startswith("|") and name in line]
    assert rows, f"{name} is not in the report:\n{report}"
    return rows[0]


def test_a_a_run_on_another_project_passes(project: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    repo, commits, env = project
    code, output, report = _gate(repo, env, commits["base"], commits["base"], "aa")
    assert code == 0, output + report
    assert "regressed" not in _row(report, TIME)
    assert "numerics changed" not in report and f"`{LOSS}` = `0.125`" in report, report
    # asv installed the tiny project's own wheel, and nothing of gdopt's world came with it
    site = list((repo / ".asv" / "gate-env" / "a").glob("*/lib/python*/site-packages"))  # the base side's
    assert len(site) == 1, site
    assert list(site[0].glob("tinywork-0.1.0.dist-info")), sorted(p.name for p in site[0].iterdir())
    assert not [p for p in site[0].iterdir() if p.name.startswith(("tensorflow", "keras", "gdopt"))]


def test_slower_work_fails_naming_the_benchmark(project: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    repo, commits, env = project
    code, output, report = _gate(repo, env, commits["base"], commits["head"], "slow")
    assert code == 1, output + report
    assert "regressed" in _row(report, TIME), report
    assert "numerics changed" not in report and f"`{LOSS}` = `0.125`" in report, report  # only the time
    assert TIME in output  # the terminal table names it too, for a reader of the CI log


def test_gate_refuses_changes_under_the_projects_own_watched_paths(
    project: tuple[Path, dict[str, str], dict[str, str]],
) -> None:
    repo, commits, env = project
    package = repo / "tinywork" / "__init__.py"
    original = package.read_text()
    package.write_text(original + "# uncommitted\n")
    try:
        # refused before anything runs; --bench matching nothing would stop it after one round anyway
        code, output, report = _gate(repo, env, commits["base"], commits["head"], "dirty", "--bench", "no_such")
    finally:
        package.write_text(original)
    assert code == 2, output + report
    assert "uncommitted changes" in output and "tinywork/__init__.py" in output, output


def test_repo_option_works_from_another_directory(project: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    repo, commits, env = project
    # --bench matching nothing: the gate stops (exit 2) after its first asv run, which is all this needs
    code, output, report = _gate(repo, env, commits["base"], commits["base"], "elsewhere", "--bench", "no_such",
                                 cwd=repo.parent)
    assert code == 2, output + report
    assert "asv machine failed" not in output and "No `asv.conf` file found" not in output, output
    assert "no gate benchmark matches --bench 'no_such'" in output, output  # says exactly that
