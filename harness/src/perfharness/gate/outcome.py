"""The outcome of a whole gate run: every benchmark's decision, the exit code and the headline.

Exit codes: 0 pass, 1 a regression or a numerics change, 2 anything could not be measured, 3 a metric still
undecided (never a silent pass). :func:`evaluate` decides a set of pairs, :func:`evaluate_results` reads them
from asv's results first (:mod:`perfharness.gate.asv_results`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from perfharness.gate.asv_results import BenchmarkPair, PathLike, ResultsError, load_pairs
from perfharness.gate.config import GateConfig, MetricKind, metric_kind
from perfharness.gate.decide import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, EXIT_UNDECIDED, Decision, Verdict, decide

__all__ = ["GateOutcome", "evaluate", "evaluate_results"]


@dataclass(frozen=True)
class GateOutcome:
    """All decisions of one gate run, plus run-level problems (results missing or corrupt)."""

    decisions: tuple[Decision, ...]
    config: GateConfig = field(default_factory=GateConfig)
    problems: tuple[str, ...] = ()
    base: str = ""
    head: str = ""
    machine: str = ""
    env: str = ""

    def with_verdict(self, verdict: Verdict) -> tuple[Decision, ...]:
        """The decisions with this verdict, in order."""
        return tuple(d for d in self.decisions if d.verdict is verdict)

    @property
    def measured(self) -> bool:
        """True when at least one benchmark was compared and none failed to measure (n/a ones aside)."""
        compared = [d for d in self.decisions if d.verdict is not Verdict.SKIPPED]
        return not self.problems and bool(compared) and not self.with_verdict(Verdict.ERROR)

    @property
    def exit_code(self) -> int:
        """2 if anything could not be measured (fail closed), 1 on a regression or numerics change, 3 if a
        metric is still undecided (never a silent pass), else 0."""
        if not self.measured:
            return EXIT_ERROR
        if any(d.verdict.fails for d in self.decisions):
            return EXIT_FAIL
        if self.with_verdict(Verdict.UNDECIDED):
            return EXIT_UNDECIDED
        return EXIT_PASS

    @property
    def headline(self) -> str:
        """``PASS``, ``FAIL: regression`` (and/or ``numerics changed``), ``UNDECIDED: …`` or ``ERROR: could not
        measure``."""
        failures = [
            label
            for verdict, label in (
                (Verdict.REGRESSED, "regression"),
                (Verdict.NUMERICS_CHANGED, "numerics changed"),
            )
            if self.with_verdict(verdict)
        ]
        if not self.measured:
            also = f" (also FAIL: {', '.join(failures)})" if failures else ""
            return f"ERROR: could not measure{also}"
        if failures:
            return f"FAIL: {', '.join(failures)}"
        undecided = self.with_verdict(Verdict.UNDECIDED)
        if undecided:
            return f"UNDECIDED: {len(undecided)} metric(s) not decided within the budget"
        return "PASS"

    @property
    def summary(self) -> str:
        """Counts per verdict, e.g. ``12 benchmarks: 1 regressed, 11 unchanged``."""
        counts = [f"{len(self.with_verdict(v))} {v.value}" for v in Verdict if self.with_verdict(v)]
        text = f"{len(self.decisions)} benchmarks: {', '.join(counts) or 'none'}"
        if self.problems:
            text += f"; {len(self.problems)} run-level problem(s)"
        return text


def evaluate(
    pairs: Iterable[BenchmarkPair],
    config: GateConfig | None = None,
    *,
    problems: Sequence[str] = (),
    base: str = "",
    head: str = "",
    machine: str = "",
    env: str = "",
    matched: bool = False,
) -> GateOutcome:
    """Decide every pair; anything that cannot be decided becomes an ``error`` decision, never a pass.

    ``matched``: each pair's base and head values are runs matched by round (see :func:`decide`)."""
    config = config if config is not None else GateConfig()
    decisions = []
    for pair in pairs:
        name = pair.name
        try:
            kind: MetricKind | None = metric_kind(name)
        except ValueError as exc:
            decisions.append(Decision(name, None, Verdict.ERROR, f"{exc}; exclude it with --bench"))
            continue
        reasons = [pair.problem] if pair.problem else []
        for side_name, side, other in (("base", pair.base, pair.head), ("head", pair.head, pair.base)):
            if side.problem:
                reasons.append(f"{side_name}: {side.problem}")
            elif side.skipped and not other.skipped:
                reasons.append(f"{side_name}: n/a (skipped, or the benchmark returned NaN) while measured on the other")
        if reasons:
            decisions.append(Decision(name, kind, Verdict.ERROR, "; ".join(reasons)))
        elif pair.base.skipped and pair.head.skipped:
            decisions.append(
                Decision(name, kind, Verdict.SKIPPED, "n/a on both sides (setup raised NotImplementedError)")
            )
        else:
            try:
                decisions.append(decide(pair.base.values, pair.head.values, str(kind), config, benchmark=name,
                                        matched=matched))
            except Exception as exc:  # fail closed: a bug in the rule must not read as a pass
                decisions.append(Decision(name, kind, Verdict.ERROR, f"internal error: {exc!r}"))
    found = list(problems)
    if not decisions and not found:
        found.append("no benchmarks to compare (none in the results, or none matched --bench)")
    elif decisions and all(d.verdict is Verdict.SKIPPED for d in decisions):
        found.append("every selected benchmark was n/a on both sides: nothing was compared")
    return GateOutcome(tuple(decisions), config, tuple(found), base, head, machine, env)


def evaluate_results(
    results_dirs: PathLike | Sequence[PathLike],
    machine: str,
    base: str,
    head: str,
    *,
    env: str | None = None,
    bench: str | None = None,
    config: GateConfig | None = None,
    head_results_dirs: PathLike | Sequence[PathLike] | None = None,
    per_run: bool = False,
    matched: bool = False,
) -> GateOutcome:
    """Load asv's results for ``base`` and ``head`` and decide them all (see :func:`load_pairs`).

    ``matched`` (needs ``per_run`` and ``head_results_dirs``): ``results_dirs[k]`` and ``head_results_dirs[k]``
    are one round, measured back to back, so ``config.paired_kinds`` are decided paired.

    Missing or corrupt results give an outcome with exit code 2 rather than an exception.
    """
    if matched and not (per_run and head_results_dirs is not None):
        raise ValueError("matched=True needs per_run=True and head_results_dirs (one head run per base run)")
    try:
        loaded = load_pairs(
            results_dirs, machine, base, head, env=env, bench=bench, head_results_dirs=head_results_dirs,
            per_run=per_run,
        )
    except ResultsError as exc:
        return GateOutcome((), config or GateConfig(), (str(exc),), base, head, machine, env or "")
    return evaluate(loaded.pairs, config, base=loaded.base_hash, head=loaded.head_hash, machine=machine, env=loaded.env,
                    matched=matched)
