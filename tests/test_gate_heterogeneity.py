"""Per-run offsets between the sides: measured over A/A runs (heterogeneity), covered by the gate's interval
(between_run_sd) with its p-value still agreeing, and drawn by the replay (one offset per simulated run)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from perfharness.gate import signed_rank
from perfharness.gate.config import PR_GATE, GateConfig, parse_config
from perfharness.gate.decide import Verdict, decide, widened_interval, widened_p
from perfharness.gate.heterogeneity import centred, cochran_q, dersimonian_laird, heterogeneity
from perfharness.gate.run import project_rule
from perfharness.gate.simulate import centred_rounds, load_runs, run_offsets, simulate
from perfharness.project import ProjectConfigError, load_project

SGD = "gate.Gate.time_train(sgd)"
GD = "gate.Gate.time_train(gd)"


def _runs(offsets: np.ndarray, rounds: int, sd: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [off + sd * rng.standard_normal(rounds) for off in offsets]


def test_dersimonian_laird_finds_a_planted_between_run_sd() -> None:
    rng = np.random.default_rng(3)
    planted = _runs(0.01 * rng.standard_normal(200), 12, 0.02, seed=4)
    assert dersimonian_laird(planted) == pytest.approx(0.01, rel=0.25)
    plain = _runs(np.zeros(200), 12, 0.02, seed=5)
    assert dersimonian_laird(plain) < 0.003
    h = heterogeneity(planted[:40], permutations=200)
    assert h.runs == 40 and h.p_permutation < 0.05 and h.p_chi2 < 0.05


def test_heterogeneity_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="at least 2 runs"):
        cochran_q([np.zeros(5)])
    with pytest.raises(ValueError, match="at least 2 rounds"):
        cochran_q([np.zeros(5), np.zeros(1)])
    with pytest.raises(ValueError, match="NaN or inf"):
        cochran_q([np.zeros(5), np.array([0.0, math.nan])])
    with pytest.raises(ValueError, match="permutations must be an int >= 1"):
        heterogeneity([np.zeros(3), np.ones(3)], permutations=0)


def test_centring_takes_out_the_mean_and_keeps_the_spread() -> None:
    run = np.random.default_rng(0).normal(0.05, 0.02, 10)
    out = centred(run)
    assert out.mean() == pytest.approx(0.0, abs=1e-15)
    # the sum of squares about the mean times n/(n-1): the population variance of the centred rounds is
    # the sample variance of the run
    assert np.mean(out**2) == pytest.approx(np.var(run, ddof=1))
    with pytest.raises(ValueError, match="at least 2 rounds"):
        centred(np.array([1.0]))


def test_widened_interval_contains_the_signed_rank_one_and_is_it_at_tau_zero() -> None:
    d = np.random.default_rng(2).normal(-0.01, 0.02, 13)
    for alpha in (0.008, 0.042):
        lo, hi = signed_rank.walsh_interval(d, alpha)
        assert widened_interval(d, alpha, 0.0) == pytest.approx((lo, hi))
        wlo, whi = widened_interval(d, alpha, 0.007)
        assert wlo < lo < hi < whi
    assert widened_interval(d[:5], 0.008, 0.007) == (-math.inf, math.inf)  # unbounded stays unbounded


@pytest.mark.parametrize("tau", [0.002, 0.007, 0.03])
def test_widened_interval_and_its_p_value_cannot_disagree(tau: float) -> None:
    """For every α on a grid: the widened interval at α excludes 0 exactly when p ≤ α."""
    rng = np.random.default_rng(int(tau * 1e4))
    for trial in range(30):
        n = int(rng.integers(8, 30))
        d = rng.normal(0.01 * (trial % 4), 0.015, n)
        p = widened_p(d, tau)
        for alpha in np.linspace(0.001, 0.5, 60):
            lo, hi = widened_interval(d, float(alpha), tau)
            excluded = lo > 0 or hi < 0
            if abs(alpha - p) > 1e-6:  # the bisection's tolerance
                assert excluded == (p <= alpha), (trial, alpha, p, lo, hi)


def test_decide_widens_only_the_benchmarks_it_names() -> None:
    """Rounds 2 % faster on unchanged code: called improved without the term, undecided with τ 0.7 %; another
    benchmark with the same rounds is decided as before."""
    d = np.random.default_rng(0).normal(-0.022, 0.012, 13)
    config = GateConfig(**{**PR_GATE.get_config(), "between_run_sd": ((SGD, 0.007),)})  # type: ignore[arg-type]
    plain = decide(np.ones(13), np.exp(d), "time", PR_GATE, benchmark=SGD, matched=True)
    wide = decide(np.ones(13), np.exp(d), "time", config, benchmark=SGD, matched=True)
    other = decide(np.ones(13), np.exp(d), "time", config, benchmark=GD, matched=True)
    assert plain.verdict is Verdict.IMPROVED and other.verdict is Verdict.IMPROVED
    assert (other.ci_low, other.ci_high, other.p_value) == (plain.ci_low, plain.ci_high, plain.p_value)
    assert wide.verdict is Verdict.UNDECIDED and wide.ci_low < plain.ci_low and wide.ci_high > plain.ci_high
    assert "widened for a between-run SD of 0.7 %" in wide.reason
    assert wide.p_value > plain.p_value and wide.resolution > plain.resolution


def test_between_run_sd_config_is_checked_parsed_and_round_trips() -> None:
    for bad in (((SGD, -0.1),), ((SGD, 0.5),), (("", 0.01),), ((SGD, 0.01), (SGD, 0.02)), ((SGD, True),)):
        with pytest.raises(ValueError, match="between_run_sd"):
            GateConfig(between_run_sd=bad)  # type: ignore[arg-type]
    name = "training.Train.time_train(gdopt, sgd, cpu)"  # a name with commas
    config = parse_config([f"between_run_sd={SGD}=0.007; {name}=0.01"], PR_GATE)
    assert config.between_run_sd == ((SGD, 0.007), (name, 0.01))
    assert config.tau(name) == 0.01 and config.tau(GD) == 0.0
    assert GateConfig(**config.get_config()) == config  # type: ignore[arg-type]
    assert parse_config(["between_run_sd="], config).between_run_sd == ()
    with pytest.raises(ValueError, match="BENCHMARK=SD"):
        parse_config(["between_run_sd=0.007"], PR_GATE)


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.perfharness.gate]\n{table}\n")
    return tmp_path


def test_project_between_run_sd_reaches_the_gates_rule(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, f'between_run_sd = {{ "{SGD}" = 0.007 }}'))
    assert project_rule(project).between_run_sd == ((SGD, 0.007),)
    assert project_rule(load_project(Path(__file__).resolve().parents[1])).tau(SGD) > 0  # this repository's
    (tmp_path / "none").mkdir()
    assert project_rule(load_project(_project(tmp_path / "none", ""))) == PR_GATE
    with pytest.raises(ProjectConfigError, match="between_run_sd must map benchmark names to SDs"):
        load_project(_project(tmp_path, f'between_run_sd = {{ "{SGD}" = 0.7 }}'))


def _record(path: Path, d: np.ndarray) -> Path:
    rounds = [{"round": k, "seconds": 20.0, "pairs": {SGD: [1.0, math.exp(v), float(v)]}} for k, v in enumerate(d)]
    path.write_text(json.dumps({"mode": "duet", "base": "a" * 40, "head": "a" * 40, "rounds": rounds}))
    return path


def test_the_replay_draws_per_run_offsets_and_the_widened_rule_covers_them(tmp_path: Path) -> None:
    """Records of 30 A/A runs, each with its own offset (SD 1 %) under round noise of 1.5 %: the runs are kept
    apart, the offset is measured, and replayed with it the plain rule calls unchanged code regressed or improved
    far more often than with the interval widened by it."""
    rng = np.random.default_rng(11)
    runs = _runs(0.01 * rng.standard_normal(30), 12, 0.015, seed=12)
    records = [_record(tmp_path / f"r{j}.json", d) for j, d in enumerate(runs)]
    loaded = load_runs(records)
    assert len(loaded) == 30 and all(len(run) == 12 for run in loaded)
    tau = run_offsets(loaded)[SGD]
    assert 0.005 < tau < 0.02
    rounds = centred_rounds(loaded)
    assert len(rounds) == 360 and abs(np.mean([r[SGD] for r in rounds])) < 1e-12
    widened = parse_config([f"between_run_sd={SGD}={tau}"], PR_GATE)
    plain = simulate(rounds, [0.0], runs=300, horizon=24, between_run_sd={SGD: tau})[0]
    covered = simulate(rounds, [0.0], config=widened, runs=300, horizon=24, between_run_sd={SGD: tau})[0]
    without = simulate(rounds, [0.0], runs=300, horizon=24)[0]  # no offsets: the replay before
    assert plain.false_alarm.k > 3 * max(covered.false_alarm.k, 1)
    assert covered.false_alarm.value <= 0.03 and without.false_alarm.value <= 0.03
    with pytest.raises(ValueError, match="between_run_sd must be SDs"):
        simulate(rounds, [0.0], runs=3, horizon=12, between_run_sd={SGD: -1.0})


def test_the_report_says_which_intervals_are_widened() -> None:
    from perfharness.gate.outcome import GateOutcome
    from perfharness.gate.report import render_markdown

    config = parse_config([f"between_run_sd={SGD}=0.007"], PR_GATE)
    d = np.random.default_rng(0).normal(0.0, 0.01, 12)
    decision = decide(np.ones(12), np.exp(d), "time", config, benchmark=SGD, matched=True)
    text = render_markdown(GateOutcome((decision,), config))
    assert f"`{SGD}` by 0.7 %" in text and "widened for a between-run SD of 0.7 %" in text
    assert "Widened for the offset" not in render_markdown(GateOutcome((decision,), PR_GATE))
