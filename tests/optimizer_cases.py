"""The optimizer table that drives the parametrized tests: a new optimizer is one row here.

Each row gives a small-problem instance, its NumPy reference rule (``init``/``update`` on float64
arrays), its bad hyperparameters with the exact error, the epochs the convergence tests need, and a
golden trajectory: [initial loss, loss after each of 3 epochs] on ``GOLDEN_DATA`` (n=20, d=3), model
``SampleModel(3, 5, seed=0)``, train seed 7, CPU. The rows for gd/minibatch/sgd were recorded at
da3dd75, before the optimizers carried state, so they pin the benchmark history's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import gdopt

Arrays = list[np.ndarray]

GOLDEN_DATA = {"n_samples": 20, "n_features": 3, "noise": 0.1, "seed": 1}

BAD_LEARNING_RATE = [
    ({"learning_rate": v}, r"learning_rate must be a finite number > 0, got")
    for v in (0, -0.1, float("nan"), float("inf"), "0.1", True, None)
]
BAD_BATCH_SIZE = [({"batch_size": v}, r"batch_size must be an int >= 1, got") for v in (0, -1, 2.0, None, True)]
BAD_MOMENTUM = [
    ({"momentum": v}, r"momentum must be a number in \[0, 1\), got")
    for v in (-0.1, 1, 1.0, 1.5, float("nan"), float("inf"), "0.9", True, None)
]


def plain_init(opt: gdopt.Optimizer, params: Arrays) -> tuple:
    return ()


def plain_update(opt: gdopt.Optimizer, grads: Arrays, state: tuple, params: Arrays) -> tuple[Arrays, tuple]:
    """θ ← θ − α·g."""
    return [p - opt.learning_rate * g for p, g in zip(params, grads, strict=True)], state


def momentum_init(opt: gdopt.Optimizer, params: Arrays) -> tuple:
    return tuple(np.zeros_like(p) for p in params)


def momentum_update(opt: gdopt.Optimizer, grads: Arrays, state: tuple, params: Arrays) -> tuple[Arrays, tuple]:
    """v ← β·v + g, θ ← θ − α·v."""
    velocity = tuple(opt.momentum * v + g for v, g in zip(state, grads, strict=True))
    return [p - opt.learning_rate * v for p, v in zip(params, velocity, strict=True)], velocity


@dataclass(frozen=True)
class Case:
    name: str
    cls: type[gdopt.Optimizer]
    opt: gdopt.Optimizer  # batch size 8 where there is one: 20 = 8 + 8 + 4 samples, the last batch partial
    steps_per_epoch_100: int  # for n = 100
    shuffles: bool
    numpy_init: Callable[[gdopt.Optimizer, Arrays], tuple]
    numpy_update: Callable[[gdopt.Optimizer, Arrays, tuple, Arrays], tuple[Arrays, tuple]]
    golden: list[float]
    converge_epochs: int  # to cut the loss by 80 % on n=1024, d=8 with the class defaults
    bad: list[tuple[dict, str]] = field(default_factory=list)


CASES = [
    Case("gd", gdopt.BatchGD, gdopt.BatchGD(learning_rate=0.1), 1, False, plain_init, plain_update,
         [0.40834447741508484, 0.34432417154312134, 0.29290857911109924, 0.25560277700424194], 300,
         BAD_LEARNING_RATE),
    Case("minibatch", gdopt.MiniBatchGD, gdopt.MiniBatchGD(learning_rate=0.05, batch_size=8), 13, True,
         plain_init, plain_update,
         [0.40834447741508484, 0.3269959092140198, 0.2545778453350067, 0.21224439144134521], 20,
         BAD_LEARNING_RATE + BAD_BATCH_SIZE),
    Case("sgd", gdopt.SGD, gdopt.SGD(learning_rate=0.01), 100, True, plain_init, plain_update,
         [0.40834447741508484, 0.29303309321403503, 0.22205133736133575, 0.16676835715770721], 5,
         BAD_LEARNING_RATE),
    Case("momentum", gdopt.Momentum, gdopt.Momentum(learning_rate=0.01, batch_size=8, momentum=0.9), 13, True,
         momentum_init, momentum_update,
         [0.40834447741508484, 0.37105879187583923, 0.3058255910873413, 0.23196744918823242], 20,
         BAD_LEARNING_RATE + BAD_BATCH_SIZE + BAD_MOMENTUM),
]
IDS = [c.name for c in CASES]
BY_NAME = {c.name: c for c in CASES}
