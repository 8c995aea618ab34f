"""The benchmarks of the measured suite that the summary page reads by name (``benchmarks/*.py``).

A benchmark missing from the results leaves its panel with a note; the optimizers, devices and sizes
shown are the parameter values found in the results, never a list kept here.
"""

from __future__ import annotations

__all__ = [
    "EXPONENT",
    "GPU_RESOURCES",
    "LOSS_CURVE",
    "NO_CHANGE_POINTS",
    "REPLICAS",
    "SCALING",
    "TIME_TO_TARGET",
    "TRAIN",
    "TRAIN_MEMORY",
]

TRAIN = "training.Train"
TRAIN_MEMORY = "training.TrainMemory"
TIME_TO_TARGET = "training.TimeToTarget"
LOSS_CURVE = "training.LossCurve"
SCALING = "scaling.Scaling.time_epoch"
EXPONENT = "scaling.ScalingExponent.track_exponent"
GPU_RESOURCES = "gpu.GpuResources"
REPLICAS = "replicas.Replicas"  # data-parallel training: time_epoch and track_scaling_efficiency per replicas
# Points of one curve, not a history of their own: plotted, not searched for change points.
NO_CHANGE_POINTS = (LOSS_CURVE + ".",)
