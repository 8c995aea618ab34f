"""NVIDIA GPU readings through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

``pynvml`` is imported inside the functions, so this module imports on any host. Without a usable GPU
:func:`nvml_status` says why (no bindings, no driver library, driver not loaded, no device, NVML error)
and :class:`GpuEnergyMeter` raises :class:`NvmlUnavailableError` with that reason: no number is invented.

Units: MB = MiB (2**20 bytes), energy in joules, power in watts. NVML's device "memory used" is
device-wide: every process on the GPU plus the CUDA contexts, so compare a block against its baseline.

>>> status = nvml_status()
>>> status.available or bool(status.reason)
True
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

__all__ = [
    "ENERGY_METHODS",
    "EnergyMethod",
    "GpuEnergyMeter",
    "GpuReading",
    "NvmlStatus",
    "NvmlUnavailableError",
    "nvml_status",
    "trapezoid_energy_j",
]

_MIB = 2**20

EnergyMethod = Literal["total_energy_counter", "power_integration"]
ENERGY_METHODS: tuple[EnergyMethod, ...] = ("total_energy_counter", "power_integration")


class NvmlUnavailableError(RuntimeError):
    """No usable NVIDIA GPU through NVML; the message is the reason."""


@dataclass(frozen=True)
class NvmlStatus:
    """One look at GPU ``device_index``: either ``available`` with readings, or a ``reason`` and Nones."""

    available: bool
    reason: str | None
    device_index: int
    device_count: int
    device_name: str | None = None
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # highest CUDA version the driver supports, "12.4"
    memory_used_mb: float | None = None  # device-wide
    memory_total_mb: float | None = None
    gpu_utilization_pct: float | None = None  # share of the last sample period a kernel ran


def _text(value: object) -> str:
    """Older bindings return bytes, newer ones str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _reason(pynvml: Any, error: BaseException) -> str:
    """A human reason for an NVML error."""
    known = [
        (
            "NVMLError_LibraryNotFound",
            "NVML library (libnvidia-ml.so.1) not found: no NVIDIA driver installed",
        ),
        ("NVMLError_DriverNotLoaded", "NVIDIA driver is not loaded"),
        ("NVMLError_NoPermission", "no permission to query the GPU through NVML"),
        ("NVMLError_LibRmVersionMismatch", "NVML library and kernel driver versions differ"),
        ("NVMLError_GpuIsLost", "the GPU has fallen off the bus (GPU is lost)"),
    ]
    for name, text in known:
        cls = getattr(pynvml, name, None)
        if cls is not None and isinstance(error, cls):
            return text
    return f"NVML error: {type(error).__name__}: {error}"


def _open(index: int) -> tuple[Any, Any, int]:
    """Import pynvml, initialise NVML and get device ``index``: ``(pynvml, handle, count)``.

    Raises :class:`NvmlUnavailableError`; on success the caller must call :func:`_close`.
    """
    try:
        import pynvml
    except ImportError as error:
        raise NvmlUnavailableError(f"nvidia-ml-py is not installed (import pynvml: {error})") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        raise NvmlUnavailableError(_reason(pynvml, error)) from None
    try:
        count = int(pynvml.nvmlDeviceGetCount())
        if count == 0:
            raise NvmlUnavailableError("NVML found no NVIDIA device")
        if not 0 <= index < count:
            raise NvmlUnavailableError(f"GPU index {index} out of range: NVML sees {count} device(s)")
        return pynvml, pynvml.nvmlDeviceGetHandleByIndex(index), count
    except pynvml.NVMLError as error:
        _close(pynvml)
        raise NvmlUnavailableError(_reason(pynvml, error)) from None
    except NvmlUnavailableError:
        _close(pynvml)
        raise


def _close(pynvml: Any) -> None:
    with contextlib.suppress(pynvml.NVMLError):  # best effort: the readings are already taken
        pynvml.nvmlShutdown()


def _unsupported(pynvml: Any, error: BaseException) -> bool:
    """True for "this device/driver does not offer that query" errors."""
    names = ("NVMLError_NotSupported", "NVMLError_FunctionNotFound")
    return any(isinstance(error, getattr(pynvml, name, ())) for name in names)


def _optional(pynvml: Any, query: Any, *args: object) -> Any:
    """``query(*args)``, or None when the device does not support it."""
    try:
        return query(*args)
    except pynvml.NVMLError as error:
        if _unsupported(pynvml, error):
            return None
        raise


def _cuda_version(pynvml: Any) -> str | None:
    version = _optional(pynvml, pynvml.nvmlSystemGetCudaDriverVersion)
    if version is None:
        return None
    return f"{int(version) // 1000}.{int(version) % 1000 // 10}"  # encoded as 1000·major + 10·minor


def nvml_status(index: int = 0) -> NvmlStatus:
    """Name, driver, CUDA driver version, memory and utilization of GPU ``index``, or why there is none."""
    try:
        pynvml, handle, count = _open(index)
    except NvmlUnavailableError as error:
        return NvmlStatus(available=False, reason=str(error), device_index=index, device_count=0)
    try:
        memory = _optional(pynvml, pynvml.nvmlDeviceGetMemoryInfo, handle)
        utilization = _optional(pynvml, pynvml.nvmlDeviceGetUtilizationRates, handle)
        return NvmlStatus(
            available=True,
            reason=None,
            device_index=index,
            device_count=count,
            device_name=_text(pynvml.nvmlDeviceGetName(handle)),
            driver_version=_text(pynvml.nvmlSystemGetDriverVersion()),
            cuda_driver_version=_cuda_version(pynvml),
            memory_used_mb=None if memory is None else memory.used / _MIB,
            memory_total_mb=None if memory is None else memory.total / _MIB,
            gpu_utilization_pct=None if utilization is None else float(utilization.gpu),
        )
    except pynvml.NVMLError as error:
        return NvmlStatus(available=False, reason=_reason(pynvml, error), device_index=index, device_count=count)
    finally:
        _close(pynvml)


def trapezoid_energy_j(times_s: list[float], power_w: list[float]) -> float:
    """∫P dt by the trapezoid rule over samples ``(tᵢ, Pᵢ)``: Σ (tᵢ₊₁ − tᵢ)·(Pᵢ + Pᵢ₊₁)/2.

    >>> trapezoid_energy_j([0.0, 1.0, 3.0], [100.0, 100.0, 200.0])
    400.0
    """
    if len(times_s) != len(power_w):
        raise ValueError(f"times_s and power_w differ in length: {len(times_s)} != {len(power_w)}")
    return sum(
        (t1 - t0) * (p0 + p1) / 2 for t0, t1, p0, p1 in zip(times_s, times_s[1:], power_w, power_w[1:], strict=False)
    )


@dataclass(frozen=True)
class GpuReading:
    """What a :class:`GpuEnergyMeter` measured on one GPU during its block."""

    device_index: int
    device_name: str
    duration_s: float
    energy_j: float | None  # None only when the device offers neither energy counter nor power reading
    method: EnergyMethod | None  # how energy_j was obtained
    energy_unavailable_reason: str | None
    power_integrated_energy_j: float | None  # trapezoid of the power samples, whatever ``method`` is
    mean_power_w: float | None  # energy_j / duration_s
    baseline_gpu_memory_mb: float  # device-wide memory used on entry
    peak_gpu_memory_mb: float  # highest sampled memory used minus baseline
    peak_total_gpu_memory_mb: float  # highest sampled memory used, device-wide
    mean_gpu_utilization_pct: float | None
    max_gpu_utilization_pct: float | None
    n_samples: int  # background samples, including the ones on entry and exit
    interval_s: float


class GpuEnergyMeter:
    """Context manager: energy, power, memory peak and utilization of GPU ``index`` during a block.

    Energy comes from the driver's total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ
    since the driver loaded; Volta and newer) read on entry and exit. Where that counter is not
    supported, power samples (``nvmlDeviceGetPowerUsage``, mW) taken every ``interval_s`` are integrated
    with the trapezoid rule. ``method`` forces one of the two; the one used is recorded in the reading.
    The counter updates every few tens of ms and many boards report power as a ~1 s average, so blocks
    shorter than about a second are coarse either way.

    Raises :class:`NvmlUnavailableError` on entry when there is no usable GPU.
    """

    def __init__(self, index: int = 0, interval_s: float = 0.02, method: EnergyMethod | None = None) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        if method is not None and method not in ENERGY_METHODS:
            raise ValueError(f"method must be None or one of {ENERGY_METHODS}, got {method!r}")
        self.index = index
        self.interval_s = float(interval_s)
        self.requested_method = method
        self._pynvml: Any = None
        self._handle: Any = None
        self._reading: GpuReading | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._times: list[float] = []
        self._power: list[float] = []
        self._power_supported = True
        self._util_sum = 0.0
        self._util_n = 0
        self._util_max: float | None = None
        self._memory_peak = 0
        self._memory_baseline = 0
        self._n_samples = 0
        self._energy_start_mj: int | None = None
        self._start = 0.0
        self._name = ""

    @property
    def reading(self) -> GpuReading:
        """The result; available after the ``with`` block exits."""
        if self._reading is None:
            raise RuntimeError("GpuEnergyMeter.reading is available only after the with-block exits")
        return self._reading

    def _sample(self) -> None:
        pynvml, handle = self._pynvml, self._handle
        now = time.perf_counter()
        if self._power_supported:
            milliwatts = _optional(pynvml, pynvml.nvmlDeviceGetPowerUsage, handle)
            if milliwatts is None:
                self._power_supported = False
            else:
                self._times.append(now)
                self._power.append(milliwatts / 1000)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        self._memory_peak = max(self._memory_peak, int(memory.used))
        utilization = _optional(pynvml, pynvml.nvmlDeviceGetUtilizationRates, handle)
        if utilization is not None:
            gpu = float(utilization.gpu)
            self._util_sum += gpu
            self._util_n += 1
            self._util_max = gpu if self._util_max is None else max(self._util_max, gpu)
        self._n_samples += 1

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                self._sample()
        except Exception as error:  # surfaced on exit: a reading with a hole is not a reading
            self._error = error

    def _read_energy_mj(self) -> int | None:
        return _optional(self._pynvml, self._pynvml.nvmlDeviceGetTotalEnergyConsumption, self._handle)

    def __enter__(self) -> GpuEnergyMeter:
        if self._thread is not None:
            raise RuntimeError("a GpuEnergyMeter can be used only once")
        self._pynvml, self._handle, _ = _open(self.index)
        pynvml = self._pynvml
        try:
            self._name = _text(pynvml.nvmlDeviceGetName(self._handle))
            if self.requested_method != "power_integration":
                self._energy_start_mj = self._read_energy_mj()
                if self._energy_start_mj is None and self.requested_method == "total_energy_counter":
                    raise NvmlUnavailableError(f"{self._name}: the total energy counter is not supported")
            self._memory_baseline = int(pynvml.nvmlDeviceGetMemoryInfo(self._handle).used)
            self._memory_peak = self._memory_baseline
            self._start = time.perf_counter()
            self._sample()
        except pynvml.NVMLError as error:
            _close(pynvml)
            raise NvmlUnavailableError(_reason(pynvml, error)) from None
        except BaseException:
            _close(pynvml)
            raise
        self._thread = threading.Thread(target=self._run, name=f"GpuEnergyMeter-{self.index}", daemon=True)
        self._thread.start()
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
        pynvml = self._pynvml
        try:
            if self._error is None:
                self._sample()
            energy_end_mj = None if self._energy_start_mj is None else self._read_energy_mj()
            duration = time.perf_counter() - self._start
        finally:
            _close(pynvml)
        if self._error is not None:
            if exc_type is None:
                raise RuntimeError(f"GPU sampling failed during the block: {self._error!r}") from self._error
            return
        self._reading = self._build(duration, energy_end_mj)

    def _build(self, duration: float, energy_end_mj: int | None) -> GpuReading:
        integrated = None
        if self._power_supported and len(self._power) >= 2:
            integrated = trapezoid_energy_j(self._times, self._power)
        energy_j: float | None = None
        method: EnergyMethod | None = None
        why: str | None = None
        if self._energy_start_mj is not None and energy_end_mj is not None:
            energy_j, method = (energy_end_mj - self._energy_start_mj) / 1000, "total_energy_counter"
        elif integrated is not None:
            energy_j, method = integrated, "power_integration"
        elif self._power_supported:
            why = "fewer than two power samples were taken"
        else:
            why = f"{self._name}: neither the total energy counter nor power readings are supported"
        return GpuReading(
            device_index=self.index,
            device_name=self._name,
            duration_s=duration,
            energy_j=energy_j,
            method=method,
            energy_unavailable_reason=why,
            power_integrated_energy_j=integrated,
            mean_power_w=None if energy_j is None or duration <= 0 else energy_j / duration,
            baseline_gpu_memory_mb=self._memory_baseline / _MIB,
            peak_gpu_memory_mb=(self._memory_peak - self._memory_baseline) / _MIB,
            peak_total_gpu_memory_mb=self._memory_peak / _MIB,
            mean_gpu_utilization_pct=self._util_sum / self._util_n if self._util_n else None,
            max_gpu_utilization_pct=self._util_max,
            n_samples=self._n_samples,
            interval_s=self.interval_s,
        )
