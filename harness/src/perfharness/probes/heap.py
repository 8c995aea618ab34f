"""Heap high-water mark of a block of code, exact and allocator-independent (memray).

Where :class:`PeakRSSSampler` sees pages the kernel maps (and so glibc's choices: mmap threshold, arenas,
trimming), this probe sees allocations: memray records every ``malloc``/``free`` (and ``mmap``) made while
the block runs, by any thread, and :attr:`HeapPeak.peak_bytes` is the largest total of those alive at once.
Memory allocated before the block is not counted, nor are pools that reuse it (TensorFlow's BFC allocator).

With ``python_allocators=True`` (the default) Python objects are counted one by one; otherwise pymalloc is
seen only when it maps a whole 1 MiB arena, which happens in some processes and not others.
Only one memray tracker can be active in a process; tracking runs only inside the block and the capture
file is deleted on exit. Costs wall time (see the report), so time benchmarks must not use it.

>>> with HeapPeak() as heap:
...     block = bytearray(4 * 2**20)
>>> heap.peak_mib >= 4
True
"""

from __future__ import annotations

import os
import shutil
import tempfile
from types import TracebackType
from typing import Any

__all__ = ["HeapPeak", "HeapProbeError", "memray_available"]

_MIB = 2**20


class HeapProbeError(RuntimeError):
    """memray is missing or unusable here, or another memray tracker is already active."""


def memray_available() -> bool:
    """Whether memray can be imported (it supports Linux and macOS only)."""
    try:
        import memray  # noqa: F401
    except ImportError:
        return False
    return True


class HeapPeak:
    """Context manager: the heap high-water mark of the allocations made inside its block.

    ``native_traces`` records native stacks too (needed only for :attr:`top`'s C frames; it costs time),
    ``python_allocators`` counts Python objects individually instead of pymalloc arenas, ``directory`` is
    where the temporary capture file goes (default: the system's temporary directory), ``top`` how many of
    the largest allocation sites at the peak to keep in :attr:`top`. A HeapPeak is used once.
    """

    def __init__(
        self,
        native_traces: bool = True,
        directory: str | os.PathLike[str] | None = None,
        *,
        python_allocators: bool = True,
        top: int = 0,
    ) -> None:
        for name, value in (("native_traces", native_traces), ("python_allocators", python_allocators)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")
        if directory is not None and not (isinstance(directory, (str, os.PathLike)) and os.path.isdir(directory)):
            raise ValueError(f"directory must be an existing directory or None, got {directory!r}")
        if isinstance(top, bool) or not isinstance(top, int) or top < 0:
            raise ValueError(f"top must be an int >= 0, got {top!r}")
        self.native_traces = native_traces
        self.python_allocators = python_allocators
        self.directory = None if directory is None else os.fspath(directory)
        self.top_n = top
        self._tracker: Any = None
        self._tmpdir: str | None = None
        self._peak: int | None = None
        self._top: list[tuple[int, str]] = []

    @property
    def peak_bytes(self) -> int:
        """Largest total size of the block's allocations alive at one time, in bytes."""
        if self._peak is None:
            raise RuntimeError("HeapPeak.peak_bytes is available only after the with-block exits")
        return self._peak

    @property
    def peak_mib(self) -> float:
        """:attr:`peak_bytes` in MiB (2**20 bytes)."""
        return self.peak_bytes / _MIB

    @property
    def top(self) -> list[tuple[int, str]]:
        """(bytes, innermost Python frame, or native frame) of the largest allocation sites alive at the peak."""
        self.peak_bytes  # noqa: B018  (raises before exit)
        return list(self._top)

    def __enter__(self) -> HeapPeak:
        if self._tmpdir is not None:
            raise RuntimeError("a HeapPeak can be used only once")
        try:
            import memray
        except ImportError as exc:
            raise HeapProbeError("HeapPeak needs memray (pip install memray; Linux and macOS only)") from exc
        self._tmpdir = tempfile.mkdtemp(prefix="heappeak-", dir=self.directory)
        fmt = memray.FileFormat.ALL_ALLOCATIONS if self.top_n else memray.FileFormat.AGGREGATED_ALLOCATIONS
        tracker = memray.Tracker(
            os.path.join(self._tmpdir, "capture.bin"),
            native_traces=self.native_traces,
            trace_python_allocators=self.python_allocators,
            file_format=fmt,
        )
        try:
            tracker.__enter__()
        except RuntimeError as exc:
            self._cleanup()
            raise HeapProbeError(
                f"cannot start memray tracking: {exc} (only one memray Tracker or HeapPeak may be active "
                "in a process; is this process already run under `memray run`?)"
            ) from exc
        self._tracker = tracker
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import memray

        try:
            if self._tracker is not None:
                self._tracker.__exit__(None, None, None)
                self._tracker = None
            reader = memray.FileReader(os.path.join(self._tmpdir or "", "capture.bin"))
            try:
                self._peak = int(reader.metadata.peak_memory)
                if self.top_n:
                    records = sorted(reader.get_high_watermark_allocation_records(merge_threads=True),
                                     key=lambda r: -r.size)[: self.top_n]
                    self._top = [(int(r.size), _where(r, self.native_traces)) for r in records]
            finally:
                reader.close()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


def _where(record: object, native: bool) -> str:
    """The innermost Python frame of an allocation record, else its first native frame."""
    for function, filename, line in record.stack_trace(max_stacks=1):  # type: ignore[attr-defined]
        return f"{function} {os.path.basename(filename)}:{line}"
    if native:
        for function, filename, line in record.native_stack_trace(max_stacks=1):  # type: ignore[attr-defined]
            return f"{function} {os.path.basename(filename)}:{line}"
    return "?"
