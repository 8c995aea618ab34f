"""perfharness.lock: one run per checkout, with two real processes (and real runner commands)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import tinyasv
from perfharness.lock import LockBusy, checkout_lock, lock_path, read_holder

HOLD = """
import sys, time
from pathlib import Path
from perfharness.lock import checkout_lock
with checkout_lock(Path(sys.argv[1]), sys.argv[2], wait=False) as held:
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin (or kills us)
"""


@contextmanager
def holder(repo: Path, purpose: str = "bench") -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(repo), purpose], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
        proc.wait(timeout=30)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tinyasv.make_project(tmp_path / "proj")
    (root / "pyproject.toml").write_text(
        '[tool.perfharness.matrix]\npythons = ["3.11"]\npackages = { "tomli" = { "2.0.1" = ["3.11"] } }\n')
    return root


def _runner(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "perfharness.runner", "--repo", str(project), "--machine", tinyasv.MACHINE,
            *args]


@pytest.mark.parametrize("command", ["run", "history", "matrix", "publish", "bisect"])
def test_a_second_run_refuses_naming_the_holder_and_touches_nothing(project: Path, tmp_path: Path,
                                                                     command: str) -> None:
    extra = ["a", "b", "bench_tiny.track_b0"] if command == "bisect" else []
    with holder(project, "gate") as first:
        proc = subprocess.run(_runner(project, command, *extra), env=tinyasv.env(tmp_path), capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"pid {first.pid} on " in proc.stderr and "(gate: " in proc.stderr and " since " in proc.stderr
        assert "this checkout is busy" in proc.stderr and "--wait" in proc.stderr
    assert not (project / "results").exists() and not (project / "html").exists()
    assert not (project / ".asv" / "env").exists() and tinyasv.ran(project) == []


@pytest.mark.slow
def test_a_waiting_run_says_for_whom_then_runs(project: Path, tmp_path: Path) -> None:
    with holder(project, "bench") as first:
        second = subprocess.Popen([*_runner(project, "run", "--wait"), "--python=same", "--set-commit-hash",
                                   tinyasv.git(project, "rev-parse", "HEAD")],
                                  env=tinyasv.env(tmp_path, sleep=0.01), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert second.stderr is not None
        line = second.stderr.readline()
        assert line.startswith(f"bench: waiting for pid {first.pid} on "), line
        time.sleep(1.0)
        assert second.poll() is None and tinyasv.ran(project) == []  # still waiting, nothing measured
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert sorted(tinyasv.ran(project)) == sorted(tinyasv.NAMES)


def test_a_killed_holder_leaves_no_stale_lock(project: Path) -> None:
    with holder(project) as first:
        with pytest.raises(LockBusy) as busy, checkout_lock(project, "history", wait=False):
            pass
        assert busy.value.holder is not None and busy.value.holder.pid == first.pid
        assert read_holder(lock_path(project)) == busy.value.holder
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        with checkout_lock(project, "history", wait=False) as held:  # at once: the kernel dropped the flock
            assert held.holder.pid == os.getpid() and held.fd is not None
            assert read_holder(held.path) == held.holder
    assert read_holder(lock_path(project)) is None  # emptied on release


def test_wait_with_a_timeout_gives_up_naming_the_holder(project: Path) -> None:
    with holder(project, "matrix") as first:
        t0 = time.monotonic()
        with pytest.raises(LockBusy, match=rf"pid {first.pid} .*\(matrix: "), checkout_lock(
                project, "bench", wait=True, timeout_s=1.0, notify=lambda m: None):
            pass
        assert time.monotonic() - t0 >= 1.0


def test_a_run_started_by_the_holder_is_let_in(project: Path) -> None:
    nested = (
        "import sys; from pathlib import Path; from perfharness.lock import checkout_lock\n"
        "with checkout_lock(Path(sys.argv[1]), 'publish', wait=False) as h: print('nested', h.fd is None)\n"
    )
    script = HOLD.replace('print("held", flush=True)', "import subprocess; subprocess.run([sys.executable, '-c', "
                          f"{nested!r}, sys.argv[1]], check=True); print('held', flush=True)")
    proc = subprocess.run([sys.executable, "-c", script, str(project), "bench"], input="", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["nested", "True", "held"]


@pytest.mark.parametrize(("args", "message"), [(("", ), "purpose must be a non-empty string"),
                                               (("x",), "is not a directory")])
def test_bad_arguments_are_named(tmp_path: Path, args: tuple[str], message: str) -> None:
    repo = tmp_path / "missing" if message.endswith("directory") else tmp_path
    with pytest.raises(ValueError, match=message), checkout_lock(repo, args[0], wait=False):
        pass
