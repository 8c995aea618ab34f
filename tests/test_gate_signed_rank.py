"""The signed-rank interval is the signed-rank test inverted: they cannot disagree; and the sequential
looks keep the false-alarm rate at or below alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest
from perfharness.gate import signed_rank
from perfharness.gate.config import PR_GATE, GateConfig
from perfharness.gate.decide import Verdict, decide
from scipy import stats

TIME = "gate.Gate.time_train(gd)"


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13, 20])
def test_null_distribution_matches_scipy_exact(n):
    """P(T⁺ ≤ x) from our counts equals scipy's exact one-sided p-value for a sample whose T⁺ is x."""
    rng = np.random.default_rng(n)
    for _ in range(20):
        d = rng.permutation(np.arange(1, n + 1)) * rng.choice([-1.0, 1.0], n)
        t_plus = int(sum(r for r, v in zip(stats.rankdata(np.abs(d)), d, strict=True) if v > 0))
        p_less = stats.wilcoxon(d, method="exact", alternative="less").pvalue
        assert signed_rank.null_cdf(n, t_plus) == pytest.approx(p_less, rel=1e-12)


@pytest.mark.parametrize("n", [6, 8, 12, 24, 32])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.002])
def test_interval_and_test_cannot_disagree(n, alpha):
    """δ₀ outside [w_(k), w_(M+1−k)]  ⇔  scipy's exact two-sided signed-rank test of δ₀ rejects at α."""
    rng = np.random.default_rng(1000 * n + int(1 / alpha))
    for trial in range(40):
        d = rng.normal(0.01 * (trial % 3), 0.01, n)
        lo, hi = signed_rank.walsh_interval(d, alpha)
        if not math.isfinite(lo):
            assert signed_rank.critical_rank(n, alpha) == 0
            continue
        w = signed_rank.walsh_averages(d)
        # shifts between Walsh averages (never on one: ties would make the exact test inapplicable)
        shifts = np.concatenate([(w[:-1] + w[1:]) / 2, [w[0] - 1.0, w[-1] + 1.0]])
        for delta in rng.choice(shifts, 25):
            p = stats.wilcoxon(d - delta, method="exact").pvalue
            assert (p <= alpha) == (not lo <= delta <= hi), (delta, lo, hi, p)


def test_critical_rank_is_the_largest_with_tail_at_most_half_alpha():
    for n in (6, 9, 15, 30):
        for alpha in (0.1, 0.05, 0.01):
            k = signed_rank.critical_rank(n, alpha)
            assert signed_rank.null_cdf(n, k - 1) <= alpha / 2 < signed_rank.null_cdf(n, k)


def test_min_pairs_is_where_the_interval_becomes_bounded():
    for alpha in (0.05, 0.01, 0.002):
        n = signed_rank.min_pairs(alpha)
        assert signed_rank.critical_rank(n, alpha) >= 1 and signed_rank.critical_rank(n - 1, alpha) == 0


@pytest.mark.parametrize(("bad", "match"), [(0.0, "alpha must be in"), (1.5, "alpha must be in")])
def test_bad_alpha(bad, match):
    with pytest.raises(ValueError, match=match):
        signed_rank.critical_rank(10, bad)


def test_bad_looks_are_refused():
    with pytest.raises(ValueError, match="looks must be a tuple of increasing ints"):
        GateConfig(looks=(12, 8))
    with pytest.raises(ValueError, match=r"the look at 6 rounds needs >= 8"):
        GateConfig(alpha=0.05, looks=(6, 12, 16, 24, 32))


def _sequential(d: np.ndarray, config: GateConfig) -> Verdict:
    """The gate's stopping rule on one metric's stream of per-round log ratios."""
    verdict = Verdict.UNDECIDED
    for n in config.looks:
        b = np.ones(n)
        verdict = decide(b, np.exp(d[:n]), "time", config, benchmark=TIME, matched=True).verdict
        if verdict is not Verdict.UNDECIDED:
            break
    return verdict


def test_sequential_false_alarms_stay_below_alpha_on_aa_streams():
    """A/A streams whose noise is as wide as the band: over all looks, calls of regressed or improved
    (each a coverage failure of an interval) stay at or below alpha."""
    rng = np.random.default_rng(7)
    trials = 600
    alarms = sum(
        _sequential(rng.standard_t(5, PR_GATE.looks[-1]) * 0.01, PR_GATE) in (Verdict.REGRESSED, Verdict.IMPROVED)
        for _ in range(trials)
    )
    # a binomial bound: alarms ≤ alpha·trials plus three standard deviations
    assert alarms <= PR_GATE.alpha * trials + 3 * math.sqrt(PR_GATE.alpha * trials)


def test_sequential_stops_as_soon_as_decided():
    """A 5 % slowdown with 1 % noise is decided at the first look; an A/A stream with 0.2 % noise too."""
    rng = np.random.default_rng(3)
    first = PR_GATE.looks[0]
    slow = np.log(1.05) + rng.normal(0, 0.01, first)
    assert decide(np.ones(first), np.exp(slow), "time", PR_GATE, matched=True).verdict is Verdict.REGRESSED
    quiet = rng.normal(0, 0.002, first)
    assert decide(np.ones(first), np.exp(quiet), "time", PR_GATE, matched=True).verdict is Verdict.UNCHANGED


def test_resolution_grows_with_the_interval():
    rng = np.random.default_rng(5)
    narrow = decide(np.ones(16), np.exp(rng.normal(0, 0.002, 16)), "time", PR_GATE, matched=True)
    wide = decide(np.ones(16), np.exp(rng.normal(0, 0.02, 16)), "time", PR_GATE, matched=True)
    assert 0.01 < narrow.resolution < wide.resolution


def test_look_alphas_spend_alpha_where_the_rounds_are():
    """PR_GATE gives each look its own alpha; they add up to alpha, and each look's interval is bounded."""
    assert math.isclose(sum(PR_GATE.alpha_at(n) for n in PR_GATE.looks), PR_GATE.alpha)
    assert [PR_GATE.alpha_at(n) for n in (7, 8, 9, 14, 24, 64)] == [0.008, 0.008, 0.042, 0.042, 0.042, 0.042]
    for n in PR_GATE.looks:
        assert signed_rank.critical_rank(n, PR_GATE.alpha_at(n)) >= 1
    assert GateConfig(alpha=0.05, looks=(8, 12)).alpha_at(12) == 0.025  # no look_alphas: equal shares


@pytest.mark.parametrize(("looks", "alphas", "match"), [
    ((8, 12), (0.01,), r"look_alphas must be one alpha in \(0, 1\) per look"),
    ((8, 12), (0.01, 0.0), r"look_alphas must be one alpha in \(0, 1\) per look"),
    ((8, 12), (0.03, 0.03), r"look_alphas must add up to at most alpha 0.05"),
    ((7, 12), (0.005, 0.045), r"the look at 7 rounds needs >= 9"),
])
def test_bad_look_alphas_are_refused(looks, alphas, match):
    with pytest.raises(ValueError, match=match):
        GateConfig(alpha=0.05, looks=looks, look_alphas=alphas)


def test_the_report_names_each_looks_level():
    from perfharness.gate.outcome import GateOutcome
    from perfharness.gate.report import render_markdown

    text = render_markdown(GateOutcome((), PR_GATE, (), "a" * 40, "b" * 40, "gate", ""))
    assert "99.2 / 95.8 %" in text and "at alpha 0.008, 0.042 (together ≤ 0.05" in text
