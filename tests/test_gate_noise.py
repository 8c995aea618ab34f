"""tools.gate_noise --between-runs: does a per-run bias show above the rounds' noise?"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tools import gate_noise

NAME = "gate.Gate.time_train(sgd)"


def _runs(offsets: list[float], rounds: int = 12, sd: float = 0.03, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for bias in offsets:
        d = bias + sd * rng.standard_normal(rounds)
        out.append({"mode": "duet", "rounds": [{"pairs": {NAME: [1.0, math.exp(v), float(v)]}} for v in d]})
    return out


def test_runs_with_a_bias_each_are_told_apart_from_runs_without() -> None:
    rng = np.random.default_rng(1)
    biased = gate_noise.between_runs(_runs(list(0.03 * rng.standard_normal(30))))[NAME]
    plain = gate_noise.between_runs(_runs([0.0] * 30))[NAME]
    assert biased[0] == plain[0] == 30
    assert biased[2] < 1e-6 and biased[3] < 0.01 and 0.015 < biased[4] < 0.05  # τ near the 3 % bias SD
    assert plain[2] > 0.01 and plain[3] > 0.01 and plain[4] < 0.01


def test_heavy_tails_alone_move_the_chi2_p_more_than_the_permutation_p() -> None:
    # Same truth in every run, rounds from a t distribution with 2 degrees of freedom: the χ² p reads the
    # tails as a between-run difference far more often than the permutation p, which keeps them.
    rng = np.random.default_rng(3)
    chi2_small = perm_small = 0
    for trial in range(20):
        runs = [{"mode": "duet", "rounds": [{"pairs": {NAME: [1.0, 1.0, float(v)]}}
                                            for v in 0.02 * rng.standard_t(2, 12)]} for _ in range(20)]
        _, _, p_chi2, p_perm, _ = gate_noise.between_runs(runs, permutations=200, seed=trial)[NAME]
        chi2_small += p_chi2 < 0.05
        perm_small += p_perm < 0.05
    assert perm_small <= 3 and chi2_small > perm_small


def test_runs_shorter_than_min_rounds_are_left_out() -> None:
    runs = _runs([0.0, 0.0, 0.0], rounds=5)
    assert gate_noise.between_runs(runs) == {}
    assert gate_noise.between_runs(runs, min_rounds=5)[NAME][0] == 3


def test_between_runs_cli_names_an_unreadable_record(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert gate_noise.main(["--between-runs", str(bad)]) == 2
    assert "cannot read the records" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_runs([0.0])[0]))
    assert gate_noise.main(["--between-runs", str(good), str(good)]) == 0
    assert NAME in capsys.readouterr().out
