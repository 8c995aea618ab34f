""".ci/results-branch: the kept history accumulates on a branch of a real (bare, local) remote, from real
asv results, and survives any one run (a fresh clone fetches all of it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tinyasv

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "results-branch"

pytestmark = pytest.mark.slow


def _clone(origin: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True)
    (dest / ".ci").mkdir(exist_ok=True)
    shutil.copy(SCRIPT, dest / ".ci" / "results-branch")
    return dest


def _script(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**tinyasv.env(clone.parent / "home"), "RESULTS_MERGE": f"{sys.executable} -m perfharness.site merge",
           "GITHUB_SHA": "0" * 40, "GITHUB_RUN_ID": "7"}
    env.pop("GH_TOKEN", None)
    return subprocess.run(["bash", str(clone / ".ci" / "results-branch"), *args], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=300)


def _shard(project: Path, message: str, dest: Path) -> Path:
    """Commit in the project, measure that commit with asv, and copy its results folder to ``dest``."""
    (project / "note.txt").write_text(message)
    tinyasv.git(project, "add", "-A")
    tinyasv.git(project, "commit", "-q", "-m", message)
    sha = tinyasv.git(project, "rev-parse", "HEAD")
    proc = subprocess.run([sys.executable, "-m", "asv", "run", "--quick", "--python=same", "--machine",
                           tinyasv.MACHINE, "--set-commit-hash", sha, "--bench", "track_b[01]"], cwd=project,
                          env=tinyasv.env(project.parent / "home", 0.0), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shutil.copytree(project / "results", dest / "results")
    shutil.rmtree(project / "results")
    return dest


def test_history_accumulates_on_the_branch_across_runs(tmp_path: Path) -> None:
    from asv.results import Results

    project = tinyasv.make_project(tmp_path / "proj")
    (tmp_path / "home").mkdir()
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes", "--machine", tinyasv.MACHINE], cwd=project,
                   env=tinyasv.env(tmp_path / "home"), capture_output=True, timeout=60, check=True)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(project), str(origin)], check=True)

    first = _script(_clone(origin, tmp_path / "run1"), "push", str(_shard(project, "one", tmp_path / "s1")))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "pushed" in first.stdout
    # A later run, in another checkout (CI jobs share nothing but the remote), adds its commit.
    run2 = _clone(origin, tmp_path / "run2")
    second = _script(run2, "push", str(_shard(project, "two", tmp_path / "s2")))
    assert second.returncode == 0, second.stdout + second.stderr
    again = _script(run2, "push", str(tmp_path / "s2"))
    assert again.returncode == 0 and "nothing new to keep" in again.stdout
    log = subprocess.run(["git", "-C", str(origin), "log", "--format=%s", "results"], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    assert [line for line in log if line] == [f"results: {'0' * 40} (run 7)"] * 2

    fresh = _clone(origin, tmp_path / "fresh")
    fetched = _script(fresh, "fetch", str(tmp_path / "history"))
    assert fetched.returncode == 0, fetched.stderr
    files = sorted((tmp_path / "history" / tinyasv.MACHINE).glob("*.json"))
    commits = {Results.load(str(p)).commit_hash for p in files if p.name != "machine.json"}
    assert commits == {tinyasv.git(project, "rev-parse", "HEAD~1"), tinyasv.git(project, "rev-parse", "HEAD")}
    assert (tmp_path / "history" / "benchmarks.json").is_file()


def test_fetch_without_a_branch_starts_empty(tmp_path: Path) -> None:
    project = tinyasv.make_project(tmp_path / "proj")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(project), str(origin)], check=True)
    proc = _script(_clone(origin, tmp_path / "c"), "fetch", str(tmp_path / "h"))
    assert proc.returncode == 0 and "no results branch yet" in proc.stdout
    assert list((tmp_path / "h").iterdir()) == []
    bad = _script(tmp_path / "c", "push", str(tmp_path / "missing"))
    assert bad.returncode == 2 and "no shards folder" in bad.stderr
