"""Which asv combinations a gate round runs: the first round's suite regex, then exactly the undecided ones.

asv's ``--bench`` regex is searched in its own names, ``mod.Cls.meth('a', 'b')``; the gate names combinations
``mod.Cls.meth(a, b)`` (:func:`perfharness.results.combination_name`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["asv_forms", "exact", "excluded", "round_selection"]


def round_selection(bench: str | None, *, with_loss: bool, with_memory: bool = True, suite: str = r"^gate\.\w+\.",
                    exclude: Sequence[str] = ()) -> str:
    """asv's ``--bench`` regex for a first round: the gate suite, scoped by ``bench``, without the
    excluded parameter values; final losses and memory benchmarks only if asked."""
    scope = "" if bench is None else f".*(?:{bench})"
    skip = ("" if with_loss else r"(?!track_final_loss\b)") + (
        "" if with_memory else r"(?!(?:peakmem|mem)_|track_\w*_mb(?:_|\b))")
    drop = "".join(f"(?!.*{re.escape(x)})" for x in exclude)
    return suite + skip + drop + scope


def exact(names: Sequence[str]) -> str:
    """asv's ``--bench`` regex selecting exactly these combinations (``mod.Cls.meth(a, b)`` → asv's
    ``mod.Cls.meth('a', 'b')`` text)."""
    parts = []
    for name in names:
        base, _, params = name.partition("(")
        if params:
            values = [v.strip() for v in params[:-1].split(",")]
            text = f"{base}({', '.join(repr(v) for v in values)})"
            quoted = re.escape(text).replace("'", "['\"]?")  # asv shows str params quoted, numbers bare
            parts.append(quoted)
        else:
            parts.append(re.escape(base))
    return "^(?:" + "|".join(parts) + ")$"


def asv_forms(name: str) -> list[str]:
    """The gate's ``mod.Cls.meth(a, b)`` as asv may print it for ``--bench``: strings quoted, or bare."""
    base, _, params = name.partition("(")
    if not params:
        return [name]
    values = [v.strip() for v in params.rstrip(")").split(",")]
    return [f"{base}({', '.join(repr(v) for v in values)})", name]


def excluded(name: str, excludes: Sequence[str]) -> bool:
    """Whether a combination carries a parameter value that ``[tool.perfharness.gate] exclude`` names."""
    _, _, params = name.partition("(")
    values = {v.strip() for v in params.rstrip(")").split(",")} if params else set()
    return bool(values & set(excludes))
