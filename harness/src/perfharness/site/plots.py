"""The summary's figures: loss against wall time and time-to-target bars (matplotlib, Agg, PNG files)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfharness.site.atomic import write_atomic
from perfharness.site.formatting import esc, fmt, label, short
from perfharness.site.suite import LOSS_CURVE, TIME_TO_TARGET
from perfharness.site.values import Values, present

__all__ = ["ASSET_DIR", "Assets", "loss_curve_plot", "time_to_target_plot"]

ASSET_DIR = "summary"  # PNGs, below html_dir


@dataclass
class Assets:
    """The PNGs written for one page, so those left from an earlier build can be removed."""

    html_dir: Path
    written: list[Path] = field(default_factory=list)

    def save(self, figure: Any, name: str) -> str:
        """Write ``figure`` as html_dir/summary/<name>.png; return its URL relative to the page."""
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=100, metadata={"Software": None})
        path = self.html_dir / ASSET_DIR / f"{name}.png"
        write_atomic(path, buf.getvalue())
        self.written.append(path)
        return f"{ASSET_DIR}/{name}.png"


def _figure(width: float, height: float) -> Any:
    # The object-oriented API with Agg: no pyplot, so no global backend or GUI state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _colour(values: Values, optimizer: str) -> str:
    """matplotlib's default cycle by the optimizer's place in the suite: a new optimizer gets the next one."""
    optimizers = values.optimizers()
    return f"C{optimizers.index(optimizer) % 10}" if optimizer in optimizers else "0.5"


def loss_curve_plot(values: Values, assets: Assets, slug: str, target: float | None) -> str:
    """The loss of every optimizer against wall time at the latest commit that ran the curve."""
    latest = values.runs_of(LOSS_CURVE + ".track_loss")[0] or values.section.latest
    curves = {}
    for opt in values.param_values(LOSS_CURVE + ".track_loss", "optimizer"):
        points = sorted(values.param_values(LOSS_CURVE + ".track_loss", "point"), key=_point_key)
        pairs = [
            (
                values.get(LOSS_CURVE + ".track_elapsed_s", latest, optimizer=opt, point=p),
                values.get(LOSS_CURVE + ".track_loss", latest, optimizer=opt, point=p),
            )
            for p in points
        ]
        good = [(t, loss) for t, loss in pairs if present(t) and present(loss)]
        if good:
            curves[opt] = good
    if not curves:
        return (
            f'<p class="note">No <code>{LOSS_CURVE}</code> results at commit '
            f"<code>{short(latest.commit_hash)}</code>: no loss-versus-time plot.</p>"
        )
    figure = _figure(7.5, 4.4)
    ax = figure.add_subplot()
    positive = [(o, [(t, loss) for t, loss in c if t and t > 0 and loss > 0]) for o, c in curves.items()]
    log_x = all(len(c) >= 2 for _, c in positive)
    for opt, curve in positive if log_x else curves.items():
        ts, losses = zip(*curve, strict=True)
        ax.plot(ts, losses, marker="o", markersize=3.5, label=label(opt), color=_colour(values, opt))
    if log_x:
        ax.set_xscale("log")
        _log_ticks(ax.xaxis, seconds=True)
    losses_all = [loss for c in curves.values() for _, loss in c]
    if min(losses_all) > 0 and max(losses_all) / min(losses_all) > 10:
        ax.set_yscale("log")
        _log_ticks(ax.yaxis)
    if target is not None:
        ax.axhline(target, color="0.35", linestyle="--", linewidth=1, label=f"target loss {target:g}")
    ax.set_xlabel("wall time since the start of training" + (" (log scale)" if log_x else " (s)"))
    ax.set_ylabel("training loss (whole-data MSE)")
    ax.set_title(f"Loss vs wall time, CPU, commit {short(latest.commit_hash)}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    url = assets.save(figure, f"{slug}-loss-vs-time")
    initial = "" if not log_x else " The initial loss (time 0) is off the log axis; the curves start at epoch 1."
    return (
        f'<figure><img src="{esc(url)}" alt="training loss against wall time for each optimizer" '
        f'width="750" height="440"><figcaption>One run per optimizer (<code>{LOSS_CURVE}</code>), '
        f"lower-left is better: a curve further left reaches the same loss sooner.{initial}</figcaption></figure>"
    )


def _log_ticks(axis: Any, seconds: bool = False) -> None:
    """Ticks at 1, 2, 5 × 10ⁿ with plain labels (matplotlib's minor labels collide on short log axes)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _tick_seconds(v) if seconds else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _tick_seconds(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 1:
        return f"{value:g} s"
    if value >= 1e-3:
        return f"{value * 1e3:g} ms"
    return f"{value * 1e6:g} µs"


def _point_key(point: str) -> tuple[int, str]:
    return (int(point), point) if point.lstrip("-").isdigit() else (1 << 30, point)


def time_to_target_plot(values: Values, assets: Assets, slug: str, target: float | None) -> str:
    """Bars: seconds each optimizer needs to reach the target loss, per device that ran."""
    name = TIME_TO_TARGET + ".track_time_to_target_s"
    latest = values.runs_of(name)[0] or values.section.latest
    shown: list[tuple[str, str, float]] = []  # (optimizer, device, seconds or NaN: target not reached)
    absent = []
    for device in values.param_values(name, "device"):
        if not values.device_ran(device, latest):
            absent.append(device)
            continue
        for opt in values.param_values(name, "optimizer"):
            value = values.get(name, latest, optimizer=opt, device=device)
            if value is not None:
                shown.append((opt, device, value))
    absent_note = f" No results on {', '.join(absent)} (asv's n/a: not available on this machine)." if absent else ""
    if not shown:
        return (
            f'<p class="note">No <code>{TIME_TO_TARGET}</code> results at commit '
            f"<code>{short(latest.commit_hash)}</code>: no time-to-target bars.{esc(absent_note)}</p>"
        )
    reached = [v for _, _, v in shown if present(v) and v > 0]
    log_x = len(reached) >= 2 and max(reached) / min(reached) > 20
    left = min(reached) / 2 if log_x else 0.0
    figure = _figure(7.5, 0.45 * len(shown) + 1.5)
    ax = figure.add_subplot()
    for i, (opt, _, v) in enumerate(shown):
        if present(v) and v > 0:
            ax.barh(i, v - left, left=left, color=_colour(values, opt))
        text = fmt(v, "seconds") if present(v) else "target not reached"
        ax.text(v if present(v) and v > 0 else left, i, f" {text}", va="center", fontsize=9)
    if log_x:
        ax.set_xscale("log")
        _log_ticks(ax.xaxis, seconds=True)
    else:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_seconds(v)))
    ax.set_xlim(left, max(reached, default=1.0) * (5 if log_x else 1.4))
    ax.set_ylim(len(shown) - 0.5, -0.5)  # first optimizer on top
    ax.set_yticks(range(len(shown)), [f"{label(o)}, {d}" for o, d, _ in shown])
    goal = f"loss {target:g}" if target is not None else "the target loss"
    ax.set_xlabel(f"time to reach {goal}" + (" (log scale)" if log_x else ""))
    ax.set_title(f"Time to target, commit {short(latest.commit_hash)}")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    url = assets.save(figure, f"{slug}-time-to-target")
    return (
        f'<figure><img src="{esc(url)}" alt="seconds each optimizer needs to reach {esc(goal)}" '
        f'width="750"><figcaption>Shorter is better. "target not reached": the loss never came down to '
        f"{esc(goal)} within the benchmark's epoch limit (it returned NaN).{esc(absent_note)}</figcaption></figure>"
    )
