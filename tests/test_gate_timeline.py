"""tools.gate_timeline: a recorded round's time, split where the barrier started each benchmark's samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import gate_timeline

GD, SGD = "gate.Gate.time_train(gd)", "gate.Gate.time_train(sgd)"


def _round(k: int, releases: list) -> dict:
    return {"round": k, "seconds": 20.0, "releases": releases,
            "samples": {GD: [[0.1] * 3, [0.12] * 3], SGD: [[0.2] * 2, [0.1] * 2]}}


def test_a_round_splits_into_lead_blocks_and_samples() -> None:
    rnd = _round(1, [[4.0, "Gate(gd)"], [4.2, "Gate(gd)"], [4.4, "Gate(gd)"], [6.0, "Gate(sgd)"], [6.3, "Gate(sgd)"],
                     [9.0, "GateMemory(gd)"]])
    r = gate_timeline.round_time(rnd)
    assert r.lead == 4.0 and [b.label for b in r.blocks] == ["Gate(gd)", "Gate(sgd)", "GateMemory(gd)"]
    assert [b.releases for b in r.blocks] == [3, 2, 1]
    assert [b.seconds for b in r.blocks] == pytest.approx([2.0, 3.0, 11.0])  # the last block ends with the round
    assert r.in_samples == pytest.approx(0.36 + 0.4)  # the slower side of each benchmark
    assert r.outside_samples == pytest.approx(20.0 - 0.76)


def test_rounds_without_releases_are_refused_or_skipped(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="no barrier releases"):
        gate_timeline.round_time({"round": 0, "seconds": 1.0})
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"rounds": [{"round": 0, "seconds": 1.0, "pairs": {}}]}))
    assert gate_timeline.main([str(old)]) == 2
    assert "no round has barrier releases" in capsys.readouterr().err
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"rounds": [_round(0, [[9.0, "Gate(gd)"]]), _round(1, [[4.0, "Gate(gd)"]])]}))
    assert gate_timeline.main([str(new)]) == 0
    out = capsys.readouterr().out
    assert "round 1: 20.0 s; before the first sample 4.0" in out and "median of rounds 1–1 (1)" in out
