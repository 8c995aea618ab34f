"""The gate's decision rule on synthetic samples (seeded), its config, and the exit-code mapping."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import numpy as np
import pytest
from perfharness.gate.asv_results import BenchmarkPair, Side
from perfharness.gate.config import GateConfig, metric_kind, metric_unit
from perfharness.gate.decide import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_PASS,
    EXIT_UNDECIDED,
    Verdict,
    classify,
    decide,
)
from perfharness.gate.outcome import GateOutcome, evaluate

TIME = "training.Train.time_train(gdopt, sgd, cpu)"
MEMORY = "training.Train.peakmem_train(gdopt, sgd, cpu)"
LOSS = "training.Train.track_final_loss(gdopt, sgd, cpu)"


def samples(seed: int, n: int, cv: float, scale: float = 1.0, centre: float = 0.1) -> np.ndarray:
    """n timings around ``centre·scale`` with coefficient of variation ``cv``."""
    rng = np.random.default_rng(seed)
    return centre * scale * (1.0 + cv * rng.standard_normal(n))


def pair(name: str, base: list[float] | np.ndarray, head: list[float] | np.ndarray) -> BenchmarkPair:
    return BenchmarkPair(name, Side(tuple(float(x) for x in base)), Side(tuple(float(x) for x in head)))


# --- metric kinds and config -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "unit"),
    [
        (TIME, "time", "s"),
        ("bench.timeraw_import", "time", "s"),
        (MEMORY, "memory", "bytes"),
        ("training.Train.mem_model", "memory", "bytes"),
        ("training.Train.track_peak_rss_mb(gdopt, sgd, cpu)", "memory", "MB"),
        ("training.Train.track_gpu_mb_peak", "memory", "MB"),
        (LOSS, "loss", ""),
        ("track_final_loss", "loss", ""),
    ],
)
def test_metric_kind_from_asv_name(name, kind, unit):
    assert metric_kind(name) == kind
    assert metric_unit(name) == unit


@pytest.mark.parametrize(
    "name", ["training.Train.track_energy_j", "training.Train.track_final_loss_ratio", "setup_cache_x", ""]
)
def test_unknown_metric_kind_raises(name):
    with pytest.raises(ValueError, match="unknown metric kind"):
        metric_kind(name)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_threshold": 0.0}, r"time_threshold must be in \(0, 1\)"),
        ({"memory_threshold": 1.5}, r"memory_threshold must be in \(0, 1\)"),
        ({"confidence_level": 1.0}, r"confidence_level must be in \(0, 1\)"),
        ({"confidence_level": 0.0}, r"confidence_level must be in \(0, 1\)"),
        ({"alpha": -0.1}, r"alpha must be in \(0, 1\)"),
        ({"loss_rtol": -1e-6}, "loss_rtol must be a finite number >= 0"),
        ({"loss_rtol": math.inf}, "loss_rtol must be a finite number >= 0"),
        ({"min_samples": 1}, "min_samples must be an int >= 2"),
        ({"n_resamples": 10}, "n_resamples must be an int >= 100"),
        ({"ci_method": "basic"}, "ci_method must be 'percentile' or 'BCa'"),
        ({"seed": -1}, "seed must be an int >= 0"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GateConfig(**kwargs)


def test_config_defaults_and_round_trip():
    config = GateConfig()
    assert (config.threshold("time"), config.threshold("memory"), config.threshold("loss")) == (
        0.05,
        0.05,
        1e-6,
    )
    assert GateConfig(**config.get_config()) == config  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown metric kind 'energy'"):
        config.threshold("energy")


def test_decide_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown metric kind 'latency'"):
        decide([1.0] * 5, [1.0] * 5, "latency")


# --- the rule itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "p", "verdict"),
    [
        (1.10, 1.30, 1e-6, Verdict.REGRESSED),
        (1.10, 1.30, 0.02, Verdict.UNDECIDED),  # beyond the band but not significant
        (0.70, 0.90, 1e-6, Verdict.IMPROVED),
        (0.97, 1.04, 1e-6, Verdict.UNCHANGED),  # significant but inside tolerance: unchanged
        (0.95, 1.05, 0.5, Verdict.UNCHANGED),  # the band is closed
        (0.98, 1.12, 1e-6, Verdict.UNDECIDED),  # straddles 1 + t
        (0.90, 1.02, 1e-6, Verdict.UNDECIDED),  # straddles 1 − t
        (0.80, 1.30, 0.5, Verdict.UNDECIDED),
    ],
)
def test_classify_table(low, high, p, verdict):
    assert classify(low, high, p, threshold=0.05, alpha=0.01) is verdict


def test_clear_slowdown_is_regressed():
    d = decide(samples(1, 30, 0.05), samples(2, 30, 0.05, scale=1.2), "time", benchmark=TIME)
    assert d.verdict is Verdict.REGRESSED
    assert d.ci_low > 1.05 and d.p_value < 0.01
    assert d.ci_low <= d.ratio <= d.ci_high
    assert (d.n_base, d.n_head) == (30, 30)
    assert evaluate([pair(TIME, samples(1, 30, 0.05), samples(2, 30, 0.05, 1.2))]).exit_code == EXIT_FAIL


def test_clear_no_change_is_unchanged_and_passes():
    base, head = samples(3, 30, 0.01), samples(4, 30, 0.01)
    d = decide(base, head, "time")
    assert d.verdict is Verdict.UNCHANGED
    assert 0.95 <= d.ci_low <= d.ci_high <= 1.05
    outcome = evaluate([pair(TIME, base, head)])
    assert (outcome.exit_code, outcome.headline) == (EXIT_PASS, "PASS")


def test_high_noise_is_undecided_not_regressed():
    d = decide(samples(5, 10, 0.30), samples(6, 10, 0.30, scale=1.05), "time")
    assert d.verdict is Verdict.UNDECIDED
    assert "too noisy" in d.reason
    outcome = evaluate([pair(TIME, samples(5, 10, 0.30), samples(6, 10, 0.30, 1.05))])
    assert outcome.exit_code == EXIT_UNDECIDED  # noise is not a regression, nor a silent pass


def test_clear_speedup_is_improved():
    d = decide(samples(7, 30, 0.05), samples(8, 30, 0.05, scale=0.8), "time")
    assert d.verdict is Verdict.IMPROVED
    assert d.ci_high < 0.95


def test_memory_growth_is_regressed():
    base = samples(9, 12, 0.01, centre=300e6)
    d = decide(base, samples(10, 12, 0.01, scale=1.10, centre=300e6), "memory")
    assert d.verdict is Verdict.REGRESSED


def test_decision_is_deterministic():
    base, head = samples(11, 15, 0.1), samples(12, 15, 0.1, 1.04)
    assert decide(base, head, "time") == decide(base, head, "time")


def test_aa_identical_samples_pass():
    x = samples(13, 20, 0.03)
    d = decide(x, x, "time")
    assert d.verdict is Verdict.UNCHANGED and d.ratio == 1.0
    outcome = evaluate([pair(TIME, x, x)], base="abc12345", head="abc12345")
    assert outcome.exit_code == EXIT_PASS


def test_zero_variance_gives_point_interval_without_warnings():
    same = decide([2.0] * 8, [2.0] * 8, "time")  # strict pytest turns any scipy warning into a failure
    assert (same.verdict, same.ci_low, same.ci_high, same.p_value) == (Verdict.UNCHANGED, 1.0, 1.0, 1.0)
    slower = decide([2.0] * 30, [2.4] * 30, "time")
    assert slower.verdict is Verdict.REGRESSED
    assert slower.ci_low == slower.ci_high == pytest.approx(1.2)


def test_loss_change_is_numerics_changed_with_both_values():
    base, head = 0.123456789, 0.123456789 * (1 + 1e-4)
    d = decide([base], [head], "loss", benchmark=LOSS)
    assert d.verdict is Verdict.NUMERICS_CHANGED
    assert (d.base_median, d.head_median) == (base, head)
    assert d.rel_change == pytest.approx(1e-4)
    assert repr(base) in d.reason and repr(head) in d.reason
    outcome = evaluate([pair(LOSS, [base], [head])])
    assert (outcome.exit_code, outcome.headline) == (EXIT_FAIL, "FAIL: numerics changed")


@pytest.mark.parametrize("head", [0.5, 0.5 * (1 + 1e-7), 0.5 * (1 - 9e-7)])
def test_loss_within_tolerance_passes(head):
    d = decide([0.5], [head], "loss")
    assert d.verdict is Verdict.UNCHANGED
    assert evaluate([pair(LOSS, [0.5], [head])]).exit_code == EXIT_PASS


def test_loss_not_deterministic_within_a_side_is_error():
    d = decide([0.5, 0.5001], [0.5, 0.5], "loss")
    assert d.verdict is Verdict.ERROR and "not deterministic" in d.reason


@pytest.mark.parametrize(
    ("base", "head", "message"),
    [
        ([], [0.1] * 10, "base: no samples"),
        ([0.1] * 10, [], "head: no samples"),
        ([0.1] * 9 + [math.nan], [0.1] * 10, "base: 1 of 10 samples are NaN or inf"),
        ([0.1] * 10, [0.1] * 9 + [math.inf], "head: 1 of 10 samples are NaN or inf"),
        ([0.1] * 10, [0.1, None, 0.1, 0.1, 0.1], "head: 1 of 5 samples are NaN or inf"),
        ([0.1] * 3, [0.1] * 10, r"base: too few samples \(3 < min_samples 5\)"),
        ([0.1] * 10, [0.0] * 10, "head: non-positive time sample"),
        ([[0.1, 0.2]] * 3, [0.1] * 10, "base: samples must be a flat sequence"),
    ],
)
def test_unusable_samples_are_errors(base, head, message):
    d = decide(base, head, "time")
    assert d.verdict is Verdict.ERROR
    assert re.search(message, d.reason), d.reason


def test_nan_loss_is_error():
    assert decide([0.5], [math.nan], "loss").verdict is Verdict.ERROR


# --- a run: evaluate() and the exit codes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "head", "reason"),
    [
        (
            Side(problem="no result: the benchmark failed or timed out (asv recorded null)"),
            Side((0.1,) * 10),
            "null",
        ),
        (Side((0.1,) * 10), Side(problem="no result for this benchmark on head"), "no result"),
        (Side((0.1,) * 10), Side(skipped=True), "head: n/a"),
        (Side(()), Side((0.1,) * 10), "no samples"),
    ],
)
def test_missing_or_failed_side_exits_2(base, head, reason):
    outcome = evaluate([BenchmarkPair(TIME, base, head)])
    assert outcome.exit_code == EXIT_ERROR
    assert outcome.headline == "ERROR: could not measure"
    (decision,) = outcome.decisions
    assert decision.verdict is Verdict.ERROR and reason in decision.reason


def test_skipped_on_both_sides_is_not_an_error():
    x = samples(14, 10, 0.01)
    outcome = evaluate(
        [BenchmarkPair(TIME.replace("cpu", "gpu"), Side(skipped=True), Side(skipped=True)), pair(TIME, x, x)]
    )
    assert [d.verdict for d in outcome.decisions] == [Verdict.SKIPPED, Verdict.UNCHANGED]
    assert outcome.exit_code == EXIT_PASS


def test_only_skipped_or_nothing_fails_closed():
    assert evaluate([]).exit_code == EXIT_ERROR
    assert "no benchmarks to compare" in evaluate([]).problems[0]
    assert GateOutcome(()).exit_code == EXIT_ERROR
    all_skipped = evaluate([BenchmarkPair(TIME, Side(skipped=True), Side(skipped=True))])
    assert all_skipped.exit_code == EXIT_ERROR  # nothing was compared: not a pass
    assert "nothing was compared" in all_skipped.problems[0]


def test_unknown_benchmark_kind_is_an_error_not_a_pass():
    outcome = evaluate([pair("training.Train.track_energy_j", [1.0] * 5, [1.0] * 5)])
    assert outcome.exit_code == EXIT_ERROR
    assert "exclude it with --bench" in outcome.decisions[0].reason


def test_version_mismatch_is_an_error():
    x = tuple(samples(15, 10, 0.01))
    outcome = evaluate([BenchmarkPair(TIME, Side(x), Side(x), problem="benchmark version differs")])
    assert outcome.exit_code == EXIT_ERROR


def test_run_level_problem_exits_2():
    x = samples(16, 10, 0.01)
    outcome = evaluate([pair(TIME, x, x)], problems=["no results for head commit deadbeef"])
    assert outcome.exit_code == EXIT_ERROR


def test_error_takes_precedence_and_headline_mentions_the_regression():
    outcome = evaluate(
        [
            pair(TIME, samples(17, 30, 0.05), samples(18, 30, 0.05, 1.3)),
            pair(LOSS, [0.5], [0.6]),
            BenchmarkPair(MEMORY, Side(problem="empty samples"), Side((1.0,) * 5)),
        ]
    )
    assert outcome.exit_code == EXIT_ERROR
    assert outcome.headline == "ERROR: could not measure (also FAIL: regression, numerics changed)"
    assert outcome.summary == "3 benchmarks: 1 regressed, 1 numerics_changed, 1 error"


def test_regression_and_numerics_headline():
    outcome = evaluate([pair(TIME, samples(19, 30, 0.05), samples(20, 30, 0.05, 1.3)), pair(LOSS, [0.5], [0.6])])
    assert (outcome.exit_code, outcome.headline) == (EXIT_FAIL, "FAIL: regression, numerics changed")


# --- house rules -------------------------------------------------------------------------------------


def test_harness_never_imports_tensorflow_outside_its_probes_nor_the_library():
    harness = Path(__file__).resolve().parents[1] / "harness" / "src" / "perfharness"
    files = sorted(p for p in harness.rglob("*.py") if "probes" not in p.parts)
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                assert top not in {"tensorflow", "keras", "tf_keras"}, f"{path.name} imports {name}"
                assert top != "gdopt", f"{path.name} imports {name}: the harness never knows the library it measures"


# --- the Hodges–Lehmann estimator ----------------------------------------------------------------


HL = GateConfig(estimator="hodges_lehmann")


def test_hodges_lehmann_ratio_of_a_scaled_copy_is_the_scale():
    base = samples(21, 7, 0.05)
    d = decide(base, 1.2 * base, "time", HL)
    assert d.ratio == pytest.approx(1.2, rel=1e-12)  # pairwise log differences are symmetric about log 1.2
    assert d.verdict is Verdict.REGRESSED


def test_hodges_lehmann_by_hand():
    # log ratios of head (2, 4) over base (1, 2): log 2, log 1, log 4, log 2 -> median log 2
    d = decide([1.0, 2.0], [2.0, 4.0], "time", GateConfig(estimator="hodges_lehmann", min_samples=2))
    assert d.ratio == pytest.approx(2.0)


def test_hodges_lehmann_decides_like_the_median_ratio_on_clear_cases():
    for base, head, verdict in (
        (samples(1, 30, 0.05), samples(2, 30, 0.05, scale=1.2), Verdict.REGRESSED),
        (samples(3, 30, 0.01), samples(4, 30, 0.01), Verdict.UNCHANGED),
        (samples(7, 30, 0.05), samples(8, 30, 0.05, scale=0.8), Verdict.IMPROVED),
        (samples(5, 10, 0.30), samples(6, 10, 0.30, scale=1.05), Verdict.UNDECIDED),
    ):
        assert decide(base, head, "time", HL).verdict is verdict


def test_hodges_lehmann_interval_is_narrower_on_few_noisy_runs():
    """What it is for: six run medians a side with ~3 % noise (the gate's situation)."""
    widths = {"median_ratio": [], "hodges_lehmann": []}
    for seed in range(20):
        base, head = samples(100 + seed, 6, 0.03), samples(200 + seed, 6, 0.03, scale=1.05)
        for estimator in widths:
            d = decide(base, head, "time", GateConfig(estimator=estimator, n_resamples=2000))
            widths[estimator].append(d.ci_high - d.ci_low)
    assert np.median(widths["hodges_lehmann"]) < np.median(widths["median_ratio"])


def test_hodges_lehmann_never_sees_a_non_positive_value():
    d = decide([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0, 5.0], "memory", HL)
    assert d.verdict is Verdict.ERROR and "non-positive" in d.reason


def test_bad_estimator_is_rejected():
    with pytest.raises(ValueError, match="estimator must be"):
        GateConfig(estimator="mean")  # type: ignore[arg-type]


# Paired decisions: nox -s gate runs base and head back to back in each round (matched runs).
PAIRED = GateConfig(time_threshold=0.01, confidence_level=0.95, alpha=0.05, estimator="hodges_lehmann",
                    paired_kinds=("time",))


def drifting(seed: int, n: int, effect: float) -> tuple[np.ndarray, np.ndarray]:
    """n rounds on a machine whose speed drifts ±10 % between rounds (shared by both runs of a round),
    each run with 0.5 % noise of its own; head is ``effect`` slower."""
    rng = np.random.default_rng(seed)
    machine = 0.1 * (1.0 + 0.1 * rng.uniform(-1.0, 1.0, n))
    base = machine * (1.0 + 0.005 * rng.standard_normal(n))
    head = machine * (1.0 + effect) * (1.0 + 0.005 * rng.standard_normal(n))
    return base, head


def test_pairing_cancels_drift_between_rounds():
    """A 5 % slowdown under ±10 % round-to-round drift: unpaired, too noisy; paired, plainly regressed."""
    base, head = drifting(0, 10, 0.05)
    unpaired = decide(base, head, "time", PAIRED, benchmark=TIME)
    paired = decide(base, head, "time", PAIRED, benchmark=TIME, matched=True)
    assert unpaired.verdict is Verdict.UNDECIDED
    assert paired.verdict is Verdict.REGRESSED, paired.reason
    assert 1.04 < paired.ratio < 1.06 and paired.ci_low > 1.01
    assert paired.p_value < 0.05 and "signed-rank CI" in paired.reason and "paired over 10 rounds" in paired.reason


def test_paired_no_change_under_drift_is_not_flagged():
    base, head = drifting(1, 10, 0.0)
    d = decide(base, head, "time", PAIRED, benchmark=TIME, matched=True)
    assert d.verdict is Verdict.UNCHANGED, d.reason
    assert d.ci_low >= 0.99 and d.ci_high <= 1.01


def test_pairing_applies_only_to_paired_kinds():
    base, head = drifting(0, 10, 0.05)
    d = decide(base, head, "memory", PAIRED, benchmark=MEMORY, matched=True)
    assert "paired" not in d.reason  # memory is not in paired_kinds: Mann-Whitney U on the pooled runs


def test_paired_pseudo_median_by_hand():
    """Every round 2 % slower: ratio exactly 1.02, a point interval, and the exact signed-rank p = 2 / 2**n."""
    base = np.array([0.1, 0.2, 0.15, 0.12, 0.3, 0.11])
    d = decide(base, base * 1.02, "time", PAIRED, benchmark=TIME, matched=True)
    assert d.ratio == pytest.approx(1.02) and d.ci_low == pytest.approx(1.02) == d.ci_high
    assert d.p_value == pytest.approx(2 / 2**6)
    assert d.verdict is Verdict.REGRESSED


@pytest.mark.parametrize(("base", "head", "match"), [
    ([0.1] * 6, [0.1] * 7, r"paired time: 6 base but 7 head runs; rounds must match"),
    ([0.1] * 5, [0.11] * 5,
     r"paired time: 5 rounds, but the signed-rank interval needs at least 6 to be bounded at alpha 0.05"),
    ([0.1] * 3, [0.11] * 3,  # fewer than min_samples too: the message is about rounds, not asv's samples
     r"^paired time: 3 rounds, but the signed-rank interval needs at least 6 to be bounded at alpha 0.05: "
     r"run more rounds$"),
])
def test_paired_needs_matched_rounds_enough_to_decide(base, head, match):
    d = decide(base, head, "time", PAIRED, benchmark=TIME, matched=True)
    assert d.verdict is Verdict.ERROR and re.search(match, d.reason)


@pytest.mark.parametrize(("alpha", "pairs"), [(0.05, 6), (0.01, 8), (0.0625, 5), (0.2, 5)])
def test_min_pairs(alpha, pairs):
    """The fewest pairs whose best case, all n the same sign (p = 2 / 2**n), reaches alpha (and ≥ min_samples)."""
    config = GateConfig(alpha=alpha)
    assert config.min_pairs() == pairs
    assert 2 / 2 ** pairs <= alpha or pairs == config.min_samples


@pytest.mark.parametrize("bad", [("time", "time"), ("loss",), ["time"], ("speed",)])
def test_bad_paired_kinds_are_rejected(bad):
    with pytest.raises(ValueError, match="paired_kinds must be a tuple of distinct 'time' / 'memory'"):
        GateConfig(paired_kinds=bad)


def test_evaluate_passes_matched_through():
    base, head = drifting(0, 10, 0.05)
    outcome = evaluate([pair(TIME, base, head)], PAIRED, matched=True)
    assert outcome.decisions[0].verdict is Verdict.REGRESSED and outcome.exit_code == EXIT_FAIL
    assert evaluate([pair(TIME, base, head)], PAIRED).decisions[0].verdict is Verdict.UNDECIDED


def test_matched_results_need_matched_runs(tmp_path):
    from perfharness.gate.outcome import evaluate_results

    with pytest.raises(ValueError, match="matched=True needs per_run=True and head_results_dirs"):
        evaluate_results(tmp_path, "gate", "abcd", "abcd", matched=True, per_run=True)
