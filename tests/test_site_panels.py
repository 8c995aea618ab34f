"""The summary's panels on asv results written with asv's own API: data-parallel scaling, an optimizer the
site has never heard of, the target loss from the project's table, and a panel added as one entry."""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("asv")
pytest.importorskip("matplotlib")

import asvfiles
from perfharness.site.page import section_html
from perfharness.site.panels import PANELS, Context, Panel
from perfharness.site.plots import Assets
from perfharness.site.runs import load_catalog, load_runs, sections
from perfharness.site.summary import SummaryError, build_summary
from perfharness.site.values import Values

ROOT = Path(__file__).resolve().parents[1]
C1, C2 = "a1" * 20, "b2" * 20
OPTIMIZERS = ["gd", "minibatch", "sgd", "momentum"]  # momentum: new to the library, unknown to the site
REPLICAS = [1, 2, 4]
TRAINING: asvfiles.Suite = {
    "training.Train.time_train": (
        ["method", "optimizer", "device"], [["gdopt", "keras"], OPTIMIZERS, ["cpu"]], "time", "seconds"),
    "training.TimeToTarget.track_time_to_target_s": (
        ["optimizer", "device"], [OPTIMIZERS, ["cpu"]], "track", "seconds"),
    "training.LossCurve.track_loss": (["optimizer", "point"], [OPTIMIZERS, [0, 1, 2]], "track", "MSE"),
    "training.LossCurve.track_elapsed_s": (["optimizer", "point"], [OPTIMIZERS, [0, 1, 2]], "track", "seconds"),
}
DATA_PARALLEL: asvfiles.Suite = {
    "replicas.Replicas.time_epoch": (["optimizer", "replicas"], [["gd", "minibatch"], REPLICAS], "time", "seconds"),
    "replicas.Replicas.track_scaling_efficiency": (
        ["optimizer", "replicas"], [["gd", "minibatch"], REPLICAS], "track", "unit"),
}
EPOCH_S = {"gd": 0.010, "minibatch": 0.040}
EFFICIENCY = {1: 1.0, 2: 0.9, 4: 0.75}


def measure(name: str, p: dict[str, object], commit: int) -> float | None:
    opt = str(p.get("optimizer"))
    if name.startswith("replicas."):
        n = int(str(p["replicas"]))
        if n == 4:
            return math.nan  # four devices: n/a on this machine
        slower = 1.25 if (opt == "minibatch" and n == 2 and commit == 1) else 1.0  # a regression at the latest
        if name.endswith("time_epoch"):
            return EPOCH_S[opt] / (n * EFFICIENCY[n]) * slower
        return EFFICIENCY[n] / slower
    i = OPTIMIZERS.index(opt)
    if name == "training.Train.time_train":
        return 0.01 * (i + 1) * (5.0 if p["method"] == "keras" else 1.0)
    if name.endswith("track_time_to_target_s"):
        return 0.1 * (i + 1)
    if name.endswith("track_loss"):
        return 1.0 / (1 + (i + 1) * int(str(p["point"])))
    return 0.1 * int(str(p["point"]))


@dataclass(frozen=True)
class Site:
    repo: Path
    results: Path


def make_site(root: Path, suite: asvfiles.Suite, pyproject: str | None = "[tool.perfharness.site]\ntarget_loss = 0.2\n"
              ) -> Site:
    repo = root / "repo"
    repo.mkdir()
    if pyproject is not None:
        (repo / "pyproject.toml").write_text(pyproject)
    results = root / "results"
    asvfiles.write_results(results, "box", [(0, C1, 1_767_268_800_000), (1, C2, 1_767_355_200_000)], suite, measure)
    return Site(repo, results)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    site = make_site(tmp_path_factory.mktemp("site"), {**TRAINING, **DATA_PARALLEL})
    return build_summary(site.results, site.results.parent / "html", site.repo).read_text()


def part(page: str, title: str) -> str:
    return page.split(f"<h3>{title}</h3>")[1].split("<h3>")[0]


def rows(html_text: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", html_text, re.DOTALL)[1:]  # without the header


def test_data_parallel_table_per_optimizer_and_replicas(page: str) -> None:
    table = part(page, "Data-parallel scaling")
    found = [re.findall(r"<td>([^<]*)", r)[:4] for r in rows(table)]
    assert found == [
        ["gd (full-batch GD)", "1", "10.0ms", "100%"],
        ["gd (full-batch GD)", "2", "5.56ms", "90%"],
        ["minibatch (mini-batch GD)", "1", "40.0ms", "100%"],
        ["minibatch (mini-batch GD)", "2", "27.8ms", "72%"],
    ]  # replicas 4 is n/a on this machine: no row
    regressed = rows(table)[3]
    assert '<span class="worse">+25.0%</span>' in regressed  # the epoch got slower
    assert '<span class="worse">-20.0%</span>' in regressed  # and the efficiency lower: higher is better
    assert "No results yet" not in table


def test_data_parallel_without_results_says_so(tmp_path: Path) -> None:
    site = make_site(tmp_path, TRAINING)
    table = part(build_summary(site.results, tmp_path / "html", site.repo).read_text(), "Data-parallel scaling")
    assert "No results yet" in table and "<table" not in table


def test_an_optimizer_the_site_never_heard_of_appears_everywhere(page: str, tmp_path: Path) -> None:
    per = part(page, "Per optimizer and device")
    assert [re.findall(r"<td>([^<]*)", r)[0] for r in rows(per)] == [
        "gd (full-batch GD)", "minibatch (mini-batch GD)", "sgd (SGD)", "momentum"]
    assert "<td>momentum</td>" in part(page, "gdopt against Keras <code>fit</code>")
    glance = part(page, "At a glance")
    assert "<b>momentum</b> 400ms" in glance and "first to loss ≤ 0.2" in glance
    assert len(re.findall(r'<img src="summary/[^"]+\.png"', glance)) == 2


def test_no_site_module_names_an_optimizer_outside_the_labels() -> None:
    """Optimizers come from the results: their names may appear only as keys of the display labels."""
    names = {"gd", "minibatch", "sgd", "momentum"}
    for path in sorted((ROOT / "harness" / "src" / "perfharness" / "site").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        labels = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "OPTIMIZER_LABELS" for t in n.targets)]
        allowed = {id(k) for n in labels if isinstance(n.value, ast.Dict) for k in n.value.keys}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names:
                assert id(node) in allowed, (path.name, node.lineno, node.value)


def test_without_a_target_loss_the_page_says_the_target(tmp_path: Path) -> None:
    site = make_site(tmp_path, TRAINING, pyproject=None)
    text = build_summary(site.results, tmp_path / "html", site.repo).read_text()
    assert "first to the target loss" in text and "≤" not in text


def test_a_bad_project_table_is_a_clear_error(tmp_path: Path) -> None:
    site = make_site(tmp_path, TRAINING, pyproject="[tool.perfharness.site]\ntarget_loss = -1\n")
    with pytest.raises(SummaryError, match=r"target_loss must be a number > 0, got -1"):
        build_summary(site.results, tmp_path / "html", site.repo)


def test_a_new_panel_is_one_entry(tmp_path: Path) -> None:
    site = make_site(tmp_path, TRAINING)
    catalog = load_catalog(site.results)
    runs, machines = load_runs(site.results, catalog, [])
    [section] = sections(runs, machines, site.results, None)

    def optimizers(ctx: Context) -> str:
        return ", ".join(ctx.values.optimizers())

    ctx = Context(Values(section, catalog), Assets(tmp_path / "html"), 0.2, site.results)
    text = section_html(ctx, [*PANELS, Panel("Optimizers", optimizers)])
    assert text.endswith("<h3>Optimizers</h3>\ngd, minibatch, sgd, momentum\n</section>")
    assert section_html(ctx, PANELS).count("<h3>") == len([p for p in PANELS if not p.folded])
