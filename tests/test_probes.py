"""Tests of perfharness.probes on real processes; GPU tests are marked ``gpu`` and skip with the reason.

NVML's bookkeeping (energy method, mJ → J, memory peak, error paths) is also checked against a
stand-in ``pynvml`` module, so it is exercised on hosts without a GPU.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import perfharness.probes as probes
import pytest
from perfharness.probes import (
    ENERGY_METHODS,
    FINGERPRINT_KEYS,
    GpuEnergyMeter,
    NvmlUnavailableError,
    PeakRSSSampler,
    TfGpuUnavailableError,
    enable_memory_growth,
    lifetime_max_rss_mb,
    machine_fingerprint,
    nvml_status,
    reset_tf_peak_memory,
    tf_gpu_unavailable_reason,
    tf_peak_memory_mb,
    trapezoid_energy_j,
)
from perfharness.probes.__main__ import main as probes_main
from perfharness.probes.fingerprint import TENSORFLOW_DISTRIBUTIONS

PACKAGE_DIR = Path(probes.__file__).resolve().parent.parent  # the gdopt/ these tests imported
NVML = nvml_status()
needs_nvml_gpu = pytest.mark.skipif(not NVML.available, reason=f"no NVIDIA GPU: {NVML.reason}")
MIB = 2**20


# --- helpers -------------------------------------------------------------------------------------------

# Runs in a fresh interpreter: blocks the named top-level modules (recording every attempt) and loads
# gdopt/ as a bare package, so gdopt/__init__.py (which imports TensorFlow) does not run.
_ISOLATED_PRELUDE = """
import importlib.abc, sys, types

BLOCKED = {blocked!r}
ATTEMPTS = []


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            ATTEMPTS.append(name)
            raise ImportError(f"{{name}} is blocked by the test")
        return None


sys.meta_path.insert(0, _Blocker())
_gdopt = types.ModuleType("gdopt")
_gdopt.__path__ = [{package_dir!r}]
sys.modules["gdopt"] = _gdopt
"""


def run_isolated(code: str, blocked: tuple[str, ...]) -> str:
    """Run ``code`` in a child interpreter with ``blocked`` modules unimportable; return its stdout."""
    script = _ISOLATED_PRELUDE.format(blocked=blocked, package_dir=str(PACKAGE_DIR)) + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=PACKAGE_DIR.parent
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# A child that allocates MB MiB (every page written) when told, holds it HOLD_S seconds, frees it unless
# told to keep it, reports, and waits to be released.
_CHILD = """
import sys, time
mb, hold_s, keep = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "keep"
print("ready", flush=True)
sys.stdin.readline()
block = bytearray(b"\\x01") * (mb * 2**20)
time.sleep(hold_s)
if not keep:
    del block
print("done", flush=True)
sys.stdin.readline()
"""


def sample_child(mb: int, hold_s: float, keep: bool, interval_s: float = 0.002) -> probes.RSSReading:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(mb), str(hold_s), "keep" if keep else "free"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline() == "ready\n"
        with PeakRSSSampler(interval_s=interval_s, pid=child.pid) as sampler:
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline() == "done\n"
        child.stdin.write("bye\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdin.close()
        child.stdout.close()
    return sampler.reading


# --- host RSS ------------------------------------------------------------------------------------------


def test_sampler_sees_block_held_by_child_process() -> None:
    reading = sample_child(mb=200, hold_s=0.1, keep=True)
    assert reading.peak_rss_mb == pytest.approx(200, abs=10)
    assert reading.final_rss_mb == pytest.approx(reading.baseline_rss_mb + 200, abs=10)
    assert reading.n_samples >= 3
    assert not reading.process_exited


def test_sampler_catches_transient_peak_in_child_process() -> None:
    reading = sample_child(mb=200, hold_s=0.1, keep=False)
    assert reading.peak_rss_mb == pytest.approx(200, abs=10)
    assert reading.final_rss_mb is not None
    assert reading.final_rss_mb - reading.baseline_rss_mb < 10  # freed again: only sampling saw it
    if sys.platform.startswith("linux"):
        # The kernel's VmHWM rose during the block, so it is the true peak: the sampler is close to it.
        assert reading.lifetime_max_rss_source == "VmHWM"
        assert reading.lifetime_max_rss_mb is not None
        assert reading.lifetime_max_rss_mb >= reading.peak_total_rss_mb - 0.5
        assert reading.missed_peak_mb is not None
        assert reading.missed_peak_mb < 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the resettable high-water mark is Linux's")
def test_kernel_high_water_mark_catches_a_peak_sampling_misses() -> None:
    """A 100 MB block freed before the thread's first read (interval 10 s): only the kernel sees it."""
    with PeakRSSSampler(interval_s=10.0) as sampler:
        block = bytearray(b"\x01") * (100 * MIB)
        del block
    reading = sampler.reading
    assert reading.n_samples == 2  # entry and exit only
    assert reading.peak_source == "kernel"
    assert reading.kernel_peak_rss_mb == pytest.approx(100, abs=10)
    assert reading.peak_rss_mb == reading.kernel_peak_rss_mb
    assert reading.sampled_peak_rss_mb < 10
    assert reading.missed_peak_mb == pytest.approx(reading.kernel_peak_rss_mb - reading.sampled_peak_rss_mb)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the resettable high-water mark is Linux's")
def test_kernel_high_water_mark_of_a_child_process() -> None:
    reading = sample_child(mb=150, hold_s=0.0, keep=False, interval_s=10.0)
    assert reading.peak_source == "kernel"
    assert reading.peak_rss_mb == pytest.approx(150, abs=10)
    assert reading.sampled_peak_rss_mb < 10


def test_reset_peak_rss_of_a_missing_process_is_false() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert probes.reset_peak_rss(child.pid) is False


def test_sampler_defaults_to_this_process_and_cross_checks_ru_maxrss() -> None:
    with PeakRSSSampler() as sampler:
        block = bytearray(b"\x01") * (100 * MIB)
        time.sleep(0.05)
        del block
    reading = sampler.reading
    assert reading.pid == os.getpid()
    assert reading.peak_rss_mb == pytest.approx(100, abs=10)
    assert reading.n_samples >= 2  # the baseline and the final read, at least (the window's length is not asserted)
    assert reading.mean_interval_s > 0
    if sys.platform != "win32":
        assert reading.lifetime_max_rss_source == "ru_maxrss"
        assert reading.lifetime_max_rss_mb is not None
        assert reading.lifetime_max_rss_mb >= reading.peak_total_rss_mb - 0.5  # lifetime mark bounds the peak


def test_sampler_notices_that_the_process_exited() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    with PeakRSSSampler(interval_s=0.005, pid=child.pid) as sampler:
        child.wait(timeout=30)
        time.sleep(0.05)
    assert sampler.reading.process_exited
    assert sampler.reading.final_rss_mb is None


def test_lifetime_max_rss_of_this_process() -> None:
    value, source = lifetime_max_rss_mb()
    if sys.platform == "win32":
        assert (value, source) == (None, None)
    else:
        assert source == "ru_maxrss"
        assert value is not None and value > 1


def test_sampler_rejects_bad_use() -> None:
    with pytest.raises(ValueError, match=r"interval_s must be > 0, got 0"):
        PeakRSSSampler(interval_s=0)
    sampler = PeakRSSSampler()
    with pytest.raises(RuntimeError, match="only after the with-block exits"):
        _ = sampler.reading
    with sampler:
        pass
    with pytest.raises(RuntimeError, match="used only once"), sampler:
        pass


# --- TensorFlow-free import --------------------------------------------------------------------------


def test_probes_import_and_run_without_tensorflow() -> None:
    out = run_isolated(
        """
        import perfharness.probes
        import perfharness.probes.__main__, perfharness.probes.fingerprint, perfharness.probes.host
        import perfharness.probes.nvml, perfharness.probes.tf_memory
        assert ATTEMPTS == [], ATTEMPTS
        fingerprint = perfharness.probes.machine_fingerprint()
        perfharness.probes.nvml_status()
        with perfharness.probes.PeakRSSSampler():
            pass
        assert ATTEMPTS == [] and "tensorflow" not in sys.modules, ATTEMPTS
        print(fingerprint["tensorflow_version"])
        print(perfharness.probes.tf_gpu_unavailable_reason())
        """,
        blocked=("tensorflow",),
    )
    version, reason = out.splitlines()
    assert version == str(machine_fingerprint()["tensorflow_version"])  # from metadata, not an import
    assert reason.startswith("TensorFlow is not importable")


# --- NVML on this host ---------------------------------------------------------------------------------


def test_nvml_status_is_all_or_nothing() -> None:
    status = nvml_status()
    if status.available:
        assert status.reason is None
        assert status.device_count >= 1 and status.device_name
        assert status.driver_version and status.memory_total_mb
    else:
        assert status.reason
        readings = dataclasses.asdict(status)
        for key in ("device_name", "driver_version", "cuda_driver_version", "memory_used_mb"):
            assert readings[key] is None


@pytest.mark.skipif(NVML.available, reason="an NVIDIA GPU is present; the gpu tests cover it")
def test_energy_meter_without_gpu_raises_the_reason() -> None:
    assert NVML.reason is not None
    with pytest.raises(NvmlUnavailableError, match=re.escape(NVML.reason)):
        GpuEnergyMeter().__enter__()


def test_missing_nvidia_ml_py_gives_a_clean_answer() -> None:
    out = run_isolated(
        """
        import dataclasses, json
        from perfharness.probes import GpuEnergyMeter, NvmlUnavailableError, machine_fingerprint, nvml_status
        try:
            with GpuEnergyMeter():
                pass
            meter = None
        except NvmlUnavailableError as error:
            meter = str(error)
        result = {"status": dataclasses.asdict(nvml_status()), "meter": meter, "fp": machine_fingerprint()}
        print(json.dumps(result))
        """,
        blocked=("pynvml", "tensorflow"),
    )
    result = json.loads(out)
    status, fingerprint = result["status"], result["fp"]
    assert status["available"] is False
    assert status["reason"].startswith("nvidia-ml-py is not installed")
    assert result["meter"] == status["reason"]
    assert fingerprint["gpu_unavailable_reason"] == status["reason"]
    assert fingerprint["gpu_count"] == 0
    assert fingerprint["gpu_model"] is None and fingerprint["cuda_driver_version"] is None


# --- NVML bookkeeping against a stand-in pynvml -------------------------------------------------------


class _NVMLError(Exception):
    pass


class _NotSupported(_NVMLError):
    pass


def fake_pynvml(
    *, counter: bool = True, power: bool = True, power_w: float = 150.0, fail_after_s: float | None = None
) -> SimpleNamespace:
    """A one-GPU ``pynvml`` stand-in: constant power, 512 MiB held from 50 to 150 ms after creation."""
    start = time.perf_counter()

    def unsupported(*_: object) -> Any:
        raise _NotSupported("Not Supported")

    def energy_mj(_: object) -> int:
        return 10**9 + int(power_w * 1000 * (time.perf_counter() - start))

    def memory(_: object) -> SimpleNamespace:
        elapsed = time.perf_counter() - start
        if fail_after_s is not None and elapsed > fail_after_s:
            raise _NVMLError("GPU is lost")
        extra = 512 * MIB if 0.05 < elapsed < 0.15 else 0
        return SimpleNamespace(used=1024 * MIB + extra, total=80 * 1024 * MIB)

    power_mw: Callable[[object], int] = lambda _: int(power_w * 1000)  # noqa: E731
    return SimpleNamespace(
        NVMLError=_NVMLError,
        NVMLError_NotSupported=_NotSupported,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda index: ("handle", index),
        nvmlDeviceGetName=lambda _: b"Stand-in GPU",
        nvmlSystemGetDriverVersion=lambda: "999.99",
        nvmlSystemGetCudaDriverVersion=lambda: 12040,
        nvmlDeviceGetMemoryInfo=memory,
        nvmlDeviceGetUtilizationRates=lambda _: SimpleNamespace(gpu=40, memory=10),
        nvmlDeviceGetTotalEnergyConsumption=energy_mj if counter else unsupported,
        nvmlDeviceGetPowerUsage=power_mw if power else unsupported,
    )


def test_nvml_status_reads_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    status = nvml_status()
    assert status.available and status.reason is None
    assert (status.device_name, status.driver_version, status.cuda_driver_version) == (
        "Stand-in GPU",
        "999.99",
        "12.4",
    )
    assert (status.memory_total_mb, status.gpu_utilization_pct, status.device_count) == (80 * 1024, 40.0, 1)
    missing = nvml_status(index=3)
    assert not missing.available
    assert missing.reason == "GPU index 3 out of range: NVML sees 1 device(s)"


def test_energy_meter_uses_the_total_energy_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(counter=True))
    with GpuEnergyMeter(interval_s=0.005) as meter:
        time.sleep(0.25)
    reading = meter.reading
    assert reading.method == "total_energy_counter"
    assert reading.energy_j == pytest.approx(150 * reading.duration_s, rel=0.02)  # mJ → J
    assert reading.mean_power_w == pytest.approx(150, rel=0.02)
    assert reading.power_integrated_energy_j == pytest.approx(reading.energy_j, rel=0.1)
    assert reading.baseline_gpu_memory_mb == 1024
    assert reading.peak_gpu_memory_mb == 512  # the transient block, caught by sampling
    assert reading.mean_gpu_utilization_pct == reading.max_gpu_utilization_pct == 40
    assert reading.device_name == "Stand-in GPU"


def test_energy_meter_integrates_power_where_the_counter_is_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(counter=False))
    with GpuEnergyMeter(interval_s=0.005) as meter:
        time.sleep(0.25)
    reading = meter.reading
    assert reading.method == "power_integration"
    assert reading.energy_j == pytest.approx(150 * reading.duration_s, rel=0.05)
    assert reading.energy_j == reading.power_integrated_energy_j
    assert reading.n_samples >= 10


def test_energy_meter_can_be_forced_to_integrate_power(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(counter=True))
    with GpuEnergyMeter(interval_s=0.01, method="power_integration") as meter:
        time.sleep(0.05)
    assert meter.reading.method == "power_integration"
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(counter=False))
    with pytest.raises(NvmlUnavailableError, match="total energy counter is not supported"):
        GpuEnergyMeter(method="total_energy_counter").__enter__()


def test_energy_meter_reports_no_energy_rather_than_a_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(counter=False, power=False))
    with GpuEnergyMeter(interval_s=0.01) as meter:
        time.sleep(0.05)
    reading = meter.reading
    assert reading.energy_j is None and reading.method is None and reading.mean_power_w is None
    assert reading.energy_unavailable_reason is not None
    assert "neither the total energy counter nor power readings" in reading.energy_unavailable_reason


def test_energy_meter_fails_when_sampling_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(fail_after_s=0.05))
    meter = GpuEnergyMeter(interval_s=0.005)
    with pytest.raises(RuntimeError, match="GPU sampling failed during the block"), meter:
        time.sleep(0.15)
    with pytest.raises(RuntimeError, match="only after the with-block exits"):
        _ = meter.reading


def test_energy_meter_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"interval_s must be > 0, got -1"):
        GpuEnergyMeter(interval_s=-1)
    with pytest.raises(ValueError, match="method must be None or one of"):
        GpuEnergyMeter(method="guess")  # type: ignore[arg-type]


def test_trapezoid_energy_by_hand() -> None:
    assert trapezoid_energy_j([0.0, 2.0], [100.0, 100.0]) == 200.0
    assert trapezoid_energy_j([0.0, 1.0, 3.0], [100.0, 100.0, 200.0]) == 100.0 + 300.0
    assert trapezoid_energy_j([5.0], [100.0]) == 0.0
    with pytest.raises(ValueError, match="differ in length: 2 != 1"):
        trapezoid_energy_j([0.0, 1.0], [1.0])


# --- fingerprint and CLI -------------------------------------------------------------------------------


def test_fingerprint_has_every_field() -> None:
    fingerprint = machine_fingerprint()
    assert tuple(fingerprint) == FINGERPRINT_KEYS
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert fingerprint["python_version"] == platform.python_version()
    assert fingerprint["cpu_logical_cores"] == os.cpu_count()
    assert fingerprint["cpu_arch"] == platform.machine()
    assert fingerprint["ram_gb"] > 0
    assert fingerprint["numpy_version"] == np.__version__
    assert fingerprint["tensorflow_distribution"] in TENSORFLOW_DISTRIBUTIONS
    assert fingerprint["tensorflow_version"]
    assert fingerprint["gpu_unavailable_reason"] == NVML.reason
    if NVML.available:
        assert fingerprint["gpu_model"] == NVML.device_name
        assert fingerprint["cuda_driver_version"] == NVML.cuda_driver_version
    else:
        gpu_keys = ("gpu_model", "gpu_memory_gb", "gpu_driver_version", "cuda_driver_version")
        assert all(fingerprint[key] is None for key in gpu_keys)  # type: ignore[literal-required]
        assert fingerprint["gpu_count"] == 0


def test_cli_main_prints_fingerprint_and_reading(capsys: pytest.CaptureFixture[str]) -> None:
    assert probes_main(["--seconds", "0.05", "--alloc-mb", "16"]) == 0
    out = capsys.readouterr().out
    assert all(key in out for key in FINGERPRINT_KEYS)
    assert "host RSS: baseline" in out
    if not NVML.available:
        assert f"no NVIDIA GPU: {NVML.reason}" in out


def test_cli_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "perfharness.probes", "--seconds", "0.05", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=PACKAGE_DIR.parent,
        env={**os.environ, "PYTHONPATH": str(PACKAGE_DIR.parent)},
    )
    assert done.returncode == 0, done.stderr
    fingerprint = json.loads(done.stdout[: done.stdout.index("\n}\n") + 2])
    assert tuple(fingerprint) == FINGERPRINT_KEYS
    if not NVML.available:
        assert f"no NVIDIA GPU: {NVML.reason}" in done.stdout


# --- TensorFlow allocator ------------------------------------------------------------------------------


def test_tf_memory_without_gpu_gives_the_reason() -> None:
    reason = tf_gpu_unavailable_reason("GPU:0")
    if reason is None:
        pytest.skip("TensorFlow sees a GPU; test_tf_peak_memory_sees_an_allocation covers it")
    assert reason.startswith("TensorFlow sees no GPU")
    with pytest.raises(TfGpuUnavailableError, match="TensorFlow sees no GPU"):
        reset_tf_peak_memory("GPU:0")
    with pytest.raises(TfGpuUnavailableError, match="TensorFlow sees no GPU"):
        tf_peak_memory_mb("GPU:0")
    growth = enable_memory_growth()
    assert growth.enabled == ()
    assert growth.reason == reason


# --- real GPU ------------------------------------------------------------------------------------------


@pytest.mark.gpu
@needs_nvml_gpu
def test_gpu_status_on_a_real_device() -> None:
    assert NVML.device_name and NVML.driver_version
    assert NVML.cuda_driver_version is not None and NVML.cuda_driver_version.count(".") == 1
    assert NVML.memory_total_mb is not None and NVML.memory_total_mb > 1024


@pytest.mark.gpu
@needs_nvml_gpu
@pytest.mark.parametrize("method", [None, "power_integration"], ids=["auto", "power_integration"])
def test_gpu_energy_meter_on_a_real_device(method: Any) -> None:
    with GpuEnergyMeter(interval_s=0.01, method=method) as meter:
        time.sleep(1.0)
    reading = meter.reading
    assert reading.method in ENERGY_METHODS
    if method is not None:
        assert reading.method == method
    assert reading.energy_j is not None and reading.energy_j > 0
    assert reading.mean_power_w is not None and 1 < reading.mean_power_w < 2000  # watts, not mW
    assert reading.n_samples >= 10
    assert reading.peak_total_gpu_memory_mb >= reading.baseline_gpu_memory_mb


@pytest.mark.gpu
def test_tf_peak_memory_sees_an_allocation() -> None:
    reason = tf_gpu_unavailable_reason("GPU:0")
    if reason is not None:
        pytest.skip(f"no GPU for TensorFlow: {reason}")
    import tensorflow as tf

    reset_tf_peak_memory("GPU:0")
    with tf.device("GPU:0"):
        block = tf.ones((64 * MIB // 4,), dtype=tf.float32)
        _ = block.numpy()[:1]
    assert tf_peak_memory_mb("GPU:0") >= 63


_MMAP_CHILD = """
import sys
from perfharness.probes.host import PeakRSSSampler, pin_mmap_threshold
big = bytearray(8 * 2**20); del big  # freeing a mapped 8 MiB block raises glibc's dynamic threshold
if sys.argv[1] == "pin":
    assert pin_mmap_threshold()
with PeakRSSSampler(interval_s=10.0) as s:
    block = [bytearray(b"\\x01") * 2**20 for _ in range(4)]  # 4 x 1 MiB: below the raised threshold
    del block
r = s.reading
print(r.final_rss_mb - r.baseline_rss_mb)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize(("mode", "kept"), [("default", True), ("pin", False)])
def test_pin_mmap_threshold_maps_large_blocks_fresh(mode: str, kept: bool) -> None:
    """Unpinned, glibc serves 1 MiB blocks from the heap once the threshold rose, and keeps the pages
    after free; pinned, it maps them and gives them back at free: the same work reads the same."""
    out = subprocess.run([sys.executable, "-c", _MMAP_CHILD, mode], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    retained = float(out.stdout.split()[-1])
    assert (retained > 3.0) is kept, f"{mode}: {retained:.2f} MiB still resident after free"


def test_pin_mmap_threshold_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="threshold_bytes must be a positive int"):
        probes.pin_mmap_threshold(0)
