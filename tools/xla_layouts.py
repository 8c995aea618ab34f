"""Does where XLA's code lands change the training's speed? ``python -m tools.xla_layouts``.

One process compiles the gate's training loop ``--copies`` K times (K ``tf.function`` objects over the same
``gdopt.loop.chunk``: the same HLO and the same machine code, each linked at its own addresses, with its
functions in its own order) and times them in turns, ``--samples`` S each: pass s runs every copy once, in
alternating order. Each pass's mean log time is taken out (what the machine did in that moment hit all
copies alike), and per copy the median of what is left is its speed relative to the others.

Without a layout effect, the SD of the K medians is the medians' sampling error (a bootstrap standard error,
printed beside it) and (K − 1)·SD²/SE² is about χ² with K − 1 degrees of freedom: p is its upper tail.
Reports; asserts nothing; the figures it gave are in docs/MEASUREMENTS.md. Run it alone (``cpu-exclusive``
here), pinned.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import numpy as np
from scipy import stats


def measure(name: str, copies: int, samples: int, n_samples: int, seed: int = 0) -> dict[str, object]:
    """Time ``copies`` compiles of one training loop in turns; the copies' relative medians and the test."""
    import tensorflow as tf

    import gdopt
    from benchmarks import common
    from gdopt import loop, training

    data = common.dataset(n_samples)
    opt = common.optimizer(name)
    epochs = common.GATE_EPOCHS[name]
    compiled = [tf.function(loop.chunk, jit_compile=True, autograph=False) for _ in range(copies)]
    original = loop.epochs_compiled
    times: list[list[float]] = [[] for _ in range(copies)]
    losses = set()
    try:
        for s in range(samples + 1):  # pass 0 compiles each copy (outside gdopt.train's clock) and is not kept
            for j in range(copies) if s % 2 == 0 else reversed(range(copies)):
                loop.epochs_compiled = compiled[j]
                if s == 0:  # gdopt.train compiles a copy it has not seen before timing it; once is enough
                    training._compiled.clear()
                run = gdopt.train(common.model_at_start(), data, opt, epochs=epochs, seed=common.TRAIN_SEED,
                                  device="cpu")
                if s:
                    times[j].append(run.seconds)
                    losses.add(run.final_loss)
    finally:
        loop.epochs_compiled = original
        training._compiled.clear()
    logs = np.log(np.asarray(times))
    logs -= logs.mean(axis=0, keepdims=True)  # each pass's shared moment of the machine
    medians = np.median(logs, axis=1)
    rng = np.random.default_rng(seed)
    boot = np.array([[np.median(rng.choice(row, row.size)) for row in logs] for _ in range(1000)])
    se = float(boot.std(axis=0, ddof=1).mean())
    sd = float(medians.std(ddof=1))
    chi2 = (copies - 1) * sd**2 / se**2
    return {
        "optimizer": name, "copies": copies, "samples": samples, "n_samples": n_samples,
        "relative_medians_pct": [round(100 * float(m), 2) for m in medians],
        "sd_pct": round(100 * sd, 2), "se_pct": round(100 * se, 2), "range_pct": round(100 * float(np.ptp(medians)), 2),
        "p": float(stats.chi2.sf(chi2, copies - 1)), "distinct_losses": len(losses),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.xla_layouts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--optimizer", default="sgd", help="an optimizer of gdopt.OPTIMIZERS (default sgd)")
    parser.add_argument("--copies", type=int, default=4, help="separate compiles of the loop (default 4)")
    parser.add_argument("--samples", type=int, default=240, help="timed runs per copy (default 240)")
    parser.add_argument("--n-samples", type=int, default=None, help="data set rows (default the gate's)")
    parser.add_argument("--core", type=int, default=None, help="pin this process to one core")
    args = parser.parse_args(argv)
    import gdopt
    from benchmarks import common

    if args.optimizer not in gdopt.OPTIMIZERS:
        parser.error(f"--optimizer must be one of {sorted(gdopt.OPTIMIZERS)}, got {args.optimizer!r}")
    if args.copies < 2 or args.samples < 2:
        parser.error(f"--copies and --samples must be >= 2, got {args.copies} and {args.samples}")
    n_samples = common.GATE_N_SAMPLES if args.n_samples is None else args.n_samples
    if n_samples < 1:
        parser.error(f"--n-samples must be >= 1, got {n_samples}")
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    print(json.dumps(measure(args.optimizer, args.copies, args.samples, n_samples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
