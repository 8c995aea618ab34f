"""gdopt against its two yardsticks, side by side in one process: ``python -m tools.speed``.

Interleaves the contenders round by round (A B A B …) so drift on a shared machine hits both, and
reports medians and their ratios:

* SGD and MiniBatchGD(32) epochs: Keras ``fit`` time ÷ ``gdopt.train`` time (targets ≥ 50 and ≥ 10);
* BatchGD step: ``gdopt.train`` time per step ÷ the NumPy forward/backward in
  ``tools/reference.py`` (target ≤ 1.0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import gdopt
from tools import reference

TARGETS = {"sgd_epoch": (">=", 50.0), "minibatch_epoch": (">=", 10.0), "gd_step": ("<=", 1.0)}


def _gdopt(opt: gdopt.Optimizer, data: gdopt.Dataset, epochs: int, seed: int) -> Callable[[], float]:
    def run() -> float:
        model = gdopt.SampleModel(data.n_features, 10, seed=seed)
        return gdopt.train(model, data, opt, epochs=epochs, seed=seed).seconds / epochs
    return run


def _keras(opt: gdopt.Optimizer, data: gdopt.Dataset, seed: int) -> Callable[[], float]:
    def run() -> float:
        model = gdopt.SampleModel(data.n_features, 10, seed=seed)
        return gdopt.keras_fit(model, data, opt, epochs=1, seed=seed).seconds
    return run


def _numpy_step(data: gdopt.Dataset, lr: float, steps: int, seed: int) -> Callable[[], float]:
    model = gdopt.SampleModel(data.n_features, 10, seed=seed)
    params0 = [v.numpy() for v in model.trainable_variables]

    def run() -> float:
        params = params0
        start = time.perf_counter()
        for _ in range(steps):
            params = reference.step(params, data.x, data.y, lr)
        return (time.perf_counter() - start) / steps
    return run


def measure(n_samples: int = 4096, repeats: int = 5, gd_steps: int = 200, seed: int = 0) -> dict[str, dict]:
    """Median seconds of each contender and the ratios, interleaved over ``repeats`` rounds."""
    data = gdopt.make_regression(n_samples=n_samples, n_features=8, noise=0.1, seed=seed)
    sgd, mb, gd = gdopt.SGD(0.01), gdopt.MiniBatchGD(0.05, 32), gdopt.BatchGD(0.1)
    pairs = {
        "sgd_epoch": (_keras(sgd, data, seed), _gdopt(sgd, data, 1, seed)),
        "minibatch_epoch": (_keras(mb, data, seed), _gdopt(mb, data, 1, seed)),
        "gd_step": (_gdopt(gd, data, gd_steps, seed), _numpy_step(data, 0.1, gd_steps, seed)),
    }
    samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
    for round_ in range(repeats + 1):  # round 0 warms up: tracing, XLA compilation, first touch
        for key, (a, b) in pairs.items():
            if key != "gd_step":
                # keras_fit seeds TensorFlow, and tf.random.set_seed clears TF's kernel cache: re-warm
                # gdopt's compiled loop untimed, as asv's setup does, so neither side pays for the other.
                keras_s = a()
                b()
            else:
                keras_s = a()
            gd_or_gdopt = b()
            if round_:
                samples[key][0].append(keras_s)
                samples[key][1].append(gd_or_gdopt)
    out = {}
    for key, (num, den) in samples.items():
        ratio = statistics.median(num) / statistics.median(den)
        op, target = TARGETS[key]
        ok = ratio >= target if op == ">=" else ratio <= target
        out[key] = {"numerator_s": statistics.median(num), "denominator_s": statistics.median(den),
                    "ratio": ratio, "target": f"{op} {target:g}", "met": ok,
                    "numerator_samples": num, "denominator_samples": den}
    return out


LABELS = {
    "sgd_epoch": ("SGD epoch", "keras fit", "gdopt"),
    "minibatch_epoch": ("MiniBatchGD(32) epoch", "keras fit", "gdopt"),
    "gd_step": ("BatchGD step", "gdopt", "NumPy"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.n_samples < 32 or args.repeats < 1:
        parser.error("--n-samples must be >= 32 and --repeats >= 1")
    res = measure(n_samples=args.n_samples, repeats=args.repeats)
    print(f"n={args.n_samples}, d=8, hidden=10, CPU; medians of {args.repeats} interleaved rounds")
    print(f"{'case':<24}{'numerator':>22}{'denominator':>22}{'ratio':>10}  target")
    for key, r in res.items():
        label, num, den = LABELS[key]
        print(f"{label:<24}{num + ' ' + _fmt(r['numerator_s']):>22}{den + ' ' + _fmt(r['denominator_s']):>22}"
              f"{r['ratio']:>10.2f}  {r['target']} {'met' if r['met'] else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    sys.exit(main())
