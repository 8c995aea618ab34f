"""The gate's own benchmark: how often it flags controlled changes (``nox -s gate_power``).

Real trials: in a temporary clone, commits each change on top of HEAD and runs ``nox -s gate``'s logic
(base = HEAD, head = the change) ``--trials`` times, cases interleaved; optionally ``asv continuous`` with
its defaults on the same commits, side by side:

  aa      nothing: HEAD against HEAD  goal: never flagged, and passes
  noop    no-op change            goal: never flagged
  slow2   training 2 % slower     goal: flagged in ≥ 90 % of trials
  slow5   training 5 % slower     goal: flagged in ≥ 99 %
  slow10  training 10 % slower    goal: always flagged
  mem10   training memory +10 %   goal: always flagged
  lr1     learning rate +1 %      goal: always flagged (numerics changed)

``--redecide RECORD …``: no measuring; decides recorded runs again by the rule (``--set`` to change it).

``--simulate [FILE …]``: no measuring; replays recorded A/A rounds (``nox -s gate -- HEAD HEAD --rounds N
--record FILE``; default: the committed ones of the runner, ``[tool.perfharness.gate.runners."<CPU>"] records``,
else docs/data/gate-aa/*.json) with injected changes of 1–10 %
through the gate's rule (perfharness.gate.simulate), at most as many rounds as ``--budget`` affords at the
records' own round times, prints the power curve and the false-alarm rate with exact 95 % intervals, and
draws them (``--plot``).

Slowdowns spin the CPU, at the end of ``gdopt.train``, for the given fraction of the call's time so far, so
the whole call (what the gate's ``time_train`` measures) is that much slower; the memory growth holds an extra
buffer of 20 % of the training's own peak (calibrated on HEAD first) for the whole call.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perfharness.gate.config import GateConfig

CASES = {
    "aa": "A/A: HEAD against itself",
    "noop": "no-op change",
    "slow2": "training 2 % slower",
    "slow5": "training 5 % slower",
    "slow10": "training 10 % slower",
    "mem10": "training memory +10 %",
    "lr1": "learning rate +1 %",
}
SLOWDOWNS = {"slow2": 0.02, "slow5": 0.05, "slow10": 0.10}
SIMULATED_CHANGES = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10)
RECORDS = "docs/data/gate-aa"  # the committed A/A rounds of the gate's design
TRAIN = "gdopt/training.py"
ENTRY_LINE = "    p = plan(model, data, optimizer, epochs, seed, device, strategy)\n"  # the first line of train()
EXIT_LINE = "    return TrainResult(final, history, p.steps_per_epoch * epochs, seconds, starts[0])\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _patch(repo: Path, case: str, ballast_mb: dict[str, float]) -> None:
    path = repo / TRAIN
    src = path.read_text()
    if ENTRY_LINE not in src or EXIT_LINE not in src:
        raise SystemExit(f"gate_power: {TRAIN} changed shape; update the injection points in {__file__}")
    if case == "noop":
        src += "# gate_power: a no-op change\n"
    elif case in SLOWDOWNS:
        frac = SLOWDOWNS[case]
        entry = "    _entered = time.perf_counter()  # gate_power\n"
        spin = (
            f"    _until = time.perf_counter() + {frac} * (time.perf_counter() - _entered)  # gate_power\n"
            "    while time.perf_counter() < _until:\n        pass\n"
        )
        src = src.replace(ENTRY_LINE, entry + ENTRY_LINE).replace(EXIT_LINE, spin + EXIT_LINE)
    elif case == "mem10":
        sizes = {k: int(v * 0.1 * 2**20) for k, v in ballast_mb.items()}
        hold = f"    _ballast = np.ones({sizes!r}.get(optimizer.name, 0) // 8)  # gate_power: +10 % memory\n"
        src = src.replace(ENTRY_LINE, hold + ENTRY_LINE).replace(EXIT_LINE, "    del _ballast\n" + EXIT_LINE)
    elif case == "lr1":
        opt = repo / "gdopt/optimizers.py"
        text = opt.read_text()
        rule = "    return tuple(p - lr * g for p, g in zip(params, grads, strict=True))\n"
        if rule not in text:
            raise SystemExit("gate_power: the update rule in gdopt/optimizers.py changed shape")
        opt.write_text(text.replace(rule, rule.replace("lr * g", "(lr * 1.01) * g")))
    path.write_text(src)


def _calibrate(repo: Path, env_dir: Path) -> dict[str, float]:
    """Median training heap peak (MiB) per optimizer on HEAD, 3 fresh processes each, in asv's env."""
    pythons = sorted(env_dir.glob("a/*/bin/python"))  # the base side's environment
    if not pythons:
        raise SystemExit(f"gate_power: no asv environment under {env_dir}; run `nox -s gate -- HEAD HEAD` once")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from benchmarks.gate import GateMemory; g = GateMemory(); "
        "g.setup(sys.argv[2]); print(g.track_train_heap_peak_mb(sys.argv[2]))"
    )
    out = {}
    for name in ("gd", "minibatch", "sgd"):
        vals = [float(subprocess.run([str(pythons[0]), "-c", code, str(repo), name], check=True, capture_output=True,
                                     text=True).stdout.split()[-1]) for _ in range(3)]
        out[name] = statistics.median(vals)
    return out


def _gate(repo: Path, base: str, head: str, env_dir: Path, report: Path, budget: float) -> tuple[int, float]:
    start = time.perf_counter()
    code = subprocess.run(
        [sys.executable, "-m", "perfharness.gate.run", base, head, "--repo", str(repo), "--report", str(report),
         "--env-dir", str(env_dir), "--work", str(report.with_suffix("")), "--budget", str(budget),
         "--record", str(report.with_suffix(".rounds.json"))],  # every trial's rounds kept: A/A ones are data
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ).returncode
    return code, time.perf_counter() - start


def _continuous(repo: Path, base: str, head: str, env_dir: Path, log: Path) -> tuple[int, float, bool]:
    from perfharness.runner import asv_config

    conf = asv_config(repo, log.with_suffix(".conf.json"), env_dir=str(env_dir),
                      results_dir=str(log.with_suffix(".results")))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "asv", "continuous", "--config", str(conf), "--machine", "gate", "-b", r"^gate\.\w+\.",
         base, head], capture_output=True, text=True,
    )
    log.write_text(proc.stdout + proc.stderr)
    flagged = bool(re.search(r"PERFORMANCE (DECREASED|INCREASED)|SOME BENCHMARKS HAVE CHANGED", proc.stdout))
    return proc.returncode, time.perf_counter() - start, flagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3, help="gate runs per case (default 3)")
    parser.add_argument("--budget", type=float, default=300.0, help="the gate's --budget in seconds (default 300)")
    parser.add_argument("--simulate", nargs="*", type=Path, default=None, metavar="RECORD",
                        help=f"replay these A/A --record files instead of measuring (default {RECORDS}/*.json)")
    parser.add_argument("--round-times", nargs="+", type=Path, default=None, metavar="RECORD",
                        help="with --simulate: the rounds a run affords come from these records' round times "
                        "(default: the replayed records'), e.g. when the gate's rounds got cheaper")
    parser.add_argument("--runs", type=int, default=400, help="simulated gate runs per change (default 400)")
    parser.add_argument("--redecide", nargs="+", type=Path, default=None, metavar="RECORD",
                        help="decide these recorded runs (any --record file) again by the rule (PR_GATE, --set)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="with --simulate: replay another rule, PR_GATE with these fields changed "
                        "(e.g. --set looks=8,12,16 --set look_alphas=)")
    parser.add_argument("--pooled", action="store_true",
                        help="with --simulate: draw rounds from all runs alike, without per-run offsets (the replay "
                        "before 2026-12-02)")
    parser.add_argument("--plot", type=Path, default=None, help="with --simulate: draw the power curve here (PNG)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    parser.add_argument("--asv-continuous", action="store_true", help="also run asv continuous (defaults)")
    parser.add_argument("--skip-gate", action="store_true", help="with --asv-continuous: run only asv continuous")
    parser.add_argument("--env-dir", default=".asv/gate-env", help="the gate's environments (.asv/gate-env)")
    parser.add_argument("--runner", default=None, metavar="CPU_MODEL",
                        help="replay under this runner's calibration ([tool.perfharness.gate.runners]): its tau and, "
                        "with --simulate and no records, its records (default: this machine's CPU model)")
    parser.add_argument("--json", default="gate-power.json", help="write the figures here")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if not args.budget > 0:
        parser.error(f"--budget must be > 0 seconds, got {args.budget}")
    from perfharness.gate.config import parse_config
    from perfharness.gate.run import project_rule
    from perfharness.probes.fingerprint import cpu_model
    from perfharness.project import load_project

    runner = args.runner or cpu_model()
    try:
        # the rule --simulate and --redecide apply: the gate's, with this project's between-run SDs on that runner
        project = load_project(Path.cwd())
        config = parse_config(args.overrides, base=project_rule(project, cpu=runner))
    except ValueError as exc:
        parser.error(str(exc))
    if args.redecide:
        return _redecide(args.redecide, config)
    if args.simulate is not None:
        if args.runs < 1:
            parser.error(f"--runs must be >= 1, got {args.runs}")
        calibrated = project.gate_runners.get(runner or "")
        folder = calibrated.records if calibrated is not None and calibrated.records else RECORDS
        records = args.simulate or sorted(Path(folder).glob("*.json"))
        if not records:
            parser.error(f"--simulate: no records given and none in {folder}")
        return _simulate(records, args.runs, args.plot, args.budget, config, args.round_times or records,
                         pooled=args.pooled)
    if args.overrides:
        parser.error("--set changes the replayed rule: it needs --simulate or --redecide")
    if args.skip_gate and not args.asv_continuous:
        parser.error("--skip-gate leaves nothing to run without --asv-continuous")
    if unknown or args.trials < 1:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}" if unknown else "--trials must be >= 1")
    here = Path.cwd()
    env_dir = (here / args.env_dir).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="gdopt-gate-power-"))
    repo = tmp / "repo"
    _git(here, "clone", "--quiet", str(here), str(repo))
    base = _git(repo, "rev-parse", "HEAD")
    ballast = _calibrate(repo, env_dir) if "mem10" in cases else {}
    commits = {}
    for case in cases:
        if case == "aa":
            commits[case] = base
            continue
        _git(repo, "checkout", "--quiet", "-B", f"power-{case}", base)
        _patch(repo, case, ballast)
        _git(repo, "-c", "user.name=gate power", "-c", "user.email=power@gdopt.invalid", "commit", "--quiet", "-am",
             f"gate_power: {CASES[case]}")
        commits[case] = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "--quiet", base)
    rows: dict[str, dict] = {c: {"gate_codes": [], "gate_s": [], "asv_codes": [], "asv_flagged": [], "asv_s": []}
                             for c in cases}
    for trial in range(args.trials):
        for case in cases:
            if not args.skip_gate:
                code, secs = _gate(repo, base, commits[case], env_dir, tmp / f"{case}-{trial}.md", args.budget)
                rows[case]["gate_codes"].append(code)
                rows[case]["gate_s"].append(secs)
                print(f"trial {trial + 1}: {case}: gate exit {code} in {secs:.0f} s", flush=True)
            if args.asv_continuous:
                acode, asecs, flagged = _continuous(repo, base, commits[case], env_dir, tmp / f"{case}-{trial}.asv.log")
                rows[case]["asv_codes"].append(acode)
                rows[case]["asv_flagged"].append(flagged)
                rows[case]["asv_s"].append(asecs)
                print(f"trial {trial + 1}: {case}: asv continuous exit {acode}, flagged={flagged}, {asecs:.0f} s",
                      flush=True)
    print(f"\nballast calibration (MiB, HEAD's training heap peak): {ballast}")
    print(f"{'case':<28}{'gate flagged':>14}{'exit codes':>16}{'s/run':>8}{'asv cont. flagged':>20}{'s/run':>8}")
    for case in cases:
        r = rows[case]
        n_flagged = sum(c == 1 for c in r["gate_codes"])
        asv = f"{sum(r['asv_flagged'])}/{len(r['asv_flagged'])}" if r["asv_flagged"] else "-"
        asv_s = f"{statistics.median(r['asv_s']):.0f}" if r["asv_s"] else "-"
        rate = f"{n_flagged}/{len(r['gate_codes'])}" if r["gate_codes"] else "-"
        gate_s = f"{statistics.median(r['gate_s']):.0f}" if r["gate_s"] else "-"
        print(f"{CASES[case]:<28}{rate:>14}{r['gate_codes']!s:>16}{gate_s:>8}{asv:>20}{asv_s:>8}")
    Path(args.json).write_text(json.dumps({"ballast_mb": ballast, "rows": rows, "work": str(tmp)}, indent=1))
    print(f"\nfigures: {args.json}; reports and logs: {tmp}")
    return 0


def _redecide(records: list[Path], config: GateConfig) -> int:
    """Print each recorded run's verdicts under ``config`` and the exit code the gate would give."""
    from perfharness.gate.config import metric_kind
    from perfharness.gate.decide import Decision
    from perfharness.gate.outcome import GateOutcome
    from perfharness.gate.simulate import redecide

    for path in records:
        try:
            verdicts = redecide(path, config)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"gate_power: {path} is not a gate record ({exc})", file=sys.stderr)
            return 2
        decisions = tuple(Decision(name, metric_kind(name), v, "redecided") for name, (v, _) in verdicts.items())
        code = GateOutcome(decisions, config).exit_code  # the gate's own mapping of verdicts to exit codes
        cells = ", ".join(f"{name.split('.', 1)[1]} {v.value} ({n})" for name, (v, n) in sorted(verdicts.items())
                          if "final_loss" not in name)
        print(f"{path.name}: exit {code}: {cells}")
    return 0


def _simulate(records: list[Path], runs: int, plot: Path | None, budget: float, config: GateConfig,
              timed: list[Path], pooled: bool = False) -> int:
    """Replay A/A records with injected changes: the power curve and false alarms (no measuring); a run
    affords as many rounds as ``budget`` buys at the round times of ``timed``. Each simulated run draws its
    own offset per metric, with the between-run SD of the records (unless ``pooled``)."""
    from perfharness.gate.simulate import budget_rounds, centred_rounds, load_rounds, load_runs, run_offsets, simulate

    try:
        # the rounds a budget affords, less the warm-up rounds the rule does not count
        horizon = min(config.looks[-1], budget_rounds(timed, budget) - config.warmup_rounds)
        if pooled:
            rounds, offsets = load_rounds(records, config.warmup_rounds), None
        else:
            recorded = load_runs(records, config.warmup_rounds)
            rounds, offsets = centred_rounds(recorded), run_offsets(recorded)
        points = simulate(rounds, SIMULATED_CHANGES, config=config, runs=runs, horizon=horizon,
                          between_run_sd=offsets)
    except (OSError, ValueError, KeyError) as exc:
        print(f"gate_power: cannot replay {', '.join(map(str, records))}: {exc}", file=sys.stderr)
        return 2
    looks = ", ".join(f"{n} (alpha {config.alpha_at(n):g})" for n in config.looks if n <= horizon)
    if horizon > config.looks[0] and horizon not in config.looks:  # the gate looks there too, as it stops
        looks += f", then the budget's end at {horizon} (alpha {config.alpha_at(horizon):g})"
    print(f"{len(rounds)} recorded A/A rounds, {runs} simulated gate runs per change (exact 95 % intervals); "
          f"at most {horizon} rounds a run (--budget {budget:g} s at the records' round times), looks {looks}")
    if offsets is None:
        print("rounds drawn from all runs alike (--pooled): no per-run offsets")
    else:
        print(f"each run's rounds centred on their mean; one offset per simulated run and metric, SD τ measured over "
              f"the {len(records)} records: " + ", ".join(f"{n.split('.', 1)[1]} {100 * t:.2f} %"
                                                          for n, t in offsets.items() if t > 0))
    rules = {n: t for n, t in config.between_run_sd}
    if rules:
        print("the rule widens the interval of " + ", ".join(f"{n.split('.', 1)[1]} by τ {100 * t:.2f} %"
                                                            for n, t in rules.items()))
    if config.bands:
        print("bands of their own: " + ", ".join(f"{n.split('.', 1)[1]} ±{100 * t:.3g} %" for n, t in config.bands))
    print(f"{'metric':<46}{'change':>8}  {'flagged (regressed)':<30}{'false alarms':<30}{'undecided':<28}rounds")
    for pt in points:
        print(f"{pt.metric:<46}{100 * pt.change:>7.0f}%  {pt.flagged!s:<30}{pt.false_alarm!s:<30}"
              f"{pt.undecided!s:<28}{pt.median_rounds:g}")
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax, fa) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
        for metric in sorted({pt.metric for pt in points}):
            mine = [pt for pt in points if pt.metric == metric]
            xs = [100 * pt.change for pt in mine]
            style = {"lw": 2.5, "c": "k", "ls": "-" if "time" in metric else "--"} if metric.startswith("any ") else {}
            for axis, rate in ((ax, "flagged"), (fa, "false_alarm")):
                rates = [getattr(pt, rate) for pt in mine]
                axis.errorbar(xs, [100 * r.value for r in rates], marker="o", capsize=3, label=metric, **style,
                              yerr=[[100 * (r.value - r.interval[0]) for r in rates],
                                    [100 * (r.interval[1] - r.value) for r in rates]])
        ax.axhline(90, ls=":", c="grey")
        ax.set(xlabel="injected change (%)", ylabel="flagged as regressed (%)", ylim=(-2, 102),
               title=f"power, replayed from {len(rounds)} recorded A/A rounds, ≤ {horizon} rounds a run")
        fa.axhline(1, ls=":", c="grey")
        fa.set(xlabel="injected change (%)", ylabel="false alarms (%)", ylim=(-0.5, 10),
               title="false alarms (0 %: any call; else 'improved')")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
        print(f"plot: {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
