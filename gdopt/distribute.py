"""Data-parallel training on ``tf.distribute``: each step's global batch split across the replicas.

Every step takes the optimizer's global batch B, the same samples in the same shuffled order as on
one device, and gives replica r of R a contiguous shard B_r (sizes differ by at most one). Replica r
returns its share of the batch's mean loss and that share's gradient::

    L_r = (1/|B|) Σ_{i∈B_r} (f(xᵢ; θ) − yᵢ)²,   g_r = ∇θ L_r,   g = Σ_r g_r  (all-reduced)

so g is exactly the mean gradient over B, the partial last batch included, and the optimizer's one
update runs once on it; every replica reads the new θ in the next step.

Compilation: the loop over epochs and steps is one ``tf.function`` graph (no Python per step, no
AutoGraph), traced once per (strategy, shapes, batch size, optimizer class). Each replica's shard
gradient is XLA-compiled; the all-reduce and the update between them are not, because ``strategy.run``
synchronises replicas with ``merge_call``, which XLA cannot compile on CPU devices (TensorFlow skips
``merge_call`` only when every device is a GPU), so one code path serves CPUs and GPUs.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from gdopt.loop import chunk
from gdopt.model import forward
from gdopt.optimizers import SGD, Optimizer

__all__ = ["check_batches", "check_strategy", "epochs_replicated", "shard"]


def check_strategy(strategy: object, device: str | None) -> int:
    """Validate ``strategy`` (with ``device``) and return its number of replicas in sync."""
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ValueError(
            f"strategy must be a tf.distribute.Strategy (e.g. tf.distribute.MirroredStrategy()), "
            f"got {type(strategy).__name__}"
        )
    if device is not None:
        raise ValueError(
            f"device={device!r} cannot be combined with strategy=: the strategy places the replicas "
            f"on its own devices; pass device=None"
        )
    return int(strategy.num_replicas_in_sync)


def check_batches(optimizer: Optimizer, n_samples: int, batch_size: int, replicas: int) -> None:
    """Every batch of every step must give every replica at least one sample."""
    if replicas == 1:
        return
    what = type(optimizer).__name__
    if isinstance(optimizer, SGD):
        raise ValueError(
            f"SGD's batch of one sample per step cannot be split across {replicas} replicas: "
            f"use MiniBatchGD with a batch_size that is a multiple of {replicas}, or strategy=None"
        )
    if batch_size < replicas:
        raise ValueError(
            f"{what}'s batch of {batch_size} sample(s) cannot be split across {replicas} replicas (each "
            f"needs at least one sample of every batch): use batch_size >= {replicas} (a multiple splits "
            f"evenly), more samples, or fewer replicas"
        )
    last = n_samples % batch_size
    if 0 < last < replicas:
        raise ValueError(
            f"the last batch of every epoch has {last} sample(s) (n_samples {n_samples} % batch_size "
            f"{batch_size}), fewer than the {replicas} replicas: choose a batch_size for which "
            f"n_samples % batch_size is 0 or >= {replicas}"
        )


def shard(size: int, replicas: int, replica: int) -> tuple[int, int]:
    """Rows [lo, hi) of a batch of ``size`` that replica ``replica`` of ``replicas`` takes."""
    base, extra = divmod(size, replicas)
    lo = replica * base + min(replica, extra)
    return lo, lo + base + (1 if replica < extra else 0)


@tf.function(jit_compile=True, autograph=False)
def _shard_value_and_grad(params, activations, x, y, size):
    """L_r = (1/size) Σ_{i∈shard} (ŷᵢ − yᵢ)² and ∇θ L_r: this replica's share of the batch mean."""
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = tf.reduce_sum(tf.square(forward(params, activations, x) - y)) / size
    return loss, tape.gradient(loss, params)


def _all_reduced_value_and_grad(strategy: tf.distribute.Strategy, params, activations, x, y):
    """The batch's mean loss and gradient, Σ_r (L_r, g_r) over the replicas' shards, all-reduced."""
    size = int(x.shape[0])
    replicas = strategy.num_replicas_in_sync

    def replica_fn(params, x, y):
        # The replica id is a constant here, so every shard has a static shape (XLA needs one).
        replica = int(tf.get_static_value(tf.distribute.get_replica_context().replica_id_in_sync_group))
        lo, hi = shard(size, replicas, replica)
        return _shard_value_and_grad(params, activations, x[lo:hi], y[lo:hi], size)

    per_replica = strategy.run(replica_fn, args=(params, x, y))
    flat = tf.nest.flatten(per_replica)
    # One batched all-reduce of (loss, every gradient) per step, back onto every replica's device.
    summed = strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.SUM, [(v, v) for v in flat])
    local = [strategy.experimental_local_results(v)[0] for v in summed]
    return tf.nest.pack_sequence_as(per_replica, local)


def _chunk_replicated(params, state, x, y, hyper, seed, first, count, static, activations, batch_size, shuffle,
                      strategy):
    grad_fn = functools.partial(_all_reduced_value_and_grad, strategy)
    return chunk(params, state, x, y, hyper, seed, first, count, static, activations, batch_size, shuffle, grad_fn)


epochs_replicated = tf.function(_chunk_replicated, autograph=False)
"""``gdopt.loop.chunk`` with the all-reduced gradient of ``strategy``'s replicas (last argument)."""


def tracing_count() -> int:
    """Traces of the replicated loop and of its per-replica XLA function."""
    return int(epochs_replicated.experimental_get_tracing_count()) + int(
        _shard_value_and_grad.experimental_get_tracing_count()
    )
