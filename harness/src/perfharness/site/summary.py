"""The gdopt summary page: which of GD, mini-batch GD and SGD reaches a loss first, for its time and memory.

Built from asv's own results files (``<results>/<machine>/<commit>-<env>.json``, ``benchmarks.json``,
``machine.json``), one section per machine and environment: latest values per optimizer and device
with the change against the previous commit, gdopt's speedup over Keras ``fit``, a loss-versus-wall-time
plot and time-to-target bars (matplotlib, Agg, PNGs under ``HTML_DIR/summary/``), the scaling exponents,
the change points asv's step detection finds in each benchmark's history, and the machine fingerprint.
The page is plain HTML with inline CSS and loads nothing from another host; :func:`link_summary` puts a
"gdopt summary" link into the navigation bar of asv's ``index.html``.

The fingerprint (:func:`perfharness.probes.machine_fingerprint`, GPU included) lives in
``<results>/<machine>/fingerprint.jsonl`` (:func:`write_fingerprint`): asv 0.6.6 tries to load every
``*.json`` anywhere below the results folder as a results file and warns about each one it cannot, so
the file must not end in ``.json``; one JSON object per line, a line appended only when the machine changed.

Example::

    asv publish && python -m perfharness.site offline html && python -m perfharness.site summary results html
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import html
import io
import itertools
import logging
import math
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from asv import _stats as asv_stats  # asv's own data-point weights, as `asv publish` feeds its step detection
from asv import step_detect
from asv import util as asv_util
from asv.benchmarks import Benchmarks
from asv.machine import Machine
from asv.results import Results

from perfharness.site.atomic import write_atomic
from perfharness.site.fingerprints import FINGERPRINT_FILE, fingerprint_path, read_fingerprint, write_fingerprint

__all__ = [
    "FINGERPRINT_FILE",
    "ChangePoint",
    "SummaryError",
    "build_summary",
    "change_points",
    "fingerprint_path",
    "link_summary",
    "read_fingerprint",
    "write_fingerprint",
]

log = logging.getLogger(__name__)

SUMMARY_PAGE = "summary.html"
ASSET_DIR = "summary"  # PNGs, below html_dir
LINK_ID = "nav-li-gdopt-summary"

TRAIN = "training.Train"
TRAIN_MEMORY = "training.TrainMemory"
TIME_TO_TARGET = "training.TimeToTarget"
LOSS_CURVE = "training.LossCurve"
SCALING = "scaling.Scaling.time_epoch"
EXPONENT = "scaling.ScalingExponent.track_exponent"
GPU_RESOURCES = "gpu.GpuResources"
# Points of one curve, not a history of their own: plotted, not searched for change points.
NO_CHANGE_POINTS = (LOSS_CURVE + ".",)

OPTIMIZER_LABELS = {"gd": "full-batch GD", "minibatch": "mini-batch GD", "sgd": "SGD"}
OPTIMIZER_COLORS = {"gd": "#1f77b4", "minibatch": "#ff7f0e", "sgd": "#2ca02c"}
HIGHER_IS_BETTER_UNITS = {"speedup"}
NEUTRAL_UNITS = {"exponent"}  # neither direction is better
NOTABLE_CHANGE = 0.05  # colour a change against the previous commit from 5 %
STEP_THRESHOLD = 0.05  # asv's default `regressions_thresholds`: smaller steps are not change points
MIN_HISTORY = 3  # measured commits needed before a step can be told from noise


class SummaryError(Exception):
    """The summary cannot be built: no results, or no readable ``benchmarks.json``."""


# --- the fingerprint -------------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# --- reading asv's results -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # identity: a run is one file
class Run:
    """One asv results file: a commit measured on a machine in an environment."""

    path: Path
    machine: str
    env_name: str
    commit_hash: str
    date: int  # commit date, JavaScript milliseconds, as asv stores it
    results: Results
    keys: frozenset[str]  # benchmarks whose stored version matches benchmarks.json


Combo = tuple[str, ...]  # parameter values of one benchmark case, as plain text ("gd", "cpu", "4096")


@dataclass
class Section:
    """The runs of one machine and environment, oldest commit first."""

    machine: str
    env_name: str
    runs: list[Run]
    machine_info: dict[str, Any]
    fingerprint: dict[str, Any] | None
    order_note: str

    @property
    def latest(self) -> Run:
        return self.runs[-1]

    @property
    def previous(self) -> Run | None:
        return self.runs[-2] if len(self.runs) > 1 else None

    @property
    def slug(self) -> str:
        digest = hashlib.sha1(f"{self.machine}\0{self.env_name}".encode()).hexdigest()[:8]
        return f"{re.sub(r'[^A-Za-z0-9]+', '-', self.machine).strip('-')[:40]}-{digest}"


@dataclass
class _Catalog:
    """benchmarks.json: parameter names, plain parameter values and units of every benchmark."""

    raw: dict[str, dict[str, Any]]

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.raw if n.startswith(prefix))

    def param_names(self, name: str) -> list[str]:
        return list(self.raw[name].get("param_names") or [])

    def combos(self, name: str) -> list[Combo]:
        params = self.raw[name].get("params") or []
        return [tuple(_plain(p) for p in combo) for combo in itertools.product(*params)]

    def unit(self, name: str) -> str:
        return str(self.raw[name].get("unit") or "")


def _plain(param: str) -> str:
    """asv stores parameter values as their repr ("'gd'"); show them as people wrote them (gd)."""
    try:
        return str(ast.literal_eval(param))
    except (ValueError, SyntaxError, TypeError):
        return str(param)


def _load_catalog(results_dir: Path) -> _Catalog:
    path = results_dir / "benchmarks.json"
    if not path.is_file():
        raise SummaryError(f"{path} is missing; `asv run` writes it next to the results")
    try:
        raw = asv_util.load_json(str(path), api_version=Benchmarks.api_version)
    except (asv_util.UserError, ValueError, OSError) as exc:
        raise SummaryError(f"{path} is not a readable asv benchmarks.json: {exc}") from exc
    return _Catalog({k: v for k, v in raw.items() if isinstance(v, dict)})


def _load_runs(results_dir: Path, catalog: _Catalog, skipped: list[str]) -> tuple[list[Run], dict[str, dict]]:
    """Every valid results file below ``results_dir``; a file asv cannot load is skipped with a warning."""
    runs: list[Run] = []
    machines: dict[str, dict] = {}
    for machine_dir in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        machine_json = machine_dir / "machine.json"
        if not machine_json.is_file():
            continue
        try:
            info = asv_util.load_json(str(machine_json), api_version=Machine.api_version)
            machine = info["machine"]
            if not isinstance(machine, str):
                raise ValueError("no 'machine' name")
        except Exception as exc:  # asv raises UserError, a hand-edited file anything
            _skip(skipped, machine_json, f"not a valid asv machine.json ({exc}); its results are not shown")
            continue
        machines[machine] = info
        for path in sorted(machine_dir.glob("*.json")):
            if path.name in {"machine.json", "benchmarks.json"}:
                continue
            try:
                results = Results.load(str(path), machine_name=machine)
                keys = frozenset(results.get_result_keys(catalog.raw))
                date = int(results.date) if results.date is not None else 0
            except Exception as exc:  # see above
                _skip(skipped, path, f"not a valid asv results file: {exc}")
                continue
            runs.append(Run(path, machine, results.env_name, results.commit_hash, date, results, keys))
    return runs, machines


def _skip(skipped: list[str], path: Path, reason: str) -> None:
    log.warning("skipped %s: %s", path, reason)
    skipped.append(f"{path}: {reason}")


def _git_order(repo_dir: Path | None) -> dict[str, int] | None:
    """Position of every commit in ``repo_dir``'s history, oldest first; None when git cannot tell."""
    if repo_dir is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(repo_dir), "rev-list", "--topo-order", "--reverse", "--all"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("commits ordered by date: git history of %s unreadable (%s)", repo_dir, exc)
        return None
    return {sha: i for i, sha in enumerate(out.split())}


def _sections(
    runs: list[Run], machines: dict[str, dict], results_dir: Path, order: dict[str, int] | None
) -> list[Section]:
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.machine, run.env_name), []).append(run)
    sections = []
    for (machine, env), group in sorted(groups.items()):
        missing = [r.commit_hash[:8] for r in group if order is not None and r.commit_hash not in order]
        if order is not None and not missing:
            group.sort(key=lambda r: order[r.commit_hash])
            note = "commits in git history order"
        else:
            group.sort(key=lambda r: (r.date, r.commit_hash))
            note = "commits in commit-date order"
            if missing:
                note += f" ({len(missing)} not in the git history given, e.g. {missing[0]})"
        sections.append(
            Section(machine, env, group, machines.get(machine, {}), read_fingerprint(results_dir, machine), note)
        )
    return sections


# --- values ----------------------------------------------------------------------------------


class _Values:
    """Every value of a section: (benchmark, combo) → one (value, weight) per run, oldest first."""

    def __init__(self, section: Section, catalog: _Catalog) -> None:
        self.catalog = catalog
        self.section = section
        self.series: dict[tuple[str, Combo], list[tuple[float | None, float | None]]] = {}
        names = sorted({k for run in section.runs for k in run.keys})
        for name in names:
            combos = catalog.combos(name)
            params = catalog.raw[name].get("params") or []
            per_run = []
            for run in section.runs:
                if name in run.keys:
                    values = run.results.get_result_value(name, params)
                    stats = run.results.get_result_stats(name, params)
                else:
                    values, stats = [None] * len(combos), [None] * len(combos)
                per_run.append((values, stats))
            for j, combo in enumerate(combos):
                self.series[(name, combo)] = [
                    (_number(values[j]), asv_stats.get_weight(stats[j]) if stats else None) for values, stats in per_run
                ]

    def combo(self, name: str, **params: str) -> Combo:
        return tuple(params[p] for p in self.catalog.param_names(name))

    def get(self, name: str, run: Run | None, **params: str) -> float | None:
        """The value at ``run`` (None: not run, failed, or n/a; NaN: the benchmark returned NaN)."""
        if run is None or name not in self.catalog.raw:
            return None
        try:
            series = self.series[(name, self.combo(name, **params))]
        except KeyError:
            return None
        return series[self.section.runs.index(run)][0]

    def runs_of(self, name: str) -> tuple[Run | None, Run | None]:
        """The newest run that measured ``name`` and the one before it: a partial ``asv run -b`` skips some."""
        measured = [run for run in self.section.runs if name in run.keys]
        return (measured[-1] if measured else None), (measured[-2] if len(measured) > 1 else None)

    def pair(self, name: str, **params: str) -> tuple[float | None, float | None]:
        """(latest, previous) of one case, from the newest two commits that ran the benchmark."""
        latest, previous = self.runs_of(name)
        return self.get(name, latest, **params), self.get(name, previous, **params)

    def stale(self, name: str) -> str:
        """A mark for a value not measured at the section's latest commit: " @<commit>", else ""."""
        latest = self.runs_of(name)[0]
        if latest is None or latest is self.section.latest:
            return ""
        return f' <span class="muted" title="not run at the latest commit">@{_esc(_short(latest.commit_hash))}</span>'

    def device_ran(self, device: str, run: Run | None) -> bool:
        """Whether any case on ``device`` gave a number at ``run``: asv stores a skipped case (no GPU) as NaN."""
        if run is None:
            return False
        i = self.section.runs.index(run)
        for (name, combo), series in self.series.items():
            names = self.catalog.param_names(name)
            if "device" in names and combo[names.index("device")] == device and _present(series[i][0]):
                return True
        return False

    def param_values(self, name: str, param: str) -> list[str]:
        if name not in self.catalog.raw:
            return []
        index = self.catalog.param_names(name).index(param)
        return list(dict.fromkeys(c[index] for c in self.catalog.combos(name)))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _present(value: float | None) -> TypeGuard[float]:
    """A number: not None (failed, not run) and not NaN (asv's mark of a skipped case, or a NaN result)."""
    return value is not None and not math.isnan(value)


# --- change points ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangePoint:
    """A step in one benchmark's history, found by asv's step detection."""

    benchmark: str
    params: dict[str, str]
    commit_hash: str  # the first commit of the new level: the one that introduced the change
    previous_hash: str  # the last commit measured before it
    before: float  # asv's estimate of the level before the step
    after: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before else math.inf


def change_points(
    series: Sequence[float | None],
    weights: Sequence[float | None] | None = None,
    threshold: float = STEP_THRESHOLD,
    min_history: int = MIN_HISTORY,
) -> list[tuple[int, int, float, float]]:
    """Steps in ``series`` by ``asv.step_detect.detect_steps``: (index before, index introducing, before, after).

    Missing values (None, NaN) are skipped as asv skips them; an index is a position in ``series``. A step is
    kept, as ``asv.step_detect.detect_regressions`` keeps one (but in both directions), when it is larger than
    both levels' error estimates and than ``threshold`` times the lower level. Fewer than ``min_history``
    measured commits: no steps (two points always differ by some noise).

    >>> change_points([1.0, 1.01, 0.99, 2.0, 2.02, 1.99])
    [(2, 3, 1.0, 2.0)]
    """
    values = [math.nan if v is None else float(v) for v in series]
    if sum(1 for v in values if not math.isnan(v)) < max(min_history, 2):
        return []
    steps = step_detect.detect_steps(values, list(weights) if weights is not None else None)
    found = []
    for (_, right, before, _, err_before), (left, _, after, _, err_after) in itertools.pairwise(steps):
        if abs(after - before) > max(err_before, err_after, threshold * min(abs(before), abs(after))):
            found.append((right - 1, left, float(before), float(after)))
    return found


def _section_change_points(values: _Values) -> list[ChangePoint]:
    runs = values.section.runs
    found = []
    for (name, combo), series in sorted(values.series.items()):
        if name.startswith(NO_CHANGE_POINTS):
            continue
        ys = [v for v, _ in series]
        ws = [w for _, w in series]
        for before_i, at_i, before, after in change_points(ys, ws):
            params = dict(zip(values.catalog.param_names(name), combo, strict=False))
            found.append(
                ChangePoint(
                    name,
                    params,
                    runs[at_i].commit_hash,
                    runs[before_i].commit_hash,
                    before,
                    after,
                    values.catalog.unit(name),
                )
            )
    position = {run.commit_hash: i for i, run in enumerate(runs)}
    found.sort(key=lambda c: (position[c.commit_hash], c.benchmark, tuple(c.params.values())))
    return found


# --- formatting ------------------------------------------------------------------------------


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float | None, unit: str, nan: str = "n/a") -> str:
    if value is None:
        return "n/a"
    if math.isnan(value):
        return nan
    if unit in {"seconds", "bytes"}:
        return str(asv_util.human_value(value, unit))
    if unit == "speedup":
        return f"{value:.3g}×"
    if unit == "epochs":
        return f"{value:.0f}"
    text = f"{value:.4g}"
    return f"{text} {unit}" if unit and unit not in {"unit", "exponent"} else text


def _change(latest: float | None, previous: float | None, unit: str) -> str:
    """The relative change against the previous commit, coloured when it is notable."""
    if not _present(latest):
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


def _cell(latest: float | None, previous: float | None, unit: str, nan: str = "n/a", mark: str = "") -> str:
    change = _change(latest, previous, unit)
    extra = f"{change}{mark if _present(latest) else ''}"
    return f"<td>{_esc(_fmt(latest, unit, nan))}{'<br><small>' + extra + '</small>' if extra else ''}</td>"


def _short(commit: str | None) -> str:
    return commit[:8] if commit else "—"


def _date(ms: int) -> str:
    if not ms:
        return "date unknown"
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _label(optimizer: str) -> str:
    label = OPTIMIZER_LABELS.get(optimizer)
    return f"{optimizer} ({label})" if label else optimizer


def _table(head: Sequence[str], rows: Iterable[str], cls: str = "") -> str:
    ths = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>'


# --- the plots -------------------------------------------------------------------------------


@dataclass
class _Assets:
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


def _loss_curve_plot(values: _Values, assets: _Assets, slug: str, target: float | None) -> str:
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
        good = [(t, loss) for t, loss in pairs if _present(t) and _present(loss)]
        if good:
            curves[opt] = good
    if not curves:
        return (
            f'<p class="note">No <code>{LOSS_CURVE}</code> results at commit '
            f"<code>{_short(latest.commit_hash)}</code>: no loss-versus-time plot.</p>"
        )
    figure = _figure(7.5, 4.4)
    ax = figure.add_subplot()
    positive = [(o, [(t, loss) for t, loss in c if t and t > 0 and loss > 0]) for o, c in curves.items()]
    log_x = all(len(c) >= 2 for _, c in positive)
    for opt, curve in positive if log_x else curves.items():
        ts, losses = zip(*curve, strict=True)
        ax.plot(ts, losses, marker="o", markersize=3.5, label=_label(opt), color=OPTIMIZER_COLORS.get(opt))
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
    ax.set_title(f"Loss vs wall time, CPU, commit {_short(latest.commit_hash)}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    url = assets.save(figure, f"{slug}-loss-vs-time")
    initial = "" if not log_x else " The initial loss (time 0) is off the log axis; the curves start at epoch 1."
    return (
        f'<figure><img src="{_esc(url)}" alt="training loss against wall time for each optimizer" '
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


def _time_to_target_plot(values: _Values, assets: _Assets, slug: str, target: float | None) -> str:
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
            f"<code>{_short(latest.commit_hash)}</code>: no time-to-target bars.{_esc(absent_note)}</p>"
        )
    reached = [v for _, _, v in shown if _present(v) and v > 0]
    log_x = len(reached) >= 2 and max(reached) / min(reached) > 20
    left = min(reached) / 2 if log_x else 0.0
    figure = _figure(7.5, 0.45 * len(shown) + 1.5)
    ax = figure.add_subplot()
    for i, (opt, _, v) in enumerate(shown):
        if _present(v) and v > 0:
            ax.barh(i, v - left, left=left, color=OPTIMIZER_COLORS.get(opt, "0.5"))
        text = _fmt(v, "seconds") if _present(v) else "target not reached"
        ax.text(v if _present(v) and v > 0 else left, i, f" {text}", va="center", fontsize=9)
    if log_x:
        ax.set_xscale("log")
        _log_ticks(ax.xaxis, seconds=True)
    else:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_seconds(v)))
    ax.set_xlim(left, max(reached, default=1.0) * (5 if log_x else 1.4))
    ax.set_ylim(len(shown) - 0.5, -0.5)  # first optimizer on top
    ax.set_yticks(range(len(shown)), [f"{_label(o)}, {d}" for o, d, _ in shown])
    goal = f"loss {target:g}" if target is not None else "the target loss"
    ax.set_xlabel(f"time to reach {goal}" + (" (log scale)" if log_x else ""))
    ax.set_title(f"Time to target, commit {_short(latest.commit_hash)}")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    url = assets.save(figure, f"{slug}-time-to-target")
    return (
        f'<figure><img src="{_esc(url)}" alt="seconds each optimizer needs to reach {_esc(goal)}" '
        f'width="750"><figcaption>Shorter is better. "target not reached": the loss never came down to '
        f"{_esc(goal)} within the benchmark's epoch limit (it returned NaN).{_esc(absent_note)}</figcaption></figure>"
    )


def _target_loss(repo_dir: Path | None) -> float | None:
    """``TARGET_LOSS`` from the checkout's benchmarks/common.py, read without importing it (TensorFlow)."""
    if repo_dir is None:
        return None
    path = Path(repo_dir) / "benchmarks" / "common.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        names = [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else []
        if "TARGET_LOSS" in names and isinstance(node, ast.Assign):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            return float(value) if isinstance(value, (int, float)) else None
    return None


# --- the sections of the page ----------------------------------------------------------------


def _glance(values: _Values, target: float | None) -> str:
    """Per device: which optimizer reaches the target first, with its time, epochs and memory."""
    ttt = TIME_TO_TARGET + ".track_time_to_target_s"
    epochs = TIME_TO_TARGET + ".track_epochs_to_target"
    rss = TRAIN_MEMORY + ".track_train_peak_rss_mb"
    goal = f"loss ≤ {target:g}" if target is not None else "the target loss"
    lines = []
    for device in values.param_values(ttt, "device"):
        if not values.device_ran(device, values.runs_of(ttt)[0]):
            continue
        times = {o: values.pair(ttt, optimizer=o, device=device)[0] for o in values.param_values(ttt, "optimizer")}
        reached = {o: v for o, v in times.items() if _present(v)}
        missed = sorted(o for o, v in times.items() if v is not None and math.isnan(v))
        if not reached:
            lines.append(f"<li><b>{_esc(device)}</b>: no optimizer reached {_esc(goal)}.</li>")
            continue
        ranked = sorted(reached, key=lambda o: reached[o])
        parts = []
        for o in ranked:
            n = values.pair(epochs, optimizer=o, device=device)[0]
            mem = values.pair(rss, method="gdopt", optimizer=o, device=device)[0]
            extra = [f"{_fmt(n, 'epochs')} epochs"] if _present(n) else []
            if _present(mem):
                extra.append(f"peak RSS +{_fmt(mem, 'MB')}")
            parts.append(
                f"<b>{_esc(_label(o))}</b> {_esc(_fmt(reached[o], 'seconds'))}"
                + (f" ({_esc(', '.join(extra))})" if extra else "")
            )
        tail = f"; {', '.join(_esc(_label(o)) for o in missed)}: target not reached" if missed else ""
        lines.append(f"<li><b>{_esc(device)}</b>, first to {_esc(goal)}: {' · then '.join(parts)}{tail}.</li>")
    if not lines:
        return '<p class="note">No time-to-target results at the latest commit.</p>'
    return f'<ul class="glance">{"".join(lines)}</ul>'


def _per_optimizer_table(values: _Values) -> str:
    """Rows optimizer × device; the latest values with the change against the previous commit."""
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
            if not any(_present(latest) for latest, _ in cells):
                continue
            tds = "".join(
                _cell(lt, pv, unit, nan, values.stale(name))
                for (lt, pv), (_, name, _, unit, nan) in zip(cells, columns, strict=True)
            )
            rows.append(f"<td>{_esc(_label(opt))}</td><td>{_esc(device)}</td>{tds}")
    if not rows:
        return '<p class="note">No training results at the latest commit.</p>'
    head = ["optimizer", "device", *[c[0] for c in columns]]
    return _table(head, rows, "num")


def _speedup_table(values: _Values, metric: str = "time_train") -> str:
    name = f"{TRAIN}.{metric}"
    rows = []
    for device in values.param_values(name, "device"):
        for opt in values.param_values(name, "optimizer"):
            (g, g0), (k, k0) = (values.pair(name, method=m, optimizer=opt, device=device) for m in ("gdopt", "keras"))
            if not (_present(g) and _present(k)):
                continue
            speedup = k / g if g else math.inf
            before = k0 / g0 if _present(g0) and _present(k0) and g0 else None
            rows.append(
                f"<td>{_esc(_label(opt))}</td><td>{_esc(device)}</td><td>{_esc(_fmt(k, 'seconds'))}</td>"
                f"<td>{_esc(_fmt(g, 'seconds'))}</td>{_cell(speedup, before, 'speedup', mark=values.stale(name))}"
            )
    if not rows:
        return f'<p class="note">No <code>{name}</code> pair (gdopt and Keras) at the latest commit.</p>'
    return _table(["optimizer", "device", "Keras fit", "gdopt.train", "speedup (Keras ÷ gdopt)"], rows, "num")


def _scaling(values: _Values) -> str:
    parts = []
    rows = []
    for dim in values.param_values(EXPONENT, "dimension"):
        latest, previous = values.pair(EXPONENT, dimension=dim)
        if not _present(latest):
            continue
        meaning = {"n_samples": "data size (hidden = 10)", "hidden": "hidden width (n = 4096)"}.get(dim, dim)
        cell = _cell(latest, previous, "exponent", mark=values.stale(EXPONENT))
        rows.append(f"<td>{_esc(dim)}</td><td>{_esc(meaning)}</td>{cell}")
    if rows:
        parts.append(_table(["dimension", "time ∝ sizeᵏ over", "exponent k"], rows, "num"))
        parts.append(
            '<p class="note">k ≈ 1: time grows linearly with the size; k &lt; 1: fixed per-step costs dominate.</p>'
        )
    ns = values.param_values(SCALING, "n_samples")
    hs = values.param_values(SCALING, "hidden")
    grid = [[values.pair(SCALING, n_samples=n, hidden=h) for h in hs] for n in ns]
    if any(_present(lt) for row in grid for lt, _ in row):
        body = [
            f"<td>{_esc(n)}</td>" + "".join(_cell(lt, pv, "seconds", mark=values.stale(SCALING)) for lt, pv in row)
            for n, row in zip(ns, grid, strict=True)
        ]
        parts.append("<p>One epoch of mini-batch GD on the CPU (<code>" + SCALING + "</code>):</p>")
        parts.append(_table(["n_samples \\ hidden", *hs], body, "num"))
    return "".join(parts) or '<p class="note">No scaling results at the latest commit.</p>'


def _gpu_resources(values: _Values) -> str:
    names = [n for n in values.catalog.names(GPU_RESOURCES + ".") if any(k[0] == n for k in values.series)]
    rows = []
    for opt in values.param_values(names[0], "optimizer") if names else []:
        pairs = [values.pair(n, optimizer=opt) for n in names]
        if not any(_present(lt) for lt, _ in pairs):
            continue
        cells = "".join(
            _cell(lt, pv, values.catalog.unit(n), mark=values.stale(n))
            for n, (lt, pv) in zip(names, pairs, strict=True)
        )
        rows.append(f"<td>{_esc(_label(opt))}</td>{cells}")
    if not rows:
        return '<p class="note">n/a: no GPU results on this machine (they need an NVIDIA GPU and NVML).</p>'
    return _table(["optimizer", *[n.rsplit(".", 1)[1] for n in names]], rows, "num")


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
            f'<td><code class="commit">{_esc(_short(p.commit_hash))}</code><br><span class="muted">'
            f"{_esc(_date(dates[p.commit_hash]))}</span></td><td>{_esc(p.benchmark)}</td><td>{_esc(params)}</td>"
            f"<td>{_esc(_fmt(p.before, p.unit))} → {_esc(_fmt(p.after, p.unit))}</td>"
            f'<td><span class="{cls}">{rel:+.1%}</span></td><td><code>{_esc(_short(p.previous_hash))}</code></td>'
        )
    return _table(
        ["introduced by", "benchmark", "parameters", "level before → after", "change", "measured before at"],
        rows,
        "num changes",
    )


def _all_values(values: _Values) -> str:
    rows = []
    for (name, combo), _ in sorted(values.series.items()):
        if name.startswith(LOSS_CURVE + "."):
            continue
        params = dict(zip(values.catalog.param_names(name), combo, strict=False))
        latest, previous = values.pair(name, **params)
        if not (_present(latest) or _present(previous)):
            continue
        unit = values.catalog.unit(name)
        rows.append(
            f"<td>{_esc(name)}</td><td>{_esc(', '.join(f'{k}={v}' for k, v in params.items()))}</td>"
            f"{_cell(latest, previous, unit, mark=values.stale(name))}<td>{_esc(_fmt(previous, unit))}</td>"
        )
    return _table(["benchmark", "parameters", "latest", "previous"], rows, "num")


def _fingerprint(section: Section, results_dir: Path) -> str:
    info = section.machine_info
    fp = section.fingerprint
    rows: list[tuple[str, object]] = [("machine", section.machine), ("environment", section.env_name)]
    params = section.latest.results.params
    if fp is None:
        rows += [(k, info.get(k)) for k in ("cpu", "num_cpu", "arch", "os", "ram") if info.get(k)]
        rows.append(("python", params.get("python")))
        rows.append(("GPU", f"unknown: no {FINGERPRINT_FILE} recorded for this machine"))
        note = (
            f'<p class="note">From asv\'s machine.json, which has no GPU fields. <code>nox -s bench</code> '
            f"records the full fingerprint in <code>{_esc(Path(results_dir.name) / section.machine / FINGERPRINT_FILE)}"
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
            f'<p class="note">Recorded {_esc(fp.get("recorded_at") or "at an unknown time")} by '
            f"<code>perfharness.probes.machine_fingerprint()</code>.</p>"
        )
    body = [f"<th>{_esc(k)}</th><td>{_esc('—' if v is None else v)}</td>" for k, v in rows]
    return f'<table class="kv"><tbody>{"".join(f"<tr>{r}</tr>" for r in body)}</tbody></table>{note}'


def _section_html(section: Section, catalog: _Catalog, assets: _Assets, results_dir: Path, target: float | None) -> str:
    values = _Values(section, catalog)
    latest, previous = section.latest, section.previous
    prev = (
        f"previous <code>{_esc(_short(previous.commit_hash))}</code> ({_esc(_date(previous.date))})"
        if previous
        else "no previous commit with results"
    )
    points = _section_change_points(values)
    return f"""
<section id="{_esc(section.slug)}">
<h2>{_esc(section.machine)} <span class="muted">· {_esc(section.env_name)}</span></h2>
<p>Latest commit <code>{_esc(_short(latest.commit_hash))}</code> ({_esc(_date(latest.date))}), {prev};
{len(section.runs)} commit(s) with results, {_esc(section.order_note)}. Changes are against the previous commit
that ran the benchmark; a value not measured at the latest commit is marked @commit.</p>
<h3>At a glance</h3>
{_glance(values, target)}
<div class="figs">{_loss_curve_plot(values, assets, section.slug, target)}
{_time_to_target_plot(values, assets, section.slug, target)}</div>
<h3>Per optimizer and device</h3>
{_per_optimizer_table(values)}
<h3>gdopt against Keras <code>fit</code></h3>
<p class="note">The training alone (<code>track_train_seconds</code>: tracing and compilation excluded on both
sides, as <code>TrainResult.seconds</code> reports it):</p>
{_speedup_table(values, "track_train_seconds")}
<p class="note">The whole call as a user makes it (<code>time_train</code>: Keras compiles its model inside
<code>keras_fit</code>):</p>
{_speedup_table(values)}
<h3>Scaling</h3>
{_scaling(values)}
<h3>GPU resources</h3>
{_gpu_resources(values)}
<h3>Change points</h3>
<p class="note">Steps in each benchmark's history (per parameter combination) found by asv's step detection
(<code>asv.step_detect.detect_steps</code>, weighted as <code>asv publish</code> weights them), kept when larger
than the noise of both levels and than {STEP_THRESHOLD:.0%} (asv's regression threshold); each is listed with the
first commit of its new level. The loss curve's points are not searched.</p>
{_change_point_list(points, section)}
<h3>Machine</h3>
{_fingerprint(section, results_dir)}
<details><summary>Every benchmark: latest value and change</summary>
{_all_values(values)}
</details>
</section>"""


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;
padding:0 16px 40px;color:#222}
header{border-bottom:1px solid #ddd;margin-bottom:12px}
h1{font-size:22px;margin:14px 0 4px}h2{margin-top:32px;border-bottom:2px solid #eee;padding-bottom:4px}
h3{margin:22px 0 8px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;
vertical-align:top}thead th{background:#f4f4f4}table.num td{white-space:nowrap}table.kv th{background:#f8f8f8}
.better{color:#17802b;font-weight:600}.worse{color:#c0392b;font-weight:600}.muted{color:#777}
.note{color:#555;font-size:13px}.warn{background:#fff4e5;border:1px solid #f0c36d;padding:6px 10px}
figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}figure img{max-width:100%;height:auto;
border:1px solid #eee}figcaption{font-size:13px;color:#555;max-width:750px}
ul.glance li{margin:4px 0}code{font-size:13px}nav.toc a{margin-right:14px}
"""


def _page(sections_html: list[str], sections: list[Section], skipped: list[str], results_dir: Path) -> str:
    toc = "".join(f'<a href="#{_esc(s.slug)}">{_esc(s.machine)} · {_esc(s.env_name)}</a>' for s in sections)
    warn = ""
    if skipped:
        items = "".join(f"<li>{_esc(s)}</li>" for s in skipped)
        warn = f'<div class="warn"><b>Skipped files</b> (asv could not load them):<ul>{items}</ul></div>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gdopt summary</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
<header>
<p><a href="index.html">← the asv benchmark site</a></p>
<h1>gdopt summary: GD, mini-batch GD and SGD</h1>
<p class="note">Which optimizer reaches a given loss first, and what it spends in time and memory; built
{_esc(_now_iso())} from the asv results in <code>{_esc(results_dir.name)}/</code>.</p>
<nav class="toc">{toc}</nav>
</header>
{warn}
{"".join(sections_html)}
</body>
</html>
"""


# --- the link from asv's index.html ----------------------------------------------------------

_NAV_ANCHOR = re.compile(r'(<li\s+id="nav-li-regressions"[^>]*>.*?</li>)', re.IGNORECASE | re.DOTALL)
_NAV_LIST = re.compile(r'(<ul\s+class="nav navbar-nav[^"]*"[^>]*>)', re.IGNORECASE)


def link_summary(html_dir: Path) -> bool:
    """Add a "gdopt summary" entry to the navigation bar of asv's ``index.html``; True if it was added.

    Idempotent: an index that already links the summary is left alone. Without asv's navigation bar the
    link goes at the top of the body.
    """
    index = Path(html_dir) / "index.html"
    if not index.is_file():
        return False
    text = index.read_text(encoding="utf-8")
    if f'id="{LINK_ID}"' in text:
        return False
    item = f'<li id="{LINK_ID}"><a href="{SUMMARY_PAGE}" title="the gdopt summary page">gdopt summary</a></li>'
    if _NAV_ANCHOR.search(text):
        new = _NAV_ANCHOR.sub(lambda m: m.group(1) + "\n\t" + item, text, count=1)
    elif _NAV_LIST.search(text):
        new = _NAV_LIST.sub(lambda m: m.group(1) + "\n\t" + item, text, count=1)
    else:
        bar = f'<div id="{LINK_ID}" style="padding:4px 8px"><a href="{SUMMARY_PAGE}">gdopt summary</a></div>'
        new, n = re.subn(r"(<body\b[^>]*>)", lambda m: m.group(1) + bar, text, count=1, flags=re.IGNORECASE)
        if not n:
            new = bar + text
    write_atomic(index, new.encode("utf-8"))
    return True


# --- the entry point -------------------------------------------------------------------------


def build_summary(results_dir: Path, html_dir: Path, repo_dir: Path | None = None) -> Path:
    """Write ``html_dir/summary.html`` (and its PNGs) from the asv results in ``results_dir``; return its path.

    ``repo_dir``: the project's git checkout, to order commits by its history and to read the target loss
    from ``benchmarks/common.py``; without it commits are ordered by their date. Links the page from
    ``html_dir/index.html`` when asv published one. Raises :class:`SummaryError` when there are no results;
    a results file asv cannot load is skipped, logged and listed on the page.
    """
    results_dir, html_dir = Path(results_dir), Path(html_dir)
    if not results_dir.is_dir():
        raise SummaryError(f"{results_dir} is not a directory of asv results")
    catalog = _load_catalog(results_dir)
    skipped: list[str] = []
    runs, machines = _load_runs(results_dir, catalog, skipped)
    if not runs:
        raise SummaryError(
            f"no asv results in {results_dir} (expected <machine>/machine.json and <machine>/<commit>-<env>.json); "
            "run `asv run` or `nox -s bench` first"
        )
    sections = _sections(runs, machines, results_dir, _git_order(repo_dir))
    target = _target_loss(repo_dir)
    assets = _Assets(html_dir)
    body = [_section_html(s, catalog, assets, results_dir, target) for s in sections]
    page = html_dir / SUMMARY_PAGE
    write_atomic(page, _page(body, sections, skipped, results_dir).encode("utf-8"))
    for stale in (html_dir / ASSET_DIR).glob("*.png"):
        if stale not in assets.written:
            stale.unlink()
    if link_summary(html_dir):
        log.info("linked %s from %s", SUMMARY_PAGE, html_dir / "index.html")
    elif not (html_dir / "index.html").is_file():
        log.info(
            "no %s: run `asv publish` first, then this, to link the summary from the site", html_dir / "index.html"
        )
    return page
