"""Merge asv results directories from several machines or CI shards into one.

asv has no command for this (airspeed-velocity/asv#1362). :func:`merge_results` reads every source
through :mod:`perfharness.results` (asv's own loaders), so a file asv would reject is skipped (with a
note naming it) and nothing else is lost. Per benchmark of one commit, machine and environment, the row
that ran last (asv's ``started_at``) wins; rows that differ in value between sources are reported as
conflicts.
Every file is written to a temp file beside its target and renamed into place, so a crash never
leaves a partial file.

Example::

    python -m perfharness.site merge results shard-cpu/results shard-gpu/results
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asv.benchmarks import Benchmarks
from asv.machine import Machine
from asv.results import Results, get_filename

from perfharness.results import (
    BENCHMARKS_FILE,
    MACHINE_FILE,
    ResultsFileError,
    load_benchmarks,
    load_machine,
    load_results,
    result_paths,
)
from perfharness.site.atomic import write_atomic
from perfharness.site.fingerprints import FINGERPRINT_FILE, merge_fingerprints

__all__ = ["Conflict", "MergeError", "MergeReport", "Skipped", "merge_results"]

Row = dict[str, Any]


class MergeError(Exception):
    """Nothing sensible can be merged: a missing source, or no results at all."""


@dataclass(frozen=True)
class Skipped:
    """A file that asv's loader rejects (corrupt, truncated, wrong version)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Conflict:
    """One benchmark of one commit/machine/environment with different values in two sources."""

    machine: str
    commit_hash: str
    env_name: str
    benchmark: str
    kept: Path
    dropped: Path
    resolution: str


@dataclass
class MergeReport:
    """What :func:`merge_results` did; ``summary()`` renders it for people."""

    dest: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    results: int = 0
    duplicates: int = 0
    replaced_older: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when no file was skipped and no conflict was found."""
        return not self.skipped and not self.conflicts

    def summary(self) -> str:
        """A few lines: counts, then every conflict, skipped file and note."""
        lines = [
            f"merged {self.results} benchmark results into {self.dest}: "
            f"{len(self.written)} files written, {len(self.unchanged)} unchanged, "
            f"{self.duplicates} duplicates dropped, {self.replaced_older} older results replaced",
        ]
        lines += [
            f"conflict: {c.benchmark} @ {c.commit_hash[:8]} on {c.machine}/{c.env_name}: "
            f"kept {c.kept}, dropped {c.dropped} ({c.resolution})"
            for c in self.conflicts
        ]
        lines += [f"skipped {s.path}: {s.reason}" for s in self.skipped]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class _ResultsFile:
    """One valid results file: its raw JSON, rows by benchmark, and where it came from."""

    source: int
    path: Path
    data: dict[str, Any]
    rows: dict[str, Row]

    @property
    def machine(self) -> str:
        return str(self.data["params"]["machine"])

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.machine, str(self.data["commit_hash"]), str(self.data["env_name"]))

    def newest(self) -> float:
        return max((_started(r) for r in self.rows.values()), default=-math.inf)


def _started(row: Row) -> float:
    value = row.get("started_at")
    return float(value) if isinstance(value, (int, float)) else -math.inf


def _canon(value: Any) -> str:
    """A comparable text form (json keeps NaN and ±Infinity, which asv writes)."""
    return json.dumps(value, sort_keys=True)


def _load_results(path: Path, source: int) -> _ResultsFile:
    """One results file that asv's loader accepts, as its raw rows (merge rewrites every column)."""
    data = load_results(path).document
    columns = data["result_columns"]
    rows = {name: dict(zip(columns, values, strict=False)) for name, values in data["results"].items()}
    return _ResultsFile(source, path, data, rows)


def _write_json_atomic(path: Path, data: dict[str, Any], compact: bool) -> bool:
    """Write ``data`` as asv would; return False (and write nothing) if the file already holds it."""
    if path.is_file():
        try:
            if _canon(json.loads(path.read_text(encoding="utf-8"))) == _canon(data):
                return False
        except (ValueError, OSError):
            pass  # a corrupt target is replaced by the merged, valid content
    text = json.dumps(data) if compact else json.dumps(data, indent=4, sort_keys=True)
    write_atomic(path, text.encode("utf-8"))
    return True


def _merge_rows(files: list[_ResultsFile], report: MergeReport) -> dict[str, Row]:
    """Pick one row per benchmark: newest ``started_at``, a later source on a tie."""
    candidates: dict[str, list[tuple[_ResultsFile, Row]]] = {}
    for f in files:
        for name, row in f.rows.items():
            candidates.setdefault(name, []).append((f, row))
    merged: dict[str, Row] = {}
    for name, rows in candidates.items():
        rows.sort(key=lambda fr: (_started(fr[1]), fr[0].source))
        win_file, win_row = rows[-1]
        for f, row in rows[:-1]:
            if _canon(row) == _canon(win_row):
                report.duplicates += 1
                continue
            older = _started(row) < _started(win_row)
            report.replaced_older += older
            if _canon(row.get("result")) != _canon(win_row.get("result")):
                machine, commit, env = win_file.key
                resolution = "kept the newer run" if older else "same started_at; kept the later source"
                report.conflicts.append(Conflict(machine, commit, env, name, win_file.path, f.path, resolution))
        merged[name] = win_row
    return merged


def _results_document(files: list[_ResultsFile], rows: dict[str, Row]) -> dict[str, Any]:
    """One asv results file from the merged rows; file-level fields from the newest file."""
    newest = max(files, key=lambda f: (f.newest(), f.source))
    columns = list(newest.data["result_columns"])
    for f in files:
        columns += [c for c in f.data["result_columns"] if c not in columns]
    durations: dict[str, Any] = {}
    for f in sorted(files, key=lambda f: (f.newest(), f.source)):
        durations.update(f.data.get("durations") or {})
    table = {}
    for name in sorted(rows):
        values = [rows[name].get(c) for c in columns]
        while values and values[-1] is None:
            values.pop()  # asv trims trailing empty columns the same way
        table[name] = values
    doc = {k: v for k, v in newest.data.items() if k not in {"result_columns", "results", "durations"}}
    doc.update(result_columns=columns, results=table, durations=durations, version=Results.api_version)
    return doc


def _pick_newest(candidates: list[tuple[float, int, Path, dict]]) -> tuple[Path, dict, bool]:
    """Newest by (time, source); also say whether the candidates disagree."""
    candidates.sort(key=lambda c: (c[0], c[1]))
    _, _, path, data = candidates[-1]
    return path, data, len({_canon(c[3]) for c in candidates}) > 1


def merge_results(sources: list[Path], dest: Path) -> MergeReport:
    """Merge asv results directories ``sources`` into ``dest`` and say what happened.

    ``dest``'s own results take part as the oldest source, so an older shard never overwrites a newer
    committed result. Raises :class:`MergeError` if a source is missing or holds no results file.
    """
    dest = Path(dest)
    report = MergeReport(dest)
    roots = [Path(s) for s in sources]
    for root in roots:
        if not root.is_dir():
            raise MergeError(f"{root} is not a directory of asv results")
    if dest.is_dir() and dest.resolve() not in {r.resolve() for r in roots}:
        roots.insert(0, dest)
    explicit = {Path(s).resolve() for s in sources}

    results: list[_ResultsFile] = []
    machines: dict[str, list[tuple[int, Path, dict]]] = {}
    benchmarks: list[tuple[int, Path, dict]] = []
    for index, root in enumerate(roots):
        for path in sorted(root.rglob(BENCHMARKS_FILE)):
            try:
                benchmarks.append((index, path, load_benchmarks(path)))
            except ResultsFileError as exc:
                report.skipped.append(Skipped(path, exc.reason))
        for path in sorted(root.rglob(MACHINE_FILE)):
            try:
                data = load_machine(path)
                machines.setdefault(data["machine"], []).append((index, path, data))
            except ResultsFileError as exc:
                report.skipped.append(Skipped(path, exc.reason))
        paths = result_paths(root)
        for path in paths:
            try:
                results.append(_load_results(path, index))
            except ResultsFileError as exc:
                report.skipped.append(Skipped(path, exc.reason))
        if not paths and root.resolve() in explicit:
            raise MergeError(
                f"{root} holds no asv results files (expected <machine>/machine.json and <machine>/<commit>-<env>.json)"
            )
    # Results: one output file per (machine, commit, environment).
    groups: dict[tuple[str, str, str], list[_ResultsFile]] = {}
    for f in results:
        groups.setdefault(f.key, []).append(f)
    newest_by_machine: dict[tuple[int, str], float] = {}
    newest_by_bench: dict[tuple[int, str], float] = {}
    for (machine, commit, env), files in sorted(groups.items()):
        rows = _merge_rows(files, report)
        report.results += len(rows)
        target = dest / get_filename(machine, commit, env)
        _record(report, target, _write_json_atomic(target, _results_document(files, rows), True))
        for f in files:
            key = (f.source, machine)
            newest_by_machine[key] = max(newest_by_machine.get(key, -math.inf), f.newest())
            for name, row in f.rows.items():
                bkey = (f.source, name)
                newest_by_bench[bkey] = max(newest_by_bench.get(bkey, -math.inf), _started(row))

    # machine.json: the description from the source with the newest results on that machine.
    for machine in sorted({f.machine for f in results} | set(machines)):
        cands = [(newest_by_machine.get((i, machine), -math.inf), i, p, d) for i, p, d in machines.get(machine, [])]
        if cands:
            path, data, differ = _pick_newest(cands)
            if differ:
                report.notes.append(f"machine.json for {machine!r} differs between sources; kept {path}")
        else:
            params = next(f.data["params"] for f in results if f.machine == machine)
            data = {k: params[k] for k, _ in Machine.fields if k in params}
            report.notes.append(f"no valid machine.json for {machine!r}; rebuilt it from its results' params")
        target = dest / machine / "machine.json"
        _record(report, target, _write_json_atomic(target, {**data, "version": Machine.api_version}, False))

    # fingerprint.jsonl (GPU model, driver, CUDA…; asv's machine.json has none): the union of the records.
    for machine in sorted({f.machine for f in results} | set(machines)):
        prints = [root / machine / FINGERPRINT_FILE for root in roots if (root / machine / FINGERPRINT_FILE).is_file()]
        if prints:
            target = dest / machine / FINGERPRINT_FILE
            _record(report, target, merge_fingerprints(prints, target))

    # benchmarks.json: each benchmark's description from the source that ran it last.
    if benchmarks:
        merged: dict[str, dict] = {}
        changed = []
        for name in sorted({n for _, _, d in benchmarks for n in d}):
            cands = [(newest_by_bench.get((i, name), -math.inf), i, p, d[name]) for i, p, d in benchmarks if name in d]
            _, merged[name], differ = _pick_newest(cands)
            if differ:
                changed.append(name)
        if changed:
            report.notes.append(
                f"benchmarks.json: {len(changed)} benchmark definitions differ between sources "
                f"(e.g. {changed[0]!r}); kept each from the source that ran it last"
            )
        target = dest / "benchmarks.json"
        doc = {**merged, "version": Benchmarks.api_version}
        _record(report, target, _write_json_atomic(target, doc, False))
    else:
        report.notes.append("no valid benchmarks.json in any source; `asv publish` needs one")
    return report


def _record(report: MergeReport, path: Path, written: bool) -> None:
    (report.written if written else report.unchanged).append(path)
