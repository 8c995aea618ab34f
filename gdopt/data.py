"""Deterministic synthetic regression data.

The target is a smooth nonlinear function of a fixed random projection plus Gaussian noise::

    y = sin(x·w₁) + 0.5·(x·w₂)² + noise·ε,   x, ε ~ N(0, I),  w ~ N(0, I/d)

so a ReLU network can fit it well but a linear model cannot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "make_regression"]


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Dataset:
    """Features ``x`` (float32, n × d) and targets ``y`` (float32, n × 1)."""

    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        x = np.asarray(self.x)
        y = np.asarray(self.y)
        if x.ndim != 2:
            raise ValueError(f"x must be 2-D (n_samples, n_features), got shape {x.shape}")
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != 1:
            raise ValueError(f"y must have shape (n_samples, 1), got {y.shape}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must have the same number of rows, got x {x.shape[0]} and y {y.shape[0]}")
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x must have at least one row and one column, got shape {x.shape}")
        for name, arr in (("x", x), ("y", y)):
            if not np.issubdtype(arr.dtype, np.number):
                raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
                raise ValueError(f"{name} contains {bad} NaN or inf value(s)")
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        y32 = np.ascontiguousarray(y, dtype=np.float32)
        x32.setflags(write=False)
        y32.setflags(write=False)
        object.__setattr__(self, "x", x32)
        object.__setattr__(self, "y", y32)

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])

    def __repr__(self) -> str:
        return f"Dataset(n_samples={self.n_samples}, n_features={self.n_features})"


def make_regression(n_samples: int = 4096, n_features: int = 8, noise: float = 0.1, seed: int = 0) -> Dataset:
    """A deterministic nonlinear regression problem.

    >>> data = make_regression(n_samples=128, n_features=4, noise=0.1, seed=0)
    >>> data.x.shape, data.y.shape
    ((128, 4), (128, 1))
    """
    n = _check_int("n_samples", n_samples, 1)
    d = _check_int("n_features", n_features, 1)
    seed = _check_int("seed", seed, 0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)) or not math.isfinite(noise):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((d, 2)) / math.sqrt(d)
    x = rng.standard_normal((n, d))
    proj = x @ w
    y = np.sin(proj[:, :1]) + 0.5 * proj[:, 1:] ** 2
    y = y + float(noise) * rng.standard_normal((n, 1))
    return Dataset(x=x.astype(np.float32), y=y.astype(np.float32))
