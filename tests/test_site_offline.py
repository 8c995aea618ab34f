"""perfharness.site.offline on a real `asv publish` of a tiny project, then in a real browser with no network."""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import Server, offline_chrome, serve
from perfharness.site import offline, vendor
from perfharness.site.offline import VendorError, make_offline

ROOT = Path(__file__).resolve().parents[1]
BENCH = "bench_tiny.track_answer"
# A <script src=...> or <link href=...> that a browser would fetch from another host.
CDN_RE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"'](?:https?:)?//", re.IGNORECASE)
SUITE = """
ANSWER = {answer}


class TimeSuite:
    def time_sum(self):
        sum(range(100))


def track_answer():
    return ANSWER
"""


def sri(data: bytes, algo: str) -> str:
    return f"{algo}-{base64.b64encode(hashlib.new(algo, data).digest()).decode()}"


def _asv(*args: str, cwd: Path, env: dict[str, str]) -> None:
    asv = Path(sys.executable).parent / "asv"
    cmd = [str(asv)] if asv.is_file() else [sys.executable, "-m", "asv"]
    subprocess.run([*cmd, *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`asv publish` output of a two-commit project benchmarked with `asv run --quick --python=same`."""
    pytest.importorskip("asv")
    project = tmp_path_factory.mktemp("asvproj")
    home = tmp_path_factory.mktemp("home")  # asv keeps ~/.asv-machine.json: not the user's
    env = {
        **os.environ,
        "HOME": str(home),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    (project / "benchmarks").mkdir()
    (project / "benchmarks" / "__init__.py").write_text("")
    (project / "asv.conf.json").write_text(
        '{"version": 1, "project": "tiny", "project_url": "http://example.invalid/", "repo": ".",'
        ' "branches": ["main"], "environment_type": "existing", "benchmark_dir": "benchmarks",'
        ' "results_dir": "results", "html_dir": "html", "env_dir": ".asv/env"}'
    )

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=project, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    _asv("machine", "--yes", "--machine", "testbox", cwd=project, env=env)
    for answer in (41, 43):  # track_answer's source, so its asv version, stays the same
        (project / "benchmarks" / "bench_tiny.py").write_text(SUITE.format(answer=answer))
        git("add", "-A")
        git("commit", "-q", "-m", f"answer {answer}")
        sha = git("rev-parse", "HEAD")
        _asv("run", "--quick", "--python=same", "--machine", "testbox", "--set-commit-hash", sha, cwd=project, env=env)
    _asv("publish", cwd=project, env=env)
    return project / "html"


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    """The real tarball cache, so repeated runs stay offline; its contents are verified on every use."""
    return offline.default_cache_dir()


@pytest.fixture(scope="module")
def site(published: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    html = tmp_path_factory.mktemp("site") / "html"
    shutil.copytree(published, html)
    return html, make_offline(html, cache_dir)


def test_asv_publish_really_loads_from_cdns(published: Path) -> None:
    index = (published / "index.html").read_text()
    assert {r.url for r in vendor.REFERENCES} <= set(offline.external_references(index))
    assert CDN_RE.search(index)


def test_make_offline_rewrites_every_cdn_reference(site: tuple[Path, list[str]]) -> None:
    html, refs = site
    assert sorted(refs) == sorted(r.url for r in vendor.REFERENCES)
    for page in html.rglob("*.html"):
        text = page.read_text()
        assert not CDN_RE.search(text), page
        assert offline.external_references(text) == []
    index = (html / "index.html").read_text()
    for ref in vendor.REFERENCES:
        assert f'"{vendor.local_path(ref.file)}" integrity="{ref.file.sri}"' in index


def test_vendored_files_match_their_pins(site: tuple[Path, list[str]]) -> None:
    html, _ = site
    for f in vendor.all_files():
        data = (html / vendor.local_path(f)).read_bytes()
        assert sri(data, f.sri.partition("-")[0]) == f.sri, f.path
    for path in [html / "index.html", *(html / "vendor").rglob("*.*")]:
        assert path.stat().st_mode & 0o444 == 0o444, f"{path} must be world-readable for a web server"


def test_pins_without_a_note_are_byte_identical_to_what_asv_pins(published: Path) -> None:
    index = (published / "index.html").read_text()
    for ref in vendor.REFERENCES:
        tag = next(m.group(0) for m in re.finditer(r"<(?:script|link)\b[^>]*>", index) if ref.url in m.group(0))
        asv_sri = re.search(r'integrity="([^"]+)"', tag)
        assert asv_sri is not None
        assert (asv_sri.group(1) == ref.file.sri) != bool(ref.note), ref.url


def test_cached_tarballs_match_npm_integrity(site: tuple[Path, list[str]], cache_dir: Path) -> None:
    for pkg in vendor.PACKAGES.values():
        assert sri((cache_dir / pkg.tarball_name).read_bytes(), "sha512") == pkg.integrity


def test_second_run_is_a_no_op(site: tuple[Path, list[str]], cache_dir: Path) -> None:
    html, _ = site
    before = (html / "index.html").read_bytes()
    assert make_offline(html, cache_dir) == []
    assert (html / "index.html").read_bytes() == before


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_publishing_offline_works_from_the_cache(
    site: tuple[Path, list[str]], published: Path, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDOPT_NPM_REGISTRY", f"http://127.0.0.1:{_closed_port()}")
    html = tmp_path / "html"
    shutil.copytree(published, html)
    assert len(make_offline(html, cache_dir)) == len(vendor.REFERENCES)


def test_unreachable_registry_names_the_package(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDOPT_NPM_REGISTRY", f"http://127.0.0.1:{_closed_port()}")
    html = tmp_path / "html"
    shutil.copytree(published, html)
    with pytest.raises(VendorError, match=r"could not fetch npm package jquery@3\.3\.1"):
        make_offline(html, tmp_path / "empty-cache")
    assert not list((tmp_path / "empty-cache").glob("*.tgz"))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A fake npm registry on loopback serving files from a folder."""
    root = tmp_path / "registry"
    root.mkdir()
    with serve(root) as server:
        yield server.url, root


def test_tampered_tarball_fails_its_integrity_check(
    registry: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = registry
    pkg = vendor.PACKAGES["jquery"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"window.jQuery = 'evil';"
        info = tarfile.TarInfo("package/dist/jquery.min.js")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (root / pkg.name / "-").mkdir(parents=True)
    (root / pkg.name / "-" / pkg.tarball_name).write_bytes(buf.getvalue())
    monkeypatch.setenv("GDOPT_NPM_REGISTRY", url)
    with pytest.raises(VendorError, match=r"npm package jquery@3\.3\.1 .* fails its integrity check"):
        offline.fetch_package(pkg, tmp_path / "cache")
    assert not (tmp_path / "cache" / pkg.tarball_name).exists()


def test_corrupt_cache_entry_is_fetched_again(
    site: tuple[Path, list[str]],
    cache_dir: Path,
    registry: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, root = registry
    pkg = vendor.PACKAGES["blueimp-md5"]
    (root / pkg.name / "-").mkdir(parents=True)
    shutil.copy(cache_dir / pkg.tarball_name, root / pkg.name / "-" / pkg.tarball_name)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / pkg.tarball_name).write_bytes(b"truncated")
    monkeypatch.setenv("GDOPT_NPM_REGISTRY", url)
    assert sri(offline.fetch_package(pkg, cache), "sha512") == pkg.integrity
    assert sri((cache / pkg.tarball_name).read_bytes(), "sha512") == pkg.integrity


def test_unpinned_external_script_is_refused(site: tuple[Path, list[str]], cache_dir: Path, tmp_path: Path) -> None:
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text('<html><head><script src="https://cdn.example.invalid/x.js"></script>')
    with pytest.raises(VendorError, match=r"cdn\.example\.invalid/x\.js, which site/vendor\.py does not pin"):
        make_offline(html, cache_dir)


def test_cli_offline(published: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from perfharness.site.__main__ import main

    html = tmp_path / "html"
    shutil.copytree(published, html)
    assert main(["offline", str(html), "--cache-dir", str(cache_dir)]) == 0
    assert f"{len(vendor.REFERENCES)} CDN references rewritten" in capsys.readouterr().out
    assert main(["offline", str(tmp_path / "nowhere")]) == 1
    assert "has no index.html" in capsys.readouterr().err


def test_merged_shards_publish_like_the_original(published: Path, tmp_path: Path) -> None:
    """Split the real run's results into two shards (one commit each), merge, and `asv publish`."""
    from perfharness.site.merge import merge_results

    project = tmp_path / "proj"
    shutil.copytree(published.parent, project, ignore=shutil.ignore_patterns("html"))
    results = project / "results"
    runs = sorted(results.glob("testbox/*-*.json"))
    assert len(runs) == 2
    for name, run in zip(("a", "b"), runs, strict=True):
        shard = tmp_path / name / "testbox"
        shard.mkdir(parents=True)
        shutil.copy(results / "testbox" / "machine.json", shard)
        shutil.copy(results / "benchmarks.json", shard.parent)
        shutil.move(run, shard)
    report = merge_results([tmp_path / "a", tmp_path / "b"], results)
    assert report.clean and report.results == 4
    env = {**os.environ, "HOME": str(tmp_path)}  # publish reads no machine file; keep the real HOME clean
    _asv("publish", cwd=project, env=env)
    graph = next((project / "html" / "graphs" / "branch-main").rglob(f"{BENCH}.json"))
    assert [value for _, value in json.loads(graph.read_text())] == [41.0, 43.0]


def test_site_package_never_imports_tensorflow() -> None:
    for path in (ROOT / "harness" / "src" / "perfharness" / "site").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in {"tensorflow", "keras"} for n in names), path


# --- the browser ------------------------------------------------------------------------------

@pytest.fixture
def served(site: tuple[Path, list[str]], published: Path, tmp_path: Path) -> Iterator[Server]:
    """The offline site at /offline/ and asv's original at /online/, on loopback only."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copytree(site[0], root / "offline")
    shutil.copytree(published, root / "online")
    with serve(root) as server:
        yield server


@pytest.mark.slow
def test_offline_site_draws_a_graph_in_chromium_without_network(served: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    started = time.monotonic()
    with offline_chrome(tmp_path / "profile") as driver:
        wait = WebDriverWait(driver, 20)

        # Control: asv's own page cannot load its CDN scripts here and falls back to its error page.
        driver.get(f"{served.url}/online/index.html")
        wait.until(lambda d: d.current_url.endswith("/error.html"))
        assert "external (JavaScript) dependencies" in driver.page_source
        driver.get_log("browser")  # drop the control's expected errors

        driver.get(f"{served.url}/offline/index.html")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#summarygrid-display .benchmark-container"))
        driver.get(f"{served.url}/offline/index.html#{BENCH}")
        canvas = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#main-graph canvas.flot-base"))[0]
        wait.until(lambda d: d.execute_script(_INK_JS, canvas) > 0)
        driver.save_screenshot(str(tmp_path / "benchmark.png"))

        assert "error.html" not in driver.current_url
        assert "external (JavaScript) dependencies" not in driver.page_source
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
    assert (tmp_path / "benchmark.png").stat().st_size > 10_000
    assert served.failed("/offline/") == []
    print(f"browser check took {time.monotonic() - started:.1f} s; screenshot {tmp_path / 'benchmark.png'}")


# Count the pixels flot painted on its base canvas (axes, grid, the series).
_INK_JS = """
const c = arguments[0];
const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) n++; }
return n;
"""
