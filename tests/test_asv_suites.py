"""The asv suites: ``asv check``, and one quick run in this environment where every benchmark yields a value.

Slow: the quick run trains every case once (about three minutes on two cores).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _asv(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    from perfharness.runner import asv_config

    conf = asv_config(ROOT, tmp_path / "asv.conf.json", results_dir=str(tmp_path / "results"),
                      html_dir=str(tmp_path / "html"))
    env = {**os.environ, "HOME": str(tmp_path)}  # keep ~/.asv-machine.json out of the user's home
    return subprocess.run([sys.executable, "-m", "asv", *args, "--config", str(conf)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)


def test_asv_check(tmp_path):
    proc = _asv(tmp_path, "check", "--python=same")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout


def test_quick_run_gives_every_benchmark_a_value(tmp_path):
    assert _asv(tmp_path, "machine", "--yes", "--machine", "quick").returncode == 0
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    # With --python=same asv saves results only under an explicit commit hash.
    proc = _asv(tmp_path, "run", "--python=same", "--quick", "--machine", "quick", "--show-stderr",
                "--set-commit-hash", head)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (results_file,) = [p for p in (tmp_path / "results" / "quick").glob("*.json") if p.name != "machine.json"]
    data = json.loads(results_file.read_text())
    columns = data["result_columns"]
    benchmarks = json.loads((tmp_path / "results" / "benchmarks.json").read_text())
    expected = {name for name in benchmarks if name != "version"}
    assert set(data["results"]) == expected
    assert {
        "training.Train.time_train", "training.Train.track_final_loss", "training.TrainMemory.track_train_peak_rss_mb",
        "training.TimeToTarget.track_time_to_target_s", "training.LossCurve.track_loss", "scaling.Scaling.time_epoch",
        "scaling.ScalingExponent.track_exponent", "gpu.GpuResources.track_energy_j", "gate.Gate.time_train",
        "gate.GateMemory.track_train_heap_peak_mb",
    } <= expected
    for name, row in data["results"].items():
        entry = dict(zip(columns, row, strict=False))
        params = entry.get("params") or []
        combos = list(itertools.product(*params)) or [()]
        for combo, value in zip(combos, entry["result"], strict=True):
            label = f"{name}{combo}"
            gpu_case = name.startswith("gpu.") or "'gpu'" in combo
            assert value is not None, f"{label} failed"
            if gpu_case:
                assert math.isnan(value), f"{label}: a GPU case without a GPU must be n/a, got {value}"
            elif name == "training.TimeToTarget.track_time_to_target_s" and math.isnan(value):
                pytest.fail(f"{label}: target loss not reached")
            else:
                assert math.isfinite(value), f"{label} = {value}"
