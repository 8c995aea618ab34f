"""Does SGD's A/A offset follow the environment (env a / env b) or the side (base / head)?

``PYTHONPATH=harness/src python docs/data/gate-noise-2026-12-02-envswap/analyze.py`` over the eight SGD-only
records in this folder: ``normal-*`` (base in env a, head in env b) and ``swap-*`` (the same gate with
``--env-dir`` pointing at links a → b, b → a: base in env b, head in env a), interleaved.
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


def compare(folder: Path, first: str, second: str) -> None:
    """Each setting's run means (records ``FIRST-*.json`` and ``SECOND-*.json`` in ``folder``), and a
    permutation p (the labels shuffled over the runs) for the difference of their means."""
    means = {mode: np.array([run_mean(p) for p in sorted(folder.glob(f"{mode}-*.json"))]) for mode in (first, second)}
    for mode, m in means.items():
        se = m.std(ddof=1) / math.sqrt(m.size)
        print(f"{mode}: run means {', '.join(f'{100 * v:+.2f}' for v in m)} %; mean {100 * m.mean():+.2f} % "
              f"(SE {100 * se:.2f})")
    diff = means[first].mean() - means[second].mean()
    everything = np.concatenate(list(means.values()))
    rng, hits, draws, n = np.random.default_rng(0), 0, 5000, means[first].size
    for _ in range(draws):
        shuffled = rng.permutation(everything)
        hits += abs(shuffled[:n].mean() - shuffled[n:].mean()) >= abs(diff)
    print(f"{first} − {second}: {100 * diff:+.2f} %; permutation p (two-sided) {(hits + 1) / (draws + 1):.3f}")


if __name__ == "__main__":
    compare(HERE, "normal", "swap")
    print("A bias that follows the environment changes sign with the swap; one that follows the side does not.")
