"""Device choice: ``None`` (TensorFlow's placement), ``"cpu"`` or ``"gpu"``; logical CPUs for replicas.

Importing this module turns on memory growth for every visible GPU, before TensorFlow
initialises them: without it TensorFlow reserves nearly all GPU memory at start and NVML's
"memory used" says nothing about the training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf

__all__ = ["device_scope", "enable_memory_growth", "gpu_available", "logical_cpus", "resolve_device"]


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


def logical_cpus(count: int) -> list[str]:
    """Split the host CPU into ``count`` logical devices (replicas for ``MirroredStrategy``); returns their names.

    TensorFlow fixes its devices when it first initialises them (the first op, model or device list of
    *logical* devices), so this must come before; listing physical devices, as importing gdopt does, is fine.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if len(current or [None]) != count:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError as error:  # already initialised: the split can no longer change
            have = len(tf.config.list_logical_devices("CPU"))
            raise RuntimeError(
                f"cannot split the CPU into {count} logical devices: TensorFlow already initialised {have}; "
                f"call logical_cpus before anything runs on a device"
            ) from error
    return [d.name for d in tf.config.list_logical_devices("CPU")]


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
