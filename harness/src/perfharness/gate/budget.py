"""The wall budget's rule, shared by the gate's round loop and its replay: another round starts only if a round
as long as the longest so far, and the run's tail, still fit."""

from __future__ import annotations

__all__ = ["TAIL_S", "another_round_fits", "rounds_within"]

# What a run spends after its last round (the last results, the report, the sides' fingerprints: ~1 s here),
# with a margin: --budget bounds the whole run, start-up and report included, not only its rounds.
TAIL_S = 3.0


def another_round_fits(elapsed_s: float, longest_s: float, budget_s: float) -> bool:
    """Whether a round as long as the longest so far, and the run's tail, still fit in the budget.

    >>> another_round_fits(270.0, 25.0, 300.0), another_round_fits(273.0, 25.0, 300.0)
    (True, False)
    """
    return elapsed_s + longest_s + TAIL_S <= budget_s


def rounds_within(first_s: float, typical_s: float, longest_s: float, budget_s: float, cap: int = 10_000) -> int:
    """How many rounds the gate runs in ``budget_s`` when its first round takes ``first_s`` (it also builds and
    installs), every later one ``typical_s``, and the longest later one ``longest_s``: the round loop's own
    rule (:func:`another_round_fits`), at most ``cap``.

    >>> rounds_within(40.0, 20.0, 21.0, 300.0), rounds_within(40.0, 20.0, 21.0, 60.0)
    (13, 1)
    """
    if min(first_s, typical_s, longest_s) < 0 or typical_s <= 0:
        raise ValueError(f"round times must be positive, got first {first_s}, typical {typical_s}, "
                         f"longest {longest_s}")
    k, elapsed = 1, first_s
    longest = max(typical_s, longest_s)
    while k < cap and another_round_fits(elapsed, longest, budget_s):
        elapsed += typical_s
        k += 1
    return k
