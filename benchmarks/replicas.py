"""Data-parallel scaling of ``gdopt.train(strategy=)``: epoch time over replicas, and scaling efficiency.

A replica is a GPU where TensorFlow sees any (``MirroredStrategy`` over the first ``replicas`` GPUs),
else a logical CPU device: setup splits the host CPU in two before anything touches a device (asv's
forkserver imports TensorFlow but initialises no device, so every fork can still split). Every case
runs on the same split, so 1 and 2 replicas differ only in the strategy, and both go through the
same replicated code path (1 replica is ``MirroredStrategy`` over one device, not strategy=None).
``REPLICAS`` is the same on every host, so the history has one grid: a GPU host with fewer GPUs than
``replicas`` shows n/a; one with more can append counts (never change them).
"""

from __future__ import annotations

import statistics

import gdopt

from . import common

OPTIMIZERS = ["gd", "minibatch"]  # SGD's batch of one cannot be split; momentum's steps are minibatch's
REPLICAS = [1, 2]
EFFICIENCY_ROUNDS = 6  # interleaved pairs (1 replica, r replicas) per efficiency sample, even for ABBA


def _strategy(replicas: int):
    """MirroredStrategy over ``replicas`` GPUs, or logical CPUs on a host without GPUs."""
    import tensorflow as tf

    from gdopt.devices import gpu_available, logical_cpus

    if gpu_available():
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        if replicas > len(gpus):
            raise NotImplementedError(f"{replicas} replicas need {replicas} GPUs; TensorFlow sees {len(gpus)}")
        return tf.distribute.MirroredStrategy(gpus[:replicas])
    try:
        cpus = logical_cpus(max(REPLICAS))
    except RuntimeError as error:  # a device was initialised before setup: the split cannot change
        raise NotImplementedError(str(error)) from error
    return tf.distribute.MirroredStrategy(cpus[:replicas])


class Replicas:
    """One epoch on ``replicas`` replicas; efficiency = t(1) / (replicas · t(replicas)), paired in one process."""

    params = (OPTIMIZERS, REPLICAS)
    param_names = ["optimizer", "replicas"]
    number = common.TIMING["number"]
    repeat = common.TIMING["repeat"]
    rounds = common.TIMING["rounds"]
    warmup_time = common.TIMING["warmup_time"]
    timeout = common.TIMING["timeout"]
    version = "1"

    def setup(self, name: str, replicas: int) -> None:
        self.strategy = _strategy(replicas)  # first: before anything touches a device
        self.one = self.strategy if replicas == 1 else _strategy(1)
        self.data = common.dataset()
        self.opt = common.optimizer(name)
        self.epochs = common.workload(name).epochs
        for strategy in {id(self.strategy): self.strategy, id(self.one): self.one}.values():
            self._train(strategy, 1)  # trace once per strategy, outside the samples
        self.model = common.model()

    def _train(self, strategy, epochs: int, model: gdopt.SampleModel | None = None) -> gdopt.TrainResult:
        return gdopt.train(model or common.model(), self.data, self.opt, epochs=epochs, seed=common.TRAIN_SEED,
                           strategy=strategy)

    def time_epoch(self, name: str, replicas: int) -> None:
        self._train(self.strategy, 1, self.model)

    def track_scaling_efficiency(self, name: str, replicas: int) -> float:
        """t(1) / (r · t(r)) from medians of interleaved runs' training seconds: 1 is perfect scaling,
        1/r no speed-up; at replicas=1 it compares two identical runs (the pairing's noise)."""
        one: list[float] = []
        many: list[float] = []
        for i in range(EFFICIENCY_ROUNDS):
            runs = [(one, self.one), (many, self.strategy)]
            for samples, strategy in runs if i % 2 == 0 else runs[::-1]:  # ABBA: neither side gains from going first
                samples.append(self._train(strategy, self.epochs).seconds)
        return statistics.median(one) / (replicas * statistics.median(many))

    track_scaling_efficiency.unit = "ratio"
