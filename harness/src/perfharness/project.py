"""The measured project's knobs, in one place: the ``[tool.perfharness]`` table of its ``pyproject.toml``.

The harness knows nothing else about the project it measures. Every key has a default, so a project
without the table still runs (asv's own configuration says where the suites and results are)::

    [tool.perfharness]
    name = "gdopt"                       # labels: the site's title, the report's heading
    machine_env = "GDOPT_MACHINE"        # the variable that names a host's asv machine
    watched = ["gdopt", "benchmarks"]    # what, uncommitted, would change what is measured
    env = { TF_CPP_MIN_LOG_LEVEL = "2" } # set for every asv run

    [tool.perfharness.gate]
    bench = '^gate\\.'                   # the gate's asv selection (regex)
    between_run_sd = { "gate.Gate.time_x(a)" = 0.007 }  # per-run offsets its interval covers, any runner
    bands = { "gate.Gate.time_x(a)" = 0.02 }             # a band of its own, in place of its kind's

    [tool.perfharness.gate.runners."AMD EPYC"]  # one runner's calibration, keyed by its CPU model
    records = "docs/data/gate-aa"        # its A/A records (what the gate's replay draws from)
    between_run_sd = { "gate.Gate.time_x(a)" = 0.009 }
    bands = { "gate.Gate.time_x(a)" = 0.025 }           # where z·τ spans the kind's band

    [tool.perfharness.site]
    target_loss = 0.1                    # drawn on the loss-versus-time plot

    [tool.perfharness.matrix]
    pythons = ["3.10", "3.11"]
    packages = { "tensorflow-cpu" = { "2.21.0" = ["3.10", "3.11"] } }
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["GateRunner", "Project", "ProjectConfigError", "load_project"]


class ProjectConfigError(ValueError):
    """``[tool.perfharness]`` holds a key or a value the harness cannot use; the message names it."""


@dataclass(frozen=True)
class GateRunner:
    """One runner the gate was calibrated on (``[tool.perfharness.gate.runners."<CPU model>"]``): its A/A
    records and the per-run offsets τ measured over them. Noise belongs to a machine: a τ measured on one
    runner says nothing about another."""

    records: str | None = None
    between_run_sd: Mapping[str, float] = field(default_factory=dict)
    bands: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Project:
    """What the harness reads from ``[tool.perfharness]`` (defaults where a key is absent)."""

    root: Path
    name: str = "project"
    machine_env: str = "ASV_MACHINE"
    watched: tuple[str, ...] = ("benchmarks", "asv.conf.json", "pyproject.toml")
    env: Mapping[str, str] = field(default_factory=dict)
    gate_bench: str = r"^gate\."
    gate_excludes: tuple[str, ...] = ()
    gate_between_run_sd: Mapping[str, float] = field(default_factory=dict)
    gate_bands: Mapping[str, float] = field(default_factory=dict)
    gate_runners: Mapping[str, GateRunner] = field(default_factory=dict)
    target_loss: float | None = None
    matrix_pythons: tuple[str, ...] = ()
    matrix_packages: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    matrix_gpu_package: Mapping[str, str] = field(default_factory=dict)


_KEYS = {"name", "machine_env", "watched", "env", "gate", "site", "matrix"}
_SECTIONS = {
    "gate": {"bench", "exclude", "between_run_sd", "bands", "runners"},
    "site": {"target_loss"},
    "matrix": {"pythons", "packages", "gpu_package"},
}


def _strings(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProjectConfigError(f"[tool.perfharness] {where} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _string(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ProjectConfigError(f"[tool.perfharness] {where} must be a non-empty string, got {value!r}")
    return value


def load_project(root: Path | str = ".") -> Project:
    """Read ``root/pyproject.toml``'s ``[tool.perfharness]``; ``ProjectConfigError`` names a bad key."""
    root = Path(root).resolve()
    path = root / "pyproject.toml"
    table: dict[str, Any] = {}
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("perfharness", {})
        except tomllib.TOMLDecodeError as exc:
            raise ProjectConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ProjectConfigError(f"[tool.perfharness] has unknown key(s) {unknown}; known: {sorted(_KEYS)}")
    for section, keys in _SECTIONS.items():
        sub = table.get(section, {})
        if not isinstance(sub, dict):
            raise ProjectConfigError(f"[tool.perfharness.{section}] must be a table, got {sub!r}")
        bad = sorted(set(sub) - keys)
        if bad:
            raise ProjectConfigError(f"[tool.perfharness.{section}] has unknown key(s) {bad}; known: {sorted(keys)}")
    kwargs: dict[str, Any] = {}
    if "name" in table:
        kwargs["name"] = _string("name", table["name"])
    if "machine_env" in table:
        kwargs["machine_env"] = _string("machine_env", table["machine_env"])
    if "watched" in table:
        kwargs["watched"] = _strings("watched", table["watched"])
    if "env" in table:
        env = table["env"]
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ProjectConfigError(f"[tool.perfharness] env must map names to strings, got {env!r}")
        kwargs["env"] = dict(env)
    gate = table.get("gate", {})
    if "bench" in gate:
        kwargs["gate_bench"] = _string("gate.bench", gate["bench"])
    if "exclude" in gate:
        kwargs["gate_excludes"] = _strings("gate.exclude", gate["exclude"])
    if "between_run_sd" in gate:
        kwargs["gate_between_run_sd"] = _sds("[tool.perfharness.gate] between_run_sd", gate["between_run_sd"])
    if "bands" in gate:
        kwargs["gate_bands"] = _bands("[tool.perfharness.gate] bands", gate["bands"])
    if "runners" in gate:
        kwargs["gate_runners"] = _runners(gate["runners"])
    site = table.get("site", {})
    if "target_loss" in site:
        value = site["target_loss"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ProjectConfigError(f"[tool.perfharness.site] target_loss must be a number > 0, got {value!r}")
        kwargs["target_loss"] = float(value)
    matrix = table.get("matrix", {})
    if "pythons" in matrix:
        kwargs["matrix_pythons"] = _strings("matrix.pythons", matrix["pythons"])
    if "packages" in matrix:
        packages = matrix["packages"]
        if not isinstance(packages, dict):
            raise ProjectConfigError(f"[tool.perfharness.matrix] packages must be a table, got {packages!r}")
        kwargs["matrix_packages"] = {
            pkg: {ver: _strings(f"matrix.packages.{pkg}.{ver!r}", pys) for ver, pys in _table(pkg, versions).items()}
            for pkg, versions in packages.items()
        }
    if "gpu_package" in matrix:
        gpu = matrix["gpu_package"]
        if not isinstance(gpu, dict) or not all(isinstance(v, str) for v in gpu.values()):
            raise ProjectConfigError(f"[tool.perfharness.matrix] gpu_package must map a package to its GPU name, "
                                     f"got {gpu!r}")
        kwargs["matrix_gpu_package"] = dict(gpu)
    return Project(root=root, **kwargs)


def _per_benchmark(where: str, table: Any, what: str, inside: Callable[[float], bool]) -> dict[str, float]:
    if not isinstance(table, dict) or not all(
            isinstance(k, str) and k and not isinstance(v, bool) and isinstance(v, (int, float)) and inside(v)
            for k, v in table.items()):
        raise ProjectConfigError(f"{where} must map benchmark names to {what}, got {table!r}")
    return {k: float(v) for k, v in table.items()}


def _sds(where: str, sds: Any) -> dict[str, float]:
    return _per_benchmark(where, sds, "SDs in [0, 0.5) (relative, e.g. 0.007)", lambda v: 0 <= v < 0.5)


def _bands(where: str, bands: Any) -> dict[str, float]:
    return _per_benchmark(where, bands, "bands in (0, 1) (relative, e.g. 0.025)", lambda v: 0 < v < 1)


def _runners(runners: Any) -> dict[str, GateRunner]:
    where = "[tool.perfharness.gate.runners]"
    if not isinstance(runners, dict) or not all(isinstance(k, str) and k.strip() for k in runners):
        raise ProjectConfigError(f"{where} must map CPU models to tables, got {runners!r}")
    out = {}
    for cpu, table in runners.items():
        here = f'[tool.perfharness.gate.runners."{cpu}"]'
        if not isinstance(table, dict):
            raise ProjectConfigError(f"{here} must be a table, got {table!r}")
        bad = sorted(set(table) - {"records", "between_run_sd", "bands"})
        if bad:
            raise ProjectConfigError(f"{here} has unknown key(s) {bad}; known: ['bands', 'between_run_sd', 'records']")
        records = _string(f"gate.runners.{cpu}.records", table["records"]) if "records" in table else None
        out[cpu] = GateRunner(records, _sds(f"{here} between_run_sd", table.get("between_run_sd", {})),
                              _bands(f"{here} bands", table.get("bands", {})))
    return out


def _table(pkg: str, versions: Any) -> dict[str, Any]:
    if not isinstance(versions, dict):
        raise ProjectConfigError(f"[tool.perfharness.matrix.packages] {pkg} must map versions to Pythons, "
                                 f"got {versions!r}")
    return versions
