"""Run the PR gate end to end: ``python -m perfharness.gate.run BASE HEAD`` (what ``nox -s gate`` calls).

1. Resolve both commits; refuse a dirty tree where it would change what is measured (the project's
   ``[tool.perfharness] watched`` paths).
2. Measure in rounds. A round runs the gate suite once per commit as a pair (:mod:`perfharness.gate.duet`:
   by default both at once, one core each, every sample started together); each side has its own asv
   environment and XLA compilation cache. A round measures only the metrics still undecided; the final
   loss, deterministic, only in the first ``LOSS_ROUNDS``. asv discovers the suite in the first round only;
   later rounds reuse that list (:data:`perfharness.asv_child.DISCOVERED_ENV`).
3. After the rounds in ``config.looks`` (counted after ``config.warmup_rounds``, which install and compile)
   decide each paired metric on its per-round log ratios
   (:mod:`perfharness.gate.decide`); a decided metric is no longer measured. Stop when every metric is
   decided, the last look is done, or the wall ``budget_s`` would be exceeded by another round; a budget
   that ends between two looks brings the next one forward, at its α (``GateConfig.alpha_at``).
4. Write the report and exit 0 pass, 1 regression or numerics changed, 2 could not measure, 3 undecided.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from perfharness.asv_child import DISCOVERED_ENV, NO_MATCH_EXIT
from perfharness.barrier import BarrierStats
from perfharness.gate.asv_results import ResultsError, load_pairs
from perfharness.gate.budget import TAIL_S, another_round_fits
from perfharness.gate.calibration import project_rule
from perfharness.gate.config import PR_GATE, GateConfig, metric_kind, parse_config
from perfharness.gate.decide import EXIT_ERROR, Decision, Verdict, decide, half_iqr, round_value
from perfharness.gate.duet import MODES, Mode, SideRun, check_fixed_layout, run_round
from perfharness.gate.outcome import GateOutcome, evaluate
from perfharness.gate.report import render_terminal, write_report
from perfharness.gate.selection import asv_forms, exact, excluded, round_selection
from perfharness.lock import LockBusy, checkout_lock
from perfharness.probes.fingerprint import cpu_model
from perfharness.project import Project, load_project
from perfharness.results import scan_run
from perfharness.runner import asv_config

# another_round_fits and TAIL_S: the budget's rule, in perfharness.gate.budget (the replay uses it too);
# project_rule: a runner's calibration, in perfharness.gate.calibration
__all__ = ["DEFAULT_BUDGET_S", "TAIL_S", "GateError", "another_round_fits", "asv_environ", "main", "project_rule",
           "run_gate"]

DEFAULT_BUDGET_S = 300.0
# The final loss is deterministic: two processes per side show that it is (and catch it when it is not).
LOSS_ROUNDS = 2
MACHINE = "gate"
ASV_TIMEOUT_S = 1800
# XLA's persistent compilation cache, one per side and gate run: only a commit's first process compiles.
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


def dirty_paths(repo: Path, watched: Sequence[str] | None = None) -> list[str]:
    """Uncommitted changes under the paths that decide what the gate measures."""
    watched = list(watched if watched is not None else load_project(repo).watched)
    proc = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", *watched],
                          capture_output=True, text=True)
    if proc.returncode:
        raise GateError(f"git status failed in {repo}: {proc.stderr.strip()}")
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()]


def asv_environ(work: Path, environ: Mapping[str, str] | None = None,
                project_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a side's asv runs: ``environ`` (default: this process's) plus the project's
    ``[tool.perfharness] env``, with XLA's persistent compilation cache in ``work`` added to any
    ``TF_XLA_FLAGS`` already set."""
    env = {**dict(project_env or {}), **dict(os.environ if environ is None else environ)}
    flag = f"--tf_xla_persistent_cache_directory={work / XLA_CACHE}"
    env["TF_XLA_FLAGS"] = f"{env['TF_XLA_FLAGS']} {flag}" if env.get("TF_XLA_FLAGS") else flag
    return env


def _asv(args: Sequence[str], log: Path, cwd: Path, env: Mapping[str, str] | None = None) -> int:
    cmd = [sys.executable, "-m", "asv", *args]
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            return subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=ASV_TIMEOUT_S, cwd=cwd,
                                  env=env).returncode
        except subprocess.TimeoutExpired:
            raise GateError(f"asv ran past {ASV_TIMEOUT_S} s; see {log}") from None


class _Ledger:
    """Per combination, the paired values of every round so far and the decision at the last look."""

    def __init__(self, config: GateConfig) -> None:
        self.config = config
        self.pairs: dict[str, list[tuple[float, float, float]]] = {}
        self.decided: dict[str, Decision] = {}
        self.problems: dict[str, Decision] = {}
        self.last_look: dict[str, Decision] = {}

    def add(self, round_pairs: Sequence) -> None:
        for pair in round_pairs:
            if pair.base.problem or pair.head.problem or pair.problem or pair.base.skipped or pair.head.skipped:
                self.problems.setdefault(pair.name, evaluate([pair], self.config).decisions[0])
                continue
            self.pairs.setdefault(pair.name, []).append(round_value(pair.base.values, pair.head.values))
    def undecided(self, names: Sequence[str], k: int) -> list[str]:
        out = []
        for n in names:
            if n in self.decided or n in self.problems:
                continue
            if metric_kind(n) == "loss" and k >= LOSS_ROUNDS:
                continue
            out.append(n)
        return out

    def look(self, names: Sequence[str], final: bool) -> None:
        for n in names:
            if n in self.decided or n in self.problems or n not in self.pairs:
                continue
            base, head, d = (np.array(x) for x in zip(*self.pairs[n], strict=True))
            kind = metric_kind(n)
            if kind == "loss":
                decision = decide(base, head, kind, self.config, benchmark=n)
            else:  # the decision reads the rounds' paired log ratios; the report shows the sides' medians
                decision = decide(np.ones(d.size), np.exp(d), kind, self.config, benchmark=n, matched=True)
                decision = replace(decision, base_median=float(np.median(base)), head_median=float(np.median(head)),
                                   base_spread=half_iqr(base), head_spread=half_iqr(head))
            if decision.verdict is not Verdict.UNDECIDED or final:
                self.decided[n] = decision
            else:  # shown if the budget runs out before the next look
                self.last_look[n] = decision

    def outcome(self, names: Sequence[str], base: str, head: str, why_undecided: str) -> GateOutcome:
        decisions = []
        for n in names:
            if n in self.problems:
                decisions.append(self.problems[n])
            elif n in self.decided:
                decisions.append(self.decided[n])
            elif n in self.last_look:  # the interval of the last look, with what ran out
                d = self.last_look[n]
                decisions.append(replace(d, reason=f"{why_undecided}: at the last look, {d.reason}"))
            else:
                rounds = len(self.pairs.get(n, []))
                decisions.append(Decision(n, metric_kind(n), Verdict.UNDECIDED, f"{why_undecided} ({rounds} rounds)",
                                          n_base=rounds, n_head=rounds, resolution=math.inf))
        order = {Verdict.UNDECIDED: 0}
        decisions.sort(key=lambda d: order.get(d.verdict, 1))  # undecided first: they need a reader's eye
        return GateOutcome(tuple(decisions), self.config, (), base, head, MACHINE, "")


def side_environ(work: Path, side: str, project: Project) -> dict[str, str]:
    """A side's environment: its own XLA cache and its own HOME — asv rewrites ``~/.asv-machine.json``
    (not atomically) at every run, so two runs at once would read each other's half-written file — with
    pip's cache kept where it was."""
    env = asv_environ(work / side, None, project.env)
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["HOME"] = str(work / side / "home")
    return env


def _side_runs(repo: Path, work: Path, k: int, commits: Mapping[str, str], selection: str, env_root: Path,
               project: Project) -> list[SideRun]:
    runs = []
    for side, slot in (("base", "a"), ("head", "b")):
        results = work / f"round-{k}" / side
        results.mkdir(parents=True)
        conf = asv_config(repo, work / "conf" / f"{side}.json", results_dir=str(results), html_dir=str(work / "html"),
                          env_dir=str(env_root / slot))
        args = ("run", "--config", str(conf), "--machine", MACHINE, "--record-samples", "--bench", selection,
                "--show-stderr", f"{commits[side]}^!")
        env = side_environ(work, side, project)
        listed = work / "round-0" / side / "benchmarks.json"  # what the first round discovered, for the rest
        if k and listed.is_file():
            env[DISCOVERED_ENV] = str(listed)
        runs.append(SideRun(side, commits[side], args, results, env))
    return runs


def run_gate(
    repo: Path,
    base_rev: str,
    head_rev: str,
    *,
    bench: str | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    mode: Mode = "duet",
    rounds: int | None = None,
    report: Path | None = None,
    config: GateConfig | None = None,
    work: Path | None = None,
    env_dir: Path | None = None,
    record: Path | None = None,
    echo: bool = True,
    wait: bool = False,
) -> GateOutcome:
    """Measure ``base_rev`` and ``head_rev`` in rounds of pairs until decided (see the module docstring).

    ``rounds`` fixes the number of rounds and measures every metric in each (for calibration: ``record``
    then holds every round's pairs); otherwise the gate stops as the looks decide. Raises GateError if it
    cannot measure (another measuring run holding the checkout's lock among them: ``wait`` waits for it),
    ValueError for bad arguments.
    """
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not budget_s > 0:
        raise ValueError(f"budget must be a number of seconds > 0, got {budget_s!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "duet":
        check_fixed_layout()
    looks = (config or PR_GATE).looks  # the project's rule (below) changes no look
    if not looks:
        raise ValueError("the gate needs a config with looks (rounds at which it decides), e.g. PR_GATE")
    warmup = (config or PR_GATE).warmup_rounds
    if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < looks[0] + warmup):
        raise ValueError(f"rounds must be an int >= {looks[0] + warmup} (the first look after {warmup} warm-up "
                         f"round(s)), got {rounds!r}")
    if bench is not None:
        try:
            re.compile(bench)
        except re.error as exc:
            raise GateError(f"--bench is not a valid regular expression: {bench!r} ({exc})") from None
    repo = repo.resolve()
    project = load_project(repo)
    config = config or project_rule(project, cpu=cpu_model())
    commits = {"base": resolve_commit(repo, base_rev), "head": resolve_commit(repo, head_rev)}
    dirty = dirty_paths(repo, project.watched)
    if dirty:
        raise GateError(
            "uncommitted changes would not be measured (asv measures commits) but would change the suite: "
            + ", ".join(dirty) + "; commit or stash them"
        )
    try:
        with checkout_lock(repo, "gate", wait=wait):
            return _measure(repo, base_rev, head_rev, commits, project, bench=bench, budget_s=budget_s, mode=mode,
                            rounds=rounds, report=report, config=config, work=work, env_dir=env_dir, record=record,
                            echo=echo, clock=time.perf_counter())  # the budget counts from here
    except LockBusy as exc:
        raise GateError(str(exc)) from None


def _measure(repo: Path, base_rev: str, head_rev: str, commits: Mapping[str, str], project: Project, *,
             bench: str | None, budget_s: float, mode: Mode, rounds: int | None, report: Path | None,
             config: GateConfig, work: Path | None, env_dir: Path | None, record: Path | None,
             echo: bool, clock: float) -> GateOutcome:
    work = (work or repo / ".asv" / "gate" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    log = work / "asv.log"
    env_root = (env_dir or repo / ".asv" / "gate-env").resolve()

    def say(msg: str) -> None:
        if echo:
            print(f"gate: {msg}", flush=True)

    warmup = config.warmup_rounds  # rounds whose time and memory pairs are not counted (GateConfig.warmup_rounds)
    last = rounds or config.looks[-1] + warmup
    say(f"base {commits['base'][:8]} ({base_rev}), head {commits['head'][:8]} ({head_rev}); {mode}, looks at "
        f"{', '.join(map(str, config.looks))} rounds, budget {budget_s:g} s; log {log}")
    for side in ("base", "head"):  # each side its own machine file (see side_environ)
        (work / side / "home").mkdir(parents=True)
        if _asv(["machine", "--yes", "--machine", MACHINE], log, repo, side_environ(work, side, project)):
            raise GateError(f"asv machine failed; see {log}")
    ledger = _Ledger(config)
    names: list[str] = []
    recorded: list[dict[str, object]] = []
    started = time.perf_counter()  # the rounds'
    longest = 0.0
    why = "the budget ran out before the interval cleared the band"
    for k in range(last):
        elapsed = time.perf_counter() - clock
        if k and not another_round_fits(elapsed, longest, budget_s):
            say(f"budget: {elapsed:.0f} s spent, a round takes up to {longest:.0f} s; stopping after {k} rounds")
            if rounds is None and k - warmup > config.looks[0] and k - warmup not in config.looks:  # the next look, now
                ledger.look([n for n in names if metric_kind(n) != "loss"], final=True)
            break
        if rounds is None:
            todo = ledger.undecided(names, k)
        else:  # calibration: every metric every round (the final loss only in its rounds)
            todo = [n for n in names if (metric_kind(n) != "loss" or k < LOSS_ROUNDS) and n not in ledger.problems]
        if names and not todo:
            why = ""
            break
        selection = exact(todo) if names else round_selection(
            bench, with_loss=True, suite=project.gate_bench, exclude=project.gate_excludes)
        runs = _side_runs(repo, work, k, commits, selection, env_root, project)
        say(f"round {k + 1}: {len(todo) or 'all'} metric(s), {mode}")
        result = run_round(runs, mode, k, work, log, ASV_TIMEOUT_S)
        if k:  # the first round also builds and installs both commits: no guide to the rest
            longest = max(longest, result.seconds)
        if NO_MATCH_EXIT in result.codes.values():
            raise GateError(f"no gate benchmark matches --bench {bench!r}" if bench else
                            f"no benchmark matches the gate's selection {selection!r}")
        for side, code in result.codes.items():  # a side that failed: name what failed in it, if asv said
            if code:
                run = next(r for r in runs if r.side == side)
                _, failed = scan_run(run.results, MACHINE, selection)
                if failed:
                    raise GateError(f"{side} {commits[side][:8]}: benchmark failed or timed out: "
                                    f"{', '.join(failed)}; see {log}")
        for side, code in result.codes.items():
            if code not in (0, 1):  # 1: a benchmark failed (named below), or asv itself did
                raise GateError(f"asv run of {side} {commits[side][:8]} exited {code}; see {log}")
        try:
            loaded = load_pairs([runs[0].results], MACHINE, commits["base"], commits["head"], env=None,
                                head_results_dirs=[runs[1].results])  # one run a side: samples in order
        except ResultsError as exc:
            nothing = f"no gate benchmark matches --bench {bench!r}" if bench else "asv recorded no gate benchmark"
            raise GateError(f"{nothing} ({exc}); see {log}") from None
        # asv lists every combination of a benchmark it ran; the excluded ones come back n/a: not the gate's
        selected = [p.name for p in loaded.pairs if not excluded(p.name, project.gate_excludes)
                    and any(re.search(selection, form) for form in asv_forms(p.name))]
        if not selected:
            raise GateError(f"no gate benchmark matches --bench {bench!r}" if bench else
                            f"asv recorded no gate benchmark; see {log}")
        failed = [p.name for p in loaded.pairs if p.base.problem or p.head.problem]
        if failed:  # fail fast: one crashed or timed-out benchmark already means exit 2
            raise GateError(f"benchmark failed or timed out: {', '.join(failed)}; see {log}")
        if any(result.codes.values()):
            side = next(s for s, c in result.codes.items() if c)
            raise GateError(f"asv run of {side} {commits[side][:8]} failed (exit {result.codes[side]}); see {log}")
        names = names or sorted(selected)
        current = [p for p in loaded.pairs if p.name in (todo or selected)]
        ledger.add([p for p in current if config.counts(k, p.name)])
        recorded.append({"round": k, "seconds": round(result.seconds, 3), "barrier": _stats(result.barrier),
                         "releases": _releases(result.barrier),
                         "pairs": {p.name: list(round_value(p.base.values, p.head.values)) for p in current
                                   if p.base.values and p.head.values},
                         "samples": {p.name: [list(p.base.values), list(p.head.values)] for p in current
                                     if len(p.base.values) > 1}})
        if record is not None:  # after every round: an interrupted run keeps what it measured
            _write_record(record, mode, commits, recorded)
        if k + 1 == LOSS_ROUNDS:
            ledger.look([n for n in names if metric_kind(n) == "loss"], final=True)
        if rounds is None and k + 1 - warmup in config.looks:
            ledger.look([n for n in names if metric_kind(n) != "loss"], final=k + 1 - warmup == config.looks[-1])
    if rounds is not None:  # calibration: one look at every round measured, the budget's stop included
        ledger.look([n for n in names if metric_kind(n) != "loss"], final=True)
    say(f"measured {len(recorded)} rounds in {time.perf_counter() - started:.0f} s")
    outcome = ledger.outcome(names, commits["base"], commits["head"], why or "not decided")
    if report is not None:
        from perfharness.probes.fingerprint import machine_fingerprint

        fingerprint = dict(machine_fingerprint())
        fingerprint.update(_measured(env_root))
        fingerprint["rounds"] = len(recorded)
        fingerprint["mode"] = mode
        write_report(outcome, report, fingerprint)
    return outcome


def _measured(env_root: Path) -> dict[str, str]:
    """The measured environments' Python, TensorFlow and NumPy (not this process's), per side."""
    from perfharness.probes.fingerprint import asv_env_pythons, measured_fingerprint

    out: dict[str, str] = {}
    for side, slot in (("base", "a"), ("head", "b")):
        for env_name, python in sorted(asv_env_pythons(env_root / slot).items()):
            try:
                found = measured_fingerprint(python)
            except ValueError as exc:
                found = {"error": str(exc)}
            out.update({f"{side} {key}": value for key, value in found.items()})
            out[f"{side} environment"] = env_name
    return out


def _write_record(path: Path, mode: str, commits: Mapping[str, str], rounds: list[dict[str, object]]) -> None:
    """The rounds so far, replaced atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"mode": mode, "base": commits["base"], "head": commits["head"], "rounds": rounds},
                              indent=1))
    os.replace(tmp, path)


def _releases(stats: BarrierStats | None) -> list[list[float | str]]:
    """When, in seconds from the round's start, the barrier started each sample pair, and of which benchmark:
    where a round's time goes (``python -m tools.gate_timeline``)."""
    if stats is None:
        return []
    return [[round(t, 3), label.split("\t", 1)[-1]] for t, label in zip(stats.released, stats.labels, strict=True)]


def _stats(stats: object) -> dict[str, int] | None:
    if stats is None:
        return None
    return {k: getattr(stats, k) for k in ("together", "mismatched", "alone")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nox -s gate --",
        description="Compare BASE and HEAD with the gate suite. Exit 0 pass, 1 regression or numerics "
        "changed, 2 could not measure, 3 undecided within the budget.",
    )
    parser.add_argument("base", nargs="?", default="main", help="base commit (default: main)")
    parser.add_argument("head", nargs="?", default="HEAD", help="head commit (default: HEAD); may equal base")
    parser.add_argument("--bench", default=None, metavar="REGEX", help="only gate benchmarks matching REGEX")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                        help=f"wall seconds for the run, its start-up and report included (default "
                        f"{DEFAULT_BUDGET_S:g}); undecided after it: exit 3")
    parser.add_argument("--mode", choices=MODES, default="duet",
                        help="duet: base and head at once, one core each, trading cores at every sample, no "
                        "address-space randomisation (default); duet-aslr: the same with it; duet-round: cores "
                        "swapped per round; sequential: back to back")
    parser.add_argument("--rounds", type=int, default=None,
                        help="measure every metric in exactly this many rounds (calibration; no early stop)")
    parser.add_argument("--record", default=None, help="write every round's pairs to this JSON file")
    parser.add_argument("--report", default="gate-report.md", help="markdown report (default gate-report.md)")
    parser.add_argument("--repo", default=".", help="the git repository (default: .)")
    parser.add_argument("--work", default=None, help="where the runs' results go (default .asv/gate/<time>)")
    parser.add_argument("--env-dir", default=None, help="the sides' asv environments (default .asv/gate-env)")
    parser.add_argument("--wait", action="store_true", help="wait for another measuring run in this checkout")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a GateConfig field of the gate's rule, e.g. --set time_threshold=0.02")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_ERROR if exc.code else 0
    signal.signal(signal.SIGTERM, _terminate)  # a CI cancel: stop the sides' asv runs, keep the record
    try:
        config = parse_config(args.overrides, project_rule(load_project(Path(args.repo)), cpu=cpu_model()))
        outcome = run_gate(
            Path(args.repo), args.base, args.head, bench=args.bench, budget_s=args.budget, mode=args.mode,
            rounds=args.rounds, report=Path(args.report), work=Path(args.work) if args.work else None,
            env_dir=Path(args.env_dir) if args.env_dir else None, record=Path(args.record) if args.record else None,
            wait=args.wait, config=config,
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


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _summary(message: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a") as fh:
            fh.write(f"# Performance gate\n\n**{message}**\n")


if __name__ == "__main__":
    sys.exit(main())
