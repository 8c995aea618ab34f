"""perfharness.site.summary on synthetic asv results written with asv's own Results API, then in a real browser."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

asv = pytest.importorskip("asv")
pytest.importorskip("matplotlib")

import asvfiles  # noqa: E402  (after the importorskip above)
from asv.results import iter_results  # noqa: E402
from loopback import Server, offline_chrome, serve  # noqa: E402
from perfharness.site import offline  # noqa: E402
from perfharness.site.changes import change_points  # noqa: E402
from perfharness.site.fingerprints import FINGERPRINT_FILE, read_fingerprint, write_fingerprint  # noqa: E402
from perfharness.site.page import LINK_ID, link_summary  # noqa: E402
from perfharness.site.summary import SummaryError, build_summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASV_INDEX = Path(asv.__file__).parent / "www" / "index.html"  # the template `asv publish` copies
MACHINE, GPU_MACHINE = "testbox", "gpubox"
N_COMMITS = 6
STEP_AT = 3  # time_train(gdopt, sgd, cpu) doubles at this commit
FINAL_AT = N_COMMITS - 1  # final loss of gd (gdopt, cpu) halves at the latest commit
OPTIMIZERS = ["gd", "minibatch", "sgd"]
GDOPT_S = {"gd": 0.02, "minibatch": 0.05, "sgd": 0.5}
KERAS_FACTOR = {"gd": 3.0, "minibatch": 20.0, "sgd": 60.0}  # so the speedups are exactly these
TTT_S = {"gd": 0.3, "minibatch": 0.1, "sgd": math.nan}  # SGD never reaches the target: NaN, as the suite returns
EPOCHS = {"gd": 150.0, "minibatch": 3.0, "sgd": math.nan}
CURVE_S = {"gd": 0.4, "minibatch": 0.2, "sgd": 1.0}
DEVICES = ["cpu", "gpu"]

# name: (param_names, params, asv type, unit) — the shapes of benchmarks/*.py
SUITE: dict[str, tuple[list[str], list[list[object]], str, str]] = {
    "training.Train.time_train": (
        ["method", "optimizer", "device"],
        [["gdopt", "keras"], OPTIMIZERS, DEVICES],
        "time",
        "seconds",
    ),
    "training.TrainMemory.track_train_peak_rss_mb": (
        ["method", "optimizer", "device"],
        [["gdopt", "keras"], OPTIMIZERS, DEVICES],
        "track",
        "MB",
    ),
    "training.Train.track_final_loss": (
        ["method", "optimizer", "device"],
        [["gdopt", "keras"], OPTIMIZERS, DEVICES],
        "track",
        "MSE",
    ),
    "training.Train.peakmem_train": (
        ["method", "optimizer", "device"],
        [["gdopt", "keras"], OPTIMIZERS, DEVICES],
        "peakmemory",
        "bytes",
    ),
    "training.TimeToTarget.track_time_to_target_s": (
        ["optimizer", "device"],
        [OPTIMIZERS, DEVICES],
        "track",
        "seconds",
    ),
    "training.TimeToTarget.track_epochs_to_target": (["optimizer", "device"], [OPTIMIZERS, DEVICES], "track", "epochs"),
    "training.LossCurve.track_loss": (["optimizer", "point"], [OPTIMIZERS, list(range(11))], "track", "MSE"),
    "training.LossCurve.track_elapsed_s": (["optimizer", "point"], [OPTIMIZERS, list(range(11))], "track", "seconds"),
    "scaling.Scaling.time_epoch": (["n_samples", "hidden"], [[1024, 4096], [10, 100]], "time", "seconds"),
    "scaling.ScalingExponent.track_exponent": (["dimension"], [["n_samples", "hidden"]], "track", "exponent"),
    "gpu.GpuResources.track_energy_j": (["optimizer"], [OPTIMIZERS], "track", "J"),
}


def value(name: str, p: dict[str, object], commit: int, gpu: bool) -> float:
    """The synthetic measurement of one case at commit number ``commit``; NaN marks a skipped case."""
    if (p.get("device") == "gpu" or name.startswith("gpu.")) and not gpu:
        return math.nan  # asv stores a case whose setup raised NotImplementedError as NaN
    opt = str(p.get("optimizer"))
    scale = 0.5 if p.get("device") == "gpu" else 1.0
    if name == "training.Train.time_train":
        base = GDOPT_S[opt] * scale
        if p["method"] == "keras":
            return base * KERAS_FACTOR[opt]
        return base * 2 if (opt == "sgd" and p["device"] == "cpu" and commit >= STEP_AT) else base
    if name == "training.TrainMemory.track_train_peak_rss_mb":
        return {"gd": 5.0, "minibatch": 6.0, "sgd": 8.0}[opt] + (100.0 if p["method"] == "keras" else 0.0)
    if name == "training.Train.track_final_loss":
        if opt == "gd" and p["method"] == "gdopt" and p["device"] == "cpu" and commit >= FINAL_AT:
            return 0.15
        return {"gd": 0.30, "minibatch": 0.20, "sgd": 0.12}[opt]
    if name == "training.Train.peakmem_train":
        return 600e6
    if name == "training.TimeToTarget.track_time_to_target_s":
        return TTT_S[opt] * scale
    if name == "training.TimeToTarget.track_epochs_to_target":
        return EPOCHS[opt]
    if name == "training.LossCurve.track_loss":
        return 0.05 + 0.95 * math.exp(-{"gd": 0.3, "minibatch": 0.6, "sgd": 0.9}[opt] * int(str(p["point"])))
    if name == "training.LossCurve.track_elapsed_s":
        return CURVE_S[opt] * int(str(p["point"])) / 10
    if name == "scaling.Scaling.time_epoch":
        return 1e-3 * int(str(p["n_samples"])) / 1024 * (1 + int(str(p["hidden"])) / 100)
    if name == "scaling.ScalingExponent.track_exponent":
        return {"n_samples": 0.95, "hidden": 0.4}[str(p["dimension"])]
    if name == "gpu.GpuResources.track_energy_j":
        return 50.0
    raise AssertionError(name)


def benchmarks_json() -> dict[str, dict]:
    return asvfiles.benchmarks_json(SUITE)


def write_results(results_dir: Path, machine: str, commits: list[tuple[int, str, int]], gpu: bool) -> None:
    """One asv results file per (index, hash, date ms), written with asv's Results API as `asv run` would."""
    asvfiles.write_results(results_dir, machine, commits, SUITE, lambda name, p, i: value(name, p, i, gpu))


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


@dataclass(frozen=True)
class Project:
    root: Path  # a git repository with asv.conf.json
    results: Path
    commits: list[str]  # oldest first


GPU_FINGERPRINT = {
    "cpu_model": "AMD EPYC 9654",
    "cpu_arch": "x86_64",
    "cpu_logical_cores": 16,
    "cpu_physical_cores": 8,
    "ram_gb": 128.0,
    "os": "Linux 6.8",
    "os_platform": "Linux-6.8-x86_64-with-glibc2.36",
    "python_version": "3.11.9",
    "python_implementation": "CPython",
    "tensorflow_version": "2.21.0",
    "tensorflow_distribution": "tensorflow",
    "numpy_version": "2.1.0",
    "gpu_model": "NVIDIA H100 80GB HBM3",
    "gpu_count": 1,
    "gpu_memory_gb": 79.65,
    "gpu_driver_version": "550.54.15",
    "cuda_driver_version": "12.4",
    "gpu_unavailable_reason": None,
}
CPU_FINGERPRINT = {
    **GPU_FINGERPRINT,
    "gpu_model": None,
    "gpu_count": 0,
    "gpu_memory_gb": None,
    "gpu_driver_version": None,
    "cuda_driver_version": None,
    "gpu_unavailable_reason": "NVML library (libnvidia-ml.so.1) not found: no NVIDIA driver installed",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Six commits measured on a CPU box; the latest also on a GPU box; fingerprints for both."""
    root = tmp_path_factory.mktemp("proj")
    _git(root, "init", "-q", "-b", "main")
    (root / "asv.conf.json").write_text(
        json.dumps(
            {
                "version": 1,
                "project": "gdopt",
                "project_url": "http://example.invalid/",
                "repo": ".",
                "branches": ["main"],
                "environment_type": "existing",
                "benchmark_dir": "benchmarks",
                "results_dir": "results",
                "html_dir": "html",
                "env_dir": ".asv/env",
            }
        )
    )
    (root / "pyproject.toml").write_text("[tool.perfharness.site]\ntarget_loss = 0.1  # as in the real project\n")
    commits = []
    for i in range(N_COMMITS):
        (root / "CHANGES").write_text(f"change {i}\n")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", f"change {i}", "--date", f"2026-01-0{i + 1}T12:00:00Z")
        commits.append(_git(root, "rev-parse", "HEAD"))
    dates = [1767268800000 + i * 86_400_000 for i in range(N_COMMITS)]  # 2026-01-01 12:00 UTC onwards
    results = root / "results"
    write_results(results, MACHINE, [(i, c, d) for i, (c, d) in enumerate(zip(commits, dates, strict=True))], False)
    write_results(results, GPU_MACHINE, [(N_COMMITS - 1, commits[-1], dates[-1])], True)
    write_fingerprint(results, MACHINE, CPU_FINGERPRINT)
    write_fingerprint(results, GPU_MACHINE, GPU_FINGERPRINT)
    return Project(root, results, commits)


@pytest.fixture(scope="module")
def built(project: Project, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """build_summary into a copy of asv's own index.html template; (html_dir, summary.html's text)."""
    html_dir = tmp_path_factory.mktemp("site") / "html"
    html_dir.mkdir()
    shutil.copy(ASV_INDEX, html_dir / "index.html")
    page = build_summary(project.results, html_dir, project.root)
    assert page == html_dir / "summary.html"
    return html_dir, page.read_text(encoding="utf-8")


def section(text: str, machine: str) -> str:
    """The HTML of one machine's section."""
    parts = re.split(r'(?=<section id=")', text)
    found = [p for p in parts if p.startswith("<section") and f"<h2>{machine} " in p]
    assert len(found) == 1, machine
    return found[0]


def row(html_text: str, *cells: str) -> str:
    """The one table row holding every one of ``cells``."""
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", html_text, re.DOTALL) if all(c in r for c in cells)]
    assert len(rows) == 1, (cells, rows)
    return rows[0]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- the page ---------------------------------------------------------------------------------


def test_summary_names_every_optimizer_and_machine(built: tuple[Path, str]) -> None:
    _, text = built
    for machine in (MACHINE, GPU_MACHINE):
        part = section(text, machine)
        for opt in OPTIMIZERS:
            assert f"{opt} (" in part, (machine, opt)
    assert "full-batch GD" in text and "mini-batch GD" in text and "SGD" in text


def test_plots_are_valid_pngs_referenced_relatively(built: tuple[Path, str]) -> None:
    html_dir, text = built
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert len(srcs) == 4  # loss curve and time-to-target bars for each machine
    for src in srcs:
        assert src.startswith("summary/") and src.endswith(".png")
        width, height = png_size(html_dir / src)
        assert width > 300 and height > 100
    assert any("loss-vs-time" in s for s in srcs) and any("time-to-target" in s for s in srcs)


def test_speedup_is_keras_over_gdopt(built: tuple[Path, str]) -> None:
    _, text = built
    part = section(text, MACHINE)
    speedups = part.split("gdopt against Keras")[1].split("<h3>")[0]
    assert "<td>20×" in row(speedups, "minibatch (", "<td>cpu</td>")
    assert "<td>3×" in row(speedups, "gd (full-batch", "<td>cpu</td>")
    # sgd doubled its gdopt time at STEP_AT: 60× before, 30× now, but not against the previous commit
    assert "<td>30×" in row(speedups, "sgd (", "<td>cpu</td>")
    gpu = section(text, GPU_MACHINE).split("gdopt against Keras")[1].split("<h3>")[0]
    assert "<td>60×" in row(gpu, "sgd (", "<td>gpu</td>")


def test_change_points_name_the_commit_that_introduced_them(built: tuple[Path, str], project: Project) -> None:
    _, text = built
    changes = section(text, MACHINE).split("<h3>Change points</h3>")[1].split("<h3>")[0]
    step = row(changes, "training.Train.time_train", "method=gdopt, optimizer=sgd, device=cpu")
    assert project.commits[STEP_AT][:8] in step
    assert "+100.0%" in step and 'class="worse"' in step
    loss = row(changes, "training.Train.track_final_loss", "method=gdopt, optimizer=gd, device=cpu")
    assert project.commits[FINAL_AT][:8] in loss and "-50.0%" in loss and 'class="better"' in loss
    assert len(re.findall(r"<tr>", changes)) == 1 + 2  # the header and exactly these two steps
    assert "step detection needs 3" not in changes


def test_change_against_previous_commit(built: tuple[Path, str]) -> None:
    _, text = built
    table = section(text, MACHINE).split("<h3>Per optimizer and device</h3>")[1].split("<h3>")[0]
    gd = row(table, "gd (full-batch GD)", "<td>cpu</td>")
    assert "0.15 MSE" in gd and "-50.0%" in gd  # final loss halved at the latest commit
    sgd = row(table, "sgd (SGD)", "<td>cpu</td>")
    assert "<td>not reached" in sgd  # time to target of SGD: NaN on a device that ran
    assert "gpu" not in table  # testbox has no GPU: every gpu case is asv's NaN (skipped), so no row


def test_time_to_target_not_reached_is_said(built: tuple[Path, str]) -> None:
    _, text = built
    part = section(text, MACHINE)
    glance = part.split("<h3>At a glance</h3>")[1].split("<div")[0]
    assert "first to loss ≤ 0.1" in glance
    assert glance.index("minibatch") < glance.index("gd (full-batch GD)")  # 0.1 s before 0.3 s
    assert "sgd (SGD)</b>" not in glance and "sgd (SGD): target not reached" in glance
    assert "No results on gpu" in part


def test_scaling_exponents_and_gpu_resources(built: tuple[Path, str]) -> None:
    _, text = built
    cpu = section(text, MACHINE)
    assert "<td>0.95" in row(cpu.split("<h3>Scaling</h3>")[1], "<td>n_samples</td>", "data size")
    assert "<td>0.4" in row(cpu.split("<h3>Scaling</h3>")[1], "<td>hidden</td>", "hidden width")
    assert "n/a: no GPU results" in cpu
    gpu = section(text, GPU_MACHINE).split("<h3>GPU resources</h3>")[1].split("<h3>")[0]
    assert "50 J" in gpu


def test_machine_fingerprint_with_and_without_gpu(built: tuple[Path, str]) -> None:
    _, text = built
    cpu = section(text, MACHINE).split("<h3>Machine</h3>")[1]
    assert "no GPU: NVML library (libnvidia-ml.so.1) not found" in cpu
    gpu = section(text, GPU_MACHINE).split("<h3>Machine</h3>")[1]
    assert "NVIDIA H100 80GB HBM3" in gpu and "550.54.15" in gpu and "12.4" in gpu


def test_no_external_urls(built: tuple[Path, str]) -> None:
    _, text = built
    assert offline.external_references(text) == []
    assert not re.search(r"(?:https?:)?//", text), "the page must not name another host"
    assert "<script" not in text
    assert re.findall(r"<link\b[^>]*>", text) == ['<link rel="icon" href="data:,">']  # no favicon request


def test_index_links_the_summary_once(built: tuple[Path, str], project: Project) -> None:
    html_dir, _ = built
    index = (html_dir / "index.html").read_text()
    link = re.search(rf'<li id="{LINK_ID}"><a href="summary.html"[^>]*>gdopt summary</a></li>', index)
    assert link is not None
    nav = index[index.index('<nav id="nav"') : index.index("</nav>")]
    assert link.group(0) in nav and nav.index("nav-li-regressions") < nav.index(LINK_ID)
    assert link_summary(html_dir) is False
    build_summary(project.results, html_dir, project.root)
    assert (html_dir / "index.html").read_text().count(f'id="{LINK_ID}"') == 1


def test_link_without_asv_navigation(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><body><p>hi</p></body></html>")
    assert link_summary(tmp_path) is True
    assert '<body><div id="nav-li-gdopt-summary"' in (tmp_path / "index.html").read_text()
    assert link_summary(tmp_path / "absent") is False


def test_commits_follow_git_history_not_dates(project: Project, tmp_path: Path) -> None:
    """With dates that contradict the history, repo_dir decides which commit is the latest."""
    results = tmp_path / "results"
    late_date = 1767268800000 + 30 * 86_400_000
    commits = [(0, project.commits[0], late_date), (1, project.commits[1], 1767268800000)]
    write_results(results, MACHINE, commits, False)
    by_git = build_summary(results, tmp_path / "a", project.root).read_text()
    assert f"Latest commit <code>{project.commits[1][:8]}</code>" in by_git and "git history order" in by_git
    by_date = build_summary(results, tmp_path / "b").read_text()
    assert f"Latest commit <code>{project.commits[0][:8]}</code>" in by_date and "commit-date order" in by_date


# --- errors -----------------------------------------------------------------------------------


def test_empty_results_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from perfharness.site.__main__ import main

    (tmp_path / "results").mkdir()
    assert main(["summary", str(tmp_path / "results"), str(tmp_path / "html")]) == 1
    assert "benchmarks.json is missing" in capsys.readouterr().err
    (tmp_path / "results" / "benchmarks.json").write_text(json.dumps({**benchmarks_json(), "version": 2}))
    assert main(["summary", str(tmp_path / "results"), str(tmp_path / "html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no asv results in") and "Traceback" not in err
    assert main(["summary", str(tmp_path / "nowhere"), str(tmp_path / "html")]) == 1
    assert "is not a directory of asv results" in capsys.readouterr().err
    with pytest.raises(SummaryError, match="no asv results"):
        build_summary(tmp_path / "results", tmp_path / "html")
    assert not (tmp_path / "html" / "summary.html").exists()


def test_corrupt_results_file_is_skipped_with_a_warning(
    project: Project, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    results = tmp_path / "results"
    shutil.copytree(project.results, results)
    runs = sorted((results / MACHINE).glob("*-*.json"))
    runs[0].write_text('{"version": 2, "commit_hash": ')  # truncated
    runs[1].write_text(json.dumps({"version": 2, "results": {}}))  # valid JSON, not a results file
    with caplog.at_level(logging.WARNING, logger="perfharness.site.runs"):
        text = build_summary(results, tmp_path / "html", project.root).read_text()
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert str(runs[0]) in warned and str(runs[1]) in warned
    assert runs[0].name in text and "Skipped files" in text
    assert f"{N_COMMITS - 2} commit(s) with results" in section(text, MACHINE)


def test_cli_summary(project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from perfharness.site.__main__ import main

    html_dir = tmp_path / "html"
    assert main(["summary", str(project.results), str(html_dir), "--repo", str(project.root)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {html_dir / 'summary.html'}"
    assert len(list((html_dir / "summary").glob("*.png"))) == 4


# --- the fingerprint file ---------------------------------------------------------------------


def test_fingerprint_history_appends_only_changes(tmp_path: Path) -> None:
    path = write_fingerprint(tmp_path, "m", CPU_FINGERPRINT)
    assert path == tmp_path / "m" / FINGERPRINT_FILE
    write_fingerprint(tmp_path, "m", CPU_FINGERPRINT)
    assert len(path.read_text().splitlines()) == 1
    write_fingerprint(tmp_path, "m", {**CPU_FINGERPRINT, "numpy_version": "9.9"})
    assert len(path.read_text().splitlines()) == 2
    latest = read_fingerprint(tmp_path, "m")
    assert latest is not None and latest["numpy_version"] == "9.9" and latest["recorded_at"]
    assert read_fingerprint(tmp_path, "other") is None


def test_asv_does_not_mistake_the_fingerprint_for_results(project: Project) -> None:
    """asv loads every *.json below results/ as a results file; the fingerprint must not be one."""
    from asv.results import iter_results_paths

    names = [name for _, name, _ in iter_results_paths(str(project.results))]
    assert len(names) == N_COMMITS + 1 and not any("fingerprint" in n for n in names)
    assert len(list(iter_results(str(project.results)))) == N_COMMITS + 1


def test_default_fingerprint_and_cli_stay_free_of_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; import perfharness.site.__main__ as m; "
        f"assert m.main(['fingerprint', {str(tmp_path)!r}, 'here']) == 0; "
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in {'tensorflow', 'keras'}); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    fingerprint = read_fingerprint(tmp_path, "here")
    assert fingerprint is not None and fingerprint["cpu_arch"]
    assert fingerprint["gpu_model"] or fingerprint["gpu_unavailable_reason"]


def test_change_points_use_asv_step_detection() -> None:
    assert change_points([1.0, 1.01, 0.99, 2.0, 2.02, 1.99]) == [(2, 3, 1.0, 2.0)]
    assert change_points([1.0, None, 1.0, math.nan, 2.0, 2.0]) == [(2, 4, 1.0, 2.0)]  # missing data skipped
    assert change_points([1.0, 2.0]) == []  # two points: noise cannot be told from a step
    assert change_points([1.0, 1.02, 0.99, 1.01, 1.03, 1.0]) == []  # below asv's 5 % threshold


# --- the browser ------------------------------------------------------------------------------

@pytest.fixture
def published_site(project: Project, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """`asv publish` of the synthetic results, made offline, with the summary; served on loopback."""
    work = tmp_path / "proj"
    shutil.copytree(project.root, work)
    env = {**os.environ, "HOME": str(tmp_path)}
    asv = Path(sys.executable).parent / "asv"
    cmd = [str(asv)] if asv.is_file() else [sys.executable, "-m", "asv"]
    subprocess.run([*cmd, "publish"], cwd=work, env=env, check=True, capture_output=True, timeout=300)
    html_dir = work / "html"
    offline.make_offline(html_dir, offline.default_cache_dir())
    build_summary(work / "results", html_dir, work)
    with serve(html_dir) as server:
        yield server, html_dir


@pytest.mark.slow
def test_summary_in_chromium_from_the_asv_site(published_site: tuple[Server, Path], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server, _ = published_site
    url = server.url
    started = time.monotonic()
    with offline_chrome(tmp_path / "profile") as driver:
        wait = WebDriverWait(driver, 20)
        driver.get(f"{url}/index.html")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#summarygrid-display .benchmark-container"))
        link = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{LINK_ID} a"))[0]
        assert link.is_displayed() and link.text == "gdopt summary"
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        link.click()
        wait.until(lambda d: d.current_url.endswith("/summary.html"))
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 4
        wait.until(lambda d: all(d.execute_script(_LOADED_JS, i) for i in images))
        body = driver.find_element(By.TAG_NAME, "body").text
        for opt in OPTIMIZERS:
            assert opt in body
        assert "gdopt summary" in driver.title
        driver.save_screenshot(str(tmp_path / "summary.png"))
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    assert (tmp_path / "summary.png").stat().st_size > 10_000
    assert server.failed() == []
    print(f"browser check took {time.monotonic() - started:.1f} s; screenshot {tmp_path / 'summary.png'}")


_LOADED_JS = "return arguments[0].complete && arguments[0].naturalWidth > 0;"
