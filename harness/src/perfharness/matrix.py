"""The Python × package version × device matrix, from ``[tool.perfharness.matrix]``.

:func:`matrix_cells` is the one place that decides which cells exist: ``matrix --list --json`` prints
its answer and ``matrix`` runs exactly it, so a CI workflow that feeds the list to ``strategy.matrix``
gets one job per cell the session would run. Each cell is an asv configuration (:func:`cell_config`):
the project's own ``asv.conf.json`` with one Python and the cell's package version, so its results
land under an asv environment name of their own; the cell equal to the project's own environment
(``default``) shares its environment and results file with ``bench``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfharness.project import Project

__all__ = ["DEVICES", "cell_config", "find_python", "gpu_present", "matrix_cells"]

DEVICES = ("cpu", "gpu")


def gpu_present() -> bool:
    """An NVIDIA GPU answers ``nvidia-smi -L`` here."""
    return shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True
    ).returncode == 0


def find_python(version: str) -> Path | None:
    """An interpreter for ``version``: on PATH, else one pyenv installed (pyenv's shims refuse inactive ones)."""
    candidates = [shutil.which(f"python{version}")]
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(root.glob(f"versions/{version}.*/bin/python{version}"))]
    for exe in candidates:
        if exe and subprocess.run([exe, "--version"], capture_output=True).returncode == 0:
            return Path(exe)
    return None


def _base_conf(repo: Path) -> dict[str, Any]:
    from asv.util import load_json

    conf: dict[str, Any] = load_json(str(repo / "asv.conf.json"), js_comments=True)
    return conf


def _base_req(conf: dict[str, Any]) -> dict[str, list[str]]:
    matrix = conf.get("matrix") or {}
    req = matrix.get("req", matrix) if isinstance(matrix, dict) else {}
    return {str(k): list(v) if isinstance(v, list) else [v] for k, v in req.items()}


def _cell_req(project: Project, base: dict[str, list[str]], package: str, version: str, device: str
              ) -> dict[str, list[str]]:
    gpu_name = project.matrix_gpu_package.get(package, package)
    req = {k: v for k, v in base.items() if k not in (package, gpu_name)}
    req[gpu_name if device == "gpu" else package] = [version]
    return req


def matrix_cells(
    project: Project,
    pythons: Sequence[str] | None = None,
    versions: Sequence[str] | None = None,
    devices: Sequence[str] | None = None,
    *,
    any_python: bool = False,
) -> list[dict[str, Any]]:
    """The cells to run: configured Pythons × each package's versions that support them × devices.

    ``pythons``/``versions``/``devices`` narrow the selection (an unknown value is a ValueError
    naming it). Pythons not installed here are left out unless ``any_python`` (a CI lister, whose
    jobs each install their own). Devices default to cpu, plus gpu where ``nvidia-smi`` works.
    Each cell: ``name``, ``python``, ``package``, ``version``, ``device``, ``default`` (the
    project's own asv environment), ``runner`` (``"gpu"`` or ``"cpu"``: where CI runs it).
    """
    if not project.matrix_packages:
        raise ValueError(f"{project.root / 'pyproject.toml'} has no [tool.perfharness.matrix] packages table")
    known_versions = {v for table in project.matrix_packages.values() for v in table}
    for label, asked, known in (("Python", pythons, set(project.matrix_pythons)),
                                ("version", versions, known_versions), ("device", devices, set(DEVICES))):
        unknown = sorted(set(asked or ()) - known)
        if unknown:
            raise ValueError(f"matrix: {label} {', '.join(unknown)} is not in the matrix (known: {sorted(known)})")
    chosen_pythons = [p for p in project.matrix_pythons if not pythons or p in pythons]
    if not any_python:
        chosen_pythons = [p for p in chosen_pythons if find_python(p) is not None]
    chosen_devices = list(devices or (["cpu", "gpu"] if gpu_present() else ["cpu"]))
    conf = _base_conf(project.root)
    base = _base_req(conf)
    default_pythons = [str(p) for p in conf.get("pythons") or []]
    cells = []
    for python in chosen_pythons:
        for package, table in project.matrix_packages.items():
            for version, supported in table.items():
                if python not in supported or (versions and version not in versions):
                    continue
                for device in chosen_devices:
                    req = _cell_req(project, base, package, version, device)
                    cells.append({
                        "name": f"py{python}-{package}{version}-{device}",
                        "python": python,
                        "package": package,
                        "version": version,
                        "device": device,
                        "default": device == "cpu" and default_pythons == [python] and req == base,
                        "runner": "gpu" if device == "gpu" else "cpu",
                    })
    return cells


def cell_config(repo: Path, project: Project, cell: dict[str, Any]) -> Path:
    """Write ``.asv/matrix/<cell>.json``: the repository's asv config for this cell; returns its path."""
    from perfharness.runner import asv_config

    req = _cell_req(project, _base_req(_base_conf(repo)), cell["package"], cell["version"], cell["device"])
    return asv_config(repo, repo / ".asv" / "matrix" / f"{cell['name']}.json", pythons=[cell["python"]],
                      matrix={"req": req})
