"""Numbers, changes, commits and dates as the summary page shows them; small HTML helpers."""

from __future__ import annotations

import datetime
import html
import math
from collections.abc import Iterable, Sequence

from asv import util as asv_util

from perfharness.site.values import Values, present

__all__ = [
    "HIGHER_IS_BETTER_UNITS",
    "NEUTRAL_UNITS",
    "NOTABLE_CHANGE",
    "cell",
    "change",
    "date",
    "esc",
    "fmt",
    "label",
    "short",
    "stale_mark",
    "table",
]

# Longer names for the optimizers people know by them; any other optimizer shows by its own name.
OPTIMIZER_LABELS = {"gd": "full-batch GD", "minibatch": "mini-batch GD", "sgd": "SGD"}
HIGHER_IS_BETTER_UNITS = {"speedup", "efficiency"}
NEUTRAL_UNITS = {"exponent"}  # neither direction is better
NOTABLE_CHANGE = 0.05  # colour a change against the previous commit from 5 %


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: float | None, unit: str, nan: str = "n/a") -> str:
    """``value`` in ``unit`` for people; ``nan`` says what a NaN means in this column."""
    if value is None:
        return "n/a"
    if math.isnan(value):
        return nan
    if unit in {"seconds", "bytes"}:
        return str(asv_util.human_value(value, unit))
    if unit == "speedup":
        return f"{value:.3g}×"
    if unit == "efficiency":
        return f"{value:.0%}"
    if unit == "epochs":
        return f"{value:.0f}"
    text = f"{value:.4g}"
    return f"{text} {unit}" if unit and unit not in {"unit", "exponent"} else text


def change(latest: float | None, previous: float | None, unit: str) -> str:
    """The relative change against the previous commit, coloured when it is notable."""
    if not present(latest):
        return ""
    if previous is None:
        return ""  # nothing to compare with
    if math.isnan(previous):
        return '<span class="muted">was n/a</span>'
    if previous == 0 or latest is None:
        return ""
    rel = latest / previous - 1
    cls = "muted"
    if abs(rel) >= NOTABLE_CHANGE and unit not in NEUTRAL_UNITS:
        better = rel > 0 if unit in HIGHER_IS_BETTER_UNITS else rel < 0
        cls = "better" if better else "worse"
    return f'<span class="{cls}">{rel:+.1%}</span>'


def cell(latest: float | None, previous: float | None, unit: str, nan: str = "n/a", mark: str = "") -> str:
    """A table cell: the latest value, with its change and ``mark`` (:func:`stale_mark`) below it."""
    extra = f"{change(latest, previous, unit)}{mark if present(latest) else ''}"
    return f"<td>{esc(fmt(latest, unit, nan))}{'<br><small>' + extra + '</small>' if extra else ''}</td>"


def stale_mark(values: Values, name: str) -> str:
    """A mark for a value not measured at the section's latest commit: " @<commit>", else ""."""
    commit = values.stale_commit(name)
    if commit is None:
        return ""
    return f' <span class="muted" title="not run at the latest commit">@{esc(short(commit))}</span>'


def short(commit: str | None) -> str:
    return commit[:8] if commit else "—"


def date(ms: int) -> str:
    if not ms:
        return "date unknown"
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def label(optimizer: str) -> str:
    known = OPTIMIZER_LABELS.get(optimizer)
    return f"{optimizer} ({known})" if known else optimizer


def table(head: Sequence[str], rows: Iterable[str], cls: str = "") -> str:
    ths = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>'
