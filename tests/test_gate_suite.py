"""The gate suite's setup: one model per process, set back to the seeded start before every sample
(``benchmarks.common.model_at_start``), must train exactly as a fresh model does."""

from __future__ import annotations

import numpy as np
import pytest

import gdopt
from benchmarks import common


def _weights(model: gdopt.SampleModel) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights]


def test_model_at_start_is_a_fresh_model_again_after_training() -> None:
    data = gdopt.make_regression(n_samples=256, n_features=common.N_FEATURES, seed=common.DATA_SEED)
    m = common.model_at_start()
    gdopt.train(m, data, gdopt.BatchGD(learning_rate=0.1), epochs=3, seed=common.TRAIN_SEED, device="cpu")
    assert any(not np.array_equal(a, b) for a, b in zip(_weights(m), _weights(common.model()), strict=True))
    again = common.model_at_start()
    assert again is m  # no new Keras model per sample: that was the cost
    for a, b in zip(_weights(again), _weights(common.model()), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["gd", "sgd"])
def test_training_from_model_at_start_equals_training_a_fresh_model_bit_for_bit(name: str) -> None:
    data = gdopt.make_regression(n_samples=512, n_features=common.N_FEATURES, seed=common.DATA_SEED)
    opt = common.optimizer(name)
    losses = []
    for make in (common.model, common.model_at_start, common.model_at_start):
        run = gdopt.train(make(), data, opt, epochs=2, seed=common.TRAIN_SEED, device="cpu")
        losses.append(run.loss_history)
    assert losses[0] == losses[1] == losses[2]


def test_model_at_start_keeps_one_model_per_width() -> None:
    assert common.model_at_start(4) is not common.model_at_start(6)
    assert common.model_at_start(4).weights[0].shape == (common.N_FEATURES, 4)
