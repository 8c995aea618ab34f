"""The PR gate: compare two commits' asv results with a statistical test and report the verdict.

No TensorFlow here: the gate only reads asv's results files. Run it as ``python -m perfharness.gate --help``.
"""

from __future__ import annotations

from perfharness.gate.asv_results import (
    BenchmarkPair,
    LoadedResults,
    ResultsError,
    Side,
    load_machine_info,
    load_pairs,
)
from perfharness.gate.config import METRIC_RULES, GateConfig, MetricKind, metric_kind
from perfharness.gate.decide import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_PASS,
    EXIT_UNDECIDED,
    Decision,
    Verdict,
    classify,
    decide,
)
from perfharness.gate.outcome import GateOutcome, evaluate, evaluate_results
from perfharness.gate.report import render_markdown, render_terminal, write_report

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAIL",
    "EXIT_PASS",
    "EXIT_UNDECIDED",
    "METRIC_RULES",
    "BenchmarkPair",
    "Decision",
    "GateConfig",
    "GateOutcome",
    "LoadedResults",
    "MetricKind",
    "ResultsError",
    "Side",
    "Verdict",
    "classify",
    "decide",
    "evaluate",
    "evaluate_results",
    "load_machine_info",
    "load_pairs",
    "metric_kind",
    "render_markdown",
    "render_terminal",
    "write_report",
]
