"""Backfilling history in shards: split a commit range into contiguous ranges, one per CI job.

:func:`history_shards` expands the range with asv's own git plugin (``git rev-list --first-parent``,
as ``asv run RANGE`` does), leaves out nothing, and cuts the list where each shard gets about the
same number of commits still to measure (those without a results file for this machine). Each
shard is an ordinary asv range (``OLDEST^..NEWEST``; the root commit's shard is ``NEWEST``
alone), checked to expand to exactly its commits, so the shards' union is the whole range and no
two overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["check_range", "expand_range", "history_shards", "measured_commits"]


def _repo(repo: Path) -> Any:
    from asv.config import Config
    from asv.repo import get_repo

    conf = Config.load(str(repo / "asv.conf.json"))
    conf.repo = str(repo.resolve())
    return get_repo(conf)


def check_range(spec: str) -> str:
    """``spec`` if it is a plain git range (no option: asv hands it to ``git rev-list``); else ValueError."""
    import shlex

    try:
        words = shlex.split(spec)
    except ValueError as exc:
        raise ValueError(f"history: range {spec!r} cannot be read: {exc}") from None
    if not words or any(w.startswith("-") for w in words):
        raise ValueError(f"history: {spec!r} is not a commit range (e.g. main, v1.0..main, A^..B)")
    return spec


def _hashes(asv_repo: Any, spec: str) -> list[str]:
    from asv.util import ProcessError

    try:
        return list(asv_repo.get_hashes_from_range(check_range(spec)))
    except ProcessError as exc:
        detail = (getattr(exc, "stderr", None) or str(exc)).strip()[-300:]
        raise ValueError(f"history: git cannot expand range {spec!r}: {detail}") from None


def expand_range(repo: Path, spec: str) -> list[str]:
    """The commits ``asv run SPEC`` would measure, newest first (asv's own expansion)."""
    return _hashes(_repo(repo), spec)


def measured_commits(results_dir: Path, machine: str) -> set[str]:
    """Commits with at least one results file for ``machine`` in ``results_dir``."""
    folder = results_dir / machine
    if not folder.is_dir():
        return set()
    from asv.results import iter_results_for_machine

    return {r.commit_hash for r in iter_results_for_machine(str(results_dir), machine)}


def history_shards(repo: Path, spec: str, shards: int, results_dir: Path, machine: str) -> list[dict[str, Any]]:
    """Up to ``shards`` contiguous ranges covering ``spec``, balanced by commits still to measure.

    Each item: ``shard`` (1-based), ``shards`` (how many), ``range`` (an asv range), ``commits``,
    ``to_measure``, ``newest``, ``oldest``. Empty when the range holds no commit.
    """
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"history: --shards must be an integer >= 1, got {shards!r}")
    asv_repo = _repo(repo)
    commits = _hashes(asv_repo, spec)
    if not commits:
        return []
    measured = measured_commits(results_dir, machine)
    todo = [c for c in commits if c not in measured]
    # Cut after every ceil-share of the commits still to measure (all commits, if none is left).
    weights = [c not in measured for c in commits] if todo else [True] * len(commits)
    total = sum(weights)
    count = min(shards, total)
    bounds: list[tuple[int, int]] = []
    seen = start = 0
    for i, weight in enumerate(weights):
        seen += weight
        if len(bounds) < count - 1 and seen >= total * (len(bounds) + 1) / count:
            bounds.append((start, i + 1))
            start = i + 1
    bounds.append((start, len(commits)))
    out = []
    for number, (lo, hi) in enumerate(bounds, start=1):
        part = commits[lo:hi]
        oldest, newest = part[-1], part[0]
        has_parent = asv_repo._run_git(["rev-list", "--parents", "-n", "1", oldest], dots=False).split()[1:]
        rng = f"{oldest}^..{newest}" if has_parent else newest
        if _hashes(asv_repo, rng) != part:
            raise RuntimeError(f"history: shard range {rng} does not expand to its {len(part)} commits")
        out.append({"shard": number, "shards": len(bounds), "range": rng, "commits": len(part),
                    "to_measure": sum(c not in measured for c in part), "newest": newest, "oldest": oldest})
    return out
