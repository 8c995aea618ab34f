"""Between runs of unchanged code: does each gate run draw its own offset between its sides?

Per metric, run j's rounds give log ratios d_j1 … d_jn; m_j is their mean and s_j² = var(d_j)/n_j its
squared standard error. If every run measures the same truth, Cochran's

    Q = Σ_j w_j (m_j − m̄)²,   w_j = 1/s_j²,   m̄ = Σ w_j m_j / Σ w_j

is χ² on J − 1 degrees of freedom (for normal rounds). The DerSimonian–Laird estimate of the between-run SD is

    τ² = max(0, (Q − (J − 1)) / (Σ w_j − Σ w_j² / Σ w_j)).

A τ above 0 is an offset that each run keeps for all its rounds, so no number of rounds averages it out:
the gate widens its interval by it (``GateConfig.between_run_sd``) and the replay draws one per simulated run
(:mod:`perfharness.gate.simulate`). The rounds are heavy-tailed, which inflates Q against its χ² law, so
:func:`heterogeneity` also gives a permutation p (rounds reshuffled across runs of the same sizes).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> runs = [0.01 * rng.standard_normal(12) + off for off in 0.02 * rng.standard_normal(20)]
>>> dersimonian_laird(runs) > 0.01
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Heterogeneity", "centred", "cochran_q", "dersimonian_laird", "heterogeneity"]


@dataclass(frozen=True)
class Heterogeneity:
    """One metric over J runs: Cochran's Q, its χ² and permutation p-values, and the DerSimonian–Laird τ."""

    runs: int
    q: float
    p_chi2: float
    p_permutation: float
    tau: float


def _check(runs: Sequence[np.ndarray]) -> list[np.ndarray]:
    arrays = [np.asarray(r, dtype=float) for r in runs]
    if len(arrays) < 2:
        raise ValueError(f"heterogeneity needs at least 2 runs, got {len(arrays)}")
    short = [a.size for a in arrays if a.ndim != 1 or a.size < 2]
    if short:
        raise ValueError(f"every run needs at least 2 rounds (a flat sequence); got sizes {short}")
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("runs hold NaN or inf log ratios")
    return arrays


def cochran_q(runs: Sequence[np.ndarray]) -> tuple[float, np.ndarray]:
    """Cochran's Q of the runs' mean log ratios and the weights w_j = n_j / var(d_j)."""
    arrays = _check(runs)
    m = np.array([a.mean() for a in arrays])
    w = np.array([a.size / max(float(np.var(a, ddof=1)), 1e-30) for a in arrays])
    return float((w * (m - (w * m).sum() / w.sum()) ** 2).sum()), w


def dersimonian_laird(runs: Sequence[np.ndarray]) -> float:
    """The between-run SD τ (DerSimonian–Laird; 0 when Q ≤ J − 1)."""
    q, w = cochran_q(runs)
    tau2 = max(0.0, (q - (len(w) - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return math.sqrt(tau2)


def heterogeneity(runs: Sequence[np.ndarray], permutations: int = 2000, seed: int = 0) -> Heterogeneity:
    """Q, its χ² p on J − 1 df, its permutation p (``permutations`` reshuffles) and τ, for one metric."""
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 1:
        raise ValueError(f"permutations must be an int >= 1, got {permutations!r}")
    arrays = _check(runs)
    q, _ = cochran_q(arrays)
    df = len(arrays) - 1
    rng = np.random.default_rng(seed)
    pooled, cuts = np.concatenate(arrays), np.cumsum([a.size for a in arrays])[:-1]
    hits = sum(cochran_q(np.split(rng.permutation(pooled), cuts))[0] >= q for _ in range(permutations))
    return Heterogeneity(len(arrays), q, float(stats.chi2.sf(q, df)), (hits + 1) / (permutations + 1),
                         dersimonian_laird(arrays))


def centred(run: np.ndarray) -> np.ndarray:
    """A run's rounds less their mean, scaled by √(n/(n − 1)) so their spread is still the rounds' own: what a
    round varies by within one run, with the run's offset (and its estimate's error) taken out.

    >>> centred(np.array([1.0, 2.0, 3.0])).round(3).tolist()
    [-1.225, 0.0, 1.225]
    """
    arr = np.asarray(run, dtype=float)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"a run to centre needs at least 2 rounds, got shape {arr.shape}")
    return (arr - arr.mean()) * math.sqrt(arr.size / (arr.size - 1))
