"""Do two A/A runs that load the same XLA executables agree more than runs with other ones?

``PYTHONPATH=harness/src python docs/data/gate-noise-2026-12-02-cachepairs/analyze.py`` over the eight SGD-only
records in this folder: pair i's two runs (pass 1 compiled, pass 2 loaded the same cache files).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from perfharness.gate.decide import round_value
from perfharness.gate.heterogeneity import heterogeneity

NAME = "gate.Gate.time_train(sgd)"
HERE = Path(__file__).resolve().parent


def main() -> None:
    runs: dict[str, np.ndarray] = {}
    for path in sorted(HERE.glob("pair*-pass*.json")):
        rounds = json.loads(path.read_text())["rounds"]
        d = np.array([round_value(*r["samples"][NAME])[2] for r in rounds if NAME in r.get("samples", {})])
        runs[path.stem] = d
        se = d.std(ddof=1) / math.sqrt(d.size)
        print(f"{path.stem}: {d.size} rounds, mean {100 * d.mean():+.2f} % (SE {100 * se:.2f}), "
              f"SD {100 * d.std(ddof=1):.2f} %")
    means = {k: float(v.mean()) for k, v in runs.items()}
    h = heterogeneity(list(runs.values()), permutations=2000)
    print(f"all runs: Q {h.q:.1f} on {h.runs - 1} df, permutation p {h.p_permutation:.3f}, tau {100 * h.tau:.2f} %")
    pairs = sorted({k.split("-")[0] for k in means})
    within = [abs(means[f"{p}-pass1"] - means[f"{p}-pass2"]) for p in pairs]
    across = [abs(means[a] - means[b]) for a in means for b in means if a < b and a.split("-")[0] != b.split("-")[0]]
    print(f"mean |difference| of run means: same cache {100 * np.mean(within):.2f} % ({len(within)}), "
          f"other caches {100 * np.mean(across):.2f} % ({len(across)})")
    values, rng, hits, draws = np.array(list(means.values())), np.random.default_rng(0), 0, 5000
    for _ in range(draws):  # the pairs relabelled at random: how often are they as close as the real ones?
        shuffled = rng.permutation(values).reshape(-1, 2)
        hits += float(np.mean(np.abs(shuffled[:, 0] - shuffled[:, 1]))) <= np.mean(within)
    print(f"permutation p (runs sharing a cache closer than random pairs): {(hits + 1) / (draws + 1):.3f}")
    se = np.std(values, ddof=1) / math.sqrt(values.size)
    print(f"mean of the run means {100 * np.mean(values):+.2f} % (SE {100 * se:.2f})")


if __name__ == "__main__":
    main()
