"""gdopt: full-batch, mini-batch and stochastic gradient descent with a compiled TensorFlow loop.

>>> import gdopt
>>> data = gdopt.make_regression(n_samples=512, n_features=8, noise=0.1, seed=0)
>>> model = gdopt.SampleModel(n_features=8, hidden=10, seed=0)
>>> result = gdopt.train(model, data, gdopt.SGD(learning_rate=0.01), epochs=2, seed=0)
>>> result.final_loss < result.initial_loss
True
"""

from __future__ import annotations

from gdopt.baseline import keras_fit
from gdopt.data import Dataset, make_regression
from gdopt.model import SampleModel
from gdopt.optimizers import OPTIMIZERS, SGD, BatchGD, MiniBatchGD, Momentum, Optimizer
from gdopt.training import TrainingDiverged, TrainResult, train

__version__ = "0.1.0"

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
