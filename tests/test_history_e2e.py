"""History end to end, in a temporary copy of this repository: two commits measured by asv (a tiny quick
suite, in a real asv virtualenv) as two backfill shards (``history --list --json --shards 2``), the site
published (offline assets, summary), checked in Chromium, and the results split into two shards and
merged back with nothing lost. Slow: builds an environment with TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import offline_chrome, serve
from perfharness.site import offline
from perfharness.site.merge import merge_results
from perfharness.site.summary import build_summary

ROOT = Path(__file__).resolve().parents[1]
TINY = (
    r"training\.Train\.(time_train|track_final_loss)\('gdopt', '(gd|sgd)', 'cpu'\)"
    r"|training\.LossCurve\.|training\.TimeToTarget\.track_time_to_target_s\('(gd|sgd)', 'cpu'\)"
)

pytestmark = pytest.mark.slow


def _run(*cmd: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    repo = tmp / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    train = repo / "gdopt" / "training.py"
    train.write_text(train.read_text() + "# a second commit\n")
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qam",
                    "second"], check=True)
    # asv publish reads asv.conf.json's branch (main); a clone of another branch's worktree lacks it.
    if subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", "refs/heads/main"],
                      capture_output=True).returncode:
        subprocess.run(["git", "-C", str(repo), "branch", "main", "HEAD"], check=True)
    env = {**os.environ, "HOME": str(tmp), "GDOPT_MACHINE": "e2e"}
    py = [sys.executable, "-m"]
    # As the backfill workflow does: list the range as shards, then run each shard's range on its own.
    listed = json.loads(_run(*py, "perfharness.runner", "history", "--list", "--json", "--shards", "2",
                             "HEAD~2..HEAD", cwd=repo, env=env))
    assert [s["commits"] for s in listed] == [1, 1]
    for shard in listed:
        _run(*py, "perfharness.runner", "history", "--quick", "--bench", TINY, shard["range"], cwd=repo, env=env)
    heads = subprocess.run(["git", "-C", str(repo), "rev-list", "HEAD~2..HEAD"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert [s["newest"] for s in listed] == heads
    _run(*py, "perfharness.site", "fingerprint", "results", cwd=repo, env=env)
    _run(*py, "asv", "publish", cwd=repo, env=env)
    offline.make_offline(repo / "html", offline.default_cache_dir())
    build_summary(repo / "results", repo / "html", repo)
    return repo


def test_two_commits_measured(history):
    files = sorted(p for p in (history / "results" / "e2e").glob("*.json") if p.name != "machine.json")
    assert len(files) == 2
    for path in files:
        data = json.loads(path.read_text())
        assert "training.Train.time_train" in data["results"]
    assert (history / "results" / "e2e" / "fingerprint.jsonl").is_file()


def test_site_files(history):
    html = history / "html"
    for name in ("index.html", "summary.html", "regressions.json", "graphs", "vendor"):
        assert (html / name).exists(), name
    summary = (html / "summary.html").read_text()
    for opt in ("gd", "sgd"):
        assert opt in summary
    assert "https://" not in (html / "index.html").read_text().split("<body")[0]


def test_site_in_chromium(history, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serve(history / "html") as server, offline_chrome(tmp_path / "profile") as driver:
        wait = WebDriverWait(driver, 20)
        driver.get(f"{server.url}/index.html")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#summarygrid-display .benchmark-container"))
        driver.get(f"{server.url}/index.html#training.Train.time_train")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#main-graph canvas.flot-base"))
        driver.get(f"{server.url}/summary.html")
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        images = driver.find_elements(By.TAG_NAME, "img")
        assert images and all(
            driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images
        )
        driver.save_screenshot(str(tmp_path / "summary.png"))
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    # asv's grid asks for every discovered benchmark's graph; this tiny run measured only a few (404s).
    assert [m for m in errors if "/graphs/summary/" not in m] == []
    assert [p for p, _ in server.failed() if not p.startswith("/graphs/summary/")] == []


def test_two_shards_merge_back_to_the_whole(history, tmp_path):
    results = history / "results"
    files = sorted(p for p in (results / "e2e").glob("*.json") if p.name != "machine.json")
    shards = []
    for i, path in enumerate(files):
        shard = tmp_path / f"shard{i}"
        (shard / "e2e").mkdir(parents=True)
        shutil.copy(results / "benchmarks.json", shard)
        shutil.copy(results / "e2e" / "machine.json", shard / "e2e")
        shutil.copy(path, shard / "e2e")
        shards.append(shard)
    dest = tmp_path / "merged"
    report = merge_results(shards, dest)
    assert report.clean and not report.conflicts and not report.skipped
    for path in files:
        assert json.loads((dest / "e2e" / path.name).read_text())["results"] == json.loads(path.read_text())["results"]
