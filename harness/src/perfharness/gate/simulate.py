"""Replay recorded A/A rounds through the gate's rule, with injected changes: its power and false alarms.

A recorded round (``nox -s gate -- --rounds N --record FILE``) holds, per metric, the sides' medians, the
round's paired log ratio d and the samples; d is recomputed from the samples with the gate's estimator
(:func:`~perfharness.gate.decide.round_value`). A simulated gate run draws rounds with replacement from
the recorded A/A rounds, no more than the gate's budget affords (``horizon``; a round's metrics stay
together, as they were measured together), shifts each d by log(1 + c) — head (1 + c) times slower or
larger — and applies the gate's sequential rule (:class:`~perfharness.gate.config.GateConfig` looks,
:func:`~perfharness.gate.decide.decide`). Over many runs:

- power(c): the share of runs in which a metric is called regressed;
- false-alarm rate at c = 0: the share called regressed or improved;
- per kind, ``any time metric``: the same for the run as a pull request sees it — flagged if any of its time
  metrics regressed (a change that slows ``train`` slows every optimizer), passed only if all are unchanged;

each with its exact (Clopper–Pearson) 95 % interval (``scipy.stats.binomtest``).

Runs of unchanged code may each draw their own offset between the sides, which their rounds share
(:mod:`perfharness.gate.heterogeneity`). Drawing rounds from all runs alike would spread that offset over
the rounds, where the gate's interval covers it. So :func:`load_runs` keeps the runs apart,
:func:`centred_rounds` takes each run's mean out of its rounds, and :func:`simulate` with
``between_run_sd`` adds one offset δ ~ N(0, τ²) per simulated run and metric, τ measured over the recorded
runs (:func:`run_offsets`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from perfharness.gate.budget import rounds_within
from perfharness.gate.config import PR_GATE, GateConfig, metric_kind
from perfharness.gate.decide import Verdict, decide, round_value
from perfharness.gate.heterogeneity import centred, dersimonian_laird

__all__ = ["Rate", "SimulationPoint", "budget_rounds", "centred_rounds", "load_rounds", "load_runs", "redecide",
           "run_offsets", "simulate", "simulated_verdict"]

Run = list[dict[str, float]]


@dataclass(frozen=True)
class Rate:
    """k of n, with its exact 95 % interval."""

    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        ci = stats.binomtest(self.k, self.n).proportion_ci(confidence_level=0.95, method="exact")
        return float(ci.low), float(ci.high)

    def __str__(self) -> str:
        lo, hi = self.interval
        return f"{self.k}/{self.n} = {100 * self.value:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


@dataclass(frozen=True)
class SimulationPoint:
    """One injected change c on one metric: how often it was flagged, how often falsely, rounds used."""

    metric: str
    change: float
    flagged: Rate
    false_alarm: Rate
    undecided: Rate
    median_rounds: float


def _round_d(rnd: dict, name: str) -> float:
    """A recorded round's log ratio for ``name``: recomputed from its samples by the gate's estimator when
    the record has them, else the recorded value."""
    samples = rnd.get("samples", {}).get(name)
    if samples:
        return round_value(*samples)[2]
    v = rnd["pairs"][name]
    return float(v[2]) if len(v) > 2 else math.log(v[1] / v[0])


def load_runs(paths: Iterable[Path], warmup: int = 0) -> list[Run]:
    """Each ``--record`` file's rounds after its first ``warmup`` (the rule's ``warmup_rounds``, which it does
    not count), {metric: d} per round, one list per file (a file is one gate run); refuses files that are not
    of unchanged code (base != head)."""
    runs: list[Run] = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        if data.get("base") != data.get("head"):
            raise ValueError(f"{path}: not an A/A record (base {data.get('base')} != head {data.get('head')})")
        runs.append([{k: _round_d(rnd, k) for k in rnd["pairs"]} for rnd in data["rounds"][warmup:]])
    if not any(runs):
        raise ValueError("no recorded rounds in the given files")
    return runs


def load_rounds(paths: Iterable[Path], warmup: int = 0) -> Run:
    """Every recorded round of the given ``--record`` files after their first ``warmup``: {metric: d}; refuses
    non-A/A files."""
    return [rnd for run in load_runs(paths, warmup) for rnd in run]


def _run_values(runs: Sequence[Run], name: str, min_rounds: int) -> list[np.ndarray]:
    return [v for v in (np.array([r[name] for r in run if name in r]) for run in runs) if v.size >= min_rounds]


def run_offsets(runs: Sequence[Run], min_rounds: int = 6) -> dict[str, float]:
    """Per metric, the DerSimonian–Laird between-run SD τ over the runs with at least ``min_rounds`` of its
    rounds (0 where fewer than two such runs)."""
    names = sorted({n for run in runs for r in run for n in r})
    out = {}
    for name in names:
        values = _run_values(runs, name, min_rounds)
        out[name] = dersimonian_laird(values) if len(values) >= 2 else 0.0
    return out


def centred_rounds(runs: Sequence[Run]) -> Run:
    """Every round with its run's mean taken out, per metric (:func:`~perfharness.gate.heterogeneity.centred`;
    a metric measured in fewer than 2 of a run's rounds is dropped from that run)."""
    out: Run = []
    for run in runs:
        names = {n for r in run for n in r}
        cols = {n: [i for i, r in enumerate(run) if n in r] for n in names}
        fixed = {n: centred(np.array([run[i][n] for i in idx])) for n, idx in cols.items() if len(idx) >= 2}
        rows: list[dict[str, float]] = [{} for _ in run]
        for n, values in fixed.items():
            for i, v in zip(cols[n], values, strict=True):
                rows[i][n] = float(v)
        out += [row for row in rows if row]
    return out


def redecide(path: Path, config: GateConfig = PR_GATE) -> dict[str, tuple[Verdict, int]]:
    """Each metric of a ``--record`` file (any run, A/A or not) decided again by ``config``'s rule on the
    rounds it was measured in, less the rule's warm-up rounds for time and memory: the verdict and the rounds it
    used. The record holds every round a metric was measured in, so a rule that only changes the looks (or the
    warm-up) gives what that run would have reported."""
    data = json.loads(Path(path).read_text())
    per: dict[str, list[list[float]]] = {}
    for k, rnd in enumerate(data["rounds"]):
        for name, v in rnd["pairs"].items():
            if not config.counts(k, name):
                continue
            per.setdefault(name, []).append([float(v[0]), float(v[1]), _round_d(rnd, name)])
    out: dict[str, tuple[Verdict, int]] = {}
    for name, rows in per.items():
        kind = metric_kind(name)
        base, head, d = (np.array(x) for x in zip(*rows, strict=True))
        if kind == "loss":
            out[name] = (decide(base, head, kind, config).verdict, len(rows))
        elif d.size < config.looks[0]:
            out[name] = (Verdict.UNDECIDED, int(d.size))
        else:
            out[name] = simulated_verdict(np.ones(d.size), np.exp(d), kind, config, name)
    return out


def budget_rounds(paths: Iterable[Path], budget_s: float) -> int:
    """How many rounds a gate run with ``budget_s`` affords at the records' round times, by the gate's own
    rule (:func:`~perfharness.gate.budget.rounds_within`): the slowest first round (it also builds and
    installs), then median later rounds while one as long as their 90th percentile, and the run's tail, fit."""
    firsts: list[float] = []
    later: list[float] = []
    for path in paths:
        secs = [r.get("seconds") for r in json.loads(Path(path).read_text())["rounds"]]
        if secs and secs[0]:
            firsts.append(float(secs[0]))
        later += [float(s) for s in secs[1:] if s]
    if not firsts or not later:
        raise ValueError("the records hold no round times (seconds)")
    return rounds_within(max(firsts), float(np.median(later)), float(np.quantile(later, 0.9)), budget_s)


def _worst(verdicts: Sequence[Verdict]) -> Verdict:
    """A run's verdict over several metrics: regressed, else improved, else undecided, else unchanged."""
    for verdict in (Verdict.REGRESSED, Verdict.IMPROVED, Verdict.UNDECIDED):
        if verdict in verdicts:
            return verdict
    return Verdict.UNCHANGED


def _point(metric: str, change: float, verdicts: Sequence[Verdict], used: Sequence[int]) -> SimulationPoint:
    runs = len(verdicts)
    flagged = sum(v is Verdict.REGRESSED for v in verdicts)
    wrong = (Verdict.REGRESSED, Verdict.IMPROVED) if change == 0 else (Verdict.IMPROVED,)
    false = sum(v in wrong for v in verdicts)
    undecided = sum(v is Verdict.UNDECIDED for v in verdicts)
    return SimulationPoint(metric, change, Rate(flagged, runs), Rate(false, runs), Rate(undecided, runs),
                           float(np.median(used)))


def simulated_verdict(base: np.ndarray, head: np.ndarray, kind: str, config: GateConfig,
                      benchmark: str = "") -> tuple[Verdict, int]:
    """The gate's sequential rule on one metric's rounds (as many as the budget allows): the verdict and the
    rounds it took. Like the gate, a budget that ends between two looks looks once more at its end.
    ``benchmark`` names the metric for its ``config.between_run_sd``."""
    verdict = Verdict.UNDECIDED
    end = min(base.size, config.looks[-1])
    for n in [*(look for look in config.looks if look <= end), *([] if end in config.looks else [end])]:
        if n < config.looks[0]:
            break
        verdict = decide(base[:n], head[:n], kind, config, benchmark=benchmark, matched=True).verdict
        if verdict is not Verdict.UNDECIDED:
            return verdict, n
    return verdict, end


def simulate(
    rounds: Sequence[dict[str, float]],
    changes: Sequence[float],
    *,
    config: GateConfig = PR_GATE,
    runs: int = 400,
    seed: int = 0,
    metrics: Sequence[str] | None = None,
    horizon: int | None = None,
    between_run_sd: dict[str, float] | None = None,
) -> list[SimulationPoint]:
    """Power and false alarms of ``config`` per metric and injected change (see the module docstring);
    ``horizon``: the most rounds a run may take (default the last look); ``between_run_sd``: per metric, the
    SD τ of an offset drawn once per simulated run and added to all its rounds (give it centred rounds,
    :func:`centred_rounds`, so that the records' own offsets are not counted twice)."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs!r}")
    horizon = config.looks[-1] if horizon is None else horizon
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < config.looks[0]:
        raise ValueError(f"horizon must be an int >= the first look ({config.looks[0]}), got {horizon!r}")
    if any(not -0.5 < c < 1.0 for c in changes):
        raise ValueError(f"changes must be relative changes in (-0.5, 1), got {list(changes)!r}")
    names = sorted(metrics or {n for r in rounds for n in r if metric_kind(n) in config.paired_kinds})
    complete = [r for r in rounds if all(n in r for n in names)]  # a round's metrics were measured together
    if len(complete) < 2:
        raise ValueError(f"fewer than 2 recorded rounds hold all of {names}")
    have = {n: np.array([r[n] for r in complete], dtype=float) for n in names}
    kinds = sorted({metric_kind(n) for n in names})
    bad = {n: t for n, t in (between_run_sd or {}).items() if not (math.isfinite(t) and 0.0 <= t < 0.5)}
    if bad:
        raise ValueError(f"between_run_sd must be SDs in [0, 0.5), got {bad!r}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(complete), (runs, horizon))  # whole rounds, as measured
    tau = np.array([(between_run_sd or {}).get(n, 0.0) for n in names])
    offsets = dict(zip(names, (rng.standard_normal((runs, len(names))) * tau).T, strict=True))  # one per run
    points = []
    for c in changes:
        verdicts = {n: [simulated_verdict(np.ones(horizon), np.exp(have[n][row] + offsets[n][i] + math.log1p(c)),
                                          metric_kind(n), config, n) for i, row in enumerate(draws)] for n in names}
        for name in names:
            points.append(_point(name, c, [v for v, _ in verdicts[name]], [n for _, n in verdicts[name]]))
        for kind in kinds:  # the run as a pull request sees it: flagged if any metric of the kind regressed
            mine = [n for n in names if metric_kind(n) == kind]
            if len(mine) > 1:
                points.append(_point(f"any {kind} metric", c, [_worst([verdicts[n][i][0] for n in mine])
                                                              for i in range(runs)],
                                     [max(verdicts[n][i][1] for n in mine) for i in range(runs)]))
    return points
