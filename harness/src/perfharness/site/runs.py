"""The summary's reading of asv's results (through :mod:`perfharness.results`): every run, grouped into
sections of one machine and environment, oldest commit first.

A directory's results count only beside a valid ``machine.json``, as ``asv publish`` counts them; a file asv
cannot load is skipped, logged and listed (the page names it).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from perfharness.results import (
    BENCHMARKS_FILE,
    MACHINE_FILE,
    Combination,
    ResultsFile,
    ResultsFileError,
    load_benchmarks,
    load_machine,
    load_results,
    plain_param,
    result_paths,
)
from perfharness.site.fingerprints import read_fingerprint

__all__ = ["Catalog", "Combo", "Run", "Section", "git_order", "load_catalog", "load_runs", "sections"]

log = logging.getLogger(__name__)

Combo = tuple[str, ...]  # parameter values of one benchmark case, as plain text ("gd", "cpu", "4096")


@dataclass(frozen=True)
class Catalog:
    """benchmarks.json: parameter names, plain parameter values and units of every benchmark."""

    raw: dict[str, dict[str, Any]]

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.raw if n.startswith(prefix))

    def param_names(self, name: str) -> list[str]:
        return list(self.raw[name].get("param_names") or [])

    def combos(self, name: str) -> list[Combo]:
        params = self.raw[name].get("params") or []
        return [tuple(plain_param(p) for p in combo) for combo in itertools.product(*params)]

    def unit(self, name: str) -> str:
        return str(self.raw[name].get("unit") or "")


@dataclass(frozen=True, eq=False)  # identity: a run is one file
class Run:
    """One results file, its rows as benchmarks.json describes them (benchmarks at their current version)."""

    file: ResultsFile
    rows: tuple[Combination, ...]

    @property
    def machine(self) -> str:
        return self.file.machine

    @property
    def env_name(self) -> str:
        return self.file.env_name

    @property
    def commit_hash(self) -> str:
        return self.file.commit_hash

    @property
    def date(self) -> int:
        return self.file.date

    @cached_property
    def benchmarks(self) -> frozenset[str]:
        return frozenset(row.benchmark for row in self.rows)


@dataclass
class Section:
    """The runs of one machine and environment, oldest commit first."""

    machine: str
    env_name: str
    runs: list[Run]
    machine_info: dict[str, Any]
    fingerprint: dict[str, Any] | None
    order_note: str

    @property
    def latest(self) -> Run:
        return self.runs[-1]

    @property
    def previous(self) -> Run | None:
        return self.runs[-2] if len(self.runs) > 1 else None

    @property
    def slug(self) -> str:
        digest = hashlib.sha1(f"{self.machine}\0{self.env_name}".encode()).hexdigest()[:8]
        return f"{re.sub(r'[^A-Za-z0-9]+', '-', self.machine).strip('-')[:40]}-{digest}"


def load_catalog(results_dir: Path) -> Catalog:
    """``results_dir/benchmarks.json``; :class:`~perfharness.results.ResultsFileError` if unreadable."""
    return Catalog(load_benchmarks(results_dir / BENCHMARKS_FILE))


def load_runs(results_dir: Path, catalog: Catalog, skipped: list[str]) -> tuple[list[Run], dict[str, dict]]:
    """Every valid results file below ``results_dir`` and the machines' descriptions; ``skipped`` gets the rest."""
    runs: list[Run] = []
    machines: dict[str, dict] = {}
    for directory, group in itertools.groupby(result_paths(results_dir), key=lambda p: p.parent):
        machine_json = directory / MACHINE_FILE
        if not machine_json.is_file():
            _skip(skipped, directory, f"no {MACHINE_FILE} beside its results; they are not shown")
            continue
        try:
            info = load_machine(machine_json)
        except ResultsFileError as exc:
            _skip(skipped, machine_json, f"{exc.reason}; its results are not shown")
            continue
        machine = info["machine"]
        machines[machine] = info
        for path in group:
            try:
                file = load_results(path, machine)
                runs.append(Run(file, tuple(file.combinations(catalog.raw))))
            except ResultsFileError as exc:
                _skip(skipped, path, exc.reason)
    return runs, machines


def _skip(skipped: list[str], path: Path, reason: str) -> None:
    log.warning("skipped %s: %s", path, reason)
    skipped.append(f"{path}: {reason}")


def git_order(repo_dir: Path | None) -> dict[str, int] | None:
    """Position of every commit in ``repo_dir``'s history, oldest first; None when git cannot tell."""
    if repo_dir is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(repo_dir), "rev-list", "--topo-order", "--reverse", "--all"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("commits ordered by date: git history of %s unreadable (%s)", repo_dir, exc)
        return None
    return {sha: i for i, sha in enumerate(out.split())}


def sections(
    runs: list[Run], machines: dict[str, dict], results_dir: Path, order: dict[str, int] | None
) -> list[Section]:
    """The runs grouped by (machine, environment), each group in ``order`` (git's) or else by commit date."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.machine, run.env_name), []).append(run)
    found = []
    for (machine, env), group in sorted(groups.items()):
        missing = [r.commit_hash[:8] for r in group if order is not None and r.commit_hash not in order]
        if order is not None and not missing:
            group.sort(key=lambda r: order[r.commit_hash])
            note = "commits in git history order"
        else:
            group.sort(key=lambda r: (r.date, r.commit_hash))
            note = "commits in commit-date order"
            if missing:
                note += f" ({len(missing)} not in the git history given, e.g. {missing[0]})"
        found.append(
            Section(machine, env, group, machines.get(machine, {}), read_fingerprint(results_dir, machine), note)
        )
    return found
