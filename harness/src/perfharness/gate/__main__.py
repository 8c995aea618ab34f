"""Command line of the PR gate.

Usage::

    python -m perfharness.gate --machine M --base BASE_HASH --head HEAD_HASH \\
        [--results DIR ...] [--env NAME] [--bench REGEX] [--report FILE] [--fingerprint FILE.json] \\
        [--set KEY=VALUE ...]

Reads asv's results for the two commits (``--results`` may be repeated to pool several asv runs), decides
every benchmark, prints an aligned table, writes the markdown report to ``--report`` and appends it to
``$GITHUB_STEP_SUMMARY`` when set. ``--set`` overrides a :class:`~perfharness.gate.config.GateConfig` field,
e.g. ``--set time_threshold=0.1``. The machine fingerprint defaults to asv's ``machine.json``.

Exit status: 0 pass, 1 regression or numerics changed, 2 could not measure (also for bad arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence

from perfharness.gate.asv_results import load_machine_info
from perfharness.gate.config import parse_config
from perfharness.gate.decide import EXIT_ERROR
from perfharness.gate.outcome import evaluate_results
from perfharness.gate.report import render_terminal, write_report

__all__ = ["build_parser", "main", "parse_config"]


def build_parser() -> argparse.ArgumentParser:
    """The gate's argument parser (``python -m perfharness.gate --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m perfharness.gate",
        description="Compare two commits' asv results: exit 0 pass, 1 regression/numerics changed, "
        "2 could not measure.",
    )
    parser.add_argument(
        "--results",
        action="append",
        metavar="DIR",
        help="asv results directory; repeat to pool several runs (default: results)",
    )
    parser.add_argument("--machine", required=True, help="asv machine name (a folder under DIR)")
    parser.add_argument("--base", required=True, metavar="HASH", help="base commit hash (or a prefix)")
    parser.add_argument("--head", required=True, metavar="HASH", help="head commit hash; may equal --base")
    parser.add_argument("--env", default=None, metavar="NAME", help="asv environment name, if several")
    parser.add_argument("--bench", default=None, metavar="REGEX", help="only combinations whose name matches")
    parser.add_argument("--report", default=None, metavar="FILE", help="write the markdown report here")
    parser.add_argument(
        "--fingerprint",
        default=None,
        metavar="FILE",
        help="JSON object describing the machine (default: asv's machine.json)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a GateConfig field, e.g. time_threshold=0.1",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate; returns the exit status (0 pass, 1 fail, 2 could not measure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = parse_config(args.overrides)
    except ValueError as exc:
        parser.error(str(exc))
    results_dirs = args.results or ["results"]
    try:
        outcome = evaluate_results(
            results_dirs, args.machine, args.base, args.head, env=args.env, bench=args.bench, config=config
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        if args.fingerprint is not None:
            with open(args.fingerprint, encoding="utf-8") as fd:
                fingerprint = json.load(fd)
            if not isinstance(fingerprint, dict):
                raise ValueError(f"{args.fingerprint} must hold a JSON object")
        else:
            fingerprint = load_machine_info(results_dirs[0], args.machine)
        write_report(outcome, args.report, fingerprint)
        sys.stdout.write(render_terminal(outcome))
        if args.report is not None:
            sys.stdout.write(f"report: {args.report}\n")
    except Exception:  # fail closed: a broken report must not turn into a silent pass
        traceback.print_exc()
        sys.stdout.write("ERROR: could not measure (the gate itself failed; see the traceback)\n")
        return EXIT_ERROR
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
