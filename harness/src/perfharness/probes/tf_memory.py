"""TensorFlow's own GPU allocator: reset and read its peak, and turn on memory growth.

TensorFlow is imported inside each function, never when this module is imported. TensorFlow's peak
counts the tensors it allocated (its BFC allocator), not the CUDA context or other processes — the
number NVML's device-wide "memory used" cannot give. MB = MiB (2**20 bytes).

Typical use around a training run::

    reset_tf_peak_memory("GPU:0")
    train(...)
    peak_mb = tf_peak_memory_mb("GPU:0")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "MemoryGrowth",
    "TfGpuUnavailableError",
    "enable_memory_growth",
    "reset_tf_peak_memory",
    "tf_current_memory_mb",
    "tf_gpu_unavailable_reason",
    "tf_peak_memory_mb",
]

_MIB = 2**20


class TfGpuUnavailableError(RuntimeError):
    """TensorFlow has no such GPU; the message is the reason."""


def _import_tf() -> tuple[Any, str | None]:
    try:
        import tensorflow as tf
    except ImportError as error:
        return None, f"TensorFlow is not importable ({error})"
    return tf, None


def _no_gpu_reason(tf: Any) -> str:
    build = "a CUDA build" if tf.test.is_built_with_cuda() else "a CPU-only build"
    return f"TensorFlow sees no GPU ({build}, tensorflow {tf.__version__})"


def tf_gpu_unavailable_reason(device: str = "GPU:0") -> str | None:
    """None when TensorFlow can use ``device`` (e.g. ``"GPU:0"``), else why not."""
    tf, reason = _import_tf()
    if tf is None:
        return reason
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return _no_gpu_reason(tf)
    kind, _, index = device.upper().rpartition(":")
    if not kind.endswith("GPU") or not index.isdigit():
        return f"{device!r} is not a GPU device name like 'GPU:0'"
    if int(index) >= len(gpus):
        return f"{device} not found: TensorFlow sees {len(gpus)} GPU(s)"
    return None


def _tf_for(device: str) -> Any:
    reason = tf_gpu_unavailable_reason(device)
    if reason is not None:
        raise TfGpuUnavailableError(reason)
    import tensorflow as tf

    return tf


def reset_tf_peak_memory(device: str = "GPU:0") -> None:
    """Reset TensorFlow's peak-memory statistic of ``device``; raises :class:`TfGpuUnavailableError`."""
    _tf_for(device).config.experimental.reset_memory_stats(device)


def tf_peak_memory_mb(device: str = "GPU:0") -> float:
    """Peak bytes TensorFlow held on ``device`` since start or the last reset, in MiB."""
    return float(_tf_for(device).config.experimental.get_memory_info(device)["peak"]) / _MIB


def tf_current_memory_mb(device: str = "GPU:0") -> float:
    """Bytes TensorFlow holds on ``device`` now, in MiB."""
    return float(_tf_for(device).config.experimental.get_memory_info(device)["current"]) / _MIB


@dataclass(frozen=True)
class MemoryGrowth:
    """Result of :func:`enable_memory_growth`: the GPUs set, and why the others (or all) were not."""

    enabled: tuple[str, ...]
    reason: str | None  # None when every GPU TensorFlow sees now grows on demand


def enable_memory_growth() -> MemoryGrowth:
    """Make TensorFlow allocate GPU memory on demand instead of reserving nearly all of it at start.

    Must run before TensorFlow initialises the GPUs (before the first op touches one); afterwards
    TensorFlow raises ``RuntimeError`` and growth stays as it was, which the reason reports.
    Setting ``TF_FORCE_GPU_ALLOW_GROWTH=true`` in the environment has the same effect.
    """
    tf, reason = _import_tf()
    if tf is None:
        return MemoryGrowth(enabled=(), reason=reason)
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return MemoryGrowth(enabled=(), reason=_no_gpu_reason(tf))
    enabled, failures = [], []
    for gpu in gpus:  # the harness never imports the library it measures
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            enabled.append(gpu.name)
        except RuntimeError as error:  # already initialised: growth can no longer change
            failures.append(f"{gpu.name}: {error}")
    if failures:
        why = "TensorFlow had already initialised the GPU(s), memory growth unchanged: " + "; ".join(failures)
        return MemoryGrowth(enabled=tuple(enabled), reason=why)
    return MemoryGrowth(enabled=tuple(enabled), reason=None)
