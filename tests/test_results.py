"""perfharness.results, the one reader, on files written with asv's own Results API."""

from __future__ import annotations

import ast
import json
import logging
import math
from pathlib import Path

import pytest

pytest.importorskip("asv")

import asvfiles
from asv.results import iter_results
from perfharness import results
from perfharness.results import (
    ResultsFileError,
    Status,
    combination_name,
    load_benchmarks,
    load_machine,
    load_results,
    plain_param,
    result_paths,
    scan_run,
)

ROOT = Path(__file__).resolve().parents[1]
C1 = "1a2b3c4d" + "0" * 32
C2 = "5e6f7a8b" + "1" * 32
SUITE: asvfiles.Suite = {
    "training.Train.time_train": (["optimizer", "device"], [["gd", "sgd"], ["cpu", "gpu"]], "time", "seconds"),
    "training.Train.track_final_loss": (["optimizer", "device"], [["gd", "sgd"], ["cpu", "gpu"]], "track", "MSE"),
    "scaling.Scaling.time_epoch": (["n_samples"], [[1024, 4096]], "time", "seconds"),
    "plain.track_answer": ([], [], "track", "unit"),
}


def measure(name: str, p: dict[str, object], commit: int) -> float | None:
    if p.get("device") == "gpu":
        return math.nan  # skipped: asv's n/a
    if name == "training.Train.time_train" and p["optimizer"] == "sgd" and commit == 1:
        return None  # failed at the second commit
    if name == "scaling.Scaling.time_epoch":
        return 1e-3 * int(str(p["n_samples"])) / 1024
    return 0.25 if name.endswith("final_loss") else 0.05 * (commit + 1)


@pytest.fixture
def written(tmp_path: Path) -> list[Path]:
    return asvfiles.write_results(tmp_path, "box", [(0, C1, 1_700_000_000_000), (1, C2, 1_700_086_400_000)],
                                  SUITE, measure)


def rows_by_name(path: Path, **kwargs: object) -> dict[str, results.Combination]:
    return {r.name: r for r in load_results(path, "box").combinations(**kwargs)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "plain"),
    [("'sgd'", "sgd"), ('"gd"', "gd"), ("1024", "1024"), ("None", "None"), ("'it\\'s'", "it's"), ("<f>", "<f>")],
)
def test_plain_param(text: str, plain: str) -> None:
    assert plain_param(text) == plain


def test_combination_names_keep_the_gate_format() -> None:
    assert combination_name("training.Train.time_train", ["'gdopt'", "'sgd'", "'cpu'"]) == (
        "training.Train.time_train(gdopt, sgd, cpu)"
    )
    assert combination_name("plain.track_answer") == "plain.track_answer"
    assert results.asv_name("a.b", ["'sgd'", "1024"]) == "a.b('sgd', 1024)"


def test_result_paths_skip_what_asv_skips(written: list[Path], tmp_path: Path) -> None:
    (tmp_path / "box" / "fingerprint.jsonl").write_text("{}\n")  # not *.json: asv never loads it
    nested = tmp_path / "box" / "old" / "deadbeef-env.json"
    nested.parent.mkdir()
    nested.write_text("{}")
    assert result_paths(tmp_path) == [*sorted(written), nested]
    assert result_paths(tmp_path / "box", C2[:6]) == [written[1]]
    assert result_paths(tmp_path / "box", C2) == [written[1]]  # a full hash matches the 8-character prefix
    assert result_paths(tmp_path / "nowhere") == []
    # the same files asv's own iterator loads (the nested one is not a results file and asv says so)
    assert {r.commit_hash for r in iter_results(str(tmp_path))} == {C1, C2}


def test_load_results_and_statuses(written: list[Path]) -> None:
    first = load_results(written[0], "box")
    assert (first.machine, first.commit_hash, first.env_name) == ("box", C1, asvfiles.ENV)
    assert first.date == 1_700_000_000_000
    assert first.params["python"] == "3.11"
    rows = rows_by_name(written[1])
    assert rows["training.Train.time_train(gd, cpu)"].status is Status.MEASURED
    gd = rows["training.Train.time_train(gd, cpu)"]
    assert gd.value == pytest.approx(0.1) and gd.samples == pytest.approx((0.099, 0.1, 0.101))
    assert gd.stats is not None and "ci_99_a" in gd.stats
    assert gd.params == ("gd", "cpu") and gd.raw_params == ("'gd'", "'cpu'") and gd.version == "1"
    assert rows["training.Train.time_train(sgd, cpu)"].status is Status.FAILED
    assert rows["training.Train.time_train(sgd, cpu)"].value is None
    skipped = rows["training.Train.time_train(gd, gpu)"]
    assert skipped.status is Status.SKIPPED and skipped.value is not None and math.isnan(skipped.value)
    loss = rows["training.Train.track_final_loss(sgd, cpu)"]
    assert (loss.value, loss.samples) == (0.25, None)
    assert rows["plain.track_answer"].value == pytest.approx(0.1) and rows["plain.track_answer"].params == ()
    assert len(rows) == 4 + 4 + 2 + 1


def test_rows_as_benchmarks_json_describes_them(written: list[Path], tmp_path: Path) -> None:
    catalog = load_benchmarks(tmp_path / "benchmarks.json")
    catalog["training.Train.track_final_loss"]["version"] = "2"  # changed since it ran: not comparable
    catalog["scaling.Scaling.time_epoch"]["params"] = [["1024", "16384"]]  # a new size, never run
    rows = rows_by_name(written[0], benchmarks=catalog)
    assert not any(n.startswith("training.Train.track_final_loss") for n in rows)
    assert rows["scaling.Scaling.time_epoch(1024)"].status is Status.MEASURED
    assert rows["scaling.Scaling.time_epoch(16384)"].status is Status.FAILED
    assert "scaling.Scaling.time_epoch(4096)" not in rows
    assert load_results(written[0]).keys(catalog) == sorted(set(catalog) - {"training.Train.track_final_loss"})


def edit(path: Path, change: object) -> None:
    data = json.loads(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))


def test_corrupt_rows_are_problems_not_guesses(written: list[Path]) -> None:
    column = json.loads(written[0].read_text())["result_columns"]
    result, samples = column.index("result"), column.index("samples")

    def corrupt(data: dict) -> None:
        data["results"]["training.Train.track_final_loss"][result] = [1.0]  # one value for four combinations
        data["results"]["training.Train.time_train"][samples][0] = ["x", 1.0]
        data["results"]["scaling.Scaling.time_epoch"][result][0] = "fast"

    edit(written[0], corrupt)
    rows = rows_by_name(written[0])
    loss = rows["training.Train.track_final_loss(gd, cpu)"]
    assert loss.status is Status.CORRUPT and loss.problem == "corrupt results: 1 values for 4 parameter combinations"
    timing = rows["training.Train.time_train(gd, cpu)"]
    assert timing.status is Status.CORRUPT and "non-numeric entries" in str(timing.problem)
    assert timing.value == pytest.approx(0.05)  # the value itself is fine; the site may still show it
    epoch = rows["scaling.Scaling.time_epoch(1024)"]
    assert epoch.value is None and epoch.problem == "corrupt result value 'fast'"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"version": 2, "commit_hash": ', "Error parsing JSON"),
        (json.dumps({"version": 2, "results": {}}), "missing key"),
        (json.dumps({"version": 99}), "newer than"),
    ],
)
def test_unloadable_files_raise_naming_the_file(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "box" / "deadbeef-env.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(ResultsFileError, match=reason) as info:
        load_results(path)
    assert info.value.path == path and str(path) in str(info.value)


def test_another_machines_file_is_refused(written: list[Path]) -> None:
    with pytest.raises(ResultsFileError, match="machine name is not 'other'"):
        load_results(written[0], "other")


def test_machine_and_benchmarks_json(written: list[Path], tmp_path: Path) -> None:
    assert load_machine(tmp_path / "box" / "machine.json")["cpu"] == "Test CPU"
    assert set(load_benchmarks(tmp_path / "benchmarks.json")) == set(SUITE)
    (tmp_path / "box" / "machine.json").write_text(json.dumps({"version": 1, "os": "Linux"}))
    with pytest.raises(ResultsFileError, match="no 'machine' name"):
        load_machine(tmp_path / "box" / "machine.json")
    (tmp_path / "benchmarks.json").write_text(json.dumps({"version": 2, "x": 1}))
    with pytest.raises(ResultsFileError, match="not benchmark descriptions"):
        load_benchmarks(tmp_path / "benchmarks.json")


def test_scan_run_selects_by_asv_names_and_names_failures(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    asvfiles.write_results(tmp_path, "gate", [(1, C2, 0)], SUITE, measure)
    selected, failed = scan_run(tmp_path, "gate", r"^training\.Train\.time_train\('(gd|sgd)', 'cpu'\)")
    assert selected == ["training.Train.time_train(gd, cpu)", "training.Train.time_train(sgd, cpu)"]
    assert failed == ["training.Train.time_train(sgd, cpu)"]
    assert scan_run(tmp_path, "gate", r"^training\.") == (
        [f"training.Train.{b}({o}, {d})" for b in ("time_train", "track_final_loss")
         for o in ("gd", "sgd") for d in ("cpu", "gpu")],
        ["training.Train.time_train(sgd, cpu)"],
    )
    (tmp_path / "gate" / "deadbeef-env.json").write_text("{truncated")
    with caplog.at_level(logging.WARNING, logger="perfharness.results"):
        assert scan_run(tmp_path, "gate", "plain")[0] == ["plain.track_answer"]
    assert "deadbeef-env.json" in caplog.text
    assert scan_run(tmp_path, "absent", ".") == ([], [])


def test_readers_use_no_private_attribute_of_asv() -> None:
    """Only asv's public API: ``obj._x`` is allowed on ``self`` (this code's own helpers) alone."""
    src = ROOT / "harness" / "src" / "perfharness"
    for path in [src / "results.py", src / "gate" / "asv_results.py", *sorted((src / "site").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                assert isinstance(node.value, ast.Name) and node.value.id == "self", (path, node.lineno, node.attr)
