"""The NumPy yardstick computes the same gradients as TensorFlow's autodiff of gdopt's model."""

import numpy as np
import tensorflow as tf

import gdopt
from gdopt.model import dense_stack, mse
from tools import reference


def test_reference_gradients_match_tensorflow():
    data = gdopt.make_regression(n_samples=64, n_features=4, seed=0)
    model = gdopt.SampleModel(n_features=4, hidden=7, seed=3)
    variables, activations = dense_stack(model)
    params = tuple(tf.constant(v.numpy(), tf.float64) for v in variables)
    x, y = tf.constant(data.x, tf.float64), tf.constant(data.y, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = mse(params, activations, x, y)
    tf_grads = tape.gradient(loss, params)
    np_loss, np_grads = reference.loss_and_grads([p.numpy() for p in params], data.x.astype(np.float64),
                                                 data.y.astype(np.float64))
    assert np_loss == float(loss.numpy()) or abs(np_loss - float(loss.numpy())) < 1e-12
    for got, want in zip(np_grads, tf_grads, strict=True):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
