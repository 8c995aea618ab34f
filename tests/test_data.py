import numpy as np
import pytest

import gdopt


def test_shapes_dtypes_and_properties():
    data = gdopt.make_regression(n_samples=100, n_features=3, noise=0.1, seed=0)
    assert data.x.shape == (100, 3) and data.y.shape == (100, 1)
    assert data.x.dtype == np.float32 and data.y.dtype == np.float32
    assert (data.n_samples, data.n_features) == (100, 3)
    assert not data.x.flags.writeable


def test_deterministic_in_every_argument():
    a = gdopt.make_regression(256, 4, 0.1, seed=3)
    b = gdopt.make_regression(256, 4, 0.1, seed=3)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, gdopt.make_regression(256, 4, 0.1, seed=4).y)
    assert not np.array_equal(a.y, gdopt.make_regression(256, 4, 0.2, seed=3).y)


def test_target_is_nonlinear():
    data = gdopt.make_regression(4096, 8, noise=0.0, seed=0)
    x1 = np.hstack([data.x, np.ones((data.n_samples, 1), np.float32)])
    coef, *_ = np.linalg.lstsq(x1, data.y, rcond=None)
    linear_mse = float(np.mean((x1 @ coef - data.y) ** 2))
    assert linear_mse > 0.1 * float(np.var(data.y))  # a linear fit leaves much unexplained


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"n_features": 0}, "n_features"),
        ({"noise": -1.0}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gdopt.make_regression(**kwargs)


def test_dataset_validation():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="same number of rows"):
        gdopt.Dataset(x, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="x contains 1 NaN or inf"):
        bad = np.zeros((4, 2))
        bad[2, 1] = np.nan
        gdopt.Dataset(bad, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="y contains 1 NaN or inf"):
        gdopt.Dataset(x, np.array([[0.0], [np.inf], [0.0], [0.0]]))
    with pytest.raises(ValueError, match="2-D"):
        gdopt.Dataset(np.zeros(4), np.zeros((4, 1)))
    assert gdopt.Dataset(x, np.zeros(4)).y.shape == (4, 1)
