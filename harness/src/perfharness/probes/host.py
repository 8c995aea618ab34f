"""Host memory of a block of code: peak resident set size (RSS) above the RSS it started from.

Two readings of the same peak, both taken for every block:

* **kernel** (Linux): on entry the sampler resets the process's RSS high-water mark (``5`` written
  to ``/proc/<pid>/clear_refs``, Linux ≥ 4.0), so ``VmHWM`` on exit is the block's exact peak, however
  briefly it was held, at no cost while the block runs;
* **sampled**: a background thread reads RSS with psutil every ``interval_s``; it works everywhere
  psutil does, gives the cross-check, and misses peaks shorter than the interval.

``peak_rss_mb`` is the larger of the two minus the baseline taken on entry (``peak_source`` says
which); ``missed_peak_mb`` is what sampling missed. "MB" means MiB (2**20 bytes) throughout.

Cost: each wake-up of the thread takes a core from the work being measured, which shows in its time
where that work (TensorFlow) uses every core; it is the read, not the Python thread, that costs
(``python -m tools.sampler_overhead`` measures it; the figures are in docs/MEASUREMENTS.md). Since the
kernel gives the exact peak, the default interval (:data:`DEFAULT_RSS_INTERVAL_S`) is long: the thread
is the cross-check, not the measurement. Where the high-water mark cannot be reset (not Linux, another
user's process), pass a small ``interval_s``. While the measured thread runs pure Python, the sampler
also waits for the GIL (``sys.getswitchinterval()``): ``mean_interval_s`` shows the achieved spacing.

The lifetime high-water mark (``ru_maxrss`` for this process, ``VmHWM`` for another one) is also
read before and after, as :func:`lifetime_max_rss_mb` documents.

Freed memory that the C allocator keeps for reuse hides a block's working set: a second run of the same
training reuses it and its RSS barely moves. So on entry the sampler first hands free heap memory back to
the kernel (glibc's ``malloc_trim(0)``, :func:`release_free_memory`) when it watches its own process, and
the block's allocations show up in RSS again.

>>> with PeakRSSSampler(interval_s=0.005) as sampler:
...     block = bytearray(b"\\x01") * (50 * 2**20)  # repeated, so every page is written
...     time.sleep(0.05)
...     del block
>>> sampler.reading.peak_rss_mb > 40
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import psutil

__all__ = [
    "DEFAULT_RSS_INTERVAL_S",
    "PeakRSSSampler",
    "RSSReading",
    "lifetime_max_rss_mb",
    "pin_mmap_threshold",
    "release_free_memory",
    "reset_peak_rss",
]

_MIB = 2**20
DEFAULT_RSS_INTERVAL_S = 0.05  # the kernel gives the exact peak; see the module docstring


@dataclass(frozen=True)
class RSSReading:
    """What a :class:`PeakRSSSampler` saw during its block (all sizes in MiB)."""

    pid: int
    baseline_rss_mb: float  # RSS on entry, before the block ran
    peak_rss_mb: float  # highest sampled RSS minus baseline: the block's own peak
    peak_total_rss_mb: float  # highest RSS seen (kernel high-water mark or samples)
    final_rss_mb: float | None  # RSS on exit; None if the process had exited
    n_samples: int  # RSS reads, including the baseline and the final read
    duration_s: float
    interval_s: float  # requested; compare with mean_interval_s
    lifetime_max_rss_before_mb: float | None  # kernel high-water mark on entry (process lifetime)
    lifetime_max_rss_mb: float | None  # kernel high-water mark on exit (since the reset, if one was made)
    lifetime_max_rss_source: str | None  # "ru_maxrss", "VmHWM", or None where neither is readable
    process_exited: bool  # the watched process ended during the block
    sampled_peak_rss_mb: float = 0.0  # highest RSS read by the thread (and on entry/exit) minus baseline
    kernel_peak_rss_mb: float | None = None  # VmHWM after a reset on entry minus baseline; None: no reset

    @property
    def peak_source(self) -> str:
        """``"kernel"`` when the reset high-water mark gave the peak, else ``"samples"``."""
        return "samples" if self.kernel_peak_rss_mb is None else "kernel"

    @property
    def mean_interval_s(self) -> float:
        """Achieved time between samples; larger than ``interval_s`` when the thread waits for the GIL."""
        return self.duration_s / max(self.n_samples - 1, 1)

    @property
    def missed_peak_mb(self) -> float | None:
        """True peak minus sampled peak: exact with the kernel reading, else known only when the
        lifetime high-water mark rose in the block."""
        if self.kernel_peak_rss_mb is not None:
            return max(self.kernel_peak_rss_mb - self.sampled_peak_rss_mb, 0.0)
        before, after = self.lifetime_max_rss_before_mb, self.lifetime_max_rss_mb
        if before is None or after is None or after <= before:
            return None
        return max(after - self.peak_total_rss_mb, 0.0)


def _glibc(function: str) -> Callable[..., int] | None:
    """A glibc function by name, or None (not Linux, or a C library without it, such as musl)."""
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), function)
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Return this process's free heap memory to the kernel (glibc ``malloc_trim(0)``); False where unsupported."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]  # type: ignore[attr-defined]
    return bool(trim(0))


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def pin_mmap_threshold(threshold_bytes: int = 128 * 1024) -> bool:
    """Fix glibc's mmap threshold (``mallopt(M_MMAP_THRESHOLD)``); False where unsupported.

    glibc raises the threshold whenever a large mapped block is freed (up to 32 MiB), so whether the
    same buffers come from the heap or from fresh mappings depends on what the process did before:
    a training's peak RSS then jumps between processes by whole buffers. With the threshold fixed,
    large blocks are mapped fresh every time and counted alike in every process (the readings with
    and without it are in docs/MEASUREMENTS.md). Call it before the measured work sets up; it changes
    the allocator for the rest of the process, so time benchmarks do not call it.
    """
    if isinstance(threshold_bytes, bool) or not isinstance(threshold_bytes, int) or threshold_bytes <= 0:
        raise ValueError(f"threshold_bytes must be a positive int, got {threshold_bytes!r}")
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]  # type: ignore[attr-defined]
    return mallopt(_M_MMAP_THRESHOLD, threshold_bytes) == 1


def reset_peak_rss(pid: int | None = None) -> bool:
    """Reset the kernel's RSS high-water mark (``VmHWM``) of ``pid`` to its current RSS; False where
    that is not possible (not Linux, kernel < 4.0, no permission, process gone)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open(f"/proc/{os.getpid() if pid is None else pid}/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _vm_hwm_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def lifetime_max_rss_mb(pid: int | None = None) -> tuple[float | None, str | None]:
    """The kernel's lifetime RSS high-water mark of ``pid`` (default: this process) and where it came from.

    This process: ``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux, bytes on macOS). Another process:
    ``VmHWM`` from ``/proc/<pid>/status`` (Linux only). ``(None, None)`` where neither is available.
    """
    if pid is None or pid == os.getpid():
        try:
            import resource
        except ImportError:  # Windows has no resource module
            return None, None
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        scale = 1 if sys.platform == "darwin" else 1024
        return maxrss * scale / _MIB, "ru_maxrss"
    hwm = _vm_hwm_bytes(pid)
    return (None, None) if hwm is None else (hwm / _MIB, "VmHWM")


class PeakRSSSampler:
    """Context manager: peak RSS of process ``pid`` (default: this one) above its RSS on entry.

    ``interval_s`` is the time between reads (see the module docstring on what reads cost). The result
    is :attr:`reading` once the block exits. A sampler is used once.
    """

    def __init__(self, interval_s: float = DEFAULT_RSS_INTERVAL_S, pid: int | None = None) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.interval_s = float(interval_s)
        self.pid = os.getpid() if pid is None else int(pid)
        self._process = psutil.Process(self.pid)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reading: RSSReading | None = None
        self._baseline = 0
        self._peak = 0
        self._n_samples = 0
        self._exited = False
        self._lifetime_before: float | None = None
        self._start = 0.0
        self._hwm_reset = False
        self._ready = threading.Event()

    @property
    def reading(self) -> RSSReading:
        """The result; available after the ``with`` block exits."""
        if self._reading is None:
            raise RuntimeError("PeakRSSSampler.reading is available only after the with-block exits")
        return self._reading

    def _sample(self) -> int | None:
        try:
            rss = int(self._process.memory_info().rss)
        except psutil.NoSuchProcess:  # includes zombies: the watched process is gone
            self._exited = True
            return None
        self._peak = max(self._peak, rss)
        self._n_samples += 1
        return rss

    def _run(self) -> None:
        self._ready.set()
        while not self._stop.wait(self.interval_s):
            if self._sample() is None:
                return

    def __enter__(self) -> PeakRSSSampler:
        if self._thread is not None:
            raise RuntimeError("a PeakRSSSampler can be used only once")
        if self.pid == os.getpid():
            release_free_memory()
        self._lifetime_before, _ = lifetime_max_rss_mb(self.pid)
        self._hwm_reset = reset_peak_rss(self.pid)
        self._baseline = int(self._process.memory_info().rss)
        self._peak, self._n_samples = self._baseline, 1
        self._thread = threading.Thread(target=self._run, name=f"PeakRSSSampler-{self.pid}", daemon=True)
        self._thread.start()
        self._ready.wait()  # the thread is parked in its first wait: it does not compete with the block's start
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        duration = time.perf_counter() - self._start
        final = None if self._exited else self._sample()
        hwm = _vm_hwm_bytes(self.pid) if self._hwm_reset and not self._exited else None
        lifetime_after, source = lifetime_max_rss_mb(self.pid)
        peak = self._peak if hwm is None else max(self._peak, hwm)
        self._reading = RSSReading(
            pid=self.pid,
            baseline_rss_mb=self._baseline / _MIB,
            peak_rss_mb=(peak - self._baseline) / _MIB,
            peak_total_rss_mb=peak / _MIB,
            final_rss_mb=None if final is None else final / _MIB,
            n_samples=self._n_samples,
            duration_s=duration,
            interval_s=self.interval_s,
            lifetime_max_rss_before_mb=self._lifetime_before,
            lifetime_max_rss_mb=lifetime_after,
            lifetime_max_rss_source=source,
            process_exited=self._exited,
            sampled_peak_rss_mb=(self._peak - self._baseline) / _MIB,
            kernel_peak_rss_mb=None if hwm is None else (hwm - self._baseline) / _MIB,
        )
