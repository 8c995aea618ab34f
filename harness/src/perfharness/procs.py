"""Child processes that never outlive the run that started them.

asv starts its forkserver, builds and benchmark processes in process groups of their own, so a
signal to the caller's process group never reaches them, and a killed asv leaves them running.
:func:`run_supervised` starts a command in its own session and

* forwards SIGTERM, SIGINT and SIGHUP to it, waits ``grace_s``, then kills what is left;
* is a child subreaper (Linux), so orphans of a killed child come back to it and are killed too;
* asks, via :func:`die_with_parent`, to be sent SIGTERM when its own parent dies (``nox`` killed).

The supervised child calls :func:`die_with_parent` and :func:`kill_descendants_on_signal` itself
(see :mod:`perfharness.asv_child`), so killing the supervisor, even with SIGKILL, still ends
everything below it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

import psutil

__all__ = ["PARENT_ENV", "die_with_parent", "kill_descendants", "kill_descendants_on_signal", "run_supervised"]

PARENT_ENV = "PERFHARNESS_PARENT_PID"  # the supervisor's pid, so a child can tell it is already orphaned
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def die_with_parent(expected_parent: int | None = None) -> None:
    """Get SIGTERM when the parent process dies (prctl on Linux, a watchdog thread elsewhere).

    ``expected_parent``: the parent's pid as it was at fork; if the parent is already gone
    (re-parented), SIGTERM is sent at once.
    """
    parent = expected_parent if expected_parent is not None else os.getppid()
    if not _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM):
        def watch() -> None:  # no prctl: poll the parent
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def kill_descendants(grace_s: float = 3.0) -> list[int]:
    """SIGTERM every descendant of this process, SIGKILL those alive after ``grace_s``; their pids."""
    killed: list[int] = []
    for _ in range(5):  # orphans of the killed re-parent to us (subreaper): look again
        try:
            children = psutil.Process().children(recursive=True)
        except psutil.Error:
            break
        if not children:
            break
        for child in children:
            try:
                child.send_signal(signal.SIGTERM)
                killed.append(child.pid)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(children, timeout=grace_s)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(alive, timeout=grace_s)
    return killed


def kill_descendants_on_signal(exit_code_base: int = 128) -> None:
    """On SIGTERM/SIGINT/SIGHUP: kill every descendant, then raise SystemExit(128 + signal).

    Raising (rather than ``os._exit``) lets the program's ``finally`` blocks run.
    """
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    busy = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if busy.is_set():
            return  # already cleaning up
        busy.set()
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        kill_descendants()
        raise SystemExit(exit_code_base + signum)

    for sig in _SIGNALS:
        signal.signal(sig, handler)


def run_supervised(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    pass_fds: Sequence[int] = (),
    grace_s: float = 15.0,
) -> int:
    """Run ``cmd`` in its own session; return its exit code (128 + N when this process got signal N).

    Whatever it leaves behind (a killed asv's forkserver, say) is killed before returning.
    """
    if not cmd:
        raise ValueError("run_supervised: empty command")
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    child_env = dict(os.environ if env is None else env)
    child_env[PARENT_ENV] = str(os.getpid())
    got: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    proc: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        got.append(signum)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM if signum == signal.SIGHUP else signum)

    for sig in _SIGNALS:
        signal.signal(sig, forward)
    try:
        proc = subprocess.Popen(list(cmd), env=child_env, cwd=cwd, start_new_session=True, pass_fds=tuple(pass_fds))
        deadline: float | None = None
        while True:
            try:
                code = proc.wait(timeout=0.5)  # short waits: a forwarded signal starts the grace period
                break
            except subprocess.TimeoutExpired:
                if got and deadline is None:
                    deadline = time.monotonic() + grace_s
                if deadline is not None and time.monotonic() > deadline:
                    proc.kill()  # it did not stop within grace_s of the forwarded signal
        kill_descendants()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if got:
        return 128 + got[0]
    return code if code >= 0 else 128 - code
