"""The Wilcoxon signed-rank test and its own interval: one rule, so the two cannot disagree.

For paired log ratios d_1 … d_n (d_k = log h_k − log b_k) the Walsh averages are
w_ij = (d_i + d_j)/2, i ≤ j, M = n(n+1)/2 of them, sorted w_(1) ≤ … ≤ w_(M). Tukey's identity links
them to the signed-rank statistic of the shifted sample d − δ:

    T⁺(δ) = #{ w_ij > δ }          (ties aside)

Let k be the largest integer with P(T⁺ ≤ k − 1) ≤ α/2 under the null (the exact distribution of T⁺
for n untied ranks). Then

    [w_(k), w_(M+1−k)]

is the (1 − α) confidence interval of the pseudo-median δ (Hodges–Lehmann), and δ₀ lies outside it
exactly when the exact two-sided signed-rank test of H₀: δ = δ₀ rejects at level α. The gate reads the
interval only: "the interval lies above log(1 + t)" *is* "the one-sided test against 1 + t rejects at
α/2". The pseudo-median itself is the median of the Walsh averages.

>>> lo, hi = walsh_interval([0.01, 0.02, 0.03, 0.02, 0.015, 0.025, 0.018, 0.022], alpha=0.05)
>>> 0.01 < lo < hi < 0.03
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["critical_rank", "min_pairs", "null_cdf", "pseudo_median", "walsh_averages", "walsh_interval"]


@functools.cache
def _null_counts(n: int) -> tuple[int, ...]:
    """How many of the 2ⁿ sign patterns give each value s = 0 … n(n+1)/2 of T⁺ (exact, as integers)."""
    counts = [1]
    for rank in range(1, n + 1):  # add rank `rank` with a + sign (shift) or a − sign (stay)
        longer = [*counts, *([0] * rank)]
        for s, c in enumerate(counts):
            longer[s + rank] += c
        counts = longer
    return tuple(counts)


def null_cdf(n: int, x: int) -> float:
    """P(T⁺ ≤ x) for n untied, non-zero differences under H₀ (symmetry about 0).

    >>> null_cdf(6, 0)  # all six negative
    0.015625
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    counts = _null_counts(n)
    if x < 0:
        return 0.0
    return sum(counts[: min(x, len(counts) - 1) + 1]) / 2**n


def critical_rank(n: int, alpha: float) -> int:
    """The k of the module docstring: the largest k with P(T⁺ ≤ k − 1) ≤ α/2; 0 when none exists
    (too few pairs for this α: the interval would be unbounded).

    >>> critical_rank(6, 0.05)
    1
    >>> critical_rank(5, 0.05)
    0
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    counts = _null_counts(n)
    total, k, below = 2**n, 0, 0
    # P(T⁺ ≤ k − 1) ≤ α/2  ⇔  2·(counts[0] + … + counts[k−1]) ≤ α·2ⁿ
    while k < len(counts) and 2 * (below + counts[k]) <= alpha * total:
        below += counts[k]
        k += 1
    return k


def min_pairs(alpha: float) -> int:
    """Fewest pairs for which the interval at level α is bounded (k ≥ 1): 2/2ⁿ ≤ α.

    >>> min_pairs(0.05), min_pairs(0.01)
    (6, 8)
    """
    return max(1, math.ceil(math.log2(2.0 / alpha)))


def walsh_averages(d: Sequence[float] | np.ndarray) -> np.ndarray:
    """All (d_i + d_j)/2 with i ≤ j, sorted."""
    arr = np.asarray(d, dtype=float)
    i, j = np.triu_indices(arr.size)
    return np.sort((arr[i] + arr[j]) / 2.0)


def pseudo_median(d: Sequence[float] | np.ndarray) -> float:
    """The one-sample Hodges–Lehmann estimate: the median of the Walsh averages."""
    return float(np.median(walsh_averages(d)))


def walsh_interval(d: Sequence[float] | np.ndarray, alpha: float) -> tuple[float, float]:
    """The exact (1 − α) signed-rank interval [w_(k), w_(M+1−k)] of the pseudo-median of ``d``;
    (−inf, inf) when ``d`` has too few values for this α (see :func:`min_pairs`)."""
    w = walsh_averages(d)
    k = critical_rank(int(np.asarray(d).size), alpha)
    if k == 0:
        return -math.inf, math.inf
    return float(w[k - 1]), float(w[w.size - k])
