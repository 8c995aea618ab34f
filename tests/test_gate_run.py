"""The gate's orchestration refuses what it cannot measure before running anything (fast, no asv run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from perfharness.gate import run, selection
from perfharness.gate.config import GateConfig


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "gdopt").mkdir()
    (tmp_path / "gdopt" / "x.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text('[tool.perfharness]\nwatched = ["gdopt", "benchmarks"]\n')
    _git(tmp_path, "init", "--quiet", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "--quiet", "-m", "one")
    return tmp_path


def test_resolve_commit(repo):
    assert len(run.resolve_commit(repo, "HEAD")) == 40
    with pytest.raises(run.GateError, match="unknown commit 'nope'"):
        run.resolve_commit(repo, "nope")


def test_dirty_tree_where_it_matters(repo):
    assert run.dirty_paths(repo) == []
    (repo / "notes.txt").write_text("untracked, elsewhere: fine\n")
    assert run.dirty_paths(repo) == []
    (repo / "gdopt" / "x.py").write_text("x = 2\n")
    assert run.dirty_paths(repo) == ["gdopt/x.py"]
    with pytest.raises(run.GateError, match=r"uncommitted changes .* gdopt/x.py"):
        run.run_gate(repo, "HEAD", "HEAD", echo=False)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"rounds": 8}, ValueError, r"rounds must be an int >= 9 \(the first look after 1 warm-up round\(s\)\), got 8"),
    ({"config": GateConfig()}, ValueError, "the gate needs a config with looks"),
    ({"budget_s": 0}, ValueError, "budget must be a number of seconds > 0, got 0"),
    ({"mode": "parallel"}, ValueError, "mode must be one of"),
    ({"bench": "("}, run.GateError, "not a valid regular expression"),
])
def test_bad_arguments(repo, kwargs, error, match):
    with pytest.raises(error, match=match):
        run.run_gate(repo, "HEAD", "HEAD", echo=False, **kwargs)


def test_cli_exit_2_and_report_on_unknown_commit(repo, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    report = tmp_path / "r.md"
    assert run.main(["nope", "HEAD", "--repo", str(repo), "--report", str(report)]) == 2
    assert "could not measure: unknown commit 'nope'" in report.read_text()


@pytest.mark.parametrize(("bench", "with_loss", "name", "selected"), [
    (None, True, "gate.Gate.track_final_loss('gd')", True),
    (None, False, "gate.Gate.track_final_loss('gd')", False),
    (None, False, "gate.Gate.time_train('sgd')", True),
    (None, False, "gate.GateMemory.track_train_heap_peak_mb('gd')", True),
    (None, True, "gate.GateMemory.track_train_heap_peak_mb('gd')", True),
    (r"time_train\('gd'\)|track_final_loss\('gd'\)", False, "gate.Gate.time_train('gd')", True),
    (r"time_train\('gd'\)|track_final_loss\('gd'\)", False, "gate.Gate.track_final_loss('gd')", False),
    (r"time_train\('gd'\)|track_final_loss\('gd'\)", True, "gate.Gate.track_final_loss('gd')", True),
    ("sgd", True, "gate.Gate.time_train('gd')", False),
    (None, True, "training.Train.time_train('gdopt', 'gd', 'cpu')", False),
])
def test_round_selection(bench, with_loss, name, selected):
    """Later rounds leave out the deterministic final loss (measured in the first LOSS_ROUNDS only)."""
    import re

    assert bool(re.search(selection.round_selection(bench, with_loss=with_loss), name)) is selected


@pytest.mark.parametrize(("name", "selected"), [
    ("gate.GateMemory.track_train_heap_peak_mb('gd')", False),
    ("gate.GateMemory.track_train_heap_peak_mb", False),
    ("gate.Gate.peakmem_train('gd')", False),
    ("gate.Gate.mem_model", False),
    ("gate.Gate.time_train('sgd')", True),
    ("gate.Gate.track_final_loss('sgd')", True),
])
def test_round_selection_without_memory(name, selected):
    """Rounds after MEMORY_ROUNDS leave out what metric_kind calls memory, and only that."""
    import re

    from perfharness.gate.config import metric_kind

    pattern = selection.round_selection(None, with_loss=True, with_memory=False)
    assert bool(re.search(pattern, name)) is selected
    assert (metric_kind(name) == "memory") is (not selected)


def test_round_selection_excludes_parameter_values() -> None:
    """[tool.perfharness.gate] exclude keeps, say, a fourth optimizer out of the gate's selection."""
    import re

    pattern = selection.round_selection(None, with_loss=True, exclude=["momentum"])
    assert re.search(pattern, "gate.Gate.time_train('sgd')")
    assert not re.search(pattern, "gate.Gate.time_train('momentum')")


@pytest.mark.parametrize(("names", "asv_name", "selected"), [
    (["gate.Gate.time_train(gd)"], "gate.Gate.time_train('gd')", True),
    (["gate.Gate.time_train(gd)"], "gate.Gate.time_train('sgd')", False),
    (["gate.Gate.time_train(gd)"], "gate.Gate.track_final_loss('gd')", False),
    (["scaling.S.time_x(1024, 10)"], "scaling.S.time_x(1024, 10)", True),
    (["gate.G.time_plain"], "gate.G.time_plain", True),
])
def test_exact_selection_picks_only_the_named_combinations(names, asv_name, selected) -> None:
    """Later rounds measure only the metrics still undecided, by asv's own combination names."""
    import re

    assert bool(re.search(selection.exact(names), asv_name)) is selected


@pytest.mark.parametrize(("argv", "message"), [
    (["--skip-gate"], "--skip-gate leaves nothing to run without --asv-continuous"),
    (["--budget", "0"], "--budget must be > 0 seconds, got 0.0"),
    (["--simulate", "x.json", "--runs", "0"], "--runs must be >= 1, got 0"),
    (["--cases", "noop,fast"], "unknown case(s) ['fast']"),
])
def test_gate_power_rejects_bad_arguments_before_measuring(argv, message, capsys, tmp_path, monkeypatch):
    from tools import gate_power

    monkeypatch.chdir(tmp_path)  # nothing is cloned: the arguments are refused first
    with pytest.raises(SystemExit) as exc:
        gate_power.main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["noop", "slow2", "slow5", "slow10", "mem10", "lr1"])
def test_gate_power_patches_are_valid_python(case, tmp_path):
    """Each controlled change applies to today's gdopt and still compiles (the injection points exist)."""
    import shutil

    from tools import gate_power

    root = Path(__file__).resolve().parents[1]
    for rel in (gate_power.TRAIN, "gdopt/optimizers.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, tmp_path / rel)
    gate_power._patch(tmp_path, case, {"gd": 2.0, "minibatch": 2.0, "sgd": 2.0})
    changed = [rel for rel in (gate_power.TRAIN, "gdopt/optimizers.py")
               if (tmp_path / rel).read_text() != (root / rel).read_text()]
    assert changed == (["gdopt/optimizers.py"] if case == "lr1" else [gate_power.TRAIN])
    for rel in changed:
        compile((tmp_path / rel).read_text(), rel, "exec")
    if case.startswith("slow"):
        text = (tmp_path / gate_power.TRAIN).read_text()
        assert text.index("_entered = time.perf_counter()") < text.index("p = plan(") < text.index("_until =")


def test_asv_environ_keeps_existing_xla_flags(tmp_path):
    env = run.asv_environ(tmp_path, {"TF_XLA_FLAGS": "--tf_xla_auto_jit=0", "PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["TF_XLA_FLAGS"] == f"--tf_xla_auto_jit=0 --tf_xla_persistent_cache_directory={tmp_path / run.XLA_CACHE}"
    assert run.asv_environ(tmp_path, {})["TF_XLA_FLAGS"].startswith("--tf_xla_persistent")


def test_asv_environ_makes_tensorflow_cache_the_compiled_loop(tmp_path):
    """The flag is TensorFlow's, spelled as this TensorFlow reads it: a training process writes the cache."""
    code = (
        "import os, gdopt\n"
        "data = gdopt.make_regression(n_samples=64, n_features=3, seed=0)\n"
        "model = gdopt.SampleModel(n_features=3, hidden=5, seed=0)\n"
        "gdopt.train(model, data, gdopt.SGD(0.01), epochs=1, device='cpu')\n"
        "os._exit(0)\n"
    )
    env = run.asv_environ(tmp_path)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list((tmp_path / run.XLA_CACHE).glob("*XLA_CPU_JIT*")), proc.stderr[-2000:]


@pytest.mark.parametrize(("name", "excluded"), [
    ("gate.Gate.time_train(momentum)", True),
    ("gate.Gate.time_train(sgd)", False),
    ("gate.Gate.time_train(gdopt, momentum, cpu)", True),
    ("gate.Gate.time_plain", False),
    ("gate.Gate.time_train(momentum_free)", False),  # whole parameter values, not substrings
])
def test_excluded_parameter_values_are_not_the_gates(name, excluded) -> None:
    assert selection.excluded(name, ["momentum"]) is excluded


def test_budget_between_looks_reports_the_last_looks_interval() -> None:
    """Stopped after round 10 (last look at 8, undecided): the report keeps that look's interval and resolution."""
    import math

    import numpy as np
    from perfharness.gate.asv_results import BenchmarkPair, Side
    from perfharness.gate.config import PR_GATE
    from perfharness.gate.decide import Verdict

    ledger = run._Ledger(PR_GATE)
    rng = np.random.default_rng(0)
    name = "gate.Gate.time_train(gd)"
    for k in range(10):
        base, head = (tuple(0.06 * (1 + 0.05 * rng.standard_normal(15))) for _ in range(2))
        ledger.add([BenchmarkPair(name, Side(values=base), Side(values=head))])
        if k + 1 in PR_GATE.looks:
            ledger.look([name], final=False)
    decision = ledger.outcome([name], "a", "b", "the budget ran out").decisions[0]
    assert decision.verdict is Verdict.UNDECIDED
    assert math.isfinite(decision.resolution) and decision.resolution > PR_GATE.time_threshold
    assert decision.reason.startswith("the budget ran out: at the last look, ratio")


def test_a_budget_between_looks_brings_the_next_look_forward() -> None:
    """Stopped after 11 rounds: the look at 24 happens at 11, at its own alpha, and can decide."""
    import numpy as np
    from perfharness.gate.asv_results import BenchmarkPair, Side
    from perfharness.gate.config import PR_GATE
    from perfharness.gate.decide import Verdict
    from perfharness.gate.simulate import simulated_verdict

    ledger = run._Ledger(PR_GATE)
    rng = np.random.default_rng(1)
    name = "gate.Gate.time_train(gd)"
    wide = (0.03, -0.02, 0.0, 0.01, -0.01, 0.004, -0.004, 0.002)  # at 8 rounds, [min, max] reaches below 1.01
    d = np.log(1.025) + np.array([*wide, *rng.normal(0, 0.004, 3)])
    for k in range(11):
        ledger.add([BenchmarkPair(name, Side(values=(1.0, 1.0)), Side(values=(float(np.exp(d[k])),) * 2))])
        if k + 1 in PR_GATE.looks:
            ledger.look([name], final=False)
    ledger.look([name], final=True)  # what the round loop does when the budget stops it at 11
    decision = ledger.outcome([name], "a", "b", "the budget ran out").decisions[0]
    assert decision.verdict is Verdict.REGRESSED and "95.8 % signed-rank CI" in decision.reason
    assert simulated_verdict(np.ones(11), np.exp(d), "time", PR_GATE) == (Verdict.REGRESSED, 11)  # as the gate
    flat = rng.normal(0, 0.002, 11)
    assert simulated_verdict(np.ones(11), np.exp(flat), "time", PR_GATE)[1] in (8, 11)


def test_the_budget_keeps_room_for_the_runs_tail() -> None:
    """--budget bounds the whole run: a round as long as the longest so far must fit with the tail (report)."""
    assert run.another_round_fits(0.0, 25.0, 300.0)
    assert run.another_round_fits(300.0 - 25.0 - run.TAIL_S, 25.0, 300.0)
    assert not run.another_round_fits(300.0 - 25.0 - run.TAIL_S + 0.5, 25.0, 300.0)
    assert not run.another_round_fits(280.0, 20.0, 300.0)  # it would end at the budget, with no room for the report
