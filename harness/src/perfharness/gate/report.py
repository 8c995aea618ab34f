"""The gate's report: markdown for the pull request (and ``$GITHUB_STEP_SUMMARY``), a table for the terminal.

Both open with the overall line — ``PASS``, ``FAIL: regression``, ``UNDECIDED: …`` or ``ERROR: could not
measure`` — so a reviewer knows the answer in seconds; undecided metrics come next, with the smallest change
each could have detected, then the numbers behind each verdict.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from perfharness.gate.config import metric_unit
from perfharness.gate.decide import Decision, Verdict
from perfharness.gate.outcome import GateOutcome

__all__ = ["format_quantity", "render_markdown", "render_terminal", "write_report"]

_TIME_SCALES = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_BYTE_SCALES = ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))
_ESTIMATORS = {"median_ratio": "median(head)/median(base)", "hodges_lehmann": "the Hodges–Lehmann ratio head/base"}
_PAIRED_ESTIMATORS = {
    "median_ratio": "the median per-round ratio head/base",
    "hodges_lehmann": "the Hodges–Lehmann pseudo-median of the per-round ratios head/base",
}


def _scale(value: float, unit: str) -> tuple[float, str]:
    """A readable (divisor, unit name) for ``value`` given in ``unit``."""
    scales = _TIME_SCALES if unit == "s" else _BYTE_SCALES if unit == "bytes" else ((1.0, unit),)
    for divisor, name in scales:
        if abs(value) >= divisor:
            return divisor, name
    return scales[-1]


def format_quantity(value: float, unit: str, spread: float | None = None) -> str:
    """``format_quantity(0.0123, "s", 0.0004)`` → ``'12.3 ± 0.4 ms'``; "—" when not a number."""
    if not math.isfinite(value):
        return "—"
    divisor, name = _scale(value, unit)
    text = f"{value / divisor:.3g}"
    if spread is not None and math.isfinite(spread):
        text += f" ± {spread / divisor:.2g}"
    return f"{text} {name}".rstrip()


def _unit(decision: Decision) -> str:
    try:
        return metric_unit(decision.benchmark)
    except ValueError:
        return ""


def _cells(d: Decision) -> dict[str, str]:
    unit = _unit(d)
    ratio = "—"
    if math.isfinite(d.ratio):
        ratio = f"{d.ratio:.3f}"
        if math.isfinite(d.ci_low):
            ratio += f" [{d.ci_low:.3f}, {d.ci_high:.3f}]"
    return {
        "benchmark": d.benchmark,
        "base": format_quantity(d.base_median, unit, d.base_spread),
        "head": format_quantity(d.head_median, unit, d.head_spread),
        "n": f"{d.n_base}/{d.n_head}" if d.n_base or d.n_head else "—",
        "ratio": ratio,
        "p": f"{d.p_value:.2g}" if math.isfinite(d.p_value) else "—",
        "resolution": _resolution(d),
        "verdict": d.verdict.value,
    }


def _resolution(d: Decision) -> str:
    """The smallest change the decision's interval could have flagged, e.g. ``±1.8 %``."""
    if math.isnan(d.resolution):
        return "—"
    return "none yet" if math.isinf(d.resolution) else f"±{100 * d.resolution:.1f} %"


# Rows a reviewer must look at come first.
_SEVERITY = {
    Verdict.UNDECIDED: 0,
    Verdict.REGRESSED: 0,
    Verdict.NUMERICS_CHANGED: 0,
    Verdict.ERROR: 1,
    Verdict.IMPROVED: 3,
    Verdict.UNCHANGED: 4,
    Verdict.SKIPPED: 5,
}


def _perf(outcome: GateOutcome) -> list[Decision]:
    rows = [d for d in outcome.decisions if d.kind != "loss" and d.verdict is not Verdict.SKIPPED]
    return sorted(rows, key=lambda d: _SEVERITY[d.verdict])


def _losses(outcome: GateOutcome) -> list[Decision]:
    return [d for d in outcome.decisions if d.kind == "loss" and d.verdict is not Verdict.SKIPPED]


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _thresholds(outcome: GateOutcome) -> list[str]:
    c = outcome.config
    band = {"time": c.time_threshold, "memory": c.memory_threshold}
    lines = [
        "| metric | band | regressed when |",
        "|---|---|---|",
    ]
    for kind, t in band.items():
        if kind in c.paired_kinds:
            levels = " / ".join(f"{100 * (1 - c.alpha_at(n)):.4g}" for n in c.looks) if c.looks else (
                f"{100 * (1 - c.alpha):.4g}")
            what = (f"the exact {levels} % Wilcoxon signed-rank interval of "
                    f"{_PAIRED_ESTIMATORS[c.estimator]} (base and head measured together each round) > {1 + t:g}")
        else:
            what = (f"the {100 * c.confidence_level:g} % CI of {_ESTIMATORS[c.estimator]} > {1 + t:g} and "
                    f"Mann-Whitney U p < {c.alpha:g}")
        lines.append(f"| {kind} | ±{100 * t:g} % | the whole of {what} |")
    lines.append(f"| final loss | rel. tol. {c.loss_rtol:g} | \\|head − base\\| > {c.loss_rtol:g}·\\|base\\| |")
    looks = ", ".join(map(str, c.looks)) or "the rounds run"
    alphas = ", ".join(f"{c.alpha_at(n):g}" for n in c.looks) or f"{c.alpha:g}"
    lines += [
        "",
        "Improved: the whole interval below 1 − t. Unchanged: the whole interval inside [1 − t, 1 + t]. "
        "Undecided: anything else — the gate measures more rounds, and exits 3 if its budget runs out first. "
        f"Looks after {looks} rounds, at alpha {alphas} (together ≤ {c.alpha:g}: Bonferroni over the "
        "looks): the chance that any look errs stays below alpha per metric. Resolution: the smallest change "
        "the final interval's width could have flagged.",
    ]
    if c.between_run_sd:
        widened = ", ".join(f"`{name}` by {100 * sd:.3g} %" for name, sd in c.between_run_sd)
        lines += ["", f"Widened for the offset each run draws between its sides (between-run SD τ, measured over "
                      f"A/A runs): {widened}. Each half of the interval is combined with z·τ in quadrature; the "
                      "p-value is the least alpha at which that interval excludes 1."]
    if c.bands:
        own = ", ".join(f"`{name}` ±{100 * t:.3g} %" for name, t in c.bands)
        lines += ["", f"Bands of their own (a per-run offset that spans its kind's band on this runner): {own}."]
    if c.warmup_rounds:
        lines += ["", f"The first {c.warmup_rounds} round(s) are a warm-up (both commits installed, each side's loop "
                      "compiled): their time and memory pairs are recorded, not counted, and the looks count after "
                      "them."]
    if c.calibration:
        lines += ["", f"Per-run offsets τ: {c.calibration}."]
    return lines


def render_markdown(outcome: GateOutcome, fingerprint: Mapping[str, object] | None = None) -> str:
    """The pull-request report: overall line, performance table, numerics, problems, thresholds, machine."""
    lines = [f"## {outcome.headline}", ""]
    where = [f"base `{outcome.base[:12] or '?'}` → head `{outcome.head[:12] or '?'}`"]
    if outcome.machine:
        where.append(f"machine `{outcome.machine}`")
    if outcome.env:
        where.append(f"env `{outcome.env}`")
    lines += [" · ".join(where), "", outcome.summary + ".", ""]

    undecided = outcome.with_verdict(Verdict.UNDECIDED)
    if undecided:  # first: these are why the gate neither passed nor failed
        lines += ["### Undecided (exit 3)", ""]
        lines += [f"- `{_md(d.benchmark)}`: resolution {_resolution(d)}; {_md(d.reason)}" for d in undecided]
        lines.append("")

    perf = _perf(outcome)
    if perf:
        lines += [
            "### Performance",
            "",
            "| benchmark | base (median ± ½IQR) | head (median ± ½IQR) | n base/head "
            "| head/base [CI] | p | resolution | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for d in perf:
            c = _cells(d)
            verdict = f"**{c['verdict']}**" if d.verdict in (Verdict.REGRESSED, Verdict.ERROR) else c["verdict"]
            lines.append(
                f"| `{_md(c['benchmark'])}` | {c['base']} | {c['head']} | {c['n']} | {c['ratio']} | {c['p']} "
                f"| {c['resolution']} | {verdict} |"
            )
        lines.append("")

    losses = _losses(outcome)
    if losses:
        lines += ["### Numerics", ""]
        changed = [d for d in losses if d.verdict is Verdict.NUMERICS_CHANGED]
        for d in changed:
            lines.append(
                f"- **numerics changed** `{_md(d.benchmark)}`: base `{d.base_median!r}` → head "
                f"`{d.head_median!r}` (relative change {d.rel_change:.2e} > {outcome.config.loss_rtol:g})"
            )
        same = [d for d in losses if d.verdict is Verdict.UNCHANGED]
        if same:
            lines.append(
                f"- {len(same)} final loss(es) equal within relative tolerance {outcome.config.loss_rtol:g}: "
                + ", ".join(f"`{_md(d.benchmark)}` = `{d.base_median!r}`" for d in same)
            )
        failed = [d for d in losses if d.verdict is Verdict.ERROR]
        if failed:
            lines.append(f"- {len(failed)} final loss(es) could not be compared (see Could not measure)")
        lines.append("")

    errors = [d for d in outcome.decisions if d.verdict is Verdict.ERROR]
    if errors or outcome.problems:
        lines += ["### Could not measure", ""]
        lines += [f"- {_md(p)}" for p in outcome.problems]
        lines += [f"- `{_md(d.benchmark)}`: {_md(d.reason)}" for d in errors]
        lines.append("")

    skipped = outcome.with_verdict(Verdict.SKIPPED)
    if skipped:
        lines += [f"Skipped (n/a on both sides): {', '.join(f'`{_md(d.benchmark)}`' for d in skipped)}.", ""]

    lines += ["### Thresholds", "", *_thresholds(outcome), ""]
    if fingerprint:
        lines += ["### Machine", "", "| key | value |", "|---|---|"]
        lines += [f"| {_md(str(k))} | {_md(str(v))} |" for k, v in fingerprint.items()]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_terminal(outcome: GateOutcome) -> str:
    """An aligned plain-text table for the console, with the overall line first and last."""
    header = {
        "benchmark": "benchmark",
        "base": "base",
        "head": "head",
        "n": "n",
        "ratio": "head/base [CI]",
        "p": "p",
        "resolution": "resolution",
        "verdict": "verdict",
    }
    rows = [header] + [_cells(d) for d in _perf(outcome)]
    widths = {k: max(len(r[k]) for r in rows) for k in header}
    lines = [outcome.headline, outcome.summary, ""]
    for d in outcome.with_verdict(Verdict.UNDECIDED):
        lines.append(f"UNDECIDED: {d.benchmark}: resolution {_resolution(d)}; {d.reason}")
    if len(rows) > 1:
        for i, row in enumerate(rows):
            lines.append("  ".join(row[k].ljust(widths[k]) for k in header).rstrip())
            if i == 0:
                lines.append("  ".join("-" * widths[k] for k in header))
        lines.append("")
    for d in _losses(outcome):
        label = {Verdict.NUMERICS_CHANGED: "NUMERICS CHANGED", Verdict.ERROR: "ERROR"}.get(d.verdict, d.verdict.value)
        lines.append(f"{label}: {d.benchmark}: {d.reason}")
    for problem in outcome.problems:
        lines.append(f"ERROR: {problem}")
    for d in outcome.decisions:
        if d.verdict is Verdict.ERROR and d.kind != "loss":
            lines.append(f"ERROR: {d.benchmark}: {d.reason}")
    lines.append(outcome.headline)
    return "\n".join(lines) + "\n"


def write_report(
    outcome: GateOutcome,
    path: str | os.PathLike[str] | None = None,
    fingerprint: Mapping[str, object] | None = None,
) -> str:
    """Render the markdown report, write it to ``path`` and append it to ``$GITHUB_STEP_SUMMARY`` if set."""
    text = render_markdown(outcome, fingerprint)
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fd:
            fd.write(text)
    return text
