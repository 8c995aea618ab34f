"""perfharness.runner and perfharness.matrix: the cells from [tool.perfharness.matrix], their asv configs,
the command line's argument checks (no asv run here; tests/test_matrix.py runs cells for real)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import perfharness.matrix as matrix
import perfharness.runner as runner
import pytest
from perfharness.project import load_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix, "find_python", lambda v: Path(f"/usr/bin/python{v}"))
    monkeypatch.setattr(matrix, "gpu_present", lambda: False)


def test_matrix_cells_come_from_the_project_table(everywhere: None) -> None:
    project = load_project(ROOT)
    cells = matrix.matrix_cells(project)
    assert {c["device"] for c in cells} == {"cpu"}
    names = {c["name"] for c in cells}
    assert "py3.13-tensorflow-cpu2.19.1-cpu" not in names  # 2.19 has no 3.13 wheels (pyproject says so)
    assert len(cells) == sum(len(pys) for table in project.matrix_packages.values() for pys in table.values())
    assert [c["name"] for c in cells if c["default"]] == ["py3.11-tensorflow-cpu2.21.0-cpu"]  # asv.conf.json's own
    only = matrix.matrix_cells(project, ["3.12"], ["2.20.0"], ["cpu", "gpu"])
    assert [(c["python"], c["version"], c["device"], c["runner"]) for c in only] == [
        ("3.12", "2.20.0", "cpu", "cpu"), ("3.12", "2.20.0", "gpu", "gpu")]


def test_matrix_skips_pythons_not_installed_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix, "find_python", lambda v: None)
    monkeypatch.setattr(matrix, "gpu_present", lambda: False)
    project = load_project(ROOT)
    assert matrix.matrix_cells(project) == []
    assert len(matrix.matrix_cells(project, any_python=True)) == 11


def test_matrix_rejects_values_outside_the_table(everywhere: None) -> None:
    project = load_project(ROOT)
    with pytest.raises(ValueError, match=r"Python 3\.9 is not in the matrix"):
        matrix.matrix_cells(project, ["3.9"])
    with pytest.raises(ValueError, match=r"version 1\.0 is not in the matrix"):
        matrix.matrix_cells(project, versions=["1.0"])


def test_asv_config_copies_with_absolute_paths(tmp_path: Path) -> None:
    out = runner.asv_config(ROOT, tmp_path / "c.json", results_dir=str(tmp_path / "r"))
    conf = json.loads(out.read_text())
    assert conf["repo"] == str(ROOT) and conf["results_dir"] == str(tmp_path / "r")
    assert Path(conf["env_dir"]).is_absolute() and Path(conf["benchmark_dir"]) == ROOT / "benchmarks"
    assert all("--no-deps" in cmd for cmd in conf["install_command"])  # TensorFlow is installed once per env


def test_gpu_cell_uses_the_cuda_build_and_keeps_the_other_requirements(tmp_path: Path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".asv").mkdir(parents=True)
    for name in ("asv.conf.json", "pyproject.toml"):
        (repo / name).write_text((ROOT / name).read_text())
    (repo / "benchmarks").mkdir()
    project = load_project(repo)
    cell = {"name": "py3.12-tensorflow-cpu2.21.0-gpu", "python": "3.12", "package": "tensorflow-cpu",
            "version": "2.21.0", "device": "gpu"}
    conf = json.loads(matrix.cell_config(repo, project, cell).read_text())
    assert conf["pythons"] == ["3.12"] and conf["matrix"]["req"]["tensorflow[and-cuda]"] == ["2.21.0"]
    assert "tensorflow-cpu" not in conf["matrix"]["req"] and conf["matrix"]["req"]["psutil"] == [""]


def _runner(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "perfharness.runner", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_matrix_list_json_is_the_function_s_answer() -> None:
    proc = _runner("matrix", "--list", "--json", "--any-python", "--device", "cpu", "--device", "gpu")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert listed == matrix.matrix_cells(load_project(ROOT), devices=["cpu", "gpu"], any_python=True)
    assert len(listed) == 22 and all(set(c) >= {"name", "python", "device", "runner"} for c in listed)
    proc = _runner("matrix", "--list", "--json", "--any-python", "--device", "cpu", "--without-default")
    assert len(json.loads(proc.stdout)) == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["matrix", "--list", "--python", "3.9"], "Python 3.9 is not in the matrix"),
        (["matrix", "--list", "--any-python", "--cell", "nope"], "no cell named nope"),
        (["run", "--bench", "("], "--bench '(' is not a regular expression"),
        (["run", "--interleave-rounds"], "--interleave-rounds makes asv save half-finished benchmarks"),
        (["history", "--list", "--shards", "0"], "--shards must be an integer >= 1"),
        (["history", "--shards", "3"], "--shards and --json go with --list"),
        (["history", "--list", "--bench", "x"], "history --list takes at most one RANGE"),
    ],
)
def test_arguments_that_cannot_work_exit_2_naming_the_problem(args: list[str], message: str) -> None:
    proc = _runner(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr


def test_runner_refuses_a_directory_without_asv_conf(tmp_path: Path) -> None:
    proc = _runner("--repo", str(tmp_path), "run")
    assert proc.returncode == 2 and "has no asv.conf.json" in proc.stderr
