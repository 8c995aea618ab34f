"""The gate's own benchmark: how often it flags controlled changes (``nox -s gate_power``).

In a temporary clone, commits each change on top of HEAD and runs ``nox -s gate``'s logic (base = HEAD,
head = the change) ``--trials`` times, cases interleaved; optionally ``asv continuous`` with its defaults
on the same commits, side by side:

  (a) no-op change            goal: never flagged
  (b) training 10 % slower    goal: always flagged
  (c) training 5 % slower     goal: flagged in ≥ 90 % of trials
  (d) training memory +20 %   goal: always flagged
  (e) learning rate +1 %      goal: always flagged (numerics changed)

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

DEFAULT_ROUNDS = 10  # perfharness.gate.run's; not imported: asv imports this module where scipy is absent

CASES = {
    "noop": "(a) no-op change",
    "slow10": "(b) training 10 % slower",
    "slow5": "(c) training 5 % slower",
    "mem20": "(d) training memory +20 %",
    "lr1": "(e) learning rate +1 %",
}
TRAIN = "gdopt/training.py"
ENTRY_LINE = "    p = plan(model, data, optimizer, epochs, seed, device)\n"  # the first line of train()
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
    elif case in ("slow10", "slow5"):
        frac = 0.10 if case == "slow10" else 0.05
        entry = "    _entered = time.perf_counter()  # gate_power\n"
        spin = (
            f"    _until = time.perf_counter() + {frac} * (time.perf_counter() - _entered)  # gate_power\n"
            "    while time.perf_counter() < _until:\n        pass\n"
        )
        src = src.replace(ENTRY_LINE, entry + ENTRY_LINE).replace(EXIT_LINE, spin + EXIT_LINE)
    elif case == "mem20":
        sizes = {k: int(v * 0.2 * 2**20) for k, v in ballast_mb.items()}
        hold = f"    _ballast = np.ones({sizes!r}.get(optimizer.name, 0) // 8)  # gate_power: +20 % memory\n"
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
    """Median training peak RSS (MB) per optimizer on HEAD, 3 fresh processes each, in asv's env."""
    pythons = sorted(env_dir.glob("*/bin/python"))
    if not pythons:
        raise SystemExit(f"gate_power: no asv environment under {env_dir}; run `nox -s gate -- HEAD HEAD` once")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from benchmarks.gate import GateMemory; g = GateMemory(); "
        "g.setup(sys.argv[2]); print(g.track_train_peak_rss_mb(sys.argv[2]))"
    )
    out = {}
    for name in ("gd", "minibatch", "sgd"):
        vals = [float(subprocess.run([str(pythons[0]), "-c", code, str(repo), name], check=True, capture_output=True,
                                     text=True).stdout.split()[-1]) for _ in range(3)]
        out[name] = statistics.median(vals)
    return out


def _gate(repo: Path, base: str, head: str, env_dir: Path, report: Path, rounds: int) -> tuple[int, float]:
    start = time.perf_counter()
    code = subprocess.run(
        [sys.executable, "-m", "perfharness.gate.run", base, head, "--repo", str(repo), "--report", str(report),
         "--env-dir", str(env_dir), "--work", str(report.with_suffix("")), "--rounds", str(rounds)],
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
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help=f"the gate's --rounds (default {DEFAULT_ROUNDS})")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    parser.add_argument("--asv-continuous", action="store_true", help="also run asv continuous (defaults)")
    parser.add_argument("--skip-gate", action="store_true", help="with --asv-continuous: run only asv continuous")
    parser.add_argument("--env-dir", default=".asv/env", help="asv environments to reuse (default .asv/env)")
    parser.add_argument("--json", default="gate-power.json", help="write the figures here")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    from perfharness.gate.config import PR_GATE  # here, not at the top: asv imports this module where scipy is absent

    least = PR_GATE.min_pairs()  # what the gate itself accepts (paired time needs it to reach p < alpha)
    if args.rounds < least:
        parser.error(f"--rounds must be >= {least} (the gate's paired time test), got {args.rounds}")
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
    ballast = _calibrate(repo, env_dir) if "mem20" in cases else {}
    commits = {}
    for case in cases:
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
                code, secs = _gate(repo, base, commits[case], env_dir, tmp / f"{case}-{trial}.md", args.rounds)
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
    print(f"\nballast calibration (MB, HEAD's training peak): {ballast}")
    print(f"{'case':<28}{'gate flagged':>14}{'exit codes':>16}{'s/run':>8}{'asv cont. flagged':>20}{'s/run':>8}")
    for case in cases:
        r = rows[case]
        flagged = sum(c == 1 for c in r["gate_codes"])
        asv = f"{sum(r['asv_flagged'])}/{len(r['asv_flagged'])}" if r["asv_flagged"] else "-"
        asv_s = f"{statistics.median(r['asv_s']):.0f}" if r["asv_s"] else "-"
        rate = f"{flagged}/{len(r['gate_codes'])}" if r["gate_codes"] else "-"
        gate_s = f"{statistics.median(r['gate_s']):.0f}" if r["gate_s"] else "-"
        print(f"{CASES[case]:<28}{rate:>14}{r['gate_codes']!s:>16}{gate_s:>8}{asv:>20}{asv_s:>8}")
    Path(args.json).write_text(json.dumps({"ballast_mb": ballast, "rows": rows, "work": str(tmp)}, indent=1))
    print(f"\nfigures: {args.json}; reports and logs: {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
