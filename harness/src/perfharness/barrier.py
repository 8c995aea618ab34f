"""A two-party barrier over a Unix socket: base and head start every timed sample together.

The gate runs base and head at the same time, one core each (:mod:`perfharness.gate.duet`). The
benchmarks call :func:`wait_for_partner` at the end of ``setup`` — asv re-runs setup before every
sample — so both samples see the same moment of the machine. Standard library only: it runs inside
asv's benchmark processes. Without ``PERFHARNESS_DUET_SOCKET`` in the environment it returns at once.
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
            conn.recv(16)
    except OSError:
        return  # never fail a benchmark for the barrier's sake: the gate counts what it released


@dataclass
class BarrierStats:
    """What the barrier did in one round: samples started together, mismatches, lone releases."""

    together: int = 0
    mismatched: int = 0
    alone: int = 0
    labels: list[str] = field(default_factory=list)


class DuetBarrier:
    """The server side, one per round: ``with DuetBarrier(path) as barrier: ...``; ``barrier.stats``."""

    def __init__(self, path: Path, timeout_s: float = PARTNER_TIMEOUT_S) -> None:
        if len(str(path)) > 100:  # sun_path holds ~108 bytes
            raise ValueError(f"barrier socket path is too long for a Unix socket ({len(str(path))} chars): {path}")
        self.path = Path(path)
        self.timeout_s = timeout_s
        self.stats = BarrierStats()
        self._waiting: dict[str, tuple[socket.socket, str]] = {}
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DuetBarrier:
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
            for conn, _ in self._waiting.values():
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
                    self._waiting[side] = (conn, f"{count}\t{label}")
                    since[side] = time.monotonic()
            with self._lock:
                if len(self._waiting) == 2:
                    (a, la), (b, lb) = self._waiting.values()
                    self.stats.together += 1
                    if la != lb:
                        self.stats.mismatched += 1
                    self.stats.labels.append(la)
                    for c in (a, b):
                        self._release(c, b"go\n")
                    self._waiting.clear()
                for side, (c, _) in list(self._waiting.items()):
                    if time.monotonic() - since[side] > self.timeout_s:
                        self._release(c, b"alone\n")
                        self.stats.alone += 1
                        del self._waiting[side]
