"""``train``: the compiled training loop, on one device or across the replicas of a tf.distribute strategy.

``train`` runs every epoch of a run inside one TensorFlow graph: an outer ``tf.while_loop`` over
epochs calls an XLA-compiled epoch (a ``tf.while_loop`` over steps; see ``gdopt.loop``), so no Python
runs per step or per epoch. Each step applies the optimizer's ``update`` (θ ← θ − α·g, or momentum's
v ← β·v + g, θ ← θ − α·v) to a batch that the optimizer's sampler picks, carrying (θ, state);
shuffles are stateless draws keyed by (seed, epoch), so a run is reproducible bit for bit on the same
machine. With ``strategy=`` the same loop splits each batch across the replicas (``gdopt.distribute``).

The traced graph depends only on shapes and on the (static) batch size, activations and optimizer
class, never on the model object, the hyperparameter values, the seed or the number of epochs:
repeated calls reuse it. The graphs are written with explicit ``tf.while_loop`` and static Python
branches, so they are traced without AutoGraph: the same graph, half the first call's cost, and no
converted source files left in the temporary directory by processes that exit without cleanup (asv's forks).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gdopt import distribute, loop
from gdopt.data import Dataset
from gdopt.devices import device_scope, resolve_device
from gdopt.model import dense_stack
from gdopt.optimizers import OPTIMIZERS, Optimizer, State

__all__ = ["TrainResult", "TrainingDiverged", "epoch_order", "tracing_count", "train"]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    ``final_loss`` and ``loss_history`` are whole-data MSEs (after the last epoch / after each epoch),
    ``steps`` the updates made, ``seconds`` the wall time of the training itself (tracing and
    compilation of a cached loop excluded; the device is synchronised before the clock stops).
    """

    final_loss: float
    loss_history: list[float] = field(repr=False)
    steps: int
    seconds: float
    initial_loss: float = field(default=math.nan, repr=False)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or inf; ``epoch`` (1-based) is where, ``last_finite_loss`` the loss before."""

    def __init__(self, epoch: int, last_finite_loss: float) -> None:
        self.epoch = epoch
        self.last_finite_loss = last_finite_loss
        super().__init__(
            f"training diverged in epoch {epoch}: the loss became NaN or inf "
            f"(last finite loss {last_finite_loss:.6g}); try a smaller learning_rate"
        )


@dataclass(frozen=True)
class _Plan:
    variables: list[keras.Variable]
    activations: tuple[str, ...]
    batch_size: int
    steps_per_epoch: int
    tf_device: str | None
    replicas: int = 1


def _check_seed_epochs(epochs: object, seed: object) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an int in 0..2**31-1, got {seed!r}")


def plan(model: keras.Model, data: Dataset, optimizer: Optimizer, epochs: int, seed: int, device: str | None,
         strategy: tf.distribute.Strategy | None = None) -> _Plan:
    """Validate every argument of a training run before anything changes."""
    if not isinstance(data, Dataset):
        raise ValueError(f"data must be a gdopt.Dataset (see gdopt.make_regression), got {type(data).__name__}")
    if not isinstance(optimizer, Optimizer):
        names = ", ".join(cls.__name__ for cls in OPTIMIZERS.values())
        raise ValueError(f"optimizer must be a gdopt optimizer ({names}), got {optimizer!r}")
    _check_seed_epochs(epochs, seed)
    replicas = 1 if strategy is None else distribute.check_strategy(strategy, device)
    tf_device = resolve_device(device)
    variables, activations = dense_stack(model)
    expected = int(variables[0].shape[0])
    if expected != data.n_features:
        raise ValueError(f"model expects {expected} features but data has n_features={data.n_features}")
    batch_size = optimizer.batch_size_for(data.n_samples)
    distribute.check_batches(optimizer, data.n_samples, batch_size, replicas)
    return _Plan(variables, activations, batch_size, optimizer.steps_per_epoch(data.n_samples), tf_device, replicas)


def epoch_order(n_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which a shuffling optimizer visits the samples in ``epoch`` (0-based) of a run."""
    return loop.order(n_samples, tf.constant([seed, epoch], tf.int32)).numpy()


def tracing_count() -> int:
    """How many times the training graphs were traced (stays put when shapes repeat)."""
    return int(loop.epochs_compiled.experimental_get_tracing_count()) + distribute.tracing_count()


_compiled: set[tuple] = set()


def _run(p: _Plan, params: tuple[tf.Tensor, ...], state: State, x: tf.Tensor, y: tf.Tensor, optimizer: Optimizer,
         seed: int, epochs: int, strategy: tf.distribute.Strategy | None
         ) -> tuple[tuple[tf.Tensor, ...], list[float], float]:
    """Every epoch, CHUNK at a time; returns θ, the start-of-epoch losses and the final loss."""
    static, values = optimizer.split()
    hyper = tuple(tf.constant(v, tf.float32) for v in values)
    seed_t = tf.constant(seed, tf.int32)
    extra: tuple[Any, ...] = () if strategy is None else (strategy,)
    compiled = loop.epochs_compiled if strategy is None else distribute.epochs_replicated
    starts: list[float] = []
    final = math.nan
    while len(starts) < epochs:
        count = min(loop.CHUNK, epochs - len(starts))
        params, state, losses, done, last = compiled(
            params, state, x, y, hyper, seed_t, tf.constant(len(starts), tf.int32), tf.constant(count, tf.int32),
            static, p.activations, p.batch_size, optimizer.shuffles, *extra,
        )
        done_n = int(done)  # fetching synchronises the device
        starts += losses.numpy()[:done_n].tolist()
        final = float(last)
        if done_n < count or not math.isfinite(starts[-1]) or not math.isfinite(final):
            break
    return params, starts, final


def owned_tensor(array: np.ndarray) -> tf.Tensor:
    """``array`` as a tensor in TensorFlow's own memory, with no NumPy copy of it left alive.

    ``tf.constant`` copies a NumPy array, and TensorFlow keeps that copy as the tensor's buffer when its
    address happens to be 64-byte aligned (else it copies once more and frees it): whether a copy of the
    data stayed alive through training was a per-process coin flip of the heap's layout, so the training's
    memory peak jumped between processes. ``DeepCopy`` always makes a TensorFlow-owned buffer, and the
    constant (with its copy) is freed at once. Values are unchanged, bit for bit.
    """
    return tf.raw_ops.DeepCopy(x=tf.constant(array))


def train(
    model: keras.Model,
    data: Dataset,
    optimizer: Optimizer,
    epochs: int = 5,
    seed: int = 0,
    device: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` in place (its weights change, as with Keras ``fit``).

    Every step applies the optimizer's update (θ ← θ − α·g for the plain optimizers) with g the mean
    MSE gradient over the optimizer's batch. On divergence the weights are left as they were before
    the call and ``TrainingDiverged`` is raised.

    ``strategy``: a ``tf.distribute.Strategy`` (``MirroredStrategy`` over GPUs or logical CPUs,
    ``MultiWorkerMirroredStrategy`` across processes). Each step's global batch is split across its
    replicas and the all-reduced gradient is the exact mean over the global batch, so the run takes the
    same steps and shuffles as on one device and ends at the same loss up to float rounding. Every batch
    must give every replica a sample (else ``ValueError``); ``device`` must then be None. The step loop
    stays one graph; the per-replica gradient is XLA-compiled (see ``gdopt.distribute``).

    >>> import gdopt
    >>> data = gdopt.make_regression(n_samples=256, n_features=8, seed=0)
    >>> model = gdopt.SampleModel(n_features=8, hidden=10, seed=0)
    >>> result = gdopt.train(model, data, gdopt.BatchGD(learning_rate=0.1), epochs=3)
    >>> result.steps, len(result.loss_history)
    (3, 3)
    """
    p = plan(model, data, optimizer, epochs, seed, device, strategy)
    scope = contextlib.nullcontext() if strategy is None else strategy.scope()
    with scope, device_scope(p.tf_device):
        x, y = owned_tensor(data.x), owned_tensor(data.y)
        params = tuple(tf.identity(v.value) for v in p.variables)
        state = optimizer.init(params)
        key = (tuple(tuple(v.shape) for v in p.variables), data.x.shape, p.activations, p.batch_size,
               optimizer.split()[0], optimizer.shuffles, p.tf_device, id(strategy))  # id: no strong reference kept
        if key not in _compiled:  # trace and compile outside the clock, on a throwaway copy of θ
            _run(p, params, state, x, y, optimizer, seed, 1, strategy)
            _compiled.add(key)
        start = time.perf_counter()
        new_params, starts, final = _run(p, params, state, x, y, optimizer, seed, epochs, strategy)
        seconds = time.perf_counter() - start
    history = [*starts[1:], final]
    _raise_if_diverged(starts[0], history)
    for var, value in zip(p.variables, new_params, strict=True):
        var.assign(value)
    return TrainResult(final, history, p.steps_per_epoch * epochs, seconds, starts[0])


def _raise_if_diverged(initial: float, history: Sequence[float]) -> None:
    last = initial
    for epoch, loss in enumerate(history, start=1):
        if not math.isfinite(loss):
            raise TrainingDiverged(epoch, last)
        last = loss
