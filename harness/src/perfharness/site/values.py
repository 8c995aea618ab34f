"""Every value of one section, indexed by benchmark and parameter combination, one entry per run.

A value is a number; None when the case was not run, failed or is corrupt; NaN when asv recorded n/a (a
skipped case) or the benchmark returned NaN (a target never reached).
"""

from __future__ import annotations

import math
from typing import TypeGuard

from asv import _stats as asv_stats  # asv's own data-point weights, as `asv publish` feeds its step detection

from perfharness.site.runs import Catalog, Combo, Run, Section

__all__ = ["Values", "present"]


def present(value: float | None) -> TypeGuard[float]:
    """A number: not None (failed, not run) and not NaN (asv's mark of a skipped case, or a NaN result)."""
    return value is not None and not math.isnan(value)


class Values:
    """Every value of a section: (benchmark, combo) → one (value, weight) per run, oldest first."""

    def __init__(self, section: Section, catalog: Catalog) -> None:
        self.catalog = catalog
        self.section = section
        self.series: dict[tuple[str, Combo], list[tuple[float | None, float | None]]] = {}
        empty: list[tuple[float | None, float | None]] = [(None, None)] * len(section.runs)
        for i, run in enumerate(section.runs):
            for row in run.rows:
                series = self.series.setdefault((row.benchmark, row.params), list(empty))
                series[i] = (row.value, asv_stats.get_weight(row.stats))

    def combo(self, name: str, **params: str) -> Combo:
        return tuple(params[p] for p in self.catalog.param_names(name))

    def get(self, name: str, run: Run | None, **params: str) -> float | None:
        """The value at ``run`` (None: not run, failed, or n/a; NaN: the benchmark returned NaN)."""
        if run is None or name not in self.catalog.raw:
            return None
        try:
            series = self.series[(name, self.combo(name, **params))]
        except KeyError:
            return None
        return series[self.section.runs.index(run)][0]

    def runs_of(self, name: str) -> tuple[Run | None, Run | None]:
        """The newest run that measured ``name`` and the one before it: a partial ``asv run -b`` skips some."""
        measured = [run for run in self.section.runs if name in run.benchmarks]
        return (measured[-1] if measured else None), (measured[-2] if len(measured) > 1 else None)

    def pair(self, name: str, **params: str) -> tuple[float | None, float | None]:
        """(latest, previous) of one case, from the newest two commits that ran the benchmark."""
        latest, previous = self.runs_of(name)
        return self.get(name, latest, **params), self.get(name, previous, **params)

    def stale_commit(self, name: str) -> str | None:
        """The commit of a value not measured at the section's latest commit, else None."""
        latest = self.runs_of(name)[0]
        if latest is None or latest is self.section.latest:
            return None
        return latest.commit_hash

    def device_ran(self, device: str, run: Run | None) -> bool:
        """Whether any case on ``device`` gave a number at ``run``: asv stores a skipped case (no GPU) as NaN."""
        if run is None:
            return False
        i = self.section.runs.index(run)
        for (name, combo), series in self.series.items():
            names = self.catalog.param_names(name)
            if "device" in names and combo[names.index("device")] == device and present(series[i][0]):
                return True
        return False

    def param_values(self, name: str, param: str) -> list[str]:
        """The values of ``param`` in ``name``'s combinations, in asv's order; [] if it has no such parameter."""
        if name not in self.catalog.raw or param not in self.catalog.param_names(name):
            return []
        index = self.catalog.param_names(name).index(param)
        return list(dict.fromkeys(c[index] for c in self.catalog.combos(name)))

    def optimizers(self) -> list[str]:
        """Every optimizer of the suite, in order of first appearance in benchmarks.json: none is named here."""
        return list(dict.fromkeys(v for name in self.catalog.names() for v in self.param_values(name, "optimizer")))
