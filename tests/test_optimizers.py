import math

import pytest

import gdopt

TABLE = [
    # name, class, kwargs, steps per epoch for n=100, shuffles
    ("gd", gdopt.BatchGD, {"learning_rate": 0.1}, 1, False),
    ("minibatch", gdopt.MiniBatchGD, {"learning_rate": 0.05, "batch_size": 32}, 4, True),
    ("sgd", gdopt.SGD, {"learning_rate": 0.01}, 100, True),
]


@pytest.mark.parametrize(("name", "cls", "kwargs", "steps", "shuffles"), TABLE, ids=[t[0] for t in TABLE])
def test_table(name, cls, kwargs, steps, shuffles):
    opt = cls(**kwargs)
    assert gdopt.OPTIMIZERS[name] is cls and cls.name == name
    assert opt.steps_per_epoch(100) == steps == math.ceil(100 / opt.batch_size_for(100))
    assert opt.shuffles is shuffles
    assert cls.from_config(opt.get_config()) == opt


def test_one_update_rule():
    assert all(cls.apply is gdopt.Optimizer.apply for cls in gdopt.OPTIMIZERS.values())
    assert gdopt.BatchGD(learning_rate=0.25).apply([1.0], [2.0]) == (0.5,)


@pytest.mark.parametrize("cls", list(gdopt.OPTIMIZERS.values()))
@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_bad_learning_rate(cls, lr):
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0, got"):
        cls(learning_rate=lr)


@pytest.mark.parametrize("b", [0, -1, 2.0, None, True])
def test_bad_batch_size(b):
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        gdopt.MiniBatchGD(batch_size=b)


def test_batch_size_larger_than_data():
    with pytest.raises(ValueError, match=r"batch_size must be an int in 1\.\.10 \(n_samples\), got 32"):
        gdopt.MiniBatchGD(batch_size=32).batch_size_for(10)
