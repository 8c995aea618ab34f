"""One round of the gate: base and head measured as a pair, at the same time (duet) or back to back.

**duet** (the default): both ``asv run``s start together, each pinned to its own core
(``sched_setaffinity``) with one TensorFlow thread, and every timed sample starts on a barrier
(:mod:`perfharness.barrier`), so whatever the machine does to one sample it does to the other, and the
per-round ratio cancels it (duet benchmarking, Bulej et al., ICPE 2020). At every barrier the two sides
trade cores, so each side takes half its samples on each core: on a shared VM one core is often slower
than the other for seconds at a time (a neighbour on its physical core), and that no longer lands on one
side for a whole round. Each side has its own asv environment (``env_dir``/``a`` for base, ``/b`` for
head): TensorFlow is installed once per side, and neither run reinstalls under the other. Both sides run
without address-space randomisation (``personality(ADDR_NO_RANDOMIZE)``, what ``setarch -R`` does): with
it, every process got other addresses for its heap, stacks and JIT-compiled code, and the floor of a
sample (its fastest time) moved from process to process, so from side to side, by up to a few per cent.
With one fixed layout the two sides of an A/A pair start alike (docs/MEASUREMENTS.md, "a fixed address
layout"). A code change that moves the layout is then measured in that one layout, as any single run
measures it; the rounds still repeat the processes, so what they average is the machine's noise.

**duet-aslr**: the duet with address-space randomisation left on — the design before, kept to measure
one against the other. **duet-round**: as duet-aslr, but the cores swap only between rounds — the duet
before per-sample swaps, kept likewise.

**sequential**: the two runs back to back (A B, then B A), unpinned, default threads — the design the
duet replaced, kept likewise.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from perfharness.barrier import SIDE_ENV, SOCKET_ENV, BarrierStats, DuetBarrier
from perfharness.procs import PARENT_ENV

__all__ = ["MODES", "Mode", "RoundResult", "SideRun", "check_fixed_layout", "duet_cores", "fix_layout", "run_round"]

Mode = Literal["duet", "duet-aslr", "duet-round", "sequential"]
MODES: tuple[Mode, ...] = ("duet", "duet-aslr", "duet-round", "sequential")
ADDR_NO_RANDOMIZE = 0x0040000  # <linux/personality.h>: what ``setarch -R`` sets; inherited by children
# One thread each: two single-threaded processes on two cores do not compete for either.
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class SideRun:
    """One side's ``asv run`` in a round: its command line, results folder and environment."""

    side: str
    commit: str
    args: tuple[str, ...]
    results: Path
    env: Mapping[str, str]


@dataclass(frozen=True)
class RoundResult:
    """How a round went: each side's exit code, its wall time, and what the barrier did."""

    codes: Mapping[str, int]
    seconds: float
    barrier: BarrierStats | None


def duet_cores() -> tuple[int, int] | None:
    """Two cores this process may use, or None when it has fewer (a duet then cannot pin)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (cores[0], cores[1]) if len(cores) >= 2 else None


def fix_layout() -> None:
    """Turn off address-space randomisation for the programs this process executes from now on (Linux's
    ``personality``; the running image keeps its layout). Raises OSError where the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    current = libc.personality(0xFFFFFFFF)  # query
    if current == -1 or libc.personality(current | ADDR_NO_RANDOMIZE) == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"personality(ADDR_NO_RANDOMIZE) refused: {os.strerror(err)}")


def check_fixed_layout() -> None:
    """ValueError unless a child started as the duet starts its sides really runs without address-space
    randomisation (a container's seccomp profile may refuse it: then ``--mode duet-aslr``)."""
    try:
        out = subprocess.run(["cat", "/proc/self/personality"], preexec_fn=fix_layout, capture_output=True,
                             text=True, timeout=30, check=True).stdout
        ok = bool(int(out, 16) & ADDR_NO_RANDOMIZE)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise ValueError(f"mode 'duet' runs both sides without address-space randomisation, and this machine "
                         f"refuses it ({exc}); use --mode duet-aslr") from None
    if not ok:
        raise ValueError("mode 'duet' runs both sides without address-space randomisation, but the child's "
                         "personality does not show ADDR_NO_RANDOMIZE; use --mode duet-aslr")


def child_environ(run: SideRun, extra: Mapping[str, str]) -> dict[str, str]:
    """A side's environment: its own, the round's extras, and this process's pid, so that asv_child dies
    with the gate (killed or not), its forkserver and benchmark along (:mod:`perfharness.procs`)."""
    return {**run.env, **extra, PARENT_ENV: str(os.getpid())}


def _popen(run: SideRun, log: Path, core: int | None, extra: Mapping[str, str],
           fixed_layout: bool = False) -> subprocess.Popen[bytes]:
    # asv through perfharness.asv_child: atomic results files, and it dies with the gate, children and all
    cmd = [sys.executable, "-m", "perfharness.asv_child", *run.args]
    env = child_environ(run, extra)
    fh = log.open("ab")
    where = "" if core is None else f" on core {core}"
    fh.write(f"$ [{run.side}{where}{', fixed layout' if fixed_layout else ''}] {' '.join(cmd)}\n".encode())
    fh.flush()

    def child_setup() -> None:  # in the child, before exec: asv, its forkserver and benchmarks inherit both
        if core is not None:
            os.sched_setaffinity(0, {core})
        if fixed_layout:
            fix_layout()

    try:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, preexec_fn=child_setup,
                                start_new_session=True)
    finally:
        fh.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: asv, its forkserver, the benchmark
        proc.wait()


def _wait(procs: Sequence[tuple[str, subprocess.Popen[bytes]]], timeout_s: float) -> dict[str, int]:
    """Each side's exit code; a side that fails takes its partner down with it, since an unpaired side
    would only wait at the barrier."""
    deadline = time.monotonic() + timeout_s
    codes: dict[str, int] = {}
    try:
        while len(codes) < len(procs):
            for side, proc in procs:
                if side not in codes and proc.poll() is not None:
                    codes[side] = proc.returncode
                    if proc.returncode != 0:
                        for other, partner in procs:
                            if other not in codes:
                                _kill(partner)
                                codes[other] = -9
            if time.monotonic() > deadline:
                for side, proc in procs:
                    _kill(proc)
                    codes.setdefault(side, -9)
            time.sleep(0.05)
    finally:  # interrupted (or done): nothing the gate started may run on
        for _, proc in procs:
            _kill(proc)
    return codes


def run_round(
    runs: Sequence[SideRun], mode: Mode, k: int, work: Path, log: Path, timeout_s: float
) -> RoundResult:
    """Run round ``k``'s two sides (base first in ``runs``) in ``mode``; returns their exit codes."""
    started = time.perf_counter()
    if mode == "sequential":
        order = list(runs) if k % 2 == 0 else list(reversed(runs))  # A B, then B A: drift hits both alike
        codes: dict[str, int] = {}
        for run in order:
            codes |= _wait([(run.side, _popen(run, log, None, {}))], timeout_s)
        return RoundResult(codes, time.perf_counter() - started, None)
    cores = duet_cores()
    if cores is None:
        raise ValueError("mode 'duet' needs two CPU cores this process may use; use --mode sequential")
    first, second = cores if k % 2 == 0 else cores[::-1]  # and the cores swap every round
    sock = Path(tempfile.gettempdir()) / f"perfharness-duet-{os.getpid()}-{k}.sock"  # sun_path is short
    # duet: at the barrier's n-th release base goes to first if n is even, else to second; head the other
    swap = {runs[0].side: (first, second), runs[1].side: (second, first)} if mode != "duet-round" else None
    with DuetBarrier(sock, swap=swap) as barrier:
        procs = [
            (run.side, _popen(run, log, core, {**ONE_THREAD, SOCKET_ENV: str(barrier.path), SIDE_ENV: run.side},
                              fixed_layout=mode == "duet"))
            for run, core in zip(runs, (first, second), strict=True)
        ]
        codes = _wait(procs, timeout_s)
    return RoundResult(codes, time.perf_counter() - started, barrier.stats)
