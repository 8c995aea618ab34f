"""One measuring run per checkout: an advisory lock that dies with its holder.

``bench``, ``history``, ``matrix``, ``gate`` and ``publish`` share one checkout's asv environments
(``.asv/env``), its ``results/`` and ``html/``; two at once would reinstall a wheel under a running
benchmark or interleave writes. :func:`checkout_lock` takes an exclusive ``flock`` on
``<repo>/.asv/checkout.lock`` and writes who holds it (pid, purpose, command line, since when) into
the file. The kernel drops a ``flock`` when the last descriptor of it closes, so a crashed or killed
holder never leaves a stale lock; the file's text is only read while someone holds the lock.

    with checkout_lock(Path("."), "bench", wait=False) as held:
        ...  # measure; pass held.fd to a child (pass_fds) to keep the lock until it exits too

A second run either waits (``wait=True``, saying for whom) or gets :class:`LockBusy` (exit 2 in
the command lines). A process whose ancestor holds the lock (a run the holder itself started) is
let in without locking again, so nesting never deadlocks.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["LOCK_FILE", "HeldLock", "Holder", "LockBusy", "checkout_lock", "lock_path", "read_holder"]

LOCK_FILE = Path(".asv") / "checkout.lock"
# How often a waiting run retries, and how often it says again that it is still waiting.
_POLL_S = 0.5
_REMIND_S = 60.0


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a checkout's lock, as written inside the lock file."""

    pid: int
    purpose: str
    command: str
    since: str  # ISO 8601, UTC
    host: str

    def describe(self) -> str:
        """``pid 123 (bench: python -m perfharness.runner run) since 2026-… (42 s ago)``."""
        age = ""
        try:
            started = _dt.datetime.fromisoformat(self.since)
            age = f" ({(_dt.datetime.now(_dt.timezone.utc) - started).total_seconds():.0f} s ago)"
        except ValueError:
            pass
        return f"pid {self.pid} on {self.host} ({self.purpose}: {self.command}) since {self.since}{age}"


@dataclass(frozen=True)
class HeldLock:
    """What :func:`checkout_lock` yields: the lock file, its holder, and the descriptor (None if nested)."""

    path: Path
    holder: Holder
    fd: int | None


class LockBusy(RuntimeError):
    """Another run holds the checkout's lock and the caller chose not to wait."""

    def __init__(self, path: Path, holder: Holder | None, purpose: str) -> None:
        self.path, self.holder, self.purpose = path, holder, purpose
        who = holder.describe() if holder else "a run that has not yet written its name"
        super().__init__(
            f"{purpose}: this checkout is busy: {who} holds {path}. It measures in the same asv "
            f"environments, so {purpose} will not run beside it; wait for it (--wait), or stop it."
        )


def lock_path(repo: Path | str) -> Path:
    """The lock file of the checkout at ``repo``."""
    return Path(repo).resolve() / LOCK_FILE


def read_holder(path: Path) -> Holder | None:
    """The holder written in ``path``; None when the file is empty, missing or half-written."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
        return Holder(**data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def _ancestors() -> set[int]:
    pids, pid = set(), os.getppid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            try:
                import psutil

                pid = psutil.Process(pid).ppid()
            except Exception:  # psutil missing or the process gone: stop walking
                break
    return pids


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def checkout_lock(
    repo: Path | str,
    purpose: str,
    *,
    wait: bool,
    timeout_s: float | None = None,
    notify: Callable[[str], None] = _stderr,
) -> Iterator[HeldLock]:
    """Hold ``repo``'s checkout lock for ``purpose`` (e.g. ``"bench"``, ``"gate"``).

    ``wait=False``: raise :class:`LockBusy` at once when another run holds it. ``wait=True``: wait
    (at most ``timeout_s`` seconds, then :class:`LockBusy`), telling ``notify`` for whom.
    Re-entrant for descendants of the holder. Linux and macOS (``fcntl.flock``).
    """
    import fcntl

    if not isinstance(purpose, str) or not purpose.strip():
        raise ValueError(f"checkout_lock: purpose must be a non-empty string, got {purpose!r}")
    if timeout_s is not None and not timeout_s >= 0:
        raise ValueError(f"checkout_lock: timeout_s must be None or >= 0, got {timeout_s!r}")
    root = Path(repo).resolve()
    if not root.is_dir():
        raise ValueError(f"checkout_lock: {root} is not a directory")
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        told = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = read_holder(path)
                if holder is not None and holder.pid in _ancestors():
                    yield HeldLock(path, holder, None)  # started by the holder: already inside its lock
                    return
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    raise LockBusy(path, holder, purpose) from None
                if time.monotonic() - told >= _REMIND_S:
                    told = time.monotonic()
                    who = holder.describe() if holder else "another run"
                    notify(f"{purpose}: waiting for {who} to finish with this checkout ({path})")
                time.sleep(_POLL_S)
        me = Holder(
            pid=os.getpid(),
            purpose=purpose,
            command=" ".join(sys.argv) or sys.executable,
            since=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            host=os.uname().nodename,
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        try:
            yield HeldLock(path, me, fd)
        finally:
            os.ftruncate(fd, 0)  # no one holds it now; the kernel drops the flock on close
    finally:
        os.close(fd)
