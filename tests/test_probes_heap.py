"""Tests of heap.HeapPeak (memray's heap high-water mark of a block)."""

from __future__ import annotations

import multiprocessing
import os

import pytest
from perfharness.probes.heap import HeapPeak, HeapProbeError

np = pytest.importorskip("numpy")
pytest.importorskip("memray")

MIB = 2**20
SLACK = 0.25 * MIB  # Python objects made around the array, memray's own bookkeeping in the block


def _allocate_8_mib() -> None:
    block = np.ones(MIB, dtype=np.float64)  # 8 MiB, every page written
    assert block.nbytes == 8 * MIB
    del block


@pytest.mark.parametrize("native_traces", [True, False])
@pytest.mark.parametrize("python_allocators", [True, False])
def test_known_array_reads_its_size(native_traces: bool, python_allocators: bool, tmp_path) -> None:
    with HeapPeak(native_traces=native_traces, directory=tmp_path, python_allocators=python_allocators) as heap:
        _allocate_8_mib()
    # without python_allocators a fresh pymalloc arena (1 MiB) may be counted
    slack = SLACK if python_allocators else SLACK + MIB
    assert 8 * MIB <= heap.peak_bytes < 8 * MIB + slack
    assert heap.peak_mib == heap.peak_bytes / MIB
    assert list(tmp_path.iterdir()) == []  # capture file and its folder removed


def test_peak_not_sum_freed_blocks_do_not_add_up() -> None:
    with HeapPeak() as heap:
        for _ in range(3):
            _allocate_8_mib()
    assert 8 * MIB <= heap.peak_bytes < 8 * MIB + SLACK


def test_empty_block_reads_near_zero() -> None:
    with HeapPeak() as heap:
        pass
    assert 0 <= heap.peak_bytes < 64 * 1024


def test_memory_from_before_the_block_is_not_counted() -> None:
    before = np.ones(MIB)
    with HeapPeak() as heap:
        del before
    assert heap.peak_bytes < 64 * 1024


def _bytes_8_mib() -> None:
    block = bytearray(8 * MIB)  # allocated in this very frame (numpy's would name numpy's own)
    del block


def test_top_names_the_allocation() -> None:
    with HeapPeak(top=3) as heap:
        _bytes_8_mib()
    size, where = heap.top[0]
    assert size >= 8 * MIB and "_bytes_8_mib" in where


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"native_traces": 1}, "native_traces"),
        ({"native_traces": "yes"}, "native_traces"),
        ({"python_allocators": None}, "python_allocators"),
        ({"directory": "/no/such/dir"}, "directory"),
        ({"directory": 3}, "directory"),
        ({"top": -1}, "top"),
        ({"top": True}, "top"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        HeapPeak(**kwargs)


def test_reading_before_exit_raises() -> None:
    heap = HeapPeak()
    with pytest.raises(RuntimeError, match="after the with-block"):
        heap.peak_mib  # noqa: B018
    with heap, pytest.raises(RuntimeError, match="after the with-block"):
        heap.peak_bytes  # noqa: B018


def test_nested_tracking_is_a_clear_error_and_outer_still_works(tmp_path) -> None:
    with HeapPeak() as outer:
        with pytest.raises(HeapProbeError, match="only one memray"), HeapPeak(directory=tmp_path):
            pass
        _allocate_8_mib()
    assert outer.peak_bytes >= 8 * MIB
    assert list(tmp_path.iterdir()) == []


def test_used_once() -> None:
    heap = HeapPeak()
    with heap:
        pass
    with pytest.raises(RuntimeError, match="only once"), heap:
        pass


def test_exception_in_block_propagates_and_cleans_up(tmp_path) -> None:
    with pytest.raises(KeyError), HeapPeak(directory=tmp_path):
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []
    with HeapPeak() as heap:  # tracking was stopped: a new one can start
        pass
    assert heap.peak_bytes >= 0


def test_missing_memray_is_a_clear_error(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_memray(name, *args, **kwargs):
        if name == "memray":
            raise ImportError("No module named 'memray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_memray)
    with pytest.raises(HeapProbeError, match="needs memray"), HeapPeak():
        pass


def _child(queue) -> None:
    with HeapPeak() as heap:
        _allocate_8_mib()
    queue.put((os.getpid(), heap.peak_bytes))


@pytest.mark.parametrize("method", ["forkserver"])  # a plain fork of pytest's process hung in the child
def test_works_in_a_forked_child(method: str) -> None:
    """asv runs benchmarks in processes forked from a forkserver."""
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    with HeapPeak():  # an active tracker in the parent is not inherited (follow_fork is off)
        ctx = multiprocessing.get_context(method)
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(queue,))
        proc.start()
        pid, peak = queue.get(timeout=60)
        proc.join(60)
    assert proc.exitcode == 0 and pid != os.getpid()
    assert 8 * MIB <= peak < 8 * MIB + SLACK
