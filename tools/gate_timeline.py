"""Where a gate round's time goes, from a ``--record`` file: ``python -m tools.gate_timeline FILE…``.

Every recorded round (``nox -s gate -- … --record FILE``) keeps when the duet's barrier started each sample
pair (``releases``: seconds from the round's start, and the benchmark's label). Per round this prints the time
before the first sample (asv's start, the forkserver's TensorFlow import, the first setup), one block per run of
releases of one benchmark (from its first release to the next block's first, or to the round's end: its samples,
then the next benchmark's process, setup and warm-up), the time in the samples themselves (the slower side's
sum, from ``samples``) and the rest. Then the median of each part over the rounds after the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Block:
    """A run of consecutive barrier releases of one benchmark label."""

    label: str
    releases: int
    seconds: float


@dataclass(frozen=True)
class RoundTime:
    """One round: its wall time, the time before its first sample, its blocks and the time in samples."""

    round: int
    seconds: float
    lead: float
    blocks: tuple[Block, ...]
    in_samples: float

    @property
    def outside_samples(self) -> float:
        return self.seconds - self.in_samples


def round_time(rnd: dict) -> RoundTime:
    """The parts of one recorded round; ValueError if it has no barrier releases (a record from before
    2026-12-02, or a sequential run)."""
    releases = rnd.get("releases") or []
    if not releases:
        raise ValueError(f"round {rnd.get('round')} has no barrier releases (recorded before 2026-12-02, or "
                         "not a duet)")
    total = float(rnd["seconds"])
    starts: list[tuple[str, int, float]] = []  # label, releases, first release
    for t, label in releases:
        if starts and starts[-1][0] == label:
            starts[-1] = (label, starts[-1][1] + 1, starts[-1][2])
        else:
            starts.append((label, 1, float(t)))
    ends = [s[2] for s in starts[1:]] + [total]
    blocks = tuple(Block(label, n, end - first) for (label, n, first), end in zip(starts, ends, strict=True))
    samples = rnd.get("samples") or {}
    in_samples = sum(max(sum(side) for side in pair) for pair in samples.values())
    return RoundTime(int(rnd["round"]), total, float(releases[0][0]), blocks, in_samples)


def timeline(record: dict) -> list[RoundTime]:
    """Every round of a record that has barrier releases."""
    return [round_time(r) for r in record["rounds"] if r.get("releases")]


def _print(rounds: Sequence[RoundTime]) -> None:
    for r in rounds:
        parts = ", ".join(f"{b.label}×{b.releases} {b.seconds:.2f}" for b in r.blocks)
        print(f"round {r.round}: {r.seconds:.1f} s; before the first sample {r.lead:.1f}; samples {r.in_samples:.1f}, "
              f"outside them {r.outside_samples:.1f}; blocks: {parts}")
    later = [r for r in rounds if r.round > 0]
    if later:
        med = statistics.median
        print(f"median of rounds 1–{later[-1].round} ({len(later)}): {med(r.seconds for r in later):.1f} s a round, "
              f"{med(r.lead for r in later):.1f} before the first sample, {med(r.in_samples for r in later):.1f} in "
              f"samples, {med(r.outside_samples for r in later):.1f} outside them")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gate_timeline", description=__doc__)
    parser.add_argument("records", type=Path, nargs="+", metavar="FILE", help="gate --record files")
    args = parser.parse_args(argv)
    for path in args.records:
        try:
            rounds = timeline(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"gate_timeline: {path}: cannot read its rounds ({exc})", file=sys.stderr)
            return 2
        if not rounds:
            print(f"gate_timeline: {path}: no round has barrier releases (recorded before 2026-12-02, or not a "
                  "duet)", file=sys.stderr)
            return 2
        print(f"== {path}")
        _print(rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
