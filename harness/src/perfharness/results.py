"""The one reader of asv's results files: the gate, the site and merge all read through it.

asv 0.6.6 writes one file per (machine, commit, environment), ``<results>/<machine>/<hash8>-<env>.json``,
beside ``<results>/<machine>/machine.json`` and ``<results>/benchmarks.json``. A benchmark's row holds one
entry per parameter combination (the cartesian product of its ``params``, stored as ``repr`` text):

- the value: a number; ``None`` when the benchmark failed or timed out (asv's ``null``); NaN when it was
  skipped (``setup`` raised ``NotImplementedError``; asv shows n/a);
- the samples: per-repeat timings, for ``time_*`` benchmarks run with ``--record-samples``, else ``None``.

Everything is read with asv's own API (:meth:`asv.results.Results.load` and its getters,
:func:`asv.util.load_json`), never its private attributes. asv is imported lazily, so the gate's decision
rule can be imported without it.

>>> combination_name("training.Train.time_train", ["'gdopt'", "'sgd'", "'cpu'"])
'training.Train.time_train(gdopt, sgd, cpu)'
"""

from __future__ import annotations

import ast
import enum
import itertools
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Union

__all__ = [
    "BENCHMARKS_FILE",
    "MACHINE_FILE",
    "NOT_RESULTS",
    "Combination",
    "ResultsFile",
    "ResultsFileError",
    "Status",
    "asv_name",
    "combination_name",
    "load_benchmarks",
    "load_machine",
    "load_results",
    "plain_param",
    "result_paths",
    "scan_run",
]

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
Benchmarks = Mapping[str, Mapping[str, Any]]  # benchmarks.json: name → description (params, unit, version…)

MACHINE_FILE = "machine.json"
BENCHMARKS_FILE = "benchmarks.json"
# The files beside the results that are not results: asv's own skip set (asv.results.iter_results_paths).
NOT_RESULTS = frozenset({MACHINE_FILE, BENCHMARKS_FILE})


class ResultsFileError(Exception):
    """asv cannot read a file: corrupt, truncated, another format version, or not what its name says."""

    def __init__(self, path: PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class Status(enum.Enum):
    """What asv recorded for one combination."""

    MEASURED = "measured"
    FAILED = "failed"  # asv's null: the benchmark raised or timed out
    SKIPPED = "n/a"  # asv's NaN: setup raised NotImplementedError (a GPU case on a CPU box)
    CORRUPT = "corrupt"  # the file holds something asv never writes


def plain_param(text: str) -> str:
    """A parameter value as people wrote it: asv stores ``repr`` text, so ``'sgd'`` shows as ``sgd``.

    Anything that is not a string literal (numbers, ``None``) is shown as asv wrote it.
    """
    if not isinstance(text, str):
        return str(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return value if isinstance(value, str) else text


def combination_name(benchmark: str, params: Sequence[str] = ()) -> str:
    """The name of one parameter combination, ``params`` as asv stores them (``repr`` text).

    >>> combination_name("scaling.Scaling.time_epoch", ["1024", "10"])
    'scaling.Scaling.time_epoch(1024, 10)'
    """
    if not params:
        return benchmark
    return f"{benchmark}({', '.join(plain_param(p) for p in params)})"


def asv_name(benchmark: str, params: Sequence[str] = ()) -> str:
    """asv's own name of a combination (``mod.Cls.time_x('sgd', 'cpu')``): what ``asv run --bench`` matches."""
    return f"{benchmark}({', '.join(params)})" if params else benchmark


@dataclass(frozen=True)
class Combination:
    """One parameter combination of one benchmark in one results file."""

    benchmark: str
    raw_params: tuple[str, ...]  # as asv stores them: ``repr`` text
    value: float | None  # None: failed, timed out or corrupt; NaN: n/a
    samples: tuple[float, ...] | None = None
    stats: Mapping[str, Any] | None = None  # asv's statistics (ci_99_a, q_25, …), for its weights
    version: object = None  # the benchmark's version when it ran
    problem: str | None = None  # why the entry is unusable, when the file holds something asv never writes

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(plain_param(p) for p in self.raw_params)

    @property
    def name(self) -> str:
        return combination_name(self.benchmark, self.raw_params)

    @property
    def asv_name(self) -> str:
        return asv_name(self.benchmark, self.raw_params)

    @property
    def status(self) -> Status:
        if self.problem is not None:
            return Status.CORRUPT
        if self.value is None:
            return Status.FAILED
        return Status.SKIPPED if math.isnan(self.value) else Status.MEASURED


def _combination(benchmark: str, combo: Sequence[str], value: object, samples: object, stats: object,
                 version: object) -> Combination:
    """Check one entry as asv would have written it; anything else becomes a ``problem``."""
    row: dict[str, Any] = {"benchmark": benchmark, "raw_params": tuple(combo), "version": version,
           "stats": stats if isinstance(stats, Mapping) else None}
    if value is None:
        return Combination(value=None, **row)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Combination(value=None, problem=f"corrupt result value {value!r}", **row)
    if math.isnan(value) or samples is None:
        return Combination(value=float(value), **row)
    if not isinstance(samples, list):
        problem = f"corrupt samples {samples!r}"
    elif not samples:
        problem = "empty samples"
    elif any(isinstance(s, bool) or not isinstance(s, (int, float)) for s in samples):
        problem = f"corrupt samples: non-numeric entries in {samples!r}"
    else:
        return Combination(value=float(value), samples=tuple(float(s) for s in samples), **row)
    return Combination(value=float(value), problem=problem, **row)


@dataclass(frozen=True, eq=False)  # identity: one file
class ResultsFile:
    """One asv results file: a commit measured on a machine in an environment."""

    path: Path
    results: Any  # asv.results.Results, as asv's loader returned it

    @property
    def machine(self) -> str:
        return str(self.results.params["machine"])

    @property
    def params(self) -> Mapping[str, Any]:
        """What asv recorded about the machine and environment (machine, python, arch, …)."""
        return dict(self.results.params)

    @property
    def commit_hash(self) -> str:
        return str(self.results.commit_hash)

    @property
    def env_name(self) -> str:
        return str(self.results.env_name)

    @property
    def date(self) -> int:
        """The commit's date in JavaScript milliseconds, as asv stores it; 0 when unknown."""
        return int(self.results.date) if self.results.date is not None else 0

    @cached_property
    def document(self) -> dict[str, Any]:
        """The file as JSON (its ``version`` checked and dropped by asv): merge rewrites it row by row."""
        from asv.results import Results
        from asv.util import load_json

        try:
            return dict(load_json(str(self.path), api_version=Results.api_version))
        except Exception as exc:  # changed on disk since asv's loader read it
            raise ResultsFileError(self.path, f"not a valid asv results file: {exc}") from exc

    def keys(self, benchmarks: Benchmarks | None = None) -> list[str]:
        """The benchmarks stored; with ``benchmarks``, those it describes at the version stored."""
        if benchmarks is None:
            return sorted(self.results.get_all_result_keys())
        return sorted(self.results.get_result_keys(benchmarks))

    def combinations(self, benchmarks: Benchmarks | None = None) -> Iterator[Combination]:
        """One :class:`Combination` per parameter combination, benchmarks by name.

        Without ``benchmarks``, every stored benchmark over the parameters it ran with; with ``benchmarks``
        (``benchmarks.json``), those at its version, mapped onto the parameters it describes, as
        ``asv publish`` maps them. Raises :class:`ResultsFileError` when a row cannot be read.
        """
        for key in self.keys(benchmarks):
            try:
                yield from self._rows(key, benchmarks)
            except ResultsFileError:
                raise
            except Exception as exc:  # a hand-edited row can break asv's getters in any way
                raise ResultsFileError(self.path, f"unreadable row {key!r}: {exc!r}") from exc

    def _rows(self, key: str, benchmarks: Benchmarks | None) -> list[Combination]:
        stored = self.results.get_result_params(key) or []
        params = stored if benchmarks is None else (benchmarks[key].get("params") or [])
        combos = list(itertools.product(*params))
        values = self.results.get_result_value(key, params)
        samples = self.results.get_result_samples(key, params)
        stats = self.results.get_result_stats(key, params)
        version = self.results.benchmark_version.get(key)
        if benchmarks is None:
            count = self._stored_count(key)
            if count is not None and count != len(combos):  # asv's getters would silently pad or drop
                problem = f"corrupt results: {count} values for {len(combos)} parameter combinations"
                return [Combination(key, tuple(c), None, version=version, problem=problem) for c in combos]
        return [_combination(key, c, v, s, st, version)
                for c, v, s, st in zip(combos, values, samples, stats, strict=True)]

    def _stored_count(self, key: str) -> int | None:
        """How many values the file holds for ``key``; None when it holds none (a failed build)."""
        row = self.document["results"].get(key) or []
        columns = list(self.document.get("result_columns") or [])
        at = columns.index("result") if "result" in columns else len(row)
        raw = row[at] if at < len(row) else None  # asv trims trailing empty columns
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise ResultsFileError(self.path, f"row {key!r}: result is {raw!r}, not a list")
        return len(raw)


def result_paths(directory: PathLike, commit: str | None = None) -> list[Path]:
    """Every asv results file below ``directory``, found as asv finds them (``*.json`` but the skip set).

    ``commit``: a hash or a prefix of one; only the files whose 8-character hash prefix agrees.
    """
    found = []
    for root, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(".json") or name in NOT_RESULTS:
                continue
            if commit is not None and ("-" not in name or name.split("-", 1)[0][: len(commit)] != commit[:8]):
                continue
            found.append(Path(root) / name)
    return found


def load_results(path: PathLike, machine: str | None = None) -> ResultsFile:
    """One results file through asv's loader; with ``machine``, asv also checks it is that machine's."""
    from asv.results import Results

    try:
        results = Results.load(str(path), machine_name=machine)
        if not isinstance(results.params.get("machine"), str):
            raise ValueError("malformed 'params.machine'")
    except Exception as exc:  # asv raises UserError, but a hand-edited file can raise anything
        raise ResultsFileError(path, f"not a valid asv results file: {exc}") from exc
    return ResultsFile(Path(path), results)


def load_machine(path: PathLike) -> dict[str, Any]:
    """asv's ``machine.json`` (machine, os, arch, cpu, num_cpu, ram); its ``version`` checked and dropped."""
    from asv.machine import Machine
    from asv.util import load_json

    try:
        data = load_json(str(path), api_version=Machine.api_version)
        if not isinstance(data, dict) or not isinstance(data.get("machine"), str):
            raise ValueError("no 'machine' name")
    except Exception as exc:  # see load_results
        raise ResultsFileError(path, f"not a valid asv machine.json ({exc})") from exc
    return dict(data)


def load_benchmarks(path: PathLike) -> dict[str, dict[str, Any]]:
    """asv's ``benchmarks.json``: every benchmark's description (params, param_names, unit, version)."""
    from asv.benchmarks import Benchmarks as AsvBenchmarks
    from asv.util import load_json

    try:
        data = load_json(str(path), api_version=AsvBenchmarks.api_version)
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError("entries are not benchmark descriptions")
    except Exception as exc:  # see load_results
        raise ResultsFileError(path, f"not a readable asv benchmarks.json: {exc}") from exc
    return dict(data)


def scan_run(results_dir: PathLike, machine: str, selection_regex: str) -> tuple[list[str], list[str]]:
    """What one ``asv run`` recorded for ``machine``: the combinations ``selection_regex`` selects, by
    :func:`combination_name`, and those of them with no usable result (failed or timed out: asv's null).

    The regex is searched in asv's own names (:func:`asv_name`), as ``asv run --bench`` matches them. A file
    asv cannot load is skipped with a warning, as :func:`asv.results.iter_results` skips it.
    """
    pattern = re.compile(selection_regex)
    selected: list[str] = []
    failed: list[str] = []
    for path in result_paths(Path(results_dir) / machine):
        try:
            rows = list(load_results(path, machine).combinations())
        except ResultsFileError as exc:
            log.warning("skipped %s", exc)
            continue
        for row in rows:
            if pattern.search(row.asv_name):
                selected.append(row.name)
                if row.status in (Status.FAILED, Status.CORRUPT):
                    failed.append(row.name)
    return selected, failed
