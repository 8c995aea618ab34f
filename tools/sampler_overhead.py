"""What the RSS sampler costs the training it watches: ``python -m tools.sampler_overhead``.

In one process, per workload and optimizer, ``rounds`` rounds of three training runs on fresh models,
in rotating order so drift hits all three alike:

* ``plain``: ``gdopt.train`` alone;
* ``trimmed``: the same after :func:`~perfharness.probes.host.release_free_memory` (untimed), the step the
  sampler takes on entry so that the training's allocations show in RSS;
* ``sampled``: inside a running :class:`~perfharness.probes.host.PeakRSSSampler`.

Three figures per case, each the median of the per-round ratios minus 1 with a 95 % bootstrap CI (scipy):

* ``sampling`` = sampled / trimmed, the clock around ``gdopt.train`` only: what the sampling thread
  costs the work it measures (the goal is ≤ 1 %);
* ``trim`` = trimmed / plain: the page faults of re-touching memory handed back to the kernel, the
  price of a reading that shows the training's memory at all;
* ``whole`` = the whole ``with`` block / plain: also the sampler's entry (``malloc_trim``, baseline
  read, thread start) and exit (join, final read, ``ru_maxrss``).

Rounds inside one process cancel the process-to-process spread of the training's time, which is larger
than the sampler's cost and swamped a first comparison across processes. The suites time training and
sample memory in separate benchmarks, so none of this reaches a reported time. Reports; asserts nothing;
the figures it gave are in docs/MEASUREMENTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
from perfharness.probes.host import PeakRSSSampler, release_free_memory

import gdopt
from benchmarks import common

WORKLOADS = {
    "suite": (common.N_SAMPLES, common.EPOCHS),  # benchmarks/training.py: Train.track_train_peak_rss_mb
    "gate": (common.GATE_N_SAMPLES, common.GATE_EPOCHS),  # the gate suite's workload (benchmarks/gate.py)
}


def _ratio_ci(ratios: list[float], seed: int) -> tuple[float, float]:
    from scipy import stats  # here, not at the top: asv imports every module of benchmarks/ in its
    # environments, which do not carry scipy (a harness dependency, not gdopt's)

    res = stats.bootstrap((np.asarray(ratios),), np.median, confidence_level=0.95, n_resamples=2000,
                          method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def measure_case(workload: str, name: str, interval_s: float, rounds: int, seed: int = 0) -> dict:
    """Rotating plain/trimmed/sampled runs of one optimizer on one workload; overheads as fractions."""
    n_samples, epochs = WORKLOADS[workload]
    data = common.dataset(n_samples)
    opt = common.optimizer(name)
    common.warm_up(gdopt.train, data, opt, "cpu")

    def run(model: gdopt.SampleModel) -> float:
        start = time.perf_counter()
        gdopt.train(model, data, opt, epochs=epochs[name], seed=common.TRAIN_SEED, device="cpu")
        return time.perf_counter() - start

    def plain() -> tuple[float, float]:
        elapsed = run(common.model())
        return elapsed, elapsed

    def trimmed() -> tuple[float, float]:
        model = common.model()  # before the trim, as in sampled() (and in the suites' setup)
        release_free_memory()
        elapsed = run(model)
        return elapsed, elapsed

    def sampled() -> tuple[float, float]:
        model = common.model()
        outer = time.perf_counter()
        with PeakRSSSampler(interval_s=interval_s) as sampler:
            start = time.perf_counter()
            gdopt.train(model, data, opt, epochs=epochs[name], seed=common.TRAIN_SEED, device="cpu")
            elapsed = time.perf_counter() - start
        samples.append(sampler.reading.n_samples)
        return elapsed, time.perf_counter() - outer

    arms = [plain, trimmed, sampled]
    samples: list[int] = []
    times: dict[str, list[tuple[float, float]]] = {arm.__name__: [] for arm in arms}
    for k in range(rounds):
        for arm in arms[k % 3:] + arms[: k % 3]:
            times[arm.__name__].append(arm())
    ratios = {
        "sampling": [s[0] / t[0] for s, t in zip(times["sampled"], times["trimmed"], strict=True)],
        "trim": [t[0] / p[0] for t, p in zip(times["trimmed"], times["plain"], strict=True)],
        "whole": [s[1] / p[0] for s, p in zip(times["sampled"], times["plain"], strict=True)],
    }
    result: dict = {
        "workload": workload, "optimizer": name, "interval_ms": interval_s * 1e3, "rounds": rounds,
        "plain_ms": statistics.median(t[0] for t in times["plain"]) * 1e3,
        "samples_per_run": statistics.median(samples),
    }
    for i, (what, values) in enumerate(ratios.items()):
        lo, hi = _ratio_ci(values, seed + i)
        result[what] = statistics.median(values) - 1
        result[f"{what}_ci"] = (lo - 1, hi - 1)
    return result


def _pct(x: float) -> str:
    return f"{x * 100:+.2f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sampler_overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="rounds of plain/trimmed/sampled (default 40)")
    parser.add_argument("--intervals-ms", type=float, nargs="+", default=[common.RSS_INTERVAL_S * 1e3],
                        help=f"sampling intervals in ms (default {common.RSS_INTERVAL_S * 1e3:g}, the suites')")
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=sorted(WORKLOADS))
    parser.add_argument("--json", action="store_true", help="print one JSON object per case")
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error(f"--rounds must be >= 3, got {args.rounds}")
    if any(not i > 0 for i in args.intervals_ms):
        parser.error(f"--intervals-ms must be > 0, got {args.intervals_ms}")
    if not args.json:
        print(f"{'workload':8} {'optimizer':9} {'interval':>8} {'plain':>8} {'reads':>5}  "
              f"{'sampling [95 % CI]':>29}  {'trim [95 % CI]':>29}  {'whole':>9}")
    for interval_ms in args.intervals_ms:
        for workload in args.workloads:
            for name in common.OPTIMIZER_NAMES:
                r = measure_case(workload, name, interval_ms / 1e3, args.rounds)
                if args.json:
                    print(json.dumps(r), flush=True)
                    continue
                cells = [f"{_pct(r[w]):>9} [{_pct(r[w + '_ci'][0])}, {_pct(r[w + '_ci'][1])}]"
                         for w in ("sampling", "trim")]
                print(f"{workload:8} {name:9} {interval_ms:6.1f}ms {r['plain_ms']:6.2f}ms {r['samples_per_run']:5.0f}  "
                      f"{cells[0]:>29}  {cells[1]:>29}  {_pct(r['whole']):>9}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
