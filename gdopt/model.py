"""The sample model, Dense(hidden, relu) → Dense(1), and its pure forward pass.

The training loop never calls the Keras model per step: it reads the Dense stack once as a
tuple of tensors θ = (W₁, b₁, W₂, b₂, …) and runs the pure function ``forward(θ, x)`` inside a
compiled graph, so one traced loop serves every model instance of the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

__all__ = ["SampleModel", "dense_stack", "forward", "mse"]

_ACTIVATIONS = {"relu": tf.nn.relu, "linear": None}


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


class SampleModel(keras.Sequential):
    """Dense(hidden, relu) → Dense(1), Glorot-uniform weights drawn from ``seed``, zero biases.

    >>> model = SampleModel(n_features=8, hidden=10, seed=0)
    >>> model.count_params()
    101
    """

    def __init__(self, n_features: int = 8, hidden: int = 10, seed: int = 0) -> None:
        n_features = _check_int("n_features", n_features, 1)
        hidden = _check_int("hidden", hidden, 1)
        seed = _check_int("seed", seed, 0)
        super().__init__(
            [
                keras.Input(shape=(n_features,), dtype="float32"),
                keras.layers.Dense(
                    hidden, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=seed)
                ),
                keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1)),
            ],
            name="sample_model",
        )


def dense_stack(model: keras.Model) -> tuple[list[keras.Variable], tuple[str, ...]]:
    """The model's variables [W₁, b₁, …] and activation names, if it is a plain Dense stack."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError("model must be built (give it an Input shape) before training")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not layers:
        raise ValueError("model has no layers")
    variables: list[keras.Variable] = []
    activations: list[str] = []
    for layer in layers:
        name = getattr(getattr(layer, "activation", None), "__name__", None)
        if not isinstance(layer, keras.layers.Dense) or not layer.use_bias or name not in _ACTIVATIONS:
            raise ValueError(
                f"model must be a stack of Dense layers with bias and relu/linear activation; "
                f"layer {layer.name!r} ({type(layer).__name__}, activation={name}) is not supported"
            )
        variables += [layer.kernel, layer.bias]
        activations.append(name)
    if layers[-1].units != 1:
        raise ValueError(f"model must end in a single output unit, got {layers[-1].units}")
    return variables, tuple(activations)


def forward(params: Sequence[tf.Tensor], activations: tuple[str, ...], x: tf.Tensor) -> tf.Tensor:
    """ŷ = f_L(… f_1(x·W₁ + b₁) …), with f_i the layer's activation."""
    h = x
    for i, act in enumerate(activations):
        h = tf.matmul(h, params[2 * i]) + params[2 * i + 1]
        fn = _ACTIVATIONS[act]
        if fn is not None:
            h = fn(h)
    return h


def mse(params: Sequence[tf.Tensor], activations: tuple[str, ...], x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """L(θ) = (1/b) Σᵢ (ŷᵢ − yᵢ)² over the rows of x."""
    return tf.reduce_mean(tf.square(forward(params, activations, x) - y))
