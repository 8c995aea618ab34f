"""Does SGD's A/A side bias go when both sides map the same TensorFlow files?

``PYTHONPATH=harness/src python docs/data/gate-noise-2026-12-02-hardlinks/analyze.py`` over the eight SGD-only
records in this folder: ``normal-*`` (env a and env b, two separate installs) and ``hardlinked-*`` (env a, and a
copy of it made with ``cp -al``: every file of head's environment a hard link to base's, so both sides' libraries
are the same page-cache pages), interleaved.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from perfharness.gate.decide import round_value

NAME = "gate.Gate.time_train(sgd)"
HERE = Path(__file__).resolve().parent


def run_mean(path: Path) -> float:
    rounds = json.loads(path.read_text())["rounds"]
    return float(np.mean([round_value(*r["samples"][NAME])[2] for r in rounds if NAME in r.get("samples", {})]))


def main() -> None:
    modes = ("hardlinked", "normal")
    means = {mode: np.array([run_mean(p) for p in sorted(HERE.glob(f"{mode}-*.json"))]) for mode in modes}
    for mode, m in means.items():
        se = m.std(ddof=1) / math.sqrt(m.size)
        print(f"{mode}: run means {', '.join(f'{100 * v:+.2f}' for v in m)} %; mean {100 * m.mean():+.2f} % "
              f"(SE {100 * se:.2f})")
    diff = means["normal"].mean() - means["hardlinked"].mean()
    everything = np.concatenate(list(means.values()))
    rng, hits, draws, n = np.random.default_rng(0), 0, 5000, means["hardlinked"].size
    for _ in range(draws):  # the mode labels shuffled over the eight runs
        shuffled = rng.permutation(everything)
        hits += abs(shuffled[:n].mean() - shuffled[n:].mean()) >= abs(diff)
    print(f"normal − hardlinked: {100 * diff:+.2f} %; permutation p (two-sided) {(hits + 1) / (draws + 1):.3f}")
    print("A bias from two copies of the libraries in memory goes with the hard links; one from the side stays.")


if __name__ == "__main__":
    main()
