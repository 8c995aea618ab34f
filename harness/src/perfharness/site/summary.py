"""The gdopt summary page: which optimizer reaches a loss first, for its time and memory.

Built from asv's own results files (``<results>/<machine>/<commit>-<env>.json``, ``benchmarks.json``,
``machine.json``), one section per machine and environment, each a list of panels
(:data:`perfharness.site.panels.PANELS`): latest values per optimizer and device with the change against
the previous commit, gdopt's speedup over Keras ``fit``, a loss-versus-wall-time plot and time-to-target
bars (PNGs under ``HTML_DIR/summary/``), scaling, data-parallel scaling, GPU resources, the change points
asv's step detection finds, and the machine fingerprint. The data flows one way: :mod:`~perfharness.results`
→ :mod:`.runs` → :mod:`.values` → :mod:`.panels` (with :mod:`.changes`, :mod:`.plots`, :mod:`.formatting`)
→ :mod:`.page`. :func:`~perfharness.site.page.link_summary` puts a "gdopt summary" link into the
navigation bar of asv's ``index.html``.

Example::

    asv publish && python -m perfharness.site offline html && python -m perfharness.site summary results html
"""

from __future__ import annotations

import logging
from pathlib import Path

from perfharness.project import ProjectConfigError, load_project
from perfharness.results import BENCHMARKS_FILE, ResultsFileError
from perfharness.site.atomic import write_atomic
from perfharness.site.page import SUMMARY_PAGE, link_summary, page, section_html
from perfharness.site.panels import PANELS, Context
from perfharness.site.plots import ASSET_DIR, Assets
from perfharness.site.runs import git_order, load_catalog, load_runs, sections
from perfharness.site.values import Values

__all__ = ["SummaryError", "build_summary"]

log = logging.getLogger(__name__)


class SummaryError(Exception):
    """The summary cannot be built: no results, no readable ``benchmarks.json``, or a bad project table."""


def target_loss(repo_dir: Path | None) -> float | None:
    """``[tool.perfharness.site] target_loss`` of the checkout's pyproject.toml; None without one."""
    if repo_dir is None:
        return None
    try:
        return load_project(repo_dir).target_loss
    except ProjectConfigError as exc:
        raise SummaryError(str(exc)) from exc


def build_summary(results_dir: Path, html_dir: Path, repo_dir: Path | None = None) -> Path:
    """Write ``html_dir/summary.html`` (and its PNGs) from the asv results in ``results_dir``; return its path.

    ``repo_dir``: the project's git checkout, to order commits by its history and to read the target loss
    from its ``[tool.perfharness.site]`` table; without it commits are ordered by their date and no target
    is drawn. Links the page from ``html_dir/index.html`` when asv published one. Raises
    :class:`SummaryError` when there are no results; a results file asv cannot load is skipped, logged
    and listed on the page.
    """
    results_dir, html_dir = Path(results_dir), Path(html_dir)
    if not results_dir.is_dir():
        raise SummaryError(f"{results_dir} is not a directory of asv results")
    if not (results_dir / BENCHMARKS_FILE).is_file():
        raise SummaryError(f"{results_dir / BENCHMARKS_FILE} is missing; `asv run` writes it next to the results")
    try:
        catalog = load_catalog(results_dir)
    except ResultsFileError as exc:
        raise SummaryError(str(exc)) from exc
    skipped: list[str] = []
    runs, machines = load_runs(results_dir, catalog, skipped)
    if not runs:
        raise SummaryError(
            f"no asv results in {results_dir} (expected <machine>/machine.json and <machine>/<commit>-<env>.json); "
            "run `asv run` or `nox -s bench` first"
        )
    target = target_loss(repo_dir)
    found = sections(runs, machines, results_dir, git_order(repo_dir))
    assets = Assets(html_dir)
    body = [section_html(Context(Values(s, catalog), assets, target, results_dir), PANELS) for s in found]
    path = html_dir / SUMMARY_PAGE
    write_atomic(path, page(body, found, skipped, results_dir).encode("utf-8"))
    for stale in (html_dir / ASSET_DIR).glob("*.png"):
        if stale not in assets.written:
            stale.unlink()
    if link_summary(html_dir):
        log.info("linked %s from %s", SUMMARY_PAGE, html_dir / "index.html")
    elif not (html_dir / "index.html").is_file():
        log.info(
            "no %s: run `asv publish` first, then this, to link the summary from the site", html_dir / "index.html"
        )
    return path
