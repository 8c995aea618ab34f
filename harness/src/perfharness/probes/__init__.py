"""Resource probes: host RSS peak, GPU energy and memory (NVML), TensorFlow's GPU peak, machine fingerprint.

Importing this package never imports TensorFlow: its modules import only the standard library, psutil
and (inside functions) ``pynvml`` or ``tensorflow``, so the probes also run where TensorFlow is absent
(``tools/gpu_probe_check.py`` loads them from the source tree on a GPU host that has only nvidia-ml-py
and psutil).

``python -m perfharness.probes`` prints the fingerprint and a short sampled reading.
"""

from .fingerprint import FINGERPRINT_KEYS, Fingerprint, machine_fingerprint
from .host import (
    DEFAULT_RSS_INTERVAL_S,
    PeakRSSSampler,
    RSSReading,
    lifetime_max_rss_mb,
    pin_mmap_threshold,
    release_free_memory,
    reset_peak_rss,
)
from .nvml import (
    ENERGY_METHODS,
    EnergyMethod,
    GpuEnergyMeter,
    GpuReading,
    NvmlStatus,
    NvmlUnavailableError,
    nvml_status,
    trapezoid_energy_j,
)
from .tf_memory import (
    MemoryGrowth,
    TfGpuUnavailableError,
    enable_memory_growth,
    reset_tf_peak_memory,
    tf_current_memory_mb,
    tf_gpu_unavailable_reason,
    tf_peak_memory_mb,
)

__all__ = [
    "DEFAULT_RSS_INTERVAL_S",
    "ENERGY_METHODS",
    "FINGERPRINT_KEYS",
    "EnergyMethod",
    "Fingerprint",
    "GpuEnergyMeter",
    "GpuReading",
    "MemoryGrowth",
    "NvmlStatus",
    "NvmlUnavailableError",
    "PeakRSSSampler",
    "RSSReading",
    "TfGpuUnavailableError",
    "enable_memory_growth",
    "lifetime_max_rss_mb",
    "machine_fingerprint",
    "nvml_status",
    "pin_mmap_threshold",
    "release_free_memory",
    "reset_peak_rss",
    "reset_tf_peak_memory",
    "tf_current_memory_mb",
    "tf_gpu_unavailable_reason",
    "tf_peak_memory_mb",
    "trapezoid_energy_j",
]
