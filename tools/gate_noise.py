"""How noisy is a gate round? A/A gate runs in each mode, interleaved in one session, side by side.

``python -m tools.gate_noise --blocks 2 --rounds 8 --modes duet,duet-aslr`` runs the gate on HEAD against
itself, alternating the modes (block by block, so all see the same hour), each block a fixed
number of rounds with every metric measured in every round, and prints per metric the spread (SD) of the
per-round log ratio head/base, with a bootstrap 95 % interval, per mode. The recorded rounds are written
to ``--out`` (one JSON per block), the input of ``tools.gate_power --simulate``.
``--summarize FILE…`` prints the same table from records already made (grouped by their mode), adding a
robust spread (1.4826·MAD), which one wild round does not move.
``--between-runs FILE…`` asks whether runs of unchanged code differ by more than their rounds' noise: per
metric, each run's mean log ratio m_j with its standard error s_j, Cochran's Q = Σ (m_j − m̄)²/s_j² (m̄ the
1/s²-weighted mean; χ² with J − 1 degrees of freedom when every run measures the same truth and the rounds are
normal) and the DerSimonian–Laird between-run SD τ. A τ above 0 is a per-run bias between the sides that more
rounds do not average out. The rounds' log ratios are heavy-tailed, which inflates Q, so it also gives a
permutation p: the share of 2000 reshuffles of all rounds across runs (same run sizes) whose Q is as large.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from perfharness.gate.config import PR_GATE
from perfharness.gate.duet import MODES
from perfharness.gate.heterogeneity import heterogeneity
from perfharness.gate.run import GateError, run_gate


def log_ratios(records: Sequence[dict], warmup: int = 0) -> dict[str, list[float]]:
    """Per metric, every recorded round's paired log ratio after the first ``warmup`` rounds of each record
    (final losses left out: they do not vary)."""
    out: dict[str, list[float]] = {}
    for record in records:
        for rnd in record["rounds"][warmup:]:
            for name, v in rnd["pairs"].items():
                if "track_final_loss" not in name and v[0] > 0 and v[1] > 0:
                    out.setdefault(name, []).append(v[2] if len(v) > 2 else math.log(v[1] / v[0]))
    return out


def sd_interval(values: Sequence[float], seed: int = 0) -> tuple[float, float, float]:
    """The SD of ``values`` and its percentile bootstrap 95 % interval."""
    arr = np.asarray(values)
    rng = np.random.default_rng(seed)
    boot = np.std(arr[rng.integers(0, arr.size, (4000, arr.size))], axis=1, ddof=1)
    return float(np.std(arr, ddof=1)), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gate_noise", description=__doc__)
    parser.add_argument("--blocks", type=int, default=2, help="blocks per mode, alternated (default 2)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per block (default 8, the first look)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"modes to compare (default {','.join(MODES)})")
    parser.add_argument("--out", type=Path, default=Path("gate-noise"), help="folder for the records")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (default .)")
    parser.add_argument("--env-dir", type=Path, default=None, help="the sides' asv environments")
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="FILE", default=None,
                        help="only print the table for these records (grouped by their mode); measure nothing")
    parser.add_argument("--between-runs", type=Path, nargs="+", metavar="FILE", default=None,
                        help="records of unchanged code: do the runs differ by more than their rounds' noise?")
    parser.add_argument("--warmup", type=int, default=PR_GATE.warmup_rounds,
                        help="with --summarize or --between-runs: leave out each record's first rounds, as the "
                        f"gate's rule does (default {PR_GATE.warmup_rounds})")
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    if args.summarize:
        return summarize_files(args.summarize, args.warmup)
    if args.between_runs:
        return between_runs_files(args.between_runs, args.warmup)
    modes = [m for m in args.modes.split(",") if m]
    if args.blocks < 1 or any(m not in MODES for m in modes):
        parser.error(f"--blocks must be >= 1 and --modes a list of {MODES}")
    args.out.mkdir(parents=True, exist_ok=True)
    records: dict[str, list[dict]] = {m: [] for m in modes}
    for block in range(args.blocks):
        for mode in modes if block % 2 == 0 else modes[::-1]:  # alternate which mode goes first
            path = args.out / f"{mode}-{block}.json"
            try:
                run_gate(args.repo, "HEAD", "HEAD", mode=mode, rounds=args.rounds, record=path,
                         work=args.out / f"work-{mode}-{block}", env_dir=args.env_dir, budget_s=1e9)
            except GateError as exc:
                print(f"gate_noise: {exc}", file=sys.stderr)
                return 2
            records[mode].append(json.loads(path.read_text()))
            seconds = [r["seconds"] for r in records[mode][-1]["rounds"]]
            print(f"gate_noise: {mode} block {block}: {len(seconds)} rounds, median {np.median(seconds):.1f} s a round")
    summarize(records)
    return 0


def summarize(records: dict[str, list[dict]], warmup: int = 0) -> None:
    """Print, per metric and mode, the SD of the per-round log ratio with its bootstrap interval, and MAD."""
    print("\nSpread of the per-round log ratio head/base (A/A): SD [bootstrap 95 %], 1.4826·MAD:")
    modes = list(records)
    ratios = {m: log_ratios(records[m], warmup) for m in modes}
    names = sorted(set().union(*(r.keys() for r in ratios.values())))
    print(f"{'metric':<52}" + "".join(f"{m:>36}" for m in modes))
    for name in names:
        cells = []
        for m in modes:
            v = ratios[m].get(name, [])
            if len(v) < 3:
                cells.append(f"{'—':>36}")
                continue
            sd, lo, hi = sd_interval(v)
            mad = 1.4826 * float(np.median(np.abs(np.asarray(v) - np.median(v))))
            cells.append(f"{100 * sd:6.2f} % [{100 * lo:5.2f}, {100 * hi:5.2f}] {100 * mad:5.2f} n={len(v):<3}")
        print(f"{name:<52}" + "".join(f"{c:>36}" for c in cells))


def summarize_files(paths: Sequence[Path], warmup: int = 0) -> int:
    records: dict[str, list[dict]] = {}
    for path in paths:
        try:
            record = json.loads(path.read_text())
            records.setdefault(str(record["mode"]), []).append(record)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"gate_noise: {path} is not a gate record ({exc})", file=sys.stderr)
            return 2
    summarize(records, warmup)
    return 0


def between_runs(records: Sequence[dict], min_rounds: int = 6, permutations: int = 2000,
                 seed: int = 0, warmup: int = 0) -> dict[str, tuple[int, float, float, float, float]]:
    """Per metric over runs with at least ``min_rounds`` rounds: (runs J, Cochran's Q, its χ² p on J − 1
    degrees of freedom, its permutation p, the DerSimonian–Laird between-run SD τ);
    :mod:`perfharness.gate.heterogeneity`."""
    per_run = [log_ratios([r], warmup) for r in records]
    out = {}
    for name in sorted(set().union(*per_run)):
        runs = [np.asarray(r[name]) for r in per_run if len(r.get(name, [])) >= min_rounds]
        if len(runs) < 2:
            continue
        h = heterogeneity(runs, permutations=permutations, seed=seed)
        out[name] = (h.runs, h.q, h.p_chi2, h.p_permutation, h.tau)
    return out


def between_runs_files(paths: Sequence[Path], warmup: int = 0) -> int:
    try:
        records = [json.loads(p.read_text()) for p in paths]
        table = between_runs(records, warmup=warmup)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"gate_noise: cannot read the records ({exc})", file=sys.stderr)
        return 2
    print("Between runs of unchanged code: Cochran's Q of the runs' mean log ratios (χ² p, permutation p), and the "
          "between-run SD τ:")
    for name, (j, q, p, perm, tau) in table.items():
        print(f"{name:<52} {j:3d} runs  Q {q:6.1f} on {j - 1:2d} df  p {p:<8.2g} permutation p {perm:<7.3g} "
              f"τ {100 * tau:5.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
