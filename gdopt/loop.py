"""The epoch loop as pure TensorFlow: the same graph for one device (XLA-compiled) and for replicas.

An epoch is a ``tf.while_loop`` over the optimizer's batches; each step computes the batch's mean
MSE gradient g and calls ``optimizer.update(g, state, θ)``. ``chunk`` runs up to CHUNK epochs in one
graph, carrying (θ, state). The gradient function is a parameter: one device by default; a
data-parallel loop passes an all-reduced one. Everything here is static Python around TensorFlow
ops, traced without AutoGraph.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from gdopt.model import mse
from gdopt.optimizers import Optimizer

__all__ = ["CHUNK", "chunk", "epochs_compiled", "order", "value_and_grad"]

CHUNK = 32  # epochs per compiled call: amortises the call over many cheap full-batch epochs

ValueAndGrad = Callable[..., tuple[tf.Tensor, tuple[tf.Tensor, ...]]]


def value_and_grad(params: tuple[tf.Tensor, ...], activations: tuple[str, ...], x: tf.Tensor, y: tf.Tensor):
    """L(θ) = (1/b) Σᵢ (ŷᵢ − yᵢ)² over the rows of x, and ∇θ L, on the current device."""
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = mse(params, activations, x, y)
    return loss, tape.gradient(loss, params)


def _order(n: int, key: tf.Tensor) -> tf.Tensor:
    return tf.argsort(tf.random.stateless_uniform([n], seed=key))


order = tf.function(_order, jit_compile=True, autograph=False)
"""The epoch's sample order: a stateless permutation keyed by (seed, epoch). Always XLA-compiled:
XLA draws stateless random numbers with another algorithm than TensorFlow's kernels, and every path
(one device, replicas, ``gdopt.training.epoch_order``) must visit the samples in the same order."""


def epoch(params, state, x, y, opt: Optimizer, key, activations, batch_size: int, shuffle: bool,
          grad_fn: ValueAndGrad = value_and_grad):
    """One epoch; returns (whole-data loss at the epoch's start, updated (θ, state))."""
    n, d = x.shape
    if batch_size == n:  # full batch: the step's own loss is the whole-data loss
        loss, grads = grad_fn(params, activations, x, y)
        return loss, opt.update(grads, state, params)
    start_loss = mse(params, activations, x, y)
    if shuffle:
        perm = order(n, key)
        x, y = tf.gather(x, perm), tf.gather(y, perm)

    def step(carry, offset, size):
        params, state = carry
        xb = tf.slice(x, [offset, 0], [size, d])
        yb = tf.slice(y, [offset, 0], [size, 1])
        _, grads = grad_fn(params, activations, xb, yb)
        return opt.update(grads, state, params)

    full = n // batch_size
    _, carry = tf.while_loop(
        lambda i, _: i < full,
        lambda i, carry: (i + 1, step(carry, i * batch_size, batch_size)),
        (tf.constant(0), (params, state)),
    )
    if n % batch_size:  # the last, partial batch
        carry = step(carry, full * batch_size, n % batch_size)
    return start_loss, carry


def chunk(params, state, x, y, hyper, seed, first, count, static, activations, batch_size, shuffle,
          grad_fn: ValueAndGrad = value_and_grad):
    """Up to ``count`` ≤ CHUNK epochs; stops after an epoch whose start loss is NaN or inf.

    ``static``/``hyper`` are the optimizer's ``split()``: its hyperparameters enter as tensors, so new
    values reuse the graph. Returns (θ, state, start-of-epoch losses [CHUNK], epochs run, final loss).
    """
    opt = Optimizer.join(static, hyper)

    def body(i, params, state, starts, last):
        key = tf.stack([seed, first + i])
        loss, (params, state) = epoch(params, state, x, y, opt, key, activations, batch_size, shuffle, grad_fn)
        return i + 1, params, state, tf.tensor_scatter_nd_update(starts, [[i]], [loss]), loss

    done, params, state, starts, _ = tf.while_loop(
        lambda i, _p, _o, _s, last: tf.logical_and(i < count, tf.math.is_finite(last)),
        body,
        (tf.constant(0), params, state, tf.zeros([CHUNK]), tf.constant(0.0)),
    )
    return params, state, starts, done, mse(params, activations, x, y)


epochs_compiled = tf.function(chunk, jit_compile=True, autograph=False)
"""``chunk`` on one device, XLA-compiled: traced once per shapes, batch size, activations and optimizer class."""
