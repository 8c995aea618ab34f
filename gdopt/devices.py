"""Device choice: ``None`` (TensorFlow's placement), ``"cpu"`` or ``"gpu"``.

Importing this module turns on memory growth for every visible GPU, before TensorFlow
initialises them: without it TensorFlow reserves nearly all GPU memory at start and NVML's
"memory used" says nothing about the training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf

__all__ = ["device_scope", "enable_memory_growth", "gpu_available", "resolve_device"]


def enable_memory_growth() -> tuple[list[str], list[str]]:
    """Ask TensorFlow to grow GPU memory on demand; returns (GPUs set, "name: why" for those it could not)."""
    enabled, failed = [], []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            enabled.append(gpu.name)
        except RuntimeError as error:  # already initialised: growth can no longer change
            failed.append(f"{gpu.name}: {error}")
    return enabled, failed


def gpu_available() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_device(device: str | None) -> str | None:
    """Validate ``device`` and return the TensorFlow device name (or None for default placement)."""
    if device is None:
        return None
    if not isinstance(device, str) or device.lower() not in ("cpu", "gpu"):
        raise ValueError(f"device must be None, 'cpu' or 'gpu', got {device!r}")
    if device.lower() == "cpu":
        return "/CPU:0"
    if not gpu_available():
        raise ValueError("device='gpu' was requested but TensorFlow sees no GPU on this machine")
    return "/GPU:0"


@contextlib.contextmanager
def device_scope(tf_device: str | None) -> Iterator[None]:
    if tf_device is None:
        yield
    else:
        with tf.device(tf_device):
            yield


enable_memory_growth()
