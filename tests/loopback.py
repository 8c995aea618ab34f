"""Test helpers shared by the site's tests: a static file server on loopback and an offline headless Chromium."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


class Server:
    """What a :func:`serve` server answered: (path, status) for every request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requested: list[tuple[str, int]] = []

    def failed(self, prefix: str = "/") -> list[tuple[str, int]]:
        return [(p, c) for p, c in self.requested if p.startswith(prefix) and c >= 400]


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[Server]:
    """Serve ``directory`` on 127.0.0.1 (a free port) from a thread, quietly, recording each request."""
    record: list[tuple[str, int]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            record.append((self.path, int(code) if str(code).isdigit() else 0))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    info = Server(f"http://127.0.0.1:{server.server_address[1]}")
    info.requested = record
    try:
        yield info
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def offline_chrome(profile: Path) -> Iterator[Any]:
    """Headless Debian Chromium via Selenium in which no host name but loopback resolves (no CDN can load)."""
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
