"""perfharness.runner: the matrix's cells and asv configuration variants (no asv run)."""

from __future__ import annotations

import json
from pathlib import Path

import perfharness.runner as bench

ROOT = Path(__file__).resolve().parents[1]


def test_matrix_cells_respect_what_each_tensorflow_supports(monkeypatch):
    monkeypatch.setattr(bench, "find_python", lambda v: Path(f"/usr/bin/python{v}"))
    monkeypatch.setattr(bench, "gpu_present", lambda: False)
    cells = bench.matrix_cells()
    assert {c["device"] for c in cells} == {"cpu"}
    assert {"python": "3.13", "tensorflow": "2.19.1", "device": "cpu"} not in cells  # 2.19 has no 3.13 wheels
    assert len(cells) == sum(len(v) for v in bench.TF_PYTHONS.values())
    only = bench.matrix_cells(["3.12"], ["cpu", "gpu"], ["2.20.0"])
    assert only == [{"python": "3.12", "tensorflow": "2.20.0", "device": d} for d in ("cpu", "gpu")]


def test_matrix_skips_pythons_not_installed(monkeypatch):
    monkeypatch.setattr(bench, "find_python", lambda v: None)
    assert bench.matrix_cells() == []


def test_asv_config_copies_with_absolute_paths(tmp_path):
    out = bench.asv_config(ROOT, tmp_path / "c.json", results_dir=str(tmp_path / "r"))
    conf = json.loads(out.read_text())
    assert conf["repo"] == str(ROOT) and conf["results_dir"] == str(tmp_path / "r")
    assert Path(conf["env_dir"]).is_absolute() and Path(conf["benchmark_dir"]) == ROOT / "benchmarks"
    assert all("--no-deps" in cmd for cmd in conf["install_command"])  # TensorFlow is installed once per env


def test_gpu_cell_uses_the_cuda_build(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "asv_config", lambda repo, out, **kw: kw)
    kw = bench._cell_config(ROOT, {"python": "3.12", "tensorflow": "2.21.0", "device": "gpu"})
    assert kw["pythons"] == ["3.12"] and kw["matrix"]["req"]["tensorflow[and-cuda]"] == ["2.21.0"]
    assert "tensorflow-cpu" not in kw["matrix"]["req"]
