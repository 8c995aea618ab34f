"""The reference a user would otherwise write: Keras ``Model.compile`` + ``Model.fit``.

Same model, data, learning rate and batch size as gdopt's optimizer (n for BatchGD, b for
MiniBatchGD and Momentum, 1 for SGD), with Keras' own ``keras.optimizers.SGD``: θ ← θ − α·g for the
plain optimizers; for ``Momentum``, ``SGD(momentum=β)``, Keras' heavy ball m ← β·m − α·g, θ ← θ + m.
That is gdopt's v ← β·v + g, θ ← θ − α·v with m = −α·v: the same rule for a constant α, rounded
differently (Keras scales by α before adding).
"""

from __future__ import annotations

import contextlib
import time

import keras
import numpy as np
import tensorflow as tf

from gdopt.data import Dataset
from gdopt.devices import device_scope
from gdopt.optimizers import Momentum, Optimizer
from gdopt.training import TrainingDiverged, TrainResult, _raise_if_diverged, plan

__all__ = ["keras_fit"]


def _whole_loss(model: keras.Model, x: tf.Tensor, y: np.ndarray) -> float:
    pred = np.asarray(model(x, training=False), dtype=np.float64)
    return float(np.mean(np.square(pred - y)))


class _EpochLoss(keras.callbacks.Callback):
    """Whole-data MSE after each epoch; its own time is kept out of the measured training time."""

    def __init__(self, x: tf.Tensor, y: np.ndarray) -> None:
        super().__init__()
        self.x, self.y = x, y
        self.losses: list[float] = []
        self.seconds = 0.0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        start = time.perf_counter()
        loss = _whole_loss(self.model, self.x, self.y)
        self.losses.append(loss)
        self.seconds += time.perf_counter() - start
        if not np.isfinite(loss):
            self.model.stop_training = True


def keras_optimizer(optimizer: Optimizer) -> keras.optimizers.Optimizer:
    """Keras' counterpart of ``optimizer``'s rule; ValueError for a rule Keras' SGD does not have."""
    rule = type(optimizer).update
    if rule is Optimizer.update:
        return keras.optimizers.SGD(learning_rate=optimizer.learning_rate)
    if isinstance(optimizer, Momentum) and rule is Momentum.update:
        return keras.optimizers.SGD(learning_rate=optimizer.learning_rate, momentum=optimizer.momentum)
    raise ValueError(
        f"keras_fit has no Keras counterpart for {type(optimizer).__name__}'s update rule: "
        f"it compares plain gradient descent and heavy-ball momentum only"
    )


def _check_keras_strategy(model: keras.Model, strategy: tf.distribute.Strategy, replicas: int) -> None:
    built_under = model.distribute_strategy is strategy
    mirrored = all(isinstance(v.value, tf.distribute.DistributedValues) for v in model.trainable_variables)
    if not built_under or (replicas > 1 and not mirrored):
        raise ValueError(
            "keras_fit(strategy=...) needs a model built under that strategy's scope, so that Keras mirrors "
            "its variables: create it inside `with strategy.scope():` (e.g. `model = gdopt.SampleModel(...)`)"
        )


def keras_fit(
    model: keras.Model,
    data: Dataset,
    optimizer: Optimizer,
    epochs: int = 5,
    seed: int = 0,
    device: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Train with Keras ``fit`` (in place), as the baseline for ``gdopt.train``.

    Keras traces its train step in the first ``fit``; a one-step warm-up fit, whose weight and
    optimizer-state changes are undone, keeps that out of ``seconds``, as ``train`` keeps its own
    compilation out. On divergence the weights are restored and ``TrainingDiverged`` is raised.

    ``strategy``: as for ``train``, with Keras' own data parallelism: the model must have been created
    inside ``with strategy.scope():`` (else ``ValueError``); keras_fit compiles and fits it in that scope,
    and Keras splits each global batch of b across the replicas. Keras averages the replicas' mean losses
    with equal weights, so a batch split unevenly is weighted slightly differently from ``train``'s exact
    global mean.
    """
    p = plan(model, data, optimizer, epochs, seed, device, strategy)
    keras_opt = keras_optimizer(optimizer)
    if strategy is not None:
        _check_keras_strategy(model, strategy, p.replicas)
    b = p.batch_size
    scope = contextlib.nullcontext() if strategy is None else strategy.scope()
    with scope, device_scope(p.tf_device):
        saved = [v.numpy() for v in p.variables]
        model.compile(optimizer=keras_opt, loss="mse")
        model.fit(data.x[:b], data.y[:b], batch_size=b, epochs=1, shuffle=False, verbose=0)  # trace
        for var, value in zip(p.variables, saved, strict=True):
            var.assign(value)
        model.optimizer.iterations.assign(0)
        for velocity in getattr(model.optimizer, "momentums", None) or []:  # the warm-up step moved them
            velocity.assign(tf.zeros_like(velocity))
        x = tf.constant(data.x)
        y = data.y.astype(np.float64)
        initial = _whole_loss(model, x, y)
        tracker = _EpochLoss(x, y)
        keras.utils.set_random_seed(seed)  # fit's shuffles come from the global seed
        start = time.perf_counter()
        model.fit(data.x, data.y, batch_size=b, epochs=epochs, shuffle=optimizer.shuffles, verbose=0,
                  callbacks=[tracker])
        seconds = time.perf_counter() - start - tracker.seconds
    history = tracker.losses
    try:
        _raise_if_diverged(initial, history)
    except TrainingDiverged:
        for var, value in zip(p.variables, saved, strict=True):
            var.assign(value)
        raise
    return TrainResult(history[-1], history, p.steps_per_epoch * epochs, seconds, initial)
