"""A runner's calibration (its own per-run offsets τ and A/A records) and the warm-up rounds the rule leaves out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from perfharness.gate.config import PR_GATE, GateConfig, parse_config
from perfharness.gate.decide import Verdict, decide
from perfharness.gate.run import project_rule
from perfharness.gate.simulate import load_runs, redecide
from perfharness.project import GateRunner, ProjectConfigError, load_project

SGD = "gate.Gate.time_train(sgd)"
GD = "gate.Gate.time_train(gd)"
AMD, XEON = "AMD EPYC", "Intel(R) Xeon(R) Processor"


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.perfharness.gate]\n{body}\n")
    return tmp_path


RUNNERS = f"""
between_run_sd = {{ "{GD}" = 0.001 }}
[tool.perfharness.gate.runners."{AMD}"]
records = "docs/data/gate-aa"
between_run_sd = {{ "{SGD}" = 0.0087 }}
[tool.perfharness.gate.runners."{XEON}"]
records = "docs/data/gate-aa-xeon"
between_run_sd = {{ "{SGD}" = 0.002 }}
"""


def test_runners_are_read_with_their_records_and_offsets(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, RUNNERS))
    assert project.gate_runners == {AMD: GateRunner("docs/data/gate-aa", {SGD: 0.0087}),
                                    XEON: GateRunner("docs/data/gate-aa-xeon", {SGD: 0.002})}
    assert project.gate_between_run_sd == {GD: 0.001}


@pytest.mark.parametrize(("body", "match"), [
    ('runners = { "x" = 1 }', r'runners\."x"\] must be a table'),
    ('[tool.perfharness.gate.runners."x"]\nrecord = "a"', r"unknown key\(s\) \['record'\]"),
    (f'[tool.perfharness.gate.runners."x"]\nbetween_run_sd = {{ "{SGD}" = 0.6 }}', "must map benchmark names to SDs"),
    ('[tool.perfharness.gate.runners."x"]\nrecords = 3', "records must be a non-empty string"),
    ('runners = { " " = {} }', "must map CPU models to tables"),
])
def test_a_bad_runner_table_names_the_problem(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(ProjectConfigError, match=match):
        load_project(_project(tmp_path, body))


def test_the_rule_takes_this_runners_offsets_and_says_where_they_come_from(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path, RUNNERS))
    amd = project_rule(project, cpu=AMD)
    assert amd.between_run_sd == ((GD, 0.001), (SGD, 0.0087)) and f'"{AMD}"' in amd.calibration
    xeon = project_rule(project, cpu=XEON)
    assert xeon.tau(SGD) == 0.002 and xeon.tau(GD) == 0.001 and "measured on this runner" in xeon.calibration


def test_an_uncalibrated_runner_is_not_assumed_quiet(tmp_path: Path) -> None:
    """On a CPU no runner table names, each benchmark takes its largest τ anywhere, and the report says why."""
    project = load_project(_project(tmp_path, RUNNERS))
    rule = project_rule(project, cpu="Some ARM")
    assert rule.tau(SGD) == 0.0087 and rule.tau(GD) == 0.001
    assert '"Some ARM") is not calibrated' in rule.calibration and f'"{XEON}"' in rule.calibration
    assert "not calibrated" in project_rule(project, cpu=None).calibration
    from perfharness.gate.outcome import GateOutcome
    from perfharness.gate.report import render_markdown

    d = np.random.default_rng(0).normal(0.0, 0.005, 12)
    decision = decide(np.ones(12), np.exp(d), "time", rule, benchmark=GD, matched=True)
    assert "Per-run offsets τ: this runner (\"Some ARM\") is not calibrated" in render_markdown(
        GateOutcome((decision,), rule))


def test_a_runner_whose_offset_spans_the_band_is_told_it_can_never_pass() -> None:
    """z·τ ≥ t: no number of rounds makes the interval fit the band, and the reason says so."""
    d = np.random.default_rng(1).normal(0.0, 0.001, 16)
    wide = decide(np.ones(16), np.exp(d), "time", parse_config([f"between_run_sd={SGD}=0.0087"], PR_GATE),
                  benchmark=SGD, matched=True)
    assert wide.verdict is Verdict.UNDECIDED and "can never be called unchanged on this runner" in wide.reason
    narrow = decide(np.ones(16), np.exp(d), "time", parse_config([f"between_run_sd={SGD}=0.002"], PR_GATE),
                    benchmark=SGD, matched=True)
    assert narrow.verdict is Verdict.UNCHANGED and "never" not in narrow.reason


def test_warmup_rounds_are_checked_and_round_trip() -> None:
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="warmup_rounds must be an int >= 0"):
            GateConfig(warmup_rounds=bad)  # type: ignore[arg-type]
    config = parse_config(["warmup_rounds=2"], PR_GATE)
    assert config.warmup_rounds == 2 and GateConfig(**config.get_config()) == config  # type: ignore[arg-type]
    from perfharness.gate.outcome import GateOutcome
    from perfharness.gate.report import render_markdown

    d = np.random.default_rng(0).normal(0.0, 0.002, 12)
    decision = decide(np.ones(12), np.exp(d), "time", config, benchmark=GD, matched=True)
    assert "The first 2 round(s) are a warm-up" in render_markdown(GateOutcome((decision,), config))
    assert "warm-up" not in render_markdown(GateOutcome((decision,), parse_config(["warmup_rounds=0"], PR_GATE)))


def _record(path: Path, d: list[float], base: str = "a" * 40, head: str = "a" * 40) -> Path:
    rounds = [{"round": k, "seconds": 20.0, "pairs": {GD: [1.0, math.exp(v), v], SGD: [1.0, math.exp(v), v],
                                                       "gate.Gate.track_final_loss(gd)": [0.2, 0.2, 0.0]}}
              for k, v in enumerate(d)]
    path.write_text(json.dumps({"mode": "duet", "base": base, "head": head, "rounds": rounds}))
    return path


def test_a_wild_first_round_is_left_out_by_the_warmup(tmp_path: Path) -> None:
    """A first round 8 % off, then eight quiet ones: counted, it holds the 8-round interval open; as a warm-up
    round it is recorded but not counted, and the look at 8 decides."""
    quiet = list(np.random.default_rng(2).normal(0.0, 0.002, 8))
    path = _record(tmp_path / "aa.json", [-0.08, *quiet])
    counted = redecide(path, parse_config(["warmup_rounds=0"], PR_GATE))
    warm = redecide(path, parse_config(["warmup_rounds=1"], PR_GATE))
    assert counted[GD] == (Verdict.UNDECIDED, 9) and warm[GD] == (Verdict.UNCHANGED, 8)
    assert warm["gate.Gate.track_final_loss(gd)"][1] == 9  # the final loss counts every round it was measured in
    assert [len(run) for run in load_runs([path], warmup=1)] == [8]
    assert load_runs([path], warmup=1)[0][0][GD] == pytest.approx(quiet[0])


def test_gate_noise_leaves_out_the_warmup_rounds(tmp_path: Path) -> None:
    from tools.gate_noise import between_runs, log_ratios

    record = json.loads(_record(tmp_path / "r.json", [0.5, 0.0, 0.01]).read_text())
    assert log_ratios([record])[GD] == [0.5, 0.0, 0.01]
    assert log_ratios([record], warmup=1)[GD] == [0.0, 0.01]
    rng = np.random.default_rng(4)
    runs = [json.loads(_record(tmp_path / f"{j}.json", [0.3 * (j % 2), *rng.normal(0, 0.01, 8)]).read_text())
            for j in range(6)]
    assert between_runs(runs, warmup=1)[GD][0] == 6


def test_a_benchmark_band_of_its_own_replaces_its_kinds() -> None:
    """A per-run offset that spans the 1 % band: with a band of its own (2.5 %) the same pairs are unchanged."""
    d = np.random.default_rng(1).normal(0.0, 0.001, 16)
    tau = f"between_run_sd={SGD}=0.0087"
    shared = decide(np.ones(16), np.exp(d), "time", parse_config([tau], PR_GATE), benchmark=SGD, matched=True)
    own = parse_config([tau, f"bands={SGD}=0.025"], PR_GATE)
    wide = decide(np.ones(16), np.exp(d), "time", own, benchmark=SGD, matched=True)
    assert shared.verdict is Verdict.UNDECIDED and wide.verdict is Verdict.UNCHANGED
    assert "within ±2.5 %" in wide.reason and own.band(SGD) == 0.025 and own.band(GD) == 0.01
    slow = decide(np.ones(16), np.exp(d + 0.02), "time", own, benchmark=SGD, matched=True)
    assert slow.verdict is not Verdict.REGRESSED  # 2 % lies inside SGD's own band: the price of widening it
    assert decide(np.ones(16), np.exp(d + 0.02), "time", own, benchmark=GD, matched=True).verdict is Verdict.REGRESSED
    from perfharness.gate.outcome import GateOutcome
    from perfharness.gate.report import render_markdown

    assert f"Bands of their own (a per-run offset that spans its kind's band on this runner): `{SGD}` ±2.5 %" in (
        render_markdown(GateOutcome((wide,), own)))
    assert GateConfig(**own.get_config()) == own  # type: ignore[arg-type]


@pytest.mark.parametrize(("bands", "match"), [
    (((SGD, 0.0),), r"0 < band < 1"),
    (((SGD, 1.5),), r"0 < band < 1"),
    (((SGD, 0.02), (SGD, 0.03)), "names a benchmark twice"),
    ((("gate.Gate.track_final_loss(gd)", 0.02),), "its tolerance is loss_rtol"),
    ((("gate.Gate.setup_x(gd)", 0.02),), "unknown metric kind"),
])
def test_a_bad_band_names_the_problem(bands: tuple[tuple[str, float], ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GateConfig(bands=bands)


def test_bands_come_from_the_runner_and_an_uncalibrated_one_takes_the_widest(tmp_path: Path) -> None:
    amd_band = f'records = "docs/data/gate-aa"\nbands = {{ "{SGD}" = 0.025 }}\n'
    body = RUNNERS.replace('records = "docs/data/gate-aa"\n', amd_band)
    project = load_project(_project(tmp_path, f'bands = {{ "{GD}" = 0.015 }}\n' + body))
    assert project.gate_runners[AMD].bands == {SGD: 0.025} and project.gate_bands == {GD: 0.015}
    assert project_rule(project, cpu=AMD).bands == ((GD, 0.015), (SGD, 0.025))
    assert project_rule(project, cpu=XEON).bands == ((GD, 0.015),)  # the Xeon keeps the 1 % band for SGD
    other = project_rule(project, cpu="Some ARM")
    assert other.band(SGD) == 0.025 and other.tau(SGD) == 0.0087 and "widest band" in other.calibration
    with pytest.raises(ProjectConfigError, match=r"bands must map benchmark names to bands in \(0, 1\)"):
        load_project(_project(tmp_path, f'[tool.perfharness.gate.runners."x"]\nbands = {{ "{SGD}" = 2 }}'))


def test_bands_parse_from_set_and_say_what_they_expect() -> None:
    assert parse_config([f"bands={SGD}=0.03;{GD}=0.02"], PR_GATE).bands == ((SGD, 0.03), (GD, 0.02))
    assert parse_config(["bands="], PR_GATE).bands == ()
    with pytest.raises(ValueError, match="BENCHMARK=BAND"):
        parse_config(["bands=0.03"], PR_GATE)
