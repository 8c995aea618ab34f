"""Read the samples of two commits from asv's own results files, through :mod:`perfharness.results`.

``track_*`` and ``peakmem_*`` benchmarks keep a single value per run and ``time_*`` benchmarks (run with
``--record-samples``) their per-repeat samples, so several result directories (several asv runs) can be
pooled. A failed or timed-out combination (asv's null) is a per-benchmark problem, a skipped one (NaN,
asv's n/a) is ``skipped``; asv is imported lazily, so the decision rule can be used without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from perfharness.results import (
    Combination,
    ResultsFile,
    ResultsFileError,
    Status,
    combination_name,
    load_machine,
    load_results,
    result_paths,
)

__all__ = [
    "BenchmarkPair",
    "LoadedResults",
    "ResultsError",
    "Side",
    "combination_name",
    "load_machine_info",
    "load_pairs",
]

PathLike = Union[str, "os.PathLike[str]"]

_HASH = re.compile(r"^[0-9a-f]{4,40}$")


class ResultsError(Exception):
    """The results of a commit are missing, ambiguous or unreadable: the gate could not measure."""


@dataclass(frozen=True)
class Side:
    """One commit's measurement of one benchmark combination.

    Exactly one of: usable ``values``; a ``problem`` saying why there are none; ``skipped`` (asv n/a).
    """

    values: tuple[float, ...] = ()
    problem: str | None = None
    skipped: bool = False


@dataclass(frozen=True)
class BenchmarkPair:
    """Base and head measurements of one benchmark combination, e.g. ``mod.Cls.time_x(sgd, cpu)``."""

    name: str
    base: Side
    head: Side
    problem: str | None = None


@dataclass(frozen=True)
class LoadedResults:
    """The pairs read from the results, with the full commit hashes and the environment used."""

    pairs: tuple[BenchmarkPair, ...]
    base_hash: str
    head_hash: str
    env: str
    files: tuple[str, ...] = ()


def _check_hash(what: str, commit: str) -> str:
    commit = commit.strip().lower()
    if not _HASH.match(commit):
        raise ValueError(f"{what} must be a hex commit hash of 4 to 40 characters, got {commit!r}")
    return commit


def _env_of(path: Path) -> str:
    return path.name[: -len(".json")].split("-", 1)[1]


def _candidates(machine_dir: Path, commit: str) -> list[Path]:
    """Result files whose 8-character hash prefix agrees with ``commit``."""
    return result_paths(machine_dir, commit)


def _load_file(path: Path, machine: str) -> ResultsFile:
    try:
        return load_results(path, machine)
    except ResultsFileError as exc:
        raise ResultsError(f"corrupt results file {path}: {exc.reason}") from exc


def _pick_env(dirs: dict[str, Path], machine: str, base: str, head: str, env: str | None) -> str:
    envs = {}
    for what, commit in (("base", base), ("head", head)):
        machine_dir = dirs[what] / machine
        if not machine_dir.is_dir():
            raise ResultsError(f"no results for machine {machine!r}: {machine_dir} is not a directory")
        files = _candidates(machine_dir, commit)
        if not files:
            raise ResultsError(f"no results for {what} commit {commit} in {machine_dir}")
        envs[what] = {_env_of(p) for p in files}
    if env is not None:
        return env
    common = envs["base"] & envs["head"]
    if len(common) == 1:
        return common.pop()
    if not common:
        raise ResultsError(
            f"base and head were measured in different environments "
            f"(base: {sorted(envs['base'])}, head: {sorted(envs['head'])}); pass --env"
        )
    raise ResultsError(f"several environments measured both commits ({sorted(common)}); pass --env")


def _load_commit(results_dir: Path, machine: str, commit: str, env: str, what: str) -> ResultsFile:
    from asv.results import get_filename

    machine_dir = results_dir / machine
    matches = []
    for path in _candidates(machine_dir, commit):
        hash8 = path.name.split("-", 1)[0]
        if path.name != Path(get_filename(machine, hash8, env)).name:
            continue
        results = _load_file(path, machine)
        if results.commit_hash.lower().startswith(commit):
            matches.append(results)
    if not matches:
        raise ResultsError(f"no results for {what} commit {commit} in environment {env!r} under {machine_dir}")
    if len(matches) > 1:
        names = ", ".join(r.path.name for r in matches)
        raise ResultsError(f"{what} commit {commit} is ambiguous ({names}): pass a longer hash")
    return matches[0]


def _side(row: Combination) -> Side:
    if row.problem is not None:
        return Side(problem=row.problem)
    if row.status is Status.FAILED:
        return Side(problem="no result: the benchmark failed or timed out (asv recorded null)")
    if row.status is Status.SKIPPED:
        return Side(skipped=True)
    assert row.value is not None  # MEASURED
    return Side(values=row.samples if row.samples is not None else (row.value,))


def _median_of(side: Side) -> Side:
    if not side.values:
        return side
    ordered = sorted(side.values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return Side(values=(median,))


def _read_sides(results: ResultsFile) -> dict[str, tuple[Side, object]]:
    """Combination name → (side, benchmark version) for every benchmark in one results file."""
    try:
        return {row.name: (_side(row), row.version) for row in results.combinations()}
    except ResultsFileError as exc:
        raise ResultsError(f"corrupt results file {results.path}: {exc.reason}") from exc


def _merge(a: Side, b: Side) -> Side:
    """Pool one combination's measurements from two asv runs."""
    if a.problem or b.problem:
        return Side(problem="; ".join(p for p in (a.problem, b.problem) if p))
    if a.skipped and b.skipped:
        return a
    if a.skipped or b.skipped:
        return Side(problem="n/a in some result directories but measured in others")
    return Side(values=a.values + b.values)


def load_pairs(
    results_dirs: PathLike | Sequence[PathLike],
    machine: str,
    base: str,
    head: str,
    env: str | None = None,
    bench: str | None = None,
    head_results_dirs: PathLike | Sequence[PathLike] | None = None,
    per_run: bool = False,
) -> LoadedResults:
    """Samples of ``base`` and ``head`` for every benchmark combination in asv's results.

    ``results_dirs`` is one asv results directory, or several (several runs) whose samples are pooled.
    With ``head_results_dirs``, base is read from ``results_dirs`` and head from these (one per run, in the
    same order): how an A/A run keeps the two sides of the same commit apart.
    ``per_run`` reduces each run's samples to their median before pooling: samples taken inside one
    process share its luck (CPU frequency, memory layout), so the runs are the independent unit.
    ``base`` and ``head`` are commit hashes (a prefix of at least 4 characters); they may be equal (A/A).
    ``env`` is asv's environment name, needed only when both commits were measured in several.
    ``bench`` is a regular expression searched in the combination names, like ``asv run --bench``.

    Raises :class:`ResultsError` when a commit's results are missing, ambiguous or corrupt, and
    ``ValueError`` for malformed arguments. Problems of single benchmarks (failed, timed out, missing on
    one side, versions differ) are reported per pair instead.
    """
    dirs = _paths(results_dirs)
    if not dirs:
        raise ValueError("results_dirs must name at least one directory")
    head_dirs = dirs if head_results_dirs is None else _paths(head_results_dirs)
    if len(head_dirs) != len(dirs):
        raise ValueError(f"head_results_dirs must name as many directories as results_dirs ({len(dirs)})")
    if not machine or "/" in machine or "\\" in machine or machine in (".", ".."):
        raise ValueError(f"machine must be a plain asv machine name, got {machine!r}")
    base = _check_hash("base", base)
    head = _check_hash("head", head)
    try:
        pattern = re.compile(bench) if bench is not None else None
    except re.error as exc:
        raise ValueError(f"bench must be a valid regular expression, got {bench!r}: {exc}") from exc

    env = _pick_env({"base": dirs[0], "head": head_dirs[0]}, machine, base, head, env)
    full = {"base": base, "head": head}
    env_name = env
    files: list[str] = []
    runs: list[dict[str, dict[str, tuple[Side, object]]]] = []
    for base_dir, head_dir in zip(dirs, head_dirs, strict=True):
        run: dict[str, dict[str, tuple[Side, object]]] = {}
        for what, commit, results_dir in (("base", base, base_dir), ("head", head, head_dir)):
            results = _load_commit(results_dir, machine, commit, env, what)
            full[what] = results.commit_hash
            env_name = results.env_name or env
            files.append(str(results.path))
            run[what] = _read_sides(results)
            if per_run:
                run[what] = {k: (_median_of(side), v) for k, (side, v) in run[what].items()}
        runs.append(run)

    names = sorted({name for run in runs for what in ("base", "head") for name in run[what]})
    pairs = []
    for name in names:
        if pattern is not None and not pattern.search(name):
            continue
        sides = {}
        problem = None
        for what in ("base", "head"):
            side: Side | None = None
            for results_dir, run in zip(dirs if what == "base" else head_dirs, runs, strict=True):
                if name in run[what]:
                    found = run[what][name][0]
                else:
                    found = Side(problem=f"no result for this benchmark on {what} in {results_dir}")
                side = found if side is None else _merge(side, found)
            assert side is not None  # dirs is not empty
            sides[what] = side
        for run in runs:
            if name in run["base"] and name in run["head"] and run["base"][name][1] != run["head"][name][1]:
                problem = (
                    f"benchmark version differs (base {run['base'][name][1]}, head {run['head'][name][1]}): "
                    "the benchmark itself changed, so the two are not comparable"
                )
        pairs.append(BenchmarkPair(name, sides["base"], sides["head"], problem))
    return LoadedResults(tuple(pairs), full["base"], full["head"], env_name, tuple(files))


def _paths(dirs: PathLike | Sequence[PathLike]) -> list[Path]:
    return [Path(dirs)] if isinstance(dirs, (str, os.PathLike)) else [Path(d) for d in dirs]


def load_machine_info(results_dir: PathLike, machine: str) -> dict[str, str]:
    """asv's ``<results>/<machine>/machine.json`` (os, arch, cpu, num_cpu, ram) as a fingerprint dict."""
    try:
        data = load_machine(Path(results_dir) / machine / "machine.json")
    except ResultsFileError as exc:
        return {"machine": machine, "machine.json": f"unreadable ({exc.reason})"}
    return {str(k): str(v) for k, v in data.items()}
