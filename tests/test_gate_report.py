"""The gate end to end on real asv results files (written by asv's own ``Results.save``): loading, the
markdown and terminal reports, and the command line with its exit codes 0, 1 and 2."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from perfharness.gate.__main__ import main, parse_config
from perfharness.gate.asv_results import ResultsError, load_machine_info, load_pairs
from perfharness.gate.config import GateConfig
from perfharness.gate.decide import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, Verdict
from perfharness.gate.outcome import evaluate, evaluate_results
from perfharness.gate.report import format_quantity, render_markdown, render_terminal, write_report

asv_results = pytest.importorskip("asv.results")
asv_runner = pytest.importorskip("asv.runner")
asv_machine = pytest.importorskip("asv.machine")

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "ci-box"
ENV = "virtualenv-py3.11"
BASE = "1a2b3c4d" + "0" * 32
HEAD = "5e6f7a8b" + "1" * 32
OPTIMIZERS = ["'sgd'", "'gd'"]
DEVICES = ["'cpu'", "'gpu'"]
TIME = "training.Train.time_train(sgd, cpu)"
LOSS = "training.Train.track_final_loss(sgd, cpu)"


def add(results: object, name: str, params: list[list[str]], entries: list[object], version: str = "1") -> None:
    """Record one benchmark the way ``asv run --record-samples`` does: a list is a time benchmark's
    samples, a float a track/peakmem value, ``None`` a failure or timeout, NaN a skip (n/a)."""
    result: list[object] = []
    samples: list[list[float] | None] = []
    number: list[int | None] = []
    for entry in entries:
        if isinstance(entry, list):
            result.append(True)  # asv's runner marks a timing result, then computes the median
            samples.append(entry)
            number.append(1)
        else:
            result.append(entry)
            samples.append(None)
            number.append(None)
    benchmark = {"name": name, "version": version, "params": params}
    outcome = asv_runner.BenchmarkResult(result, samples, number, 0, "", None)
    results.add_result(benchmark, outcome, record_samples=True)  # type: ignore[attr-defined]


def write_run(
    results_dir: Path,
    commit: str,
    *,
    seed: int,
    scale: float = 1.0,
    loss: float = 0.25,
    n_time: int = 6,
    fail_time: bool = False,
    env: str = ENV,
    version: str = "1",
) -> None:
    """One asv run of the suite for ``commit``: time (samples), peak memory and final loss, each over
    optimizer × device, with the GPU combinations skipped as on a CPU-only machine."""
    rng = np.random.default_rng(seed)
    results = asv_results.Results(
        {"machine": MACHINE, "python": "3.11"}, {}, commit, 1_700_000_000_000, "3.11", env, {}
    )
    params = [OPTIMIZERS, DEVICES]
    times: list[object] = []
    memory: list[object] = []
    losses: list[object] = []
    for i, _opt in enumerate(OPTIMIZERS):
        for device in DEVICES:
            if device == "'gpu'":
                times.append(math.nan)
                memory.append(math.nan)
                losses.append(math.nan)
                continue
            centre = 0.05 * (i + 1) * scale
            timing = (centre * (1 + 0.01 * rng.standard_normal(n_time))).tolist()
            times.append(None if fail_time and i == 0 else timing)
            memory.append(float(300e6 * (1 + 0.001 * rng.standard_normal())))
            losses.append(loss + i)
    add(results, "training.Train.time_train", params, times, version)
    add(results, "training.Train.peakmem_train", params, memory, version)
    add(results, "training.Train.track_final_loss", params, losses, version)
    results.save(str(results_dir))
    machine = asv_machine.Machine()
    machine.__dict__.update(machine=MACHINE, os="Linux 6.1", arch="x86_64", cpu="Test CPU", num_cpu="2", ram="8GB")
    machine.save(str(results_dir))


def write_runs(root: Path, n_runs: int = 5, **head_kwargs: object) -> list[Path]:
    """``n_runs`` result directories (pooled by the gate), each with base and head measured."""
    dirs = []
    for run in range(n_runs):
        results_dir = root / f"run{run}"
        write_run(results_dir, BASE, seed=100 + run)
        write_run(results_dir, HEAD, seed=200 + run, **head_kwargs)  # type: ignore[arg-type]
        dirs.append(results_dir)
    return dirs


@pytest.fixture(autouse=True)
def no_step_summary(monkeypatch):
    """Tests never append to the real GitHub step summary of the CI job running them."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# --- loading asv's files -----------------------------------------------------------------------------


def test_load_pairs_reads_every_combination(tmp_path):
    write_run(tmp_path, BASE, seed=1, fail_time=True)
    write_run(tmp_path, HEAD, seed=2)
    loaded = load_pairs(tmp_path, MACHINE, BASE, HEAD)
    assert (loaded.base_hash, loaded.head_hash, loaded.env) == (BASE, HEAD, ENV)
    pairs = {p.name: p for p in loaded.pairs}
    assert len(pairs) == 12  # 3 benchmarks × 2 optimizers × 2 devices
    assert len(pairs["training.Train.time_train(gd, cpu)"].head.values) == 6
    assert pairs["training.Train.time_train(gd, gpu)"].base.skipped
    assert "null" in str(pairs[TIME].base.problem)  # failed on base
    assert pairs[TIME].head.problem is None
    assert pairs[LOSS].base.values == (0.25,)
    assert len(pairs["training.Train.peakmem_train(sgd, cpu)"].base.values) == 1


def test_hash_prefix_env_and_bench_filter(tmp_path):
    write_run(tmp_path, BASE, seed=1)
    write_run(tmp_path, HEAD, seed=2)
    loaded = load_pairs(tmp_path, MACHINE, BASE[:7], HEAD[:10].upper(), env=ENV, bench=r"time_train\(gd,")
    assert [p.name for p in loaded.pairs] == [
        "training.Train.time_train(gd, cpu)",
        "training.Train.time_train(gd, gpu)",
    ]
    assert loaded.base_hash == BASE


def test_pooling_several_runs(tmp_path):
    dirs = write_runs(tmp_path, n_runs=3)
    pairs = {p.name: p for p in load_pairs(dirs, MACHINE, BASE, HEAD).pairs}
    assert len(pairs[TIME].base.values) == 18
    assert len(pairs["training.Train.peakmem_train(sgd, cpu)"].head.values) == 3
    assert pairs["training.Train.peakmem_train(sgd, gpu)"].head.skipped


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_machine", "no results for machine 'ci-box'"),
        ("no_head", "no results for head commit 5e6f7a8b"),
        ("corrupt", "corrupt results file"),
        ("missing_keys", "corrupt results file"),
        ("two_envs", "several environments"),
        ("other_env", "different environments"),
    ],
)
def test_results_level_problems_raise(tmp_path, setup, message):
    if setup != "no_machine":
        write_run(tmp_path, BASE, seed=1)
    machine_dir = tmp_path / MACHINE
    if setup == "corrupt":
        (machine_dir / f"{HEAD[:8]}-{ENV}.json").write_text("{not json", encoding="utf-8")
    elif setup == "missing_keys":
        (machine_dir / f"{HEAD[:8]}-{ENV}.json").write_text('{"version": 2, "results": {}}', encoding="utf-8")
    elif setup == "two_envs":
        write_run(tmp_path, HEAD, seed=2)
        write_run(tmp_path, BASE, seed=3, env="conda-py3.11")
        write_run(tmp_path, HEAD, seed=4, env="conda-py3.11")
    elif setup == "other_env":
        write_run(tmp_path, HEAD, seed=2, env="conda-py3.11")
    with pytest.raises(ResultsError, match=message):
        load_pairs(tmp_path, MACHINE, BASE, HEAD)
    outcome = evaluate_results(tmp_path, MACHINE, BASE, HEAD)
    assert outcome.exit_code == EXIT_ERROR and message in outcome.problems[0]


def test_corrupt_row_and_version_change_are_per_benchmark_errors(tmp_path):
    write_run(tmp_path, BASE, seed=1)
    write_run(tmp_path, HEAD, seed=2, version="2")
    path = tmp_path / MACHINE / f"{BASE[:8]}-{ENV}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["results"]["training.Train.peakmem_train"][0] = [1.0]  # one value for four combinations
    path.write_text(json.dumps(data), encoding="utf-8")
    pairs = {p.name: p for p in load_pairs(tmp_path, MACHINE, BASE, HEAD).pairs}
    assert "corrupt results" in str(pairs["training.Train.peakmem_train(sgd, cpu)"].base.problem)
    assert "version differs" in str(pairs[TIME].problem)
    assert evaluate(pairs.values()).exit_code == EXIT_ERROR


def test_benchmark_missing_on_one_side_is_an_error(tmp_path):
    write_run(tmp_path, BASE, seed=1)
    write_run(tmp_path, HEAD, seed=2)
    path = tmp_path / MACHINE / f"{HEAD[:8]}-{ENV}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["results"]["training.Train.track_final_loss"]
    path.write_text(json.dumps(data), encoding="utf-8")
    outcome = evaluate_results(tmp_path, MACHINE, BASE, HEAD, bench="final_loss")
    assert outcome.exit_code == EXIT_ERROR
    assert all(d.verdict is Verdict.ERROR for d in outcome.decisions)  # gpu ones too: skipped on base only
    assert "head: no result for this benchmark on head" in outcome.decisions[0].reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": "xyz"}, "base must be a hex commit hash"),
        ({"head": "12"}, "head must be a hex commit hash"),
        ({"machine": "../etc"}, "machine must be a plain asv machine name"),
        ({"bench": "time_("}, "bench must be a valid regular expression"),
        ({"results_dirs": []}, "results_dirs must name at least one directory"),
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs, message):
    args = {"results_dirs": tmp_path, "machine": MACHINE, "base": BASE, "head": HEAD, **kwargs}
    with pytest.raises(ValueError, match=message):
        load_pairs(**args)


def test_machine_info_is_the_fingerprint(tmp_path):
    write_run(tmp_path, BASE, seed=1)
    info = load_machine_info(tmp_path, MACHINE)
    assert info["cpu"] == "Test CPU" and info["num_cpu"] == "2"
    assert "unreadable" in load_machine_info(tmp_path, "elsewhere")["machine.json"]


# --- reports -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "spread", "text"),
    [
        (0.0123, "s", 0.0004, "12.3 ± 0.4 ms"),
        (2.5, "s", None, "2.5 s"),
        (3.2e-7, "s", None, "320 ns"),
        (300 * 2**20, "bytes", None, "300 MiB"),
        (512.0, "MB", 1.0, "512 ± 1 MB"),
        (0.25, "", None, "0.25"),
        (math.nan, "s", None, "—"),
    ],
)
def test_format_quantity(value, unit, spread, text):
    assert format_quantity(value, unit, spread) == text


def test_markdown_report_of_a_failing_run(tmp_path):
    dirs = write_runs(tmp_path, scale=1.2, loss=0.25 * (1 + 1e-4))
    outcome = evaluate_results(dirs, MACHINE, BASE, HEAD)
    assert outcome.exit_code == EXIT_FAIL
    verdicts = {d.benchmark: d.verdict for d in outcome.decisions}
    assert verdicts[TIME] is Verdict.REGRESSED
    assert verdicts[LOSS] is Verdict.NUMERICS_CHANGED
    assert verdicts["training.Train.peakmem_train(sgd, cpu)"] is Verdict.UNCHANGED
    assert verdicts["training.Train.time_train(sgd, gpu)"] is Verdict.SKIPPED

    text = render_markdown(outcome, {"cpu": "Test CPU", "gpu": "none"})
    lines = text.splitlines()
    assert lines[0] == "## FAIL: regression, numerics changed"
    assert f"base `{BASE[:12]}` → head `{HEAD[:12]}`" in text
    row = next(line for line in lines if line.startswith(f"| `{TIME}`"))
    assert "| 30/30 |" in row and "**regressed**" in row
    numerics = next(line for line in lines if "numerics changed" in line and LOSS in line)
    assert "`0.25`" in numerics and f"`{0.25 * (1 + 1e-4)!r}`" in numerics
    assert "### Thresholds" in text and "±5 %" in text and "rel. tol. 1e-06" in text
    assert "| cpu | Test CPU |" in text
    assert "Skipped (n/a on both sides)" in text


def test_terminal_table_is_aligned(tmp_path):
    outcome = evaluate_results(write_runs(tmp_path), MACHINE, BASE, HEAD)
    assert outcome.exit_code == EXIT_PASS
    lines = render_terminal(outcome).splitlines()
    assert lines[0] == lines[-1] == "PASS"
    header = next(i for i, line in enumerate(lines) if line.startswith("benchmark"))
    verdict_column = lines[header].index("verdict")
    rows = lines[header + 2 : header + 6]
    assert all(row[verdict_column:].split()[0] in {"unchanged", "improved", "undecided"} for row in rows)
    assert any(line.startswith("unchanged: " + LOSS) for line in lines)


def test_write_report_appends_to_step_summary(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    outcome = evaluate_results(tmp_path / "nothing", MACHINE, BASE, HEAD)
    text = write_report(outcome, tmp_path / "out" / "gate.md", {"machine": MACHINE})
    assert text.startswith("## ERROR: could not measure")
    assert (tmp_path / "out" / "gate.md").read_text(encoding="utf-8") == text
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + text


# --- the command line --------------------------------------------------------------------------------


def cli_args(dirs: list[Path], base: str = BASE, head: str = HEAD) -> list[str]:
    args = ["--machine", MACHINE, "--base", base, "--head", head]
    for results_dir in dirs:
        args += ["--results", str(results_dir)]
    return args


def test_main_aa_run_passes(tmp_path, capsys):
    dirs = write_runs(tmp_path)
    report = tmp_path / "gate.md"
    assert main([*cli_args(dirs, BASE, BASE), "--report", str(report)]) == EXIT_PASS
    out = capsys.readouterr().out
    assert out.startswith("PASS\n") and f"report: {report}" in out
    assert report.read_text(encoding="utf-8").startswith("## PASS")


def test_main_too_few_samples_without_pooling_exits_2(tmp_path, capsys):
    dirs = write_runs(tmp_path, n_runs=1)
    assert main(cli_args(dirs)) == EXIT_ERROR  # one peak-memory value per side is not a sample
    assert "too few samples (1 < min_samples 5)" in capsys.readouterr().out
    assert main([*cli_args(dirs), "--bench", "time_|final_loss"]) == EXIT_PASS


def test_main_set_overrides_and_fingerprint_file(tmp_path, capsys):
    dirs = write_runs(tmp_path, scale=1.2)
    fingerprint = tmp_path / "fp.json"
    fingerprint.write_text(json.dumps({"runner": "ubuntu-24.04"}), encoding="utf-8")
    report = tmp_path / "gate.md"
    args = [
        *cli_args(dirs),
        "--set",
        "time_threshold=0.5",
        "--fingerprint",
        str(fingerprint),
        "--report",
        str(report),
    ]
    assert main(args) == EXIT_PASS  # +20 % is inside a ±50 % band
    assert "| runner | ubuntu-24.04 |" in report.read_text(encoding="utf-8")
    assert parse_config(["alpha=0.05", "min_samples=3"]) == GateConfig(alpha=0.05, min_samples=3)


@pytest.mark.parametrize(
    "argv",
    [
        ["--machine", MACHINE, "--base", BASE],  # --head missing
        ["--machine", MACHINE, "--base", "not-a-hash", "--head", HEAD],
        ["--machine", MACHINE, "--base", BASE, "--head", HEAD, "--set", "speed=1"],
        ["--machine", MACHINE, "--base", BASE, "--head", HEAD, "--set", "alpha=2"],
    ],
)
def test_main_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == EXIT_ERROR
    capsys.readouterr()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head_kwargs", "code", "headline", "expected"),
    [
        ({}, EXIT_PASS, "## PASS", "unchanged"),
        (
            {"scale": 1.2, "loss": 0.25 * (1 + 1e-4)},
            EXIT_FAIL,
            "## FAIL: regression, numerics changed",
            "0.250025",
        ),
        ({"fail_time": True}, EXIT_ERROR, "## ERROR: could not measure", "asv recorded null"),
    ],
    ids=["pass", "regression", "could-not-measure"],
)
def test_cli_subprocess_exit_codes(tmp_path, head_kwargs, code, headline, expected):
    dirs = write_runs(tmp_path / "results", **head_kwargs)
    report = tmp_path / "gate.md"
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run(
        [sys.executable, "-m", "perfharness.gate", *cli_args(dirs), "--report", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    text = report.read_text(encoding="utf-8")
    assert text.splitlines()[0] == headline
    assert expected in text
    assert proc.stdout.splitlines()[0] == headline.removeprefix("## ")


def test_parse_config_takes_paired_kinds_as_a_list():
    assert parse_config(["paired_kinds=time,memory"]).paired_kinds == ("time", "memory")
    assert parse_config(["paired_kinds="]).paired_kinds == ()
    with pytest.raises(ValueError, match="paired_kinds must be"):
        parse_config(["paired_kinds=loss"])
