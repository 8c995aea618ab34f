"""gdopt: full-batch, mini-batch and stochastic gradient descent with a compiled TensorFlow loop.

>>> import gdopt
>>> data = gdopt.make_regression(n_samples=512, n_features=8, noise=0.1, seed=0)
>>> model = gdopt.SampleModel(n_features=8, hidden=10, seed=0)
>>> result = gdopt.train(model, data, gdopt.SGD(learning_rate=0.01), epochs=2, seed=0)
>>> result.final_loss < result.initial_loss
True

The public names load on first use, so the harness's TensorFlow-free parts (``gdopt.probes``,
``gdopt.gate``, ``gdopt.site``) import without TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Dataset": "gdopt.data",
    "make_regression": "gdopt.data",
    "SampleModel": "gdopt.model",
    "OPTIMIZERS": "gdopt.optimizers",
    "SGD": "gdopt.optimizers",
    "BatchGD": "gdopt.optimizers",
    "MiniBatchGD": "gdopt.optimizers",
    "Momentum": "gdopt.optimizers",
    "Optimizer": "gdopt.optimizers",
    "TrainingDiverged": "gdopt.training",
    "TrainResult": "gdopt.training",
    "train": "gdopt.training",
    "keras_fit": "gdopt.baseline",
}

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "BatchGD",
    "Dataset",
    "MiniBatchGD",
    "Momentum",
    "Optimizer",
    "SampleModel",
    "TrainResult",
    "TrainingDiverged",
    "keras_fit",
    "make_regression",
    "train",
]

if TYPE_CHECKING:
    from gdopt.baseline import keras_fit
    from gdopt.data import Dataset, make_regression
    from gdopt.model import SampleModel
    from gdopt.optimizers import OPTIMIZERS, SGD, BatchGD, MiniBatchGD, Momentum, Optimizer
    from gdopt.training import TrainingDiverged, TrainResult, train


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gdopt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
