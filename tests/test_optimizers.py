"""The optimizer classes: registry, sampler, config round-trip, the update rule number by number, bad input."""

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf
from optimizer_cases import CASES, IDS

import gdopt
from gdopt.optimizers import descend


def test_registry_is_built_from_the_class_names():
    assert list(gdopt.OPTIMIZERS) == IDS  # definition order, one row per optimizer in the table
    assert all(gdopt.OPTIMIZERS[c.name] is c.cls and c.cls.name == c.name for c in CASES)
    with pytest.raises(TypeError):
        gdopt.OPTIMIZERS["x"] = gdopt.SGD  # read-only: classes register themselves


def test_a_new_optimizer_is_one_class():
    from gdopt.optimizers import _REGISTRY

    @dataclasses.dataclass(frozen=True)
    class Halved(gdopt.SGD):  # an unnamed subclass stays out of the registry
        pass

    assert Halved not in gdopt.OPTIMIZERS.values()
    try:
        @dataclasses.dataclass(frozen=True)
        class Tiny(gdopt.SGD):
            name = "tiny-test"

        assert gdopt.OPTIMIZERS["tiny-test"] is Tiny
        with pytest.raises(TypeError, match="optimizer name 'tiny-test' is taken by"):
            type("Again", (gdopt.SGD,), {"name": "tiny-test"})
    finally:
        _REGISTRY.pop("tiny-test", None)
    assert list(gdopt.OPTIMIZERS) == IDS


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sampler_and_config(case):
    opt = case.opt
    assert opt.steps_per_epoch(100) == case.steps_per_epoch_100 == math.ceil(100 / opt.batch_size_for(100))
    assert opt.shuffles is case.shuffles
    assert case.cls.from_config(opt.get_config()) == opt
    assert case.cls() == case.cls.from_config(case.cls().get_config())  # the defaults are valid


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_split_and_join_round_trip(case):
    static, values = case.opt.split()
    assert len(values) == len(case.cls.hyperparameters)
    assert gdopt.Optimizer.join(static, values) == case.opt
    other = dataclasses.replace(case.opt, learning_rate=case.opt.learning_rate * 2)
    assert other.split()[0] == static  # new hyperparameter values, the same compiled graph


def test_one_update_rule():
    assert descend([1.0], [2.0], 0.25) == (0.5,)
    plain = [c.cls for c in CASES if c.cls.update is gdopt.Optimizer.update]
    assert plain == [gdopt.BatchGD, gdopt.MiniBatchGD, gdopt.SGD]  # only momentum changes the direction


def _tf(arrays):
    return tuple(tf.constant(a, tf.float32) for a in arrays)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_update_matches_the_numpy_rule_step_by_step(case):
    """Two updates through init/update on fixed numbers, against the NumPy rule (momentum: v matters)."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    grads_seq = [[rng.standard_normal((3, 2)), rng.standard_normal(2)] for _ in range(2)]
    opt = case.opt
    state, want_state = opt.init(_tf(params)), case.numpy_init(opt, params)
    got, want = _tf(params), params
    for grads in grads_seq:
        got, state = opt.update(_tf(grads), state, got)
        want, want_state = case.numpy_update(opt, grads, want_state, want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-6, atol=1e-6)
        assert len(state) == len(want_state)


def test_momentum_by_hand():
    """v₁ = g₁, θ₁ = θ₀ − α·g₁; v₂ = β·g₁ + g₂, θ₂ = θ₁ − α·v₂."""
    opt = gdopt.Momentum(learning_rate=0.5, momentum=0.5)
    theta, state = (tf.constant([1.0]),), opt.init((tf.constant([1.0]),))
    assert state[0].numpy().tolist() == [0.0]
    theta, state = opt.update((tf.constant([2.0]),), state, theta)
    assert theta[0].numpy().tolist() == [0.0] and state[0].numpy().tolist() == [2.0]
    theta, state = opt.update((tf.constant([1.0]),), state, theta)
    assert state[0].numpy().tolist() == [2.0] and theta[0].numpy().tolist() == [-1.0]


BAD = [(c.cls, kwargs, match) for c in CASES for kwargs, match in c.bad]


@pytest.mark.parametrize(("cls", "kwargs", "match"), BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_bad_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_batch_size_larger_than_data():
    for cls in (gdopt.MiniBatchGD, gdopt.Momentum):
        with pytest.raises(ValueError, match=r"batch_size must be an int in 1\.\.10 \(n_samples\), got 32"):
            cls(batch_size=32).batch_size_for(10)

