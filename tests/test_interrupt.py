"""An interrupted run keeps what it finished (perfharness.asv_child): real asv, real signals, a tiny suite.

A run of 8 benchmarks is killed once 3 are on disk: SIGTERM to its process group (what CI's cancel
and a terminal's kill do), SIGKILL to the process that started the runner (nox killed), SIGKILL to the
runner (asv's parent dies: nothing may run on), and SIGKILL to asv itself. Each time the results
file, loaded by asv itself, holds the finished benchmarks, no temp or partial file is left in
results/, no process of the run survives, and the rerun measures exactly the missing benchmarks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import tinyasv

pytestmark = pytest.mark.slow


def _finished_on_disk(root: Path) -> int:
    files = tinyasv.results_files(root)
    if not files:
        return 0
    try:
        return sum(row[0] is not None for row in json.loads(files[0].read_text())["results"].values())
    except (ValueError, KeyError, IndexError):  # would be a partial file: the test below fails on it
        return -1


def _asv_child(runner: psutil.Process) -> psutil.Process:
    [child] = [p for p in runner.children() if "perfharness.asv_child" in " ".join(p.cmdline())]
    return child


@pytest.mark.parametrize("how", ["sigterm-group", "sigkill-parent", "sigkill-runner", "sigkill-asv"])
def test_interrupted_run_keeps_finished_benchmarks(tmp_path: Path, how: str) -> None:
    from asv.results import Results

    root = tinyasv.make_project(tmp_path / "proj")
    home = tmp_path / "home"
    home.mkdir()
    env = tinyasv.env(home, sleep=0.8)
    # Its own process group, as nox's session is: the group signal reaches the runner only.
    # "sigkill-parent": the runner under a stand-in for nox (a parent that only waits), killed.
    cmd = tinyasv.runner_cmd(root)
    if how == "sigkill-parent":
        cmd = [sys.executable, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))", *cmd]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = _finished_on_disk(root)
        assert seen >= 0, "a partial results file appeared in results/"
        if seen >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None and seen >= 3, f"the run ended or stalled before the kill: {proc.stdout}"
    top = psutil.Process(proc.pid)
    runner = top.children()[0] if how == "sigkill-parent" else top
    tree = [top, *top.children(recursive=True)]
    assert any("perfharness.asv_child" in " ".join(p.cmdline()) for p in tree)
    if how == "sigterm-group":
        os.killpg(proc.pid, signal.SIGTERM)
    elif how in ("sigkill-runner", "sigkill-parent"):
        os.kill(proc.pid, signal.SIGKILL)
    else:
        _asv_child(runner).kill()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0, out
    _, alive = psutil.wait_procs(tree, timeout=20)
    assert alive == [], f"still running after the kill: {[p.cmdline() for p in alive]}"

    # results/ holds only complete files, and asv's own loader reads them.
    leftovers = [p for p in (root / "results").rglob("*") if p.is_file() and p.suffix != ".json"]
    assert leftovers == []
    [path] = tinyasv.results_files(root)
    loaded = Results.load(str(path))
    finished = {name for name in loaded.get_all_result_keys() if loaded.get_result_value(name, []) != [None]}
    assert 3 <= len(finished) < len(tinyasv.NAMES), finished
    assert {f"bench_tiny.{n}" for n in tinyasv.ran(root)} >= finished
    publish = subprocess.run([sys.executable, "-m", "asv", "publish"], cwd=root, env=env, capture_output=True,
                             text=True, timeout=120)
    assert publish.returncode == 0, publish.stdout + publish.stderr
    graphs = {p.stem for p in (root / "html" / "graphs").rglob("bench_tiny.*.json")}
    assert {n.split(".", 1)[1] for n in finished} <= {g.split(".", 1)[1] for g in graphs}

    # The rerun measures exactly what is missing.
    before = len(tinyasv.ran(root))
    rerun = subprocess.run(tinyasv.runner_cmd(root), env=tinyasv.env(home, sleep=0.05), capture_output=True,
                           text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    again = {f"bench_tiny.{n}" for n in tinyasv.ran(root)[before:]}
    assert again == {f"bench_tiny.{n}" for n in tinyasv.NAMES} - finished
    final = Results.load(str(path))
    assert all(final.get_result_value(f"bench_tiny.{n}", []) == [i] for i, n in enumerate(tinyasv.NAMES))


def test_a_finished_run_writes_the_same_file_asv_would(tmp_path: Path) -> None:
    """The incremental saves end in asv's own final save: all results, machine.json, benchmarks.json."""
    from asv.results import Results

    root = tinyasv.make_project(tmp_path / "proj")
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run(tinyasv.runner_cmd(root), env=tinyasv.env(home, sleep=0.01), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"asv machine '{tinyasv.MACHINE}' (from --machine;")
    assert "I will now ask you some questions" not in proc.stdout
    [path] = tinyasv.results_files(root)
    loaded = Results.load(str(path))
    assert sorted(loaded.get_all_result_keys()) == sorted(f"bench_tiny.{n}" for n in tinyasv.NAMES)
    assert json.loads((root / "results" / tinyasv.MACHINE / "machine.json").read_text())["num_cpu"]
    assert (root / "results" / "benchmarks.json").is_file()
    assert list((root / "results").rglob("*.phtmp")) == []
