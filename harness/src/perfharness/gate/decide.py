"""The gate's decision rule, per benchmark, and the outcome of a whole run.

Paired (what ``nox -s gate`` uses; metrics in ``config.paired_kinds`` when ``decide(..., matched=True)``:
b_k and h_k were measured together in round k): with d_k = log h_k − log b_k, the effect is
r = exp(pseudo-median of d), the median of the Walsh averages (d_i + d_j)/2, i ≤ j, and [r_lo, r_hi] the
exact Wilcoxon signed-rank interval at the look's alpha (``config.alpha_at(n)``;
:mod:`perfharness.gate.signed_rank`). The interval is the test inverted, so they cannot disagree; the
verdict reads the interval alone:

- ``regressed``:  r_lo > 1 + t         ``improved``:  r_hi < 1 − t
- ``unchanged``:  [r_lo, r_hi] ⊆ [1 − t, 1 + t]
- ``undecided``:  otherwise — the interval straddles 1 ± t (measure more; exit 3 if the budget is spent)

Unpaired (separate runs, e.g. ``python -m perfharness.gate`` over asv results): r is the ratio of medians
or the Hodges–Lehmann ratio exp(median{log h_i − log b_j}), [r_lo, r_hi] its percentile bootstrap interval
(``scipy.stats.bootstrap``), and regressed / improved also need the Mann-Whitney U p < α.

Each decision carries its ``resolution``: the smallest relative change its interval's width could have
flagged (:func:`resolution`).

Final loss (deterministic): ``numerics_changed`` when |h − b| > rtol·|b|, else ``unchanged``.
``skipped`` is asv's n/a on both sides; ``error`` means the benchmark could not be measured.

Exit codes of a run: 0 pass, 1 a regression or a numerics change, 2 anything could not be measured,
3 a metric still undecided.

>>> import numpy as np
>>> base = np.random.default_rng(0).normal(1.0, 0.05, 30)
>>> decide(base, 1.2 * base, "time").verdict.value
'regressed'
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
from scipy import stats

from perfharness.gate import signed_rank
from perfharness.gate.config import GateConfig, MetricKind, check_kind

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAIL",
    "EXIT_PASS",
    "EXIT_UNDECIDED",
    "Decision",
    "Verdict",
    "classify",
    "decide",
    "half_iqr",
    "round_value",
    "widened_interval",
    "widened_p",
]

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_ERROR = 2
EXIT_UNDECIDED = 3

Samples = Sequence[float] | np.ndarray

# scipy ≥ 1.15 takes `rng`; older releases only `random_state` (pyproject allows scipy ≥ 1.11).
_RNG_KEYWORD = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


class Verdict(str, Enum):
    """What the gate concluded about one benchmark combination."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    UNDECIDED = "undecided"
    NUMERICS_CHANGED = "numerics_changed"
    SKIPPED = "skipped"
    ERROR = "error"

    @property
    def fails(self) -> bool:
        """True for the verdicts that fail the gate (exit 1)."""
        return self in (Verdict.REGRESSED, Verdict.NUMERICS_CHANGED)


@dataclass(frozen=True)
class Decision:
    """The verdict on one benchmark combination, with the numbers behind it.

    ``base_spread``/``head_spread`` are half the interquartile range; ``ratio``, ``ci_low``, ``ci_high`` and
    ``p_value`` are set for time and memory, ``rel_change`` = |h − b| / |b| for the final loss.
    """

    benchmark: str
    kind: MetricKind | None
    verdict: Verdict
    reason: str
    n_base: int = 0
    n_head: int = 0
    base_median: float = math.nan
    head_median: float = math.nan
    base_spread: float = math.nan
    head_spread: float = math.nan
    ratio: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    p_value: float = math.nan
    rel_change: float = math.nan
    resolution: float = math.nan


def classify(ci_low: float, ci_high: float, p_value: float, threshold: float, alpha: float) -> Verdict:
    """Verdict from the interval [ci_low, ci_high] of the ratio head/base and the test's p-value.

    >>> classify(1.10, 1.30, 1e-6, 0.05, 0.01).value
    'regressed'
    >>> classify(0.98, 1.03, 0.40, 0.05, 0.01).value
    'unchanged'
    >>> classify(0.98, 1.12, 0.03, 0.05, 0.01).value
    'undecided'
    """
    significant = p_value < alpha
    if ci_low > 1.0 + threshold and significant:
        return Verdict.REGRESSED
    if ci_high < 1.0 - threshold and significant:
        return Verdict.IMPROVED
    if 1.0 - threshold <= ci_low and ci_high <= 1.0 + threshold:
        return Verdict.UNCHANGED
    return Verdict.UNDECIDED


def _as_samples(values: Samples, side: str) -> tuple[np.ndarray, str | None]:
    """Samples as a 1-D float array, or the reason they cannot be used."""
    empty = np.empty(0)
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        return empty, f"{side}: samples are not numbers ({exc})"
    if arr.ndim != 1:
        return empty, f"{side}: samples must be a flat sequence, got shape {arr.shape}"
    if arr.size == 0:
        return empty, f"{side}: no samples"
    bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if bad:
        return arr, f"{side}: {bad} of {arr.size} samples are NaN or inf"
    return arr, None


def round_value(base: Sequence[float], head: Sequence[float]) -> tuple[float, float, float]:
    """One round's (base median, head median, d). Samples taken pairwise (as many on each side, the i-th
    of each started together by the duet's barrier): d = pseudo-median of log hᵢ − log bᵢ, the median of
    their Walsh averages — pairing cancels what hit both at once, and the sides trade cores every sample,
    so a slow core's share cancels too. Otherwise d = log(median h / median b).

    >>> round(round_value([1.0, 2.0], [1.1, 2.2])[2], 4)
    0.0953
    """
    b, h = np.asarray(base, dtype=float), np.asarray(head, dtype=float)
    mb, mh = float(np.median(b)), float(np.median(h))
    if b.size == h.size and b.size > 1:
        return mb, mh, signed_rank.pseudo_median(np.log(h) - np.log(b))
    return mb, mh, math.log(mh / mb)


def half_iqr(arr: np.ndarray) -> float:
    """Half the interquartile range: a side's spread, for the report."""
    q25, q75 = np.percentile(arr, [25.0, 75.0])
    return float(q75 - q25) / 2.0


def _median_ratio(head: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    """The effect size, vectorised for ``scipy.stats.bootstrap``: median(h) / median(b)."""
    return np.asarray(np.median(head, axis=axis) / np.median(base, axis=axis))


def _hl_ratio(head: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    """The Hodges–Lehmann ratio, vectorised for ``scipy.stats.bootstrap``: exp(median of log h_i − log b_j)."""
    h = np.log(np.moveaxis(np.asarray(head, dtype=float), axis, -1))
    b = np.log(np.moveaxis(np.asarray(base, dtype=float), axis, -1))
    pairs = h[..., :, None] - b[..., None, :]
    return np.asarray(np.exp(np.median(pairs.reshape(*pairs.shape[:-2], -1), axis=-1)))


def _pseudo_median(d: np.ndarray, axis: int = -1) -> np.ndarray:
    """One-sample Hodges–Lehmann estimate, vectorised: the median of the Walsh averages (d_i + d_j)/2, i ≤ j."""
    d = np.moveaxis(np.asarray(d, dtype=float), axis, -1)
    i, j = np.triu_indices(d.shape[-1])
    return np.asarray(np.median((d[..., i] + d[..., j]) / 2.0, axis=-1))


def _median(d: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.median(d, axis=axis))


def _pct(t: float) -> str:
    return f"{100 * t:.4g} %"


def _ratio_decision(
    name: str, kind: MetricKind, base: np.ndarray, head: np.ndarray, config: GateConfig, *, paired: bool = False
) -> Decision:
    t = config.band(name, kind)
    measured = Decision(
        name,
        kind,
        Verdict.ERROR,
        "",
        n_base=base.size,
        n_head=head.size,
        base_median=float(np.median(base)),
        head_median=float(np.median(head)),
        base_spread=half_iqr(base),
        head_spread=half_iqr(head),
    )
    hl = config.estimator == "hodges_lehmann"  # logarithms are safe: decide() rejects values <= 0 before
    if paired:
        return _paired_decision(measured, base, head, config, t)
    statistic = _hl_ratio if hl else _median_ratio
    ratio = float(statistic(head, base)) if hl else measured.head_median / measured.base_median
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if np.ptp(base) == 0 and np.ptp(head) == 0:
            # Zero variance on both sides: every resample gives the same ratio (and scipy would warn).
            low = high = ratio
        else:
            result = stats.bootstrap(
                (head, base),
                statistic,
                n_resamples=config.n_resamples,
                batch=max(1, 4_000_000 // (head.size * base.size)),  # bounds the pairwise array's memory
                vectorized=True,
                paired=False,
                axis=-1,
                confidence_level=config.confidence_level,
                method=config.ci_method,
                **{_RNG_KEYWORD: np.random.default_rng(config.seed)},
            )
            low, high = (float(x) for x in result.confidence_interval)
        p_value = float(stats.mannwhitneyu(head, base, alternative="two-sided").pvalue)
    return _verdict(measured, config, t, ratio, low, high, p_value, caught)


def _paired_decision(measured: Decision, base: np.ndarray, head: np.ndarray, config: GateConfig, t: float) -> Decision:
    """Base and head of round k measured together: decide on d_k = log h_k − log b_k with the exact
    signed-rank interval of their pseudo-median at the look's alpha (:mod:`perfharness.gate.signed_rank`)."""
    d = np.log(head) - np.log(base)
    alpha = config.alpha_at(d.size)
    if config.estimator == "hodges_lehmann":
        ratio = math.exp(signed_rank.pseudo_median(d))
    else:
        ratio = math.exp(float(np.median(d)))
    tau = config.tau(measured.benchmark)
    if tau > 0:  # the run's own offset, which no number of rounds averages out (GateConfig.between_run_sd)
        lo, hi = widened_interval(d, alpha, tau)
        p_value = widened_p(d, tau)
    else:
        lo, hi = signed_rank.walsh_interval(d, alpha)
        p_value = _signed_rank_p(d)
    low, high = math.exp(lo), math.exp(hi)
    verdict = classify(low, high, 0.0, t, 1.0)  # the interval alone: it is the test, inverted
    ci = f"ratio {ratio:.3f}, {_pct(1 - alpha)} signed-rank CI [{low:.3f}, {high:.3f}]"
    if tau > 0:
        ci += f" (widened for a between-run SD of {_pct(tau)})"
    reason = {
        Verdict.REGRESSED: f"{ci} above 1 + {_pct(t)}",
        Verdict.IMPROVED: f"{ci} below 1 − {_pct(t)}",
        Verdict.UNCHANGED: f"{ci} within ±{_pct(t)}",
    }.get(verdict, f"{ci} straddles the ±{_pct(t)} band: too noisy to decide yet")
    offset = float(stats.norm.isf(alpha / 2.0)) * tau
    if verdict is Verdict.UNDECIDED and math.log1p(t) <= offset:  # no number of rounds narrows it below z·τ
        reason += (f"; its per-run offset alone (z·τ = {_pct(offset)}) spans the band, so it can never be called "
                   "unchanged on this runner: calibrate it here (between-run SD) or give it a band of its own "
                   "(bands, in its runner's table)")
    return replace(measured, verdict=verdict, reason=f"{reason} (paired over {d.size} rounds)", ratio=ratio,
                   ci_low=low, ci_high=high, p_value=p_value, resolution=resolution(low, high, t))


def widened_interval(d: np.ndarray, alpha: float, tau: float) -> tuple[float, float]:
    """The (1 − α) signed-rank interval [lo, hi] of ``d``'s pseudo-median δ̂, each half widened in quadrature
    by z·τ (z the normal quantile 1 − α/2): the interval of a run whose sides also differ by a per-run
    offset of SD τ. Unbounded where the signed-rank interval is."""
    lo, hi = signed_rank.walsh_interval(d, alpha)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return lo, hi
    est, z = signed_rank.pseudo_median(d), float(stats.norm.isf(alpha / 2.0))
    return est - math.hypot(est - lo, z * tau), est + math.hypot(hi - est, z * tau)


def widened_p(d: np.ndarray, tau: float, tol: float = 1e-9) -> float:
    """The least α at which :func:`widened_interval` excludes 0 (1 if none below 1): the interval narrows
    as α grows, so "p ≤ α" and "the interval at α excludes 0" are the same statement (bisection, to ``tol``)."""

    def excludes(a: float) -> bool:
        lo, hi = widened_interval(d, a, tau)
        return lo > 0.0 or hi < 0.0

    low, high = 0.0, 1.0 - 1e-12
    if not excludes(high):
        return 1.0
    while high - low > tol:
        mid = (low + high) / 2.0
        if mid > 0.0 and excludes(mid):
            high = mid
        else:
            low = mid
    return high


def _signed_rank_p(d: np.ndarray) -> float:
    """The two-sided signed-rank p-value of "no change" (scipy; exact when nothing ties), for the report."""
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return 1.0
    if np.all(nonzero > 0) or np.all(nonzero < 0):  # the most extreme sign pattern, ties or not
        return min(1.0, 2.0 / 2.0**nonzero.size)
    exact = np.unique(np.abs(nonzero)).size == nonzero.size
    return float(stats.wilcoxon(nonzero, method="exact" if exact else "approx").pvalue)


def resolution(low: float, high: float, threshold: float) -> float:
    """The smallest relative change this interval's width could have flagged: a change c is called once
    the interval, centred on 1 + c, clears the band, i.e. log(1 + c) − w > log(1 + t), w its half-width
    in log space.

    >>> round(resolution(0.99, 1.01, 0.01), 4)
    0.0202
    """
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0:
        return math.inf
    half = (math.log(high) - math.log(low)) / 2.0
    return math.exp(math.log1p(threshold) + half) - 1.0


def _verdict(
    measured: Decision, config: GateConfig, t: float, ratio: float, low: float, high: float, p_value: float,
    caught: Sequence[warnings.WarningMessage],
) -> Decision:
    alpha = config.alpha
    if caught or not all(math.isfinite(x) for x in (low, high, p_value)):
        why = "; ".join(f"{w.category.__name__}: {w.message}" for w in caught) or "non-finite statistics"
        return replace(measured, reason=f"statistics unreliable ({why})", ratio=ratio)
    verdict = classify(low, high, p_value, t, alpha)
    ci = f"ratio {ratio:.3f}, {_pct(config.confidence_level)} CI [{low:.3f}, {high:.3f}]"
    p = f"p = {p_value:.2g}"
    reason = {
        Verdict.REGRESSED: f"{ci} above 1 + {_pct(t)}, {p} < {alpha:g}",
        Verdict.IMPROVED: f"{ci} below 1 − {_pct(t)}, {p} < {alpha:g}",
        Verdict.UNCHANGED: f"{ci} within ±{_pct(t)}",
    }.get(verdict)
    if reason is None:
        outside = low > 1.0 + t or high < 1.0 - t
        reason = (
            f"{ci} outside ±{_pct(t)} but {p} ≥ {alpha:g} (not significant)"
            if outside
            else f"{ci} straddles the ±{_pct(t)} band: too noisy to decide, measure more samples"
        )
    return replace(measured, verdict=verdict, reason=reason, ratio=ratio, ci_low=low, ci_high=high, p_value=p_value,
                   resolution=resolution(low, high, t))


def _loss_decision(name: str, base: np.ndarray, head: np.ndarray, config: GateConfig) -> Decision:
    rtol = config.loss_rtol
    for side, arr in (("base", base), ("head", head)):
        if np.ptp(arr) > rtol * abs(float(np.median(arr))):
            return Decision(
                name,
                "loss",
                Verdict.ERROR,
                f"{side}: final loss is not deterministic: {float(arr.min())!r} .. {float(arr.max())!r} "
                f"over {arr.size} runs",
                n_base=base.size,
                n_head=head.size,
            )
    b, h = float(np.median(base)), float(np.median(head))
    diff = abs(h - b)
    rel = diff / abs(b) if b != 0 else (0.0 if diff == 0 else math.inf)
    changed = diff > rtol * abs(b)
    verdict = Verdict.NUMERICS_CHANGED if changed else Verdict.UNCHANGED
    reason = f"final loss {b!r} → {h!r} (relative change {rel:.2e}, tolerance {rtol:g})"
    return Decision(
        name,
        "loss",
        verdict,
        reason,
        n_base=base.size,
        n_head=head.size,
        base_median=b,
        head_median=h,
        rel_change=rel,
    )


def decide(
    base: Samples,
    head: Samples,
    kind: str,
    config: GateConfig | None = None,
    *,
    benchmark: str = "",
    matched: bool = False,
) -> Decision:
    """Decide one benchmark from its base and head samples (see the module docstring for the rule).

    ``matched``: base[k] and head[k] were measured together (round k of an interleaved gate run); then
    the metrics in ``config.paired_kinds`` are decided paired, which needs as many head as base values
    and at least ``config.min_pairs()`` of them.
    Unusable samples (empty, NaN or inf, too few, non-positive time or memory) give ``Verdict.ERROR``;
    an unknown ``kind`` raises ``ValueError``.

    >>> decide([0.25], [0.25 * (1 + 1e-4)], "loss").verdict.value
    'numerics_changed'
    """
    config = config if config is not None else GateConfig()
    checked_kind = check_kind(kind)
    b, b_problem = _as_samples(base, "base")
    h, h_problem = _as_samples(head, "head")
    problems = [p for p in (b_problem, h_problem) if p]
    paired = matched and checked_kind in config.paired_kinds
    if checked_kind != "loss":
        for side, arr, problem in (("base", b, b_problem), ("head", h, h_problem)):
            if problem:
                continue
            if arr.size < config.min_samples and not paired:  # paired: too few rounds, said below
                problems.append(
                    f"{side}: too few samples ({arr.size} < min_samples {config.min_samples}); asv keeps "
                    "per-repeat samples only for time_* benchmarks run with --record-samples, otherwise "
                    "one value per run: pool several runs"
                )
            elif float(arr.min()) <= 0:
                problems.append(f"{side}: non-positive {checked_kind} sample {float(arr.min())!r}")
    if paired and not problems:
        if b.size != h.size:
            problems.append(f"paired {checked_kind}: {b.size} base but {h.size} head runs; rounds must match")
        elif b.size < config.min_pairs():
            problems.append(
                f"paired {checked_kind}: {b.size} rounds, but the signed-rank interval needs at least "
                f"{config.min_pairs()} to be bounded at alpha {config.alpha_at(b.size):g}: run more rounds"
            )
    if problems:
        return Decision(benchmark, checked_kind, Verdict.ERROR, "; ".join(problems), n_base=b.size, n_head=h.size)
    if checked_kind == "loss":
        return _loss_decision(benchmark, b, h, config)
    return _ratio_decision(benchmark, checked_kind, b, h, config, paired=paired)
