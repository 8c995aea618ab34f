"""perfharness.site.merge: shards written by asv's own Results API, merged and read back with asv's loaders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

asv_results = pytest.importorskip("asv.results")
from asv import util as asv_util  # noqa: E402
from asv.machine import Machine  # noqa: E402
from asv.runner import BenchmarkResult  # noqa: E402
from perfharness.site import atomic  # noqa: E402
from perfharness.site.__main__ import main  # noqa: E402
from perfharness.site.merge import MergeError, merge_results  # noqa: E402

C1 = "1111111111111111111111111111111111111111"
C2 = "2222222222222222222222222222222222222222"
ENV = "existing-py3.11"
T_OLD, T_NEW = 1_700_000_000, 1_700_000_600  # seconds; asv stores started_at in ms


def write_machine(root: Path, machine: str, **extra: str) -> None:
    info = {"machine": machine, "os": "Linux", "arch": "x86_64", "cpu": "test", "num_cpu": "2", "ram": "24GB"}
    asv_util.write_json(str(root / machine / "machine.json"), {**info, **extra}, Machine.api_version)


def write_results(
    root: Path, machine: str, commit: str, rows: dict[str, tuple[float, int]], machine_json: bool = True
) -> Path:
    """One asv results file through asv's own writer: rows are name -> (value, started_at seconds)."""
    params = {"machine": machine, "python": "3.11", "os": "Linux", "arch": "x86_64", "cpu": "test"}
    res = asv_results.Results(params, {}, commit, 1_690_000_000_000, "3.11", ENV, {})
    for name, (value, started) in rows.items():
        bench = {"name": name, "version": "v1", "params": []}
        outcome = BenchmarkResult(result=[value], samples=[None], number=[None], errcode=0, stderr="", profile=None)
        res.add_result(bench, outcome, started_at=dt.datetime.fromtimestamp(started, tz=dt.timezone.utc))
    res.save(str(root))
    if machine_json:
        write_machine(root, machine)
    return root / asv_results.get_filename(machine, commit, ENV)


def write_benchmarks(root: Path, names: list[str], code: str = "pass") -> None:
    doc = {n: {"name": n, "version": "v1", "params": [], "type": "track", "unit": "unit", "code": code} for n in names}
    asv_util.write_json(str(root / "benchmarks.json"), doc, 2)


def read_all(root: Path) -> dict[tuple[str, str, str], Any]:
    """(machine, commit, benchmark) -> value, read with asv's own results iterator."""
    out = {}
    for res in asv_results.iter_results(str(root)):
        for name in res.get_all_result_keys():
            out[(res.params["machine"], res.commit_hash, name)] = res.get_result_value(name, [])[0]
    return out


@pytest.fixture
def shards(tmp_path: Path) -> tuple[Path, Path]:
    """Two CI shards: overlapping (x newer in b, w identical) and disjoint (y, z, commit C2, machine m2)."""
    a, b = tmp_path / "a", tmp_path / "b"
    write_results(a, "m1", C1, {"x": (1.0, T_OLD), "y": (2.0, T_OLD), "w": (9.0, T_OLD)})
    write_results(a, "m1", C2, {"x": (1.1, T_OLD)})
    write_results(b, "m1", C1, {"x": (1.5, T_NEW), "z": (3.0, T_NEW), "w": (9.0, T_OLD)})
    write_results(b, "m2", C1, {"x": (7.0, T_NEW)})
    write_benchmarks(a, ["x", "y", "w"])
    write_benchmarks(b, ["x", "z", "w"])
    return a, b


EXPECTED = {
    ("m1", C1, "x"): 1.5,
    ("m1", C1, "y"): 2.0,
    ("m1", C1, "z"): 3.0,
    ("m1", C1, "w"): 9.0,
    ("m1", C2, "x"): 1.1,
    ("m2", C1, "x"): 7.0,
}


def test_merge_keeps_everything_and_newer_wins(shards: tuple[Path, Path], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    report = merge_results(list(shards), dest)
    assert read_all(dest) == EXPECTED
    assert report.results == len(EXPECTED)
    assert report.duplicates == 1  # w: identical row in both shards
    assert report.replaced_older == 1  # x on m1/C1
    [conflict] = report.conflicts
    assert (conflict.machine, conflict.commit_hash, conflict.benchmark) == ("m1", C1, "x")
    assert conflict.kept.is_relative_to(shards[1]) and conflict.dropped.is_relative_to(shards[0])
    assert "newer" in conflict.resolution
    assert set(json.loads((dest / "benchmarks.json").read_text())) == {"x", "y", "z", "w", "version"}
    assert {p.parent.name for p in dest.glob("*/machine.json")} == {"m1", "m2"}
    assert not list(dest.rglob("*.tmp"))


def test_source_order_does_not_decide(shards: tuple[Path, Path], tmp_path: Path) -> None:
    merge_results([shards[1], shards[0]], tmp_path / "out")
    assert read_all(tmp_path / "out") == EXPECTED


def test_existing_newer_result_in_dest_is_not_overwritten(shards: tuple[Path, Path], tmp_path: Path) -> None:
    dest = tmp_path / "committed"
    write_results(dest, "m1", C1, {"x": (5.0, T_NEW + 60)})
    report = merge_results(list(shards), dest)
    assert read_all(dest)[("m1", C1, "x")] == 5.0
    assert all(c.kept.is_relative_to(dest) for c in report.conflicts)


def test_same_start_time_different_value_is_a_conflict(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_results(a, "m1", C1, {"x": (1.0, T_OLD)})
    write_results(b, "m1", C1, {"x": (2.0, T_OLD)})
    report = merge_results([a, b], tmp_path / "out")
    [conflict] = report.conflicts
    assert "same started_at" in conflict.resolution
    assert read_all(tmp_path / "out")[("m1", C1, "x")] == 2.0  # the later source, as documented


def test_corrupt_and_truncated_files_are_skipped_and_nothing_else_lost(
    shards: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = shards
    corrupt = a / "m1" / "deadbeef-existing-py3.11.json"
    corrupt.write_text("this is not json {", encoding="utf-8")
    full = write_results(tmp_path / "c", "m3", C1, {"q": (4.0, T_NEW)})
    truncated = b / "m1" / "cafebabe-existing-py3.11.json"
    truncated.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    wrong_version = b / "m2" / "0badf00d-existing-py3.11.json"
    wrong_version.write_text(json.dumps({"version": 99}), encoding="utf-8")

    report = merge_results([a, b], tmp_path / "out")
    assert {s.path for s in report.skipped} == {corrupt, truncated, wrong_version}
    assert all("not a valid asv results file" in s.reason for s in report.skipped)
    assert str(corrupt) in report.summary() and str(truncated) in report.summary()
    assert read_all(tmp_path / "out") == EXPECTED
    assert not report.clean


def test_empty_or_missing_source_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MergeError, match=r"holds no asv results files"):
        merge_results([empty], tmp_path / "out")
    with pytest.raises(MergeError, match=r"not a directory"):
        merge_results([tmp_path / "missing"], tmp_path / "out")
    assert main(["merge", str(tmp_path / "out"), str(empty)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "holds no asv results files" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_crash_while_writing_leaves_no_partial_file(
    shards: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "committed"
    old = write_results(dest, "m1", C1, {"x": (0.5, T_OLD - 60)})
    before = old.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        merge_results(list(shards), dest)
    assert old.read_bytes() == before
    assert not [p for p in dest.rglob("*") if p.name.endswith(".tmp")]


def test_merging_again_changes_nothing(shards: tuple[Path, Path], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    merge_results(list(shards), dest)
    again = merge_results(list(shards), dest)
    assert again.written == [] and len(again.unchanged) == 6  # 3 results files, 2 machine.json, benchmarks.json
    assert (dest / "benchmarks.json") in again.unchanged


def test_machine_json_differences_and_gaps(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_results(a, "m1", C1, {"x": (1.0, T_OLD)})
    write_results(b, "m1", C1, {"y": (1.0, T_NEW)}, machine_json=False)
    write_machine(b, "m1", ram="48GB")
    write_results(b, "m9", C1, {"x": (1.0, T_NEW)}, machine_json=False)
    report = merge_results([a, b], tmp_path / "out")
    assert asv_util.load_json(str(tmp_path / "out" / "m1" / "machine.json"), 1)["ram"] == "48GB"
    rebuilt = asv_util.load_json(str(tmp_path / "out" / "m9" / "machine.json"), 1)
    assert rebuilt["machine"] == "m9" and rebuilt["arch"] == "x86_64"
    assert any("differs" in n for n in report.notes) and any("rebuilt" in n for n in report.notes)


def test_benchmark_definition_comes_from_the_newest_run(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_results(a, "m1", C1, {"x": (1.0, T_NEW)})
    write_benchmarks(a, ["x"], code="new")
    write_results(b, "m1", C2, {"x": (1.0, T_OLD)})
    write_benchmarks(b, ["x"], code="old")
    merge_results([a, b], tmp_path / "out")
    assert json.loads((tmp_path / "out" / "benchmarks.json").read_text())["x"]["code"] == "new"


def test_cli_reports_and_strict_fails_on_conflicts(
    shards: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["merge", str(tmp_path / "out"), *map(str, shards)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "merged 6 benchmark results" in out and "conflict: x" in out
    assert main([*args, "--strict"]) == 1
