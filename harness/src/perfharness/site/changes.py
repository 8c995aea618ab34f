"""Change points: the steps asv's own step detection finds in each benchmark's history."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from asv import step_detect

from perfharness.site.suite import NO_CHANGE_POINTS
from perfharness.site.values import Values

__all__ = ["MIN_HISTORY", "STEP_THRESHOLD", "ChangePoint", "change_points", "section_change_points"]

STEP_THRESHOLD = 0.05  # asv's default `regressions_thresholds`: smaller steps are not change points
MIN_HISTORY = 3  # measured commits needed before a step can be told from noise


@dataclass(frozen=True)
class ChangePoint:
    """A step in one benchmark's history, found by asv's step detection."""

    benchmark: str
    params: dict[str, str]
    commit_hash: str  # the first commit of the new level: the one that introduced the change
    previous_hash: str  # the last commit measured before it
    before: float  # asv's estimate of the level before the step
    after: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before else math.inf


def change_points(
    series: Sequence[float | None],
    weights: Sequence[float | None] | None = None,
    threshold: float = STEP_THRESHOLD,
    min_history: int = MIN_HISTORY,
) -> list[tuple[int, int, float, float]]:
    """Steps in ``series`` by ``asv.step_detect.detect_steps``: (index before, index introducing, before, after).

    Missing values (None, NaN) are skipped as asv skips them; an index is a position in ``series``. A step is
    kept, as ``asv.step_detect.detect_regressions`` keeps one (but in both directions), when it is larger than
    both levels' error estimates and than ``threshold`` times the lower level. Fewer than ``min_history``
    measured commits: no steps (two points always differ by some noise).

    >>> change_points([1.0, 1.01, 0.99, 2.0, 2.02, 1.99])
    [(2, 3, 1.0, 2.0)]
    """
    values = [math.nan if v is None else float(v) for v in series]
    if sum(1 for v in values if not math.isnan(v)) < max(min_history, 2):
        return []
    steps = step_detect.detect_steps(values, list(weights) if weights is not None else None)
    found = []
    for (_, right, before, _, err_before), (left, _, after, _, err_after) in itertools.pairwise(steps):
        if abs(after - before) > max(err_before, err_after, threshold * min(abs(before), abs(after))):
            found.append((right - 1, left, float(before), float(after)))
    return found


def section_change_points(values: Values) -> list[ChangePoint]:
    """Every change point of a section, by the commit that introduced it."""
    runs = values.section.runs
    found = []
    for (name, combo), series in sorted(values.series.items()):
        if name.startswith(NO_CHANGE_POINTS):
            continue
        ys = [v for v, _ in series]
        ws = [w for _, w in series]
        for before_i, at_i, before, after in change_points(ys, ws):
            params = dict(zip(values.catalog.param_names(name), combo, strict=False))
            found.append(
                ChangePoint(
                    name,
                    params,
                    runs[at_i].commit_hash,
                    runs[before_i].commit_hash,
                    before,
                    after,
                    values.catalog.unit(name),
                )
            )
    position = {run.commit_hash: i for i, run in enumerate(runs)}
    found.sort(key=lambda c: (position[c.commit_hash], c.benchmark, tuple(c.params.values())))
    return found
