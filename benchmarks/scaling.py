"""How training time grows with the data size and the hidden width (mini-batch GD, one epoch, CPU)."""

from __future__ import annotations

import statistics

import numpy as np

import gdopt

from . import common

N_SAMPLES = [1024, 4096, 16384, 65536]
HIDDEN = [10, 100, 1000]
OPTIMIZER = "minibatch"


def _epoch_seconds(n_samples: int, hidden: int, repeats: int = 1) -> float:
    data = common.dataset(n_samples)
    opt = common.optimizer(OPTIMIZER)
    gdopt.train(common.model(hidden), data, opt, epochs=1, seed=common.TRAIN_SEED, device="cpu")  # warm-up
    return statistics.median(
        gdopt.train(common.model(hidden), data, opt, epochs=1, seed=common.TRAIN_SEED, device="cpu").seconds
        for _ in range(repeats)
    )


class Scaling:
    """One epoch of mini-batch GD over n_samples × hidden."""

    params = (N_SAMPLES, HIDDEN)
    param_names = ["n_samples", "hidden"]
    number = 1
    repeat = (3, 5, 5.0)
    rounds = 1
    warmup_time = 0.0
    timeout = common.TIMING["timeout"]
    version = "1"

    def setup(self, n_samples: int, hidden: int) -> None:
        self.data = common.dataset(n_samples)
        self.opt = common.optimizer(OPTIMIZER)
        common.warm_up(gdopt.train, self.data, self.opt, "cpu", hidden)
        self.model = common.model(hidden)

    def time_epoch(self, n_samples: int, hidden: int) -> None:
        gdopt.train(self.model, self.data, self.opt, epochs=1, seed=common.TRAIN_SEED, device="cpu")


class ScalingExponent:
    """The fitted growth exponent k in time ∝ size^k (least squares on log-log medians).

    ``n_samples``: over N_SAMPLES at hidden=10 (k ≈ 1 means linear in the data). ``hidden``: over HIDDEN at
    n=4096 (k < 1 while per-step overhead dominates the matmuls).
    """

    params = (["n_samples", "hidden"],)
    param_names = ["dimension"]
    rounds = 1
    repeat = 1
    timeout = common.TIMING["timeout"]
    version = "1"

    def track_exponent(self, dimension: str) -> float:
        if dimension == "n_samples":
            sizes = N_SAMPLES
            times = [_epoch_seconds(n, common.HIDDEN, repeats=3) for n in sizes]
        else:
            sizes = HIDDEN
            times = [_epoch_seconds(4096, h, repeats=3) for h in sizes]
        slope, _ = np.polyfit(np.log(sizes), np.log(times), 1)
        return float(slope)

    track_exponent.unit = "exponent"
