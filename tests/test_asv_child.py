"""asv_child's discovery-once hook: a run given ``$PERFHARNESS_ASV_DISCOVERED`` takes its benchmark list from
that file and does not discover again (real asv, the tiny suite)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tinyasv
from perfharness.asv_child import DISCOVERED_ENV, NO_MATCH_EXIT

pytestmark = pytest.mark.slow


def _asv(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfharness.asv_child", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def _run(root: Path, env: dict[str, str], bench: str) -> subprocess.CompletedProcess[str]:
    sha = tinyasv.git(root, "rev-parse", "HEAD")
    return _asv(root, env, "run", "--machine", tinyasv.MACHINE, "--python=same", "--set-commit-hash", sha,
                "--bench", bench)


def test_a_listed_run_uses_the_list_and_does_not_discover(tmp_path: Path) -> None:
    root = tinyasv.make_project(tmp_path / "proj")
    (tmp_path / "home").mkdir()
    env = tinyasv.env(tmp_path / "home", sleep=0.0)
    assert _asv(root, env, "machine", "--yes", "--machine", tinyasv.MACHINE).returncode == 0
    first = _run(root, env, "^bench_tiny.track_b1$")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Discovering benchmarks" in first.stdout
    listed = tmp_path / "benchmarks.json"
    shutil.copy(root / "results" / "benchmarks.json", listed)

    # A benchmark added after the list was made: fresh discovery finds it, the listed run does not know it.
    with (root / "benchmarks" / "bench_tiny.py").open("a") as fh:
        fh.write("\n\ndef track_added():\n    return 99\n")
    fresh = _run(root, env, "^bench_tiny.track_added$")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "bench_tiny.track_added" in json.loads((root / "results" / "benchmarks.json").read_text())

    listed_env = {**env, DISCOVERED_ENV: str(listed)}
    unknown = _run(root, listed_env, "^bench_tiny.track_added$")
    assert unknown.returncode == NO_MATCH_EXIT, unknown.stdout + unknown.stderr
    known = _run(root, listed_env, "^bench_tiny.track_b2$")
    assert known.returncode == 0, known.stdout + known.stderr
    assert "Discovering benchmarks" not in known.stdout
    assert tinyasv.ran(root) == ["track_b1", "track_b2"]
    saved = json.loads((root / "results" / "benchmarks.json").read_text())
    assert "bench_tiny.track_added" not in saved and saved == json.loads(listed.read_text())


def test_a_missing_list_is_an_error_naming_it(tmp_path: Path) -> None:
    root = tinyasv.make_project(tmp_path / "proj")
    (tmp_path / "home").mkdir()
    env = tinyasv.env(tmp_path / "home", sleep=0.0)
    assert _asv(root, env, "machine", "--yes", "--machine", tinyasv.MACHINE).returncode == 0
    missing = tmp_path / "nowhere" / "benchmarks.json"
    proc = _run(root, {**env, DISCOVERED_ENV: str(missing)}, "track_b1")
    assert proc.returncode != 0
    assert str(missing) in proc.stdout + proc.stderr
    assert tinyasv.ran(root) == []
