"""The gate's one configuration: which metric a benchmark measures, and the thresholds per metric.

A benchmark's metric kind comes from its asv method name (the last dotted part, parameters stripped):

=====================================================  ==========
name                                                   kind
=====================================================  ==========
``track_final_loss``                                   ``loss``
``time_*``, ``timeraw_*``                              ``time``
``peakmem_*``, ``mem_*``, ``track_*`` with ``_mb``     ``memory``
=====================================================  ==========

>>> metric_kind("training.Train.time_train(gdopt, sgd, cpu)")
'time'
>>> metric_kind("training.Train.track_peak_rss_mb")
'memory'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from perfharness.gate.signed_rank import min_pairs

__all__ = [
    "METRIC_KINDS",
    "METRIC_RULES",
    "PR_GATE",
    "GateConfig",
    "MetricKind",
    "check_kind",
    "metric_kind",
    "metric_unit",
    "parse_config",
]

MetricKind = Literal["time", "memory", "loss"]
METRIC_KINDS: tuple[MetricKind, ...] = ("time", "memory", "loss")

# First match wins; patterns see the method name only, e.g. "track_peak_rss_mb".
METRIC_RULES: tuple[tuple[re.Pattern[str], MetricKind], ...] = (
    (re.compile(r"^track_final_loss$"), "loss"),
    (re.compile(r"^(time|timeraw)_"), "time"),
    (re.compile(r"^(peakmem|mem)_"), "memory"),
    (re.compile(r"^track_\w*_mb(_|$)"), "memory"),
)


def check_kind(kind: str) -> MetricKind:
    """``kind`` itself if it is one of :data:`METRIC_KINDS`, else ``ValueError``."""
    for known in METRIC_KINDS:
        if kind == known:
            return known
    raise ValueError(f"unknown metric kind {kind!r}; expected one of {METRIC_KINDS}")


def _method_name(benchmark: str) -> str:
    """``"mod.Cls.time_x(a, b)"`` → ``"time_x"``."""
    return benchmark.split("(", 1)[0].rsplit(".", 1)[-1]


def metric_kind(benchmark: str) -> MetricKind:
    """The metric a benchmark measures, from its asv name (see :data:`METRIC_RULES`).

    Raises ``ValueError`` for a name no rule covers, so a new benchmark is never gated by accident.
    """
    method = _method_name(benchmark)
    for pattern, kind in METRIC_RULES:
        if pattern.search(method):
            return kind
    raise ValueError(f"unknown metric kind for benchmark {benchmark!r}: no rule in METRIC_RULES matches {method!r}")


def metric_unit(benchmark: str) -> str:
    """Unit of a benchmark's values: ``"s"`` (time), ``"bytes"`` (asv peakmem/mem), ``"MB"``, or ``""``."""
    kind = metric_kind(benchmark)
    if kind == "time":
        return "s"
    if kind == "memory":
        return "MB" if _method_name(benchmark).startswith("track_") else "bytes"
    return ""


def _check_pairs(field: str, pairs: object, what: str, bounds: str, inside: Callable[[float], bool]) -> None:
    """``pairs`` is a tuple of (benchmark, number) pairs, each number ``inside`` its bounds, no benchmark twice."""
    if not isinstance(pairs, tuple) or any(
            not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str) or not item[0]
            or isinstance(item[1], bool) or not isinstance(item[1], (int, float)) or not inside(item[1])
            for item in pairs):
        raise ValueError(f"{field} must be a tuple of (benchmark, {what}) pairs with {bounds}, got {pairs!r}")
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError(f"{field} names a benchmark twice: {pairs!r}")


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gate, all in one place.

    For time and memory, with r the ratio head/base, [r_lo, r_hi] its confidence interval and t the
    metric's threshold:

    - regressed:    r_lo > 1 + t   (the whole interval above the band)
    - improved:     r_hi < 1 − t   (the whole interval below it)
    - unchanged:    1 − t ≤ r_lo and r_hi ≤ 1 + t  (the whole interval inside the band)
    - undecided:    anything else (the interval straddles 1 ± t: measure more, or exit 3)

    Metrics in ``paired_kinds`` are decided on matched runs when the caller has them (base and head of
    round k measured together, as ``nox -s gate`` does): with d_k = log h_k − log b_k, r = exp(pseudo-median
    of d) and the interval is the exact Wilcoxon signed-rank interval of the pseudo-median
    (:mod:`perfharness.gate.signed_rank`), so the interval and the test are one rule. The gate looks at
    the data after the rounds in ``looks`` and stops measuring a metric once it is decided; look j uses
    ``look_alphas[j]`` (default α / len(looks) each), with Σ look_alphas ≤ α (Bonferroni over the looks, with
    weights), so the chance that any look errs stays ≤ α per metric. A budget that ends between two looks
    brings the next look forward, with its α (:meth:`alpha_at`).

    Unpaired (results of separate runs): r is the ratio of medians or the Hodges–Lehmann ratio
    (``estimator``), the interval a percentile bootstrap at ``confidence_level``, and the verdicts above
    also require the Mann-Whitney U p < ``alpha`` for regressed / improved.

    ``between_run_sd``: (benchmark, τ) pairs. Runs of unchanged code may differ between their sides by an
    offset that each run draws once (sd τ of log h/b) and that its rounds cannot average out; for a listed
    benchmark the paired interval is widened to cover it, half by half in quadrature with the signed-rank
    interval: [δ̂ − √((δ̂ − lo)² + (zτ)²), δ̂ + √((hi − δ̂)² + (zτ)²)], δ̂ the pseudo-median and z the normal
    quantile at the look's α (a random-effects term, as in DerSimonian–Laird; τ from
    :mod:`perfharness.gate.heterogeneity` over A/A runs). Its p-value is the least α at which the widened
    interval excludes 1, so the two still agree. ``calibration`` says, for the report, which runner's
    measurements the τ are (``perfharness.gate.calibration.project_rule``).

    ``bands``: (benchmark, t) pairs, a band of its own for a time or memory benchmark in place of its kind's
    threshold: for a benchmark whose per-run offset alone (z·τ) spans the kind's band on some runner, so
    that no run there could call it unchanged. The report lists them.

    ``warmup_rounds``: the first rounds install both commits and compile (each side's first process fills its
    XLA cache; later ones load it): their time and memory pairs are recorded but not counted, and the looks
    count the rounds after them (pyperf's warm-up runs, for whole rounds).

    The final loss is deterministic: |head − base| > ``loss_rtol``·|base| is a numerics change.

    >>> GateConfig().threshold("time")
    0.05
    """

    time_threshold: float = 0.05
    memory_threshold: float = 0.05
    loss_rtol: float = 1e-6
    confidence_level: float = 0.99
    alpha: float = 0.01
    min_samples: int = 5
    n_resamples: int = 9999
    ci_method: Literal["percentile", "BCa"] = "percentile"
    seed: int = 20240601
    estimator: Literal["median_ratio", "hodges_lehmann"] = "median_ratio"
    paired_kinds: tuple[str, ...] = ()
    looks: tuple[int, ...] = ()
    look_alphas: tuple[float, ...] = ()
    between_run_sd: tuple[tuple[str, float], ...] = ()
    bands: tuple[tuple[str, float], ...] = ()
    calibration: str = ""
    warmup_rounds: int = 0

    def __post_init__(self) -> None:
        for name in ("time_threshold", "memory_threshold"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        if not (isinstance(self.loss_rtol, (int, float)) and math.isfinite(self.loss_rtol)) or (self.loss_rtol < 0):
            raise ValueError(f"loss_rtol must be a finite number >= 0, got {self.loss_rtol!r}")
        for name in ("confidence_level", "alpha"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):
                raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        for name, minimum in (("min_samples", 2), ("n_resamples", 100)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        if self.ci_method not in ("percentile", "BCa"):
            raise ValueError(f"ci_method must be 'percentile' or 'BCa', got {self.ci_method!r}")
        if self.estimator not in ("median_ratio", "hodges_lehmann"):
            raise ValueError(f"estimator must be 'median_ratio' or 'hodges_lehmann', got {self.estimator!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if not isinstance(self.paired_kinds, tuple) or not set(self.paired_kinds) <= {"time", "memory"} or len(
                set(self.paired_kinds)) != len(self.paired_kinds):
            raise ValueError(f"paired_kinds must be a tuple of distinct 'time' / 'memory', got {self.paired_kinds!r}")
        looks = self.looks
        if not isinstance(looks, tuple) or any(isinstance(n, bool) or not isinstance(n, int) for n in looks) or list(
                looks) != sorted(set(looks)):
            raise ValueError(f"looks must be a tuple of increasing ints, got {looks!r}")
        spent = self.look_alphas
        if spent:
            if not isinstance(spent, tuple) or len(spent) != len(looks) or any(
                    isinstance(a, bool) or not isinstance(a, (int, float)) or not 0.0 < a < 1.0 for a in spent):
                raise ValueError(f"look_alphas must be one alpha in (0, 1) per look {looks!r}, got {spent!r}")
            if sum(spent) > self.alpha * (1 + 1e-9):
                raise ValueError(f"look_alphas must add up to at most alpha {self.alpha:g}, got {spent!r} "
                                 f"(sum {sum(spent):g})")
        for n in looks:
            if n < min_pairs(self.alpha_at(n)):
                raise ValueError(
                    f"the look at {n} rounds needs >= {min_pairs(self.alpha_at(n))}: at its alpha "
                    f"{self.alpha_at(n):g} the signed-rank interval is unbounded on fewer pairs, got looks {looks!r}"
                )

        _check_pairs("between_run_sd", self.between_run_sd, "sd", "0 <= sd < 0.5", lambda v: 0.0 <= v < 0.5)
        _check_pairs("bands", self.bands, "band", "0 < band < 1", lambda v: 0.0 < v < 1.0)
        for name, _ in self.bands:
            if metric_kind(name) == "loss":  # raises for a name no rule covers
                raise ValueError(f"bands: {name!r} is a final loss; its tolerance is loss_rtol")
        if isinstance(self.warmup_rounds, bool) or not isinstance(self.warmup_rounds, int) or self.warmup_rounds < 0:
            raise ValueError(f"warmup_rounds must be an int >= 0, got {self.warmup_rounds!r}")
        if not isinstance(self.calibration, str):
            raise ValueError(f"calibration must be a string, got {self.calibration!r}")

    def tau(self, benchmark: str) -> float:
        """The between-run SD τ of ``benchmark``'s log ratio (``between_run_sd``; 0 when not listed).

        >>> GateConfig(between_run_sd=(("a.B.time_x(y)", 0.007),)).tau("a.B.time_x(y)")
        0.007
        """
        return float(dict(self.between_run_sd).get(benchmark, 0.0))

    def band(self, benchmark: str, kind: str | None = None) -> float:
        """The band t of a time or memory ``benchmark``: its own (``bands``), else the threshold of its kind
        (``kind``, or the one its name says).

        >>> GateConfig(bands=(("a.B.time_x(y)", 0.025),)).band("a.B.time_x(y)"), GateConfig().band("a.B.time_z")
        (0.025, 0.05)
        """
        own = dict(self.bands).get(benchmark)
        return float(own) if own is not None else self.threshold(kind or metric_kind(benchmark))

    def counts(self, round_index: int, benchmark: str) -> bool:
        """Whether round ``round_index`` (0-based) counts for ``benchmark``: the final loss counts in every round
        it is measured in, time and memory only after the ``warmup_rounds``.

        >>> PR_GATE.counts(0, "gate.Gate.time_train(gd)"), PR_GATE.counts(0, "gate.Gate.track_final_loss(gd)")
        (False, True)
        """
        return round_index >= self.warmup_rounds or metric_kind(benchmark) == "loss"

    def threshold(self, kind: str) -> float:
        """Relative threshold t for ``kind`` (``loss_rtol`` for the final loss)."""
        checked = check_kind(kind)
        if checked == "time":
            return self.time_threshold
        if checked == "memory":
            return self.memory_threshold
        return self.loss_rtol

    def alpha_at(self, n: int) -> float:
        """The significance of a paired decision on ``n`` rounds: that of the first look at or after ``n``
        (the last look's beyond them); α / len(looks) each unless ``look_alphas`` says otherwise.

        A run whose budget ends between two looks looks once more, at the rounds it has, with the α of the
        look it cannot reach: each look's α is still spent at most once, so Σ α stays ≤ α.

        >>> [round(PR_GATE.alpha_at(n), 4) for n in (8, 9, 14, 24, 40)]
        [0.008, 0.042, 0.042, 0.042, 0.042]
        """
        if not self.looks:
            return self.alpha
        if not self.look_alphas:
            return self.alpha / len(self.looks)
        j = min([i for i, look in enumerate(self.looks) if look >= n], default=len(self.looks) - 1)
        return float(self.look_alphas[j])

    def min_pairs(self) -> int:
        """Fewest pairs whose exact signed-rank interval at the first look's alpha is bounded.

        >>> PR_GATE.min_pairs()
        8
        """
        return max(self.min_samples, min_pairs(self.alpha_at(self.looks[0] if self.looks else 0)))

    def get_config(self) -> dict[str, object]:
        """Plain dict of the thresholds, for the report; ``GateConfig(**cfg.get_config()) == cfg``."""
        return asdict(self)


def parse_config(overrides: Sequence[str], base: GateConfig | None = None) -> GateConfig:
    """``base`` (default ``GateConfig()``) with ``KEY=VALUE`` overrides, each converted to the field's type."""
    defaults = base if base is not None else GateConfig()
    kinds = {f.name: type(getattr(defaults, f.name)) for f in fields(GateConfig)}
    values: dict[str, object] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in kinds:
            raise ValueError(f"--set expects KEY=VALUE with KEY one of {sorted(kinds)}, got {item!r}")
        try:
            if key in ("between_run_sd", "bands"):  # NAME=X;NAME=X (names hold commas; empty: none)
                pairs = [part.strip().rpartition("=") for part in raw.split(";") if part.strip()]
                if any(not name or not eq for name, eq, _ in pairs):
                    what = "SD" if key == "between_run_sd" else "BAND"
                    raise ValueError(f"expected BENCHMARK={what};BENCHMARK={what}, got {raw!r}")
                values[key] = tuple((name.strip(), float(sd)) for name, _, sd in pairs)
            elif kinds[key] is tuple:  # e.g. paired_kinds=time,memory or looks=8,12 (empty: none)
                parts = [part.strip() for part in raw.split(",") if part.strip()]
                cast = {"looks": int, "look_alphas": float}.get(key, str)
                values[key] = tuple(cast(x) for x in parts)
            else:
                values[key] = kinds[key](raw.strip())
        except ValueError as exc:
            raise ValueError(f"--set {key}: {exc}") from exc
    return replace(defaults, **values)  # type: ignore[arg-type]


#: What ``nox -s gate`` uses. Its inputs are concurrent pairs (base and head in the same round, at the same
#: time, one core each; see :mod:`perfharness.gate.duet`), decided paired by round with the exact signed-rank
#: interval, looked at after 8 and 24 rounds. The default 5-minute budget reaches 12–16 rounds on a 2-core
#: runner at 17–22 s a round, CI's rerun with 600 s 24: so a default run decides at 8 (α 0.008, the least that
#: bounds an 8-round interval: 2/2⁸) or where its budget ends, which brings the look at 24 forward with the
#: rest of α, 0.042; a look in between would only spend α where few runs stop (docs/MEASUREMENTS.md, "alpha
#: where the rounds are" and "discovery once"). The 1 % time band sits halfway
#: between "unchanged" and the 2 % slowdown the gate must catch; memory (an exact heap peak) has a 5 % band
#: under the 10 % growth it must catch. Measured by tools/gate_power.py (docs/MEASUREMENTS.md).
PR_GATE = GateConfig(
    time_threshold=0.01, memory_threshold=0.05, confidence_level=0.95, alpha=0.05, estimator="hodges_lehmann",
    paired_kinds=("time", "memory"), looks=(8, 24), look_alphas=(0.008, 0.042), warmup_rounds=1,
)
