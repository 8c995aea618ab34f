"""perfharness.history: a commit range split into shards (CI backfill), against a real git repository,
asv's own range expansion and real asv results files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tinyasv
from perfharness.history import expand_range, history_shards


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project with 9 commits on main, one of them a merge (asv follows first parents)."""
    root = tinyasv.make_project(tmp_path_factory.mktemp("shards") / "proj")
    for i in range(5):
        (root / f"f{i}.txt").write_text(str(i))
        tinyasv.git(root, "add", "-A")
        tinyasv.git(root, "commit", "-q", "-m", f"c{i}")
    tinyasv.git(root, "checkout", "-q", "-b", "side", "HEAD~2")
    (root / "side.txt").write_text("side")
    tinyasv.git(root, "add", "-A")
    tinyasv.git(root, "commit", "-q", "-m", "side")
    tinyasv.git(root, "checkout", "-q", "main")
    tinyasv.git(root, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    for i in range(5, 7):
        (root / f"f{i}.txt").write_text(str(i))
        tinyasv.git(root, "add", "-A")
        tinyasv.git(root, "commit", "-q", "-m", f"c{i}")
    return root


def _union(repo: Path, shards: list[dict]) -> list[str]:
    return [c for s in shards for c in expand_range(repo, s["range"])]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 50])
def test_shards_cover_the_range_exactly_once_in_order(repo: Path, tmp_path: Path, n: int) -> None:
    whole = expand_range(repo, "main")
    assert len(whole) == 9 and "side" not in tinyasv.git(repo, "log", "--format=%s", "-1", whole[-1])
    shards = history_shards(repo, "main", n, tmp_path / "results", tinyasv.MACHINE)
    assert len(shards) == min(n, 9) and [s["shard"] for s in shards] == list(range(1, len(shards) + 1))
    assert _union(repo, shards) == whole  # every commit once, newest first, as asv would run them
    sizes = [s["commits"] for s in shards]
    assert max(sizes) - min(sizes) <= 1 and sum(s["to_measure"] for s in shards) == 9


def test_shards_balance_the_commits_still_to_measure(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    whole = expand_range(repo, "main")
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes", "--machine", tinyasv.MACHINE], cwd=repo,
                   env=tinyasv.env(home), capture_output=True, timeout=60, check=True)
    for sha in whole[:4]:  # the four newest measured for real (asv, this interpreter)
        proc = subprocess.run([sys.executable, "-m", "asv", "run", "--quick", "--python=same", "--machine",
                               tinyasv.MACHINE, "--set-commit-hash", sha, "--bench", "track_b0"], cwd=repo,
                              env=tinyasv.env(home, 0.0), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    shards = history_shards(repo, "main", 2, repo / "results", tinyasv.MACHINE)
    assert [s["to_measure"] for s in shards] == [3, 2]
    assert [s["commits"] for s in shards] == [7, 2]  # the measured four ride along with the first shard
    assert _union(repo, shards) == whole


def test_a_sub_range_and_the_command_line(repo: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "perfharness.runner", "--repo", str(repo), "--machine", "x",
                           "history", "--list", "--json", "--shards", "2", "main~4..main"],
                          capture_output=True, text=True, timeout=60, env=tinyasv.env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    shards = json.loads(proc.stdout)
    assert _union(repo, shards) == expand_range(repo, "main~4..main") and len(shards) == 2


@pytest.mark.parametrize(("spec", "message"), [("main --output=/tmp/x", "is not a commit range"),
                                               ("nosuchref..main", "git cannot expand range")])
def test_a_bad_range_exits_2_naming_it(repo: Path, tmp_path: Path, spec: str, message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "perfharness.runner", "--repo", str(repo), "history", "--list",
                           spec], capture_output=True, text=True, timeout=60, env=tinyasv.env(tmp_path))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
