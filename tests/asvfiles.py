"""asv results files for tests, written with asv's own API (``Results.add_result``, ``Results.save``) as
``asv run`` writes them, with the ``benchmarks.json`` and ``machine.json`` beside them."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

from asv.machine import Machine
from asv.results import Results, get_filename
from asv.runner import BenchmarkResult

ENV = "existing-py_usr_bin_python3"
# name: (param_names, params, asv type, unit): the shape of one benchmark of a suite
Suite = dict[str, tuple[list[str], list[list[object]], str, str]]
# (benchmark, {param: value}, commit index) -> the measurement; NaN: skipped (n/a); None: failed
Measure = Callable[[str, dict[str, object], int], "float | None"]


def benchmarks_json(suite: Suite, version: str = "1") -> dict[str, dict]:
    """What ``asv run`` writes to ``benchmarks.json`` for ``suite`` (parameter values as ``repr`` text)."""
    return {
        name: {
            "name": name,
            "code": f"def {name.rsplit('.', 1)[1]}(): pass",
            "param_names": names,
            "params": [[repr(v) for v in values] for values in params],
            "type": kind,
            "unit": unit,
            "version": version,
            "timeout": 300,
        }
        for name, (names, params, kind, unit) in suite.items()
    }


def write_machine(results_dir: Path, machine: str) -> None:
    info = {"machine": machine, "os": "Linux", "arch": "x86_64", "cpu": "Test CPU", "num_cpu": "2", "ram": "8GB"}
    (results_dir / machine).mkdir(parents=True, exist_ok=True)
    (results_dir / machine / "machine.json").write_text(json.dumps({**info, "version": Machine.api_version}))


def write_results(
    results_dir: Path,
    machine: str,
    commits: list[tuple[int, str, int]],
    suite: Suite,
    measure: Measure,
    env: str = ENV,
) -> list[Path]:
    """One results file per (index, hash, date ms); a ``time`` benchmark gets three samples around its value."""
    write_machine(results_dir, machine)
    catalog = benchmarks_json(suite)
    paths = []
    for index, sha, date in commits:
        res = Results({"machine": machine, "python": "3.11"}, {}, sha, date, "3.11", env, {})
        for name, (names, params, kind, _) in suite.items():
            results, samples, numbers = [], [], []
            for combo in itertools.product(*params):
                v = measure(name, dict(zip(names, combo, strict=True)), index)
                timed = kind == "time" and v is not None and not math.isnan(v)
                results.append(v)
                samples.append([v * 0.99, v, v * 1.01] if timed and v is not None else None)
                numbers.append(1 if timed else None)
            res.add_result(catalog[name], BenchmarkResult(results, samples, numbers, 0, "", None), record_samples=True)
        res.save(str(results_dir))
        paths.append(results_dir / get_filename(machine, sha, env))
    (results_dir / "benchmarks.json").write_text(json.dumps({**catalog, "version": 2}, indent=1))
    return paths
