"""A two-party barrier over a Unix socket: base and head start every timed sample together.

The gate runs base and head at the same time, one core each (:mod:`perfharness.gate.duet`). The
benchmarks call :func:`wait_for_partner` at the end of ``setup`` — asv re-runs setup before every
sample — so both samples see the same moment of the machine. With ``swap``, the barrier's reply names a
core, and the side moves every thread of its process there before its sample starts: at the n-th release
base and head trade cores, so each side takes half its samples on each core. Standard library only: it runs
inside asv's benchmark processes. Without ``PERFHARNESS_DUET_SOCKET`` in the environment it returns at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SIDE_ENV", "SOCKET_ENV", "BarrierStats", "DuetBarrier", "wait_for_partner"]

SOCKET_ENV = "PERFHARNESS_DUET_SOCKET"
SIDE_ENV = "PERFHARNESS_DUET_SIDE"
PARTNER_TIMEOUT_S = 60.0  # one side compiling or crashed: the other goes on alone after this

_calls = 0


def wait_for_partner(label: str) -> None:
    """Block until the other side reaches its call with the same count (or the barrier lets go)."""
    global _calls
    path, side = os.environ.get(SOCKET_ENV), os.environ.get(SIDE_ENV)
    if not path or not side:
        return
    _calls += 1
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(PARTNER_TIMEOUT_S + 30.0)
            conn.connect(path)
            conn.sendall(f"{side}\t{_calls}\t{label}\n".encode())
            reply = conn.recv(32).decode(errors="replace").split()
    except OSError:
        return  # never fail a benchmark for the barrier's sake: the gate counts what it released
    if len(reply) == 2 and reply[0] == "go" and reply[1].isdigit():
        move_to_core(int(reply[1]))


def move_to_core(core: int) -> None:
    """Pin every thread of this process to ``core`` (``sched_setaffinity`` of one tid moves one thread)."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), {core})


@dataclass
class BarrierStats:
    """What the barrier did in one round: samples started together, mismatches, lone releases."""

    together: int = 0
    mismatched: int = 0
    alone: int = 0
    labels: list[str] = field(default_factory=list)
    released: list[float] = field(default_factory=list)  # seconds from the barrier's start to each release


class DuetBarrier:
    """The server side, one per round: ``with DuetBarrier(path) as barrier: ...``; ``barrier.stats``."""

    def __init__(self, path: Path, timeout_s: float = PARTNER_TIMEOUT_S,
                 swap: dict[str, tuple[int, int]] | None = None) -> None:
        if len(str(path)) > 100:  # sun_path holds ~108 bytes
            raise ValueError(f"barrier socket path is too long for a Unix socket ({len(str(path))} chars): {path}")
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.swap = swap  # side -> (core on even calls, core on odd calls): the sides trade cores every sample
        self.stats = BarrierStats()
        self._waiting: dict[str, tuple[socket.socket, str, str, str]] = {}
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DuetBarrier:
        import time

        self._opened = time.monotonic()
        self.path.unlink(missing_ok=True)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(8)
        self._server.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="duet-barrier", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        with self._lock:
            for conn, *_ in self._waiting.values():
                self._release(conn, b"alone\n")
                self.stats.alone += 1
            self._waiting.clear()
        if self._server is not None:
            self._server.close()
        self.path.unlink(missing_ok=True)

    @staticmethod
    def _release(conn: socket.socket, message: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(message)
        conn.close()

    def _go(self, side: str, count: str) -> bytes:
        if self.swap is None or side not in self.swap or not count.isdigit():
            return b"go\n"
        return f"go {self.swap[side][int(count) % 2]}\n".encode()

    def _serve(self) -> None:
        import time

        since: dict[str, float] = {}
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                conn = None
            except OSError:
                return
            if conn is not None:
                conn.settimeout(5.0)
                try:
                    side, count, label = conn.makefile().readline().rstrip("\n").split("\t", 2)
                except (OSError, ValueError):
                    conn.close()
                    continue
                with self._lock:
                    self._waiting[side] = (conn, f"{count}\t{label}", side, count)
                    since[side] = time.monotonic()
            with self._lock:
                if len(self._waiting) == 2:
                    (_, la, _, _), (_, lb, _, _) = self._waiting.values()
                    self.stats.together += 1
                    if la != lb:
                        self.stats.mismatched += 1
                    self.stats.labels.append(la)
                    self.stats.released.append(time.monotonic() - self._opened)
                    for c, _, s, n in self._waiting.values():
                        self._release(c, self._go(s, n))
                    self._waiting.clear()
                for side, (c, *_) in list(self._waiting.items()):
                    if time.monotonic() - since[side] > self.timeout_s:
                        self._release(c, b"alone\n")
                        self.stats.alone += 1
                        del self._waiting[side]
