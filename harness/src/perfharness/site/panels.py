"""The panels of a section of the summary page: a list, so a new panel is one :class:`Panel` entry.

A panel is a title and a function from a section's :class:`Context` (its values, where to write figures,
the target loss) to HTML. The optimizers, devices and sizes shown are those in the results.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from perfharness.site.changes import MIN_HISTORY, STEP_THRESHOLD, ChangePoint, section_change_points
from perfharness.site.fingerprints import FINGERPRINT_FILE
from perfharness.site.formatting import (
    HIGHER_IS_BETTER_UNITS,
    NEUTRAL_UNITS,
    cell,
    date,
    esc,
    fmt,
    label,
    short,
    stale_mark,
    table,
)
from perfharness.site.plots import Assets, loss_curve_plot, time_to_target_plot
from perfharness.site.runs import Section
from perfharness.site.suite import (
    EXPONENT,
    GPU_RESOURCES,
    LOSS_CURVE,
    REPLICAS,
    SCALING,
    TIME_TO_TARGET,
    TRAIN,
    TRAIN_MEMORY,
)
from perfharness.site.values import Values, present

__all__ = ["PANELS", "Context", "Panel"]


@dataclass(frozen=True)
class Context:
    """What a panel may read: one section's values, where its figures go, and the project's target loss."""

    values: Values
    assets: Assets
    target_loss: float | None
    results_dir: Path


@dataclass(frozen=True)
class Panel:
    """One part of a section: a heading (HTML written here, never from results) and what goes under it."""

    title: str
    render: Callable[[Context], str]
    folded: bool = False  # shown closed, in a <details> element


def _glance(ctx: Context) -> str:
    """Per device: which optimizer reaches the target first, with its time, epochs and memory."""
    values, target = ctx.values, ctx.target_loss
    ttt = TIME_TO_TARGET + ".track_time_to_target_s"
    epochs = TIME_TO_TARGET + ".track_epochs_to_target"
    rss = TRAIN_MEMORY + ".track_train_peak_rss_mb"
    goal = f"loss ≤ {target:g}" if target is not None else "the target loss"
    lines = []
    for device in values.param_values(ttt, "device"):
        if not values.device_ran(device, values.runs_of(ttt)[0]):
            continue
        times = {o: values.pair(ttt, optimizer=o, device=device)[0] for o in values.param_values(ttt, "optimizer")}
        reached = {o: v for o, v in times.items() if present(v)}
        missed = sorted(o for o, v in times.items() if v is not None and math.isnan(v))
        if not reached:
            lines.append(f"<li><b>{esc(device)}</b>: no optimizer reached {esc(goal)}.</li>")
            continue
        ranked = sorted(reached, key=lambda o: reached[o])
        parts = []
        for o in ranked:
            n = values.pair(epochs, optimizer=o, device=device)[0]
            mem = values.pair(rss, method="gdopt", optimizer=o, device=device)[0]
            extra = [f"{fmt(n, 'epochs')} epochs"] if present(n) else []
            if present(mem):
                extra.append(f"peak RSS +{fmt(mem, 'MB')}")
            parts.append(
                f"<b>{esc(label(o))}</b> {esc(fmt(reached[o], 'seconds'))}"
                + (f" ({esc(', '.join(extra))})" if extra else "")
            )
        tail = f"; {', '.join(esc(label(o)) for o in missed)}: target not reached" if missed else ""
        lines.append(f"<li><b>{esc(device)}</b>, first to {esc(goal)}: {' · then '.join(parts)}{tail}.</li>")
    glance = (
        f'<ul class="glance">{"".join(lines)}</ul>'
        if lines
        else '<p class="note">No time-to-target results at the latest commit.</p>'
    )
    slug = values.section.slug
    return (
        f'{glance}\n<div class="figs">{loss_curve_plot(values, ctx.assets, slug, target)}\n'
        f"{time_to_target_plot(values, ctx.assets, slug, target)}</div>"
    )


def _per_optimizer(ctx: Context) -> str:
    """Rows optimizer × device; the latest values with the change against the previous commit."""
    values = ctx.values
    columns = [
        ("time to target", TIME_TO_TARGET + ".track_time_to_target_s", {}, "seconds", "not reached"),
        ("epochs to target", TIME_TO_TARGET + ".track_epochs_to_target", {}, "epochs", "not reached"),
        ("train time, gdopt", TRAIN + ".time_train", {"method": "gdopt"}, "seconds", "n/a"),
        ("train time, Keras fit", TRAIN + ".time_train", {"method": "keras"}, "seconds", "n/a"),
        ("peak RSS of training, gdopt", TRAIN_MEMORY + ".track_train_peak_rss_mb", {"method": "gdopt"}, "MB", "n/a"),
        ("process peak memory, gdopt", TRAIN + ".peakmem_train", {"method": "gdopt"}, "bytes", "n/a"),
        ("final loss, gdopt", TRAIN + ".track_final_loss", {"method": "gdopt"}, "MSE", "n/a"),
    ]
    optimizers = list(
        dict.fromkeys(
            values.param_values(TRAIN + ".time_train", "optimizer")
            + values.param_values(TIME_TO_TARGET + ".track_time_to_target_s", "optimizer")
        )
    )
    devices = list(
        dict.fromkeys(
            values.param_values(TRAIN + ".time_train", "device")
            + values.param_values(TIME_TO_TARGET + ".track_time_to_target_s", "device")
        )
    )
    rows = []
    for device in devices:
        for opt in optimizers:
            cells = [values.pair(name, optimizer=opt, device=device, **extra) for _, name, extra, _, _ in columns]
            if not any(present(latest) for latest, _ in cells):
                continue
            tds = "".join(
                cell(lt, pv, unit, nan, stale_mark(values, name))
                for (lt, pv), (_, name, _, unit, nan) in zip(cells, columns, strict=True)
            )
            rows.append(f"<td>{esc(label(opt))}</td><td>{esc(device)}</td>{tds}")
    if not rows:
        return '<p class="note">No training results at the latest commit.</p>'
    head = ["optimizer", "device", *[c[0] for c in columns]]
    return table(head, rows, "num")


def _against_keras(ctx: Context) -> str:
    """gdopt's speedup over Keras ``fit``: the training alone, then the whole call."""
    return (
        '<p class="note">The training alone (<code>track_train_seconds</code>: tracing and compilation excluded '
        "on both\nsides, as <code>TrainResult.seconds</code> reports it):</p>\n"
        f"{_speedup_table(ctx.values, 'track_train_seconds')}\n"
        '<p class="note">The whole call as a user makes it (<code>time_train</code>: Keras compiles its model '
        "inside\n<code>keras_fit</code>):</p>\n"
        f"{_speedup_table(ctx.values)}"
    )


def _speedup_table(values: Values, metric: str = "time_train") -> str:
    name = f"{TRAIN}.{metric}"
    rows = []
    for device in values.param_values(name, "device"):
        for opt in values.param_values(name, "optimizer"):
            (g, g0), (k, k0) = (values.pair(name, method=m, optimizer=opt, device=device) for m in ("gdopt", "keras"))
            if not (present(g) and present(k)):
                continue
            speedup = k / g if g else math.inf
            before = k0 / g0 if present(g0) and present(k0) and g0 else None
            rows.append(
                f"<td>{esc(label(opt))}</td><td>{esc(device)}</td><td>{esc(fmt(k, 'seconds'))}</td>"
                f"<td>{esc(fmt(g, 'seconds'))}</td>{cell(speedup, before, 'speedup', mark=stale_mark(values, name))}"
            )
    if not rows:
        return f'<p class="note">No <code>{name}</code> pair (gdopt and Keras) at the latest commit.</p>'
    return table(["optimizer", "device", "Keras fit", "gdopt.train", "speedup (Keras ÷ gdopt)"], rows, "num")


def _scaling(ctx: Context) -> str:
    """The fitted growth exponents, and one epoch's time over data size × hidden width."""
    values = ctx.values
    parts = []
    rows = []
    for dim in values.param_values(EXPONENT, "dimension"):
        latest, previous = values.pair(EXPONENT, dimension=dim)
        if not present(latest):
            continue
        meaning = {"n_samples": "data size (hidden = 10)", "hidden": "hidden width (n = 4096)"}.get(dim, dim)
        value = cell(latest, previous, "exponent", mark=stale_mark(values, EXPONENT))
        rows.append(f"<td>{esc(dim)}</td><td>{esc(meaning)}</td>{value}")
    if rows:
        parts.append(table(["dimension", "time ∝ sizeᵏ over", "exponent k"], rows, "num"))
        parts.append(
            '<p class="note">k ≈ 1: time grows linearly with the size; k &lt; 1: fixed per-step costs dominate.</p>'
        )
    ns = values.param_values(SCALING, "n_samples")
    hs = values.param_values(SCALING, "hidden")
    grid = [[values.pair(SCALING, n_samples=n, hidden=h) for h in hs] for n in ns]
    if any(present(lt) for row in grid for lt, _ in row):
        body = [
            f"<td>{esc(n)}</td>" + "".join(cell(lt, pv, "seconds", mark=stale_mark(values, SCALING)) for lt, pv in row)
            for n, row in zip(ns, grid, strict=True)
        ]
        parts.append("<p>One epoch of mini-batch GD on the CPU (<code>" + SCALING + "</code>):</p>")
        parts.append(table(["n_samples \\ hidden", *hs], body, "num"))
    return "".join(parts) or '<p class="note">No scaling results at the latest commit.</p>'


def _gpu_resources(ctx: Context) -> str:
    """Energy, memory and utilization of training on a GPU, per optimizer."""
    values = ctx.values
    names = [n for n in values.catalog.names(GPU_RESOURCES + ".") if any(k[0] == n for k in values.series)]
    rows = []
    for opt in values.param_values(names[0], "optimizer") if names else []:
        pairs = [values.pair(n, optimizer=opt) for n in names]
        if not any(present(lt) for lt, _ in pairs):
            continue
        cells = "".join(
            cell(lt, pv, values.catalog.unit(n), mark=stale_mark(values, n))
            for n, (lt, pv) in zip(names, pairs, strict=True)
        )
        rows.append(f"<td>{esc(label(opt))}</td>{cells}")
    if not rows:
        return '<p class="note">n/a: no GPU results on this machine (they need an NVIDIA GPU and NVML).</p>'
    return table(["optimizer", *[n.rsplit(".", 1)[1] for n in names]], rows, "num")


def _change_points(ctx: Context) -> str:
    """Every step asv's step detection finds in the section's history, with the commit that introduced it."""
    section = ctx.values.section
    note = (
        '<p class="note">Steps in each benchmark\'s history (per parameter combination) found by asv\'s step '
        "detection (<code>asv.step_detect.detect_steps</code>, weighted as <code>asv publish</code> weights them), "
        f"kept when larger than the noise of both levels and than {STEP_THRESHOLD:.0%} (asv's regression "
        "threshold); each is listed with the first commit of its new level. The loss curve's points are not "
        "searched.</p>\n"
    )
    return note + _change_point_list(section_change_points(ctx.values), section)


def _change_point_list(points: list[ChangePoint], section: Section) -> str:
    if len(section.runs) < 2:
        return '<p class="note">One commit with results so far: no history to search.</p>'
    if len(section.runs) < MIN_HISTORY:
        return f'<p class="note">{len(section.runs)} commits with results: step detection needs {MIN_HISTORY}.</p>'
    if not points:
        return (
            f'<p class="note">None: asv\'s step detection finds no step in any benchmark over these '
            f"{len(section.runs)} commits.</p>"
        )
    dates = {r.commit_hash: r.date for r in section.runs}
    rows = []
    for p in points:
        params = ", ".join(f"{k}={v}" for k, v in p.params.items())
        rel = p.ratio - 1
        worse = rel > 0 if p.unit not in HIGHER_IS_BETTER_UNITS else rel < 0
        cls = "muted" if p.unit in NEUTRAL_UNITS else ("worse" if worse else "better")
        rows.append(
            f'<td><code class="commit">{esc(short(p.commit_hash))}</code><br><span class="muted">'
            f"{esc(date(dates[p.commit_hash]))}</span></td><td>{esc(p.benchmark)}</td><td>{esc(params)}</td>"
            f"<td>{esc(fmt(p.before, p.unit))} → {esc(fmt(p.after, p.unit))}</td>"
            f'<td><span class="{cls}">{rel:+.1%}</span></td><td><code>{esc(short(p.previous_hash))}</code></td>'
        )
    return table(
        ["introduced by", "benchmark", "parameters", "level before → after", "change", "measured before at"],
        rows,
        "num changes",
    )


def _all_values(ctx: Context) -> str:
    """Every benchmark combination with a number: the latest value, its change, and the previous one."""
    values = ctx.values
    rows = []
    for (name, combo), _ in sorted(values.series.items()):
        if name.startswith(LOSS_CURVE + "."):
            continue
        params = dict(zip(values.catalog.param_names(name), combo, strict=False))
        latest, previous = values.pair(name, **params)
        if not (present(latest) or present(previous)):
            continue
        unit = values.catalog.unit(name)
        rows.append(
            f"<td>{esc(name)}</td><td>{esc(', '.join(f'{k}={v}' for k, v in params.items()))}</td>"
            f"{cell(latest, previous, unit, mark=stale_mark(values, name))}<td>{esc(fmt(previous, unit))}</td>"
        )
    return table(["benchmark", "parameters", "latest", "previous"], rows, "num")


def _machine(ctx: Context) -> str:
    """The machine's fingerprint (GPU included) when recorded, else what asv's machine.json says."""
    section, results_dir = ctx.values.section, ctx.results_dir
    info = section.machine_info
    fp = section.fingerprint
    rows: list[tuple[str, object]] = [("machine", section.machine), ("environment", section.env_name)]
    params = section.latest.file.params
    if fp is None:
        rows += [(k, info.get(k)) for k in ("cpu", "num_cpu", "arch", "os", "ram") if info.get(k)]
        rows.append(("python", params.get("python")))
        rows.append(("GPU", f"unknown: no {FINGERPRINT_FILE} recorded for this machine"))
        note = (
            f'<p class="note">From asv\'s machine.json, which has no GPU fields. <code>nox -s bench</code> '
            f"records the full fingerprint in <code>{esc(Path(results_dir.name) / section.machine / FINGERPRINT_FILE)}"
            "</code>.</p>"
        )
    else:
        cores = f"{fp.get('cpu_physical_cores')} physical / {fp.get('cpu_logical_cores')} logical"
        rows += [
            ("CPU", f"{fp.get('cpu_model')} ({fp.get('cpu_arch')}), {cores}"),
            ("memory", f"{fp.get('ram_gb')} GiB"),
            ("OS", fp.get("os_platform") or fp.get("os")),
            ("Python", f"{fp.get('python_implementation')} {fp.get('python_version')}"),
            (
                "TensorFlow",
                f"{fp.get('tensorflow_distribution')} {fp.get('tensorflow_version')}"
                if fp.get("tensorflow_version")
                else "not installed",
            ),
            ("NumPy", fp.get("numpy_version")),
        ]
        if fp.get("gpu_model"):
            count = fp.get("gpu_count") or 1
            rows.append(
                (
                    "GPU",
                    f"{fp['gpu_model']}"
                    + (f" × {count}" if count > 1 else "")
                    + (f", {fp.get('gpu_memory_gb')} GiB" if fp.get("gpu_memory_gb") is not None else ""),
                )
            )
            rows.append(("GPU driver", fp.get("gpu_driver_version")))
            rows.append(("CUDA (driver)", fp.get("cuda_driver_version")))
        else:
            rows.append(("GPU", f"no GPU: {fp.get('gpu_unavailable_reason') or 'none reported'}"))
        note = (
            f'<p class="note">Recorded {esc(fp.get("recorded_at") or "at an unknown time")} by '
            f"<code>perfharness.probes.machine_fingerprint()</code>.</p>"
        )
    body = [f"<th>{esc(k)}</th><td>{esc('—' if v is None else v)}</td>" for k, v in rows]
    return f'<table class="kv"><tbody>{"".join(f"<tr>{r}</tr>" for r in body)}</tbody></table>{note}'


def _replicas(ctx: Context) -> str:
    """Data-parallel training: one epoch's time and the scaling efficiency, per optimizer × replicas."""
    values = ctx.values
    epoch, efficiency = f"{REPLICAS}.time_epoch", f"{REPLICAS}.track_scaling_efficiency"
    optimizers = dict.fromkeys(values.param_values(epoch, "optimizer") + values.param_values(efficiency, "optimizer"))
    counts = dict.fromkeys(values.param_values(epoch, "replicas") + values.param_values(efficiency, "replicas"))
    rows = []
    for opt in optimizers:
        for n in sorted(counts, key=_as_number):
            cells = [(name, unit, values.pair(name, optimizer=opt, replicas=n))
                     for name, unit in ((epoch, "seconds"), (efficiency, "efficiency"))]
            if not any(present(latest) for _, _, (latest, _) in cells):
                continue
            tds = "".join(cell(lt, pv, unit, mark=stale_mark(values, name)) for name, unit, (lt, pv) in cells)
            rows.append(f"<td>{esc(label(opt))}</td><td>{esc(n)}</td>{tds}")
    if not rows:
        return (
            f'<p class="note">No results yet: no <code>{REPLICAS}</code> benchmark has run on this machine '
            "and environment.</p>"
        )
    return (
        f'<p class="note">One epoch split over the replicas (<code>{epoch}</code>) and the scaling efficiency '
        f"(<code>track_scaling_efficiency</code>, as the suite computes it; 100 % is linear scaling).</p>"
        + table(["optimizer", "replicas", "epoch time", "scaling efficiency"], rows, "num")
    )


def _as_number(text: str) -> tuple[float, str]:
    try:
        return float(text), text
    except ValueError:
        return math.inf, text


# The sections' parts, in page order: a new panel is one entry.
PANELS: tuple[Panel, ...] = (
    Panel("At a glance", _glance),
    Panel("Per optimizer and device", _per_optimizer),
    Panel("gdopt against Keras <code>fit</code>", _against_keras),
    Panel("Scaling", _scaling),
    Panel("Data-parallel scaling", _replicas),
    Panel("GPU resources", _gpu_resources),
    Panel("Change points", _change_points),
    Panel("Machine", _machine),
    Panel("Every benchmark: latest value and change", _all_values, folded=True),
)
