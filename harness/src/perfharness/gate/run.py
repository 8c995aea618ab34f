"""Run the PR gate end to end: ``python -m perfharness.gate.run BASE HEAD`` (what ``nox -s gate`` calls).

1. Resolve both commits; refuse a dirty tree where it would change what is measured.
2. Run asv's gate suite (``benchmarks/gate.py``) ``rounds`` times per commit, interleaved A B B A A B …,
   each run a fresh ``asv run`` (fresh processes) writing to its own results directory; asv builds each
   commit's wheel and installs it into one shared virtualenv (TensorFlow installed once, the wheel per run);
   the runs share one XLA compilation cache, so only a commit's first process compiles the loop.
   Time is measured in every round; memory, steadier, in the first ``MEMORY_ROUNDS``; the final loss,
   deterministic, in the first ``LOSS_ROUNDS``: each round costs only what its metrics need.
3. Reduce each run to its median (the runs, not the samples inside one process, are independent) and
   decide per benchmark (:mod:`perfharness.gate.decide`): time paired by round (base and head of a round ran
   back to back), memory and loss on the pooled runs; write the markdown report and the terminal table,
   and exit 0 pass, 1 regression or numerics changed, 2 could not measure.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from perfharness.gate.config import PR_GATE, GateConfig, metric_kind
from perfharness.gate.decide import EXIT_ERROR, GateOutcome, evaluate_results
from perfharness.gate.report import render_terminal, write_report
from perfharness.runner import asv_config

__all__ = ["GateError", "asv_environ", "main", "round_selection", "run_gate"]

DEFAULT_BENCH = r"^gate\.\w+\."  # benchmarks/gate.py: Gate (time, final loss) and GateMemory
DEFAULT_ROUNDS = 10  # runs per side for time: run medians vary 2-6 % between processes, a 5 % change needs ~10
# Memory (pinned allocator, exact kernel peak) varies less: 5 runs per side (MWU p can reach 0.008).
MEMORY_ROUNDS = 5
# The final loss is deterministic: two fresh processes per side show that it is (and catch it when it
# is not); more runs add nothing but time.
LOSS_ROUNDS = 2
MACHINE = "gate"
# Changes here alter what the gate measures; asv measures commits, so they must be committed first.
WATCHED = ("gdopt", "benchmarks", "asv.conf.json", "pyproject.toml")
ASV_TIMEOUT_S = 1800
# XLA's persistent compilation cache, one per gate run (so one TensorFlow build writes and reads it):
# each benchmark process compiles the training loop in its setup; after the first process of a commit
# it loads the executable instead (warm-up ~0.9 -> ~0.45 s, the loop's speed unchanged), ~100 processes a run.
XLA_CACHE = "xla-cache"


class GateError(Exception):
    """The gate cannot measure (exit 2); the message says why."""


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode:
        raise GateError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def resolve_commit(repo: Path, rev: str) -> str:
    """The full hash of ``rev``; GateError naming it when git does not know it."""
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except GateError:
        raise GateError(f"unknown commit {rev!r}: git rev-parse cannot resolve it in {repo}") from None


def dirty_paths(repo: Path) -> list[str]:
    """Uncommitted changes under the paths that decide what the gate measures."""
    proc = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", *WATCHED],
                          capture_output=True, text=True)
    if proc.returncode:
        raise GateError(f"git status failed in {repo}: {proc.stderr.strip()}")
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()]


def asv_environ(work: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the gate's asv runs: ``environ`` (default: this process's) with XLA's
    persistent compilation cache in ``work`` added to any ``TF_XLA_FLAGS`` already set."""
    env = dict(os.environ if environ is None else environ)
    flag = f"--tf_xla_persistent_cache_directory={work / XLA_CACHE}"
    env["TF_XLA_FLAGS"] = f"{env['TF_XLA_FLAGS']} {flag}" if env.get("TF_XLA_FLAGS") else flag
    return env


def _asv(args: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> int:
    cmd = [sys.executable, "-m", "asv", *args]
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            return subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=ASV_TIMEOUT_S,
                                  env=env).returncode
        except subprocess.TimeoutExpired:
            raise GateError(f"asv ran past {ASV_TIMEOUT_S} s; see {log}") from None


def run_gate(
    repo: Path,
    base_rev: str,
    head_rev: str,
    *,
    bench: str | None = None,
    rounds: int = DEFAULT_ROUNDS,
    report: Path | None = None,
    config: GateConfig | None = None,
    work: Path | None = None,
    env_dir: Path | None = None,
    echo: bool = True,
) -> GateOutcome:
    """Measure ``base_rev`` and ``head_rev`` interleaved and decide; raises GateError if it cannot."""
    config = config or PR_GATE
    least = config.min_pairs() if config.paired_kinds else 2
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < least:
        why = f": the signed-rank test on paired {'/'.join(config.paired_kinds)} needs {least}" if least > 2 else ""
        raise ValueError(f"rounds must be an int >= {least}{why}, got {rounds!r}")
    if bench is not None:
        try:
            re.compile(bench)
        except re.error as exc:
            raise GateError(f"--bench is not a valid regular expression: {bench!r} ({exc})") from None
    repo = repo.resolve()
    base = resolve_commit(repo, base_rev)
    head = resolve_commit(repo, head_rev)
    dirty = dirty_paths(repo)
    if dirty:
        raise GateError(
            "uncommitted changes would not be measured (asv measures commits) but would change the suite: "
            + ", ".join(dirty) + "; commit or stash them"
        )
    work = (work or repo / ".asv" / "gate" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    log = work / "asv.log"
    environ = asv_environ(work)

    def say(msg: str) -> None:
        if echo:
            print(f"gate: {msg}", flush=True)

    say(f"base {base[:8]} ({base_rev}), head {head[:8]} ({head_rev}); {rounds} rounds each; log {log}")
    if _asv(["machine", "--yes", "--machine", MACHINE], log):
        raise GateError(f"asv machine failed; see {log}")
    dirs: dict[str, list[Path]] = {"base": [], "head": []}
    names: list[str] = []
    started = time.perf_counter()
    for k in range(rounds):
        if names and not [n for n in names if k < _rounds_of(n, rounds)]:
            break  # every selected benchmark has all the runs its metric needs
        current = round_selection(bench, with_loss=k < LOSS_ROUNDS, with_memory=k < MEMORY_ROUNDS)
        order = ("base", "head") if k % 2 == 0 else ("head", "base")  # A B B A …: drift hits both alike
        for side in order:
            commit = base if side == "base" else head
            results = work / f"{side}-{k}"
            results.mkdir()
            extra = {"env_dir": str(env_dir.resolve())} if env_dir is not None else {}
            conf = asv_config(repo, results.with_suffix(".conf.json"), results_dir=str(results),
                              html_dir=str(work / "html"), **extra)
            say(f"round {k + 1}/{rounds}: {side} {commit[:8]}")
            code = _asv(
                ["run", "--config", str(conf), "--machine", MACHINE, "--record-samples", "--bench", current,
                 "--show-stderr", f"{commit}^!"],
                log, environ,
            )
            if code not in (0, 2):  # asv exits 2 when a benchmark failed: the decision names it below
                raise GateError(f"asv run of {side} {commit[:8]} exited {code}; see {log}")
            dirs[side].append(results)
            selected, failed = _scan(results, current)
            names = names or selected
            if not selected:
                raise GateError(f"no gate benchmark matches --bench {bench!r}" if bench else
                                f"asv recorded no gate benchmark for {side} {commit[:8]}; see {log}")
            if failed:  # fail fast: one crashed or timed-out benchmark already means exit 2
                raise GateError(f"{side} {commit[:8]}: benchmark failed or timed out: {', '.join(failed)}; see {log}")
    say(f"measured in {time.perf_counter() - started:.0f} s")
    outcomes = []
    for runs in sorted({_rounds_of(n, rounds) for n in names}, reverse=True):  # time first, then memory, loss
        group = [n for n in names if _rounds_of(n, rounds) == runs]
        if group:
            only = "^(?:" + "|".join(re.escape(n) for n in group) + ")$"
            outcomes.append(evaluate_results(
                dirs["base"][:runs], MACHINE, base, head, bench=only, config=config,
                head_results_dirs=dirs["head"][:runs], per_run=True, matched=True,
            ))
    outcome = _combined(outcomes)
    if report is not None:
        from perfharness.probes.fingerprint import machine_fingerprint

        fingerprint = dict(machine_fingerprint())
        fingerprint["rounds per side"] = rounds
        write_report(outcome, report, fingerprint)
    return outcome


def round_selection(bench: str | None, *, with_loss: bool, with_memory: bool = True) -> str:
    """asv's ``--bench`` regex for one run: the gate suite, scoped by ``bench``; final losses and memory
    benchmarks (names as :data:`perfharness.gate.config.METRIC_RULES` reads them) only if asked."""
    scope = "" if bench is None else f".*(?:{bench})"
    skip = ("" if with_loss else r"(?!track_final_loss\b)") + (
        "" if with_memory else r"(?!(?:peakmem|mem)_|track_\w*_mb(?:_|\b))")
    return DEFAULT_BENCH + skip + scope


def _rounds_of(name: str, rounds: int) -> int:
    """How many runs per side measure ``name``: its metric's share of ``rounds``."""
    try:
        kind = metric_kind(name)
    except ValueError:  # unknown metric: measured every round, decided (as an error) with the times
        return rounds
    return min(rounds, {"loss": LOSS_ROUNDS, "memory": MEMORY_ROUNDS}.get(kind, rounds))


def _combined(outcomes: Sequence[GateOutcome]) -> GateOutcome:
    """One outcome from the time/memory and the final-loss evaluations (decisions in that order)."""
    first = outcomes[0]
    return GateOutcome(
        tuple(d for o in outcomes for d in o.decisions), first.config,
        tuple(p for o in outcomes for p in o.problems), first.base, first.head, first.machine, first.env,
    )


def _scan(results_dir: Path, selection: str) -> tuple[list[str], list[str]]:
    """The gate's names of the combinations asv selected in one run, and those that failed (null)."""
    from asv.results import iter_results

    from perfharness.gate.asv_results import combination_name

    selected: list[str] = []
    failed: list[str] = []
    for results in iter_results(str(results_dir / MACHINE)):
        for key in sorted(results.get_all_result_keys()):
            params = results.get_result_params(key) or []
            values = results.get_result_value(key, params)
            for combo, value in zip(itertools.product(*params), values, strict=True):
                asv_name = f"{key}({', '.join(combo)})" if params else key
                if re.search(selection, asv_name):
                    selected.append(combination_name(key, combo))
                    if value is None:
                        failed.append(combination_name(key, combo))
    return selected, failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nox -s gate --",
        description="Compare BASE and HEAD with the gate suite. Exit 0 pass, 1 regression or numerics "
        "changed, 2 could not measure.",
    )
    parser.add_argument("base", nargs="?", default="main", help="base commit (default: main)")
    parser.add_argument("head", nargs="?", default="HEAD", help="head commit (default: HEAD); may equal base")
    parser.add_argument("--bench", default=None, metavar="REGEX", help="only gate benchmarks matching REGEX")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS,
        help=f"asv runs per commit (default {DEFAULT_ROUNDS}; memory in the first {MEMORY_ROUNDS}, "
        f"final loss in the first {LOSS_ROUNDS})",
    )
    parser.add_argument("--report", default="gate-report.md", help="markdown report (default gate-report.md)")
    parser.add_argument("--repo", default=".", help="the git repository (default: .)")
    parser.add_argument("--work", default=None, help="where the runs' results go (default .asv/gate/<time>)")
    parser.add_argument("--env-dir", default=None, help="asv environments to use (default: asv.conf.json's)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code else 0
    try:
        outcome = run_gate(
            Path(args.repo), args.base, args.head, bench=args.bench, rounds=args.rounds,
            report=Path(args.report), work=Path(args.work) if args.work else None,
            env_dir=Path(args.env_dir) if args.env_dir else None,
        )
    except (GateError, ValueError) as exc:
        message = f"ERROR: could not measure: {exc}"
        print(f"gate: {message}", file=sys.stderr)
        Path(args.report).write_text(f"# Performance gate\n\n**{message}**\n")
        _summary(message)
        return EXIT_ERROR
    print(render_terminal(outcome))
    print(f"gate: report written to {args.report}")
    return outcome.exit_code


def _summary(message: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a") as fh:
            fh.write(f"# Performance gate\n\n**{message}**\n")


if __name__ == "__main__":
    sys.exit(main())
