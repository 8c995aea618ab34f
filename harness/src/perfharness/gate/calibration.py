"""A runner's calibration: the per-run offsets τ the gate's rule covers on the machine it runs on.

Noise belongs to a machine: a τ measured over A/A runs on one runner says nothing about another, so the
project keeps one table per runner, keyed by its CPU model (``[tool.perfharness.gate.runners."<CPU model>"]``,
:class:`perfharness.project.GateRunner`), and the gate takes the one of the CPU it runs on.
"""

from __future__ import annotations

from dataclasses import replace

from perfharness.gate.config import PR_GATE, GateConfig
from perfharness.project import Project

__all__ = ["project_rule"]


def project_rule(project: Project, base: GateConfig = PR_GATE, cpu: str | None = None) -> GateConfig:
    """``base`` with the per-run offsets τ that the project's benchmarks' intervals cover on the runner whose
    CPU model is ``cpu`` (measured over A/A runs there: ``python -m tools.gate_noise --between-runs``), and
    the bands of their own that those offsets call for.

    ``[tool.perfharness.gate] between_run_sd`` and ``bands`` apply on every runner; a runner listed under
    ``[tool.perfharness.gate.runners]`` adds its own. On a runner not listed there (when some are), each
    benchmark gets the largest τ and the widest band of any runner: an uncalibrated machine is not assumed
    quiet, and the report says so (``GateConfig.calibration``)."""
    sds, bands = dict(project.gate_between_run_sd), dict(project.gate_bands)
    note = ""
    if project.gate_runners:
        known = ", ".join(f'"{name}"' for name in sorted(project.gate_runners))
        runner = project.gate_runners.get(cpu or "")
        if runner is not None:
            sds.update(runner.between_run_sd)
            bands.update(runner.bands)
            note = f'measured on this runner ("{cpu}")'
        else:
            for other in project.gate_runners.values():
                for name, tau in other.between_run_sd.items():
                    sds[name] = max(tau, sds.get(name, 0.0))
                for name, band in other.bands.items():
                    bands[name] = max(band, bands.get(name, 0.0))
            note = (f'this runner ("{cpu or "unknown CPU"}") is not calibrated; each benchmark takes its largest '
                    f"τ and widest band on the calibrated runners ({known})")
    elif sds or bands:
        note = "measured on any runner ([tool.perfharness.gate] between_run_sd, bands)"
    listed = tuple(sorted((name, tau) for name, tau in sds.items() if tau > 0))
    if not listed and not bands and not note:
        return base
    return replace(base, between_run_sd=listed, bands=tuple(sorted(bands.items())), calibration=note)
