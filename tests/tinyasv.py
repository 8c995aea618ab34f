"""A tiny real asv project for the runner's tests: no TensorFlow, seconds per run.

``environment_type: existing`` (this interpreter) with ``--set-commit-hash``, so asv saves results
as for any commit. Each benchmark sleeps a little and appends its name to ``ran.log`` when it runs,
so a test can see which benchmarks a run really measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MACHINE = "tinybox"
NAMES = [f"track_b{i}" for i in range(8)]
SUITE = '''
import os
import time

LOG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ran.log")
SLEEP = float(os.environ.get("TINY_SLEEP", "0.6"))


def _bench(name, value):
    def track():
        time.sleep(SLEEP)
        with open(LOG, "a") as fh:
            fh.write(name + "\\n")
        return value
    track.__name__ = name
    track.rounds = 1
    track.repeat = 1
    return track


for _i in range({n}):
    globals()[f"track_b{{_i}}"] = _bench(f"track_b{{_i}}", _i)
'''


def make_project(root: Path, sleep: float = 0.6) -> Path:
    """A git repository with one commit, an asv.conf.json and the suite above; returns its root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "benchmarks" / "bench_tiny.py").write_text(SUITE.format(n=len(NAMES)))
    (root / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "tiny", "project_url": "http://example.invalid/", "repo": ".",
        "branches": ["main"], "environment_type": "existing", "benchmark_dir": "benchmarks",
        "results_dir": "results", "html_dir": "html", "env_dir": ".asv/env", "launch_method": "forkserver",
    }))
    (root / ".gitignore").write_text(".asv/\nresults/\nhtml/\nran.log\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tiny")
    return root


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def env(home: Path, sleep: float = 0.6) -> dict[str, str]:
    """The environment for a runner subprocess: its own HOME (asv's machine file), the sleep per benchmark."""
    return {**os.environ, "HOME": str(home), "TINY_SLEEP": str(sleep)}


def runner_cmd(root: Path, command: str = "run", *extra: str) -> list[str]:
    """``python -m perfharness.runner`` measuring the project's HEAD in this interpreter."""
    sha = git(root, "rev-parse", "HEAD")
    return [sys.executable, "-m", "perfharness.runner", "--repo", str(root), "--machine", MACHINE, command,
            *extra, "--python=same", "--set-commit-hash", sha]


def results_files(root: Path) -> list[Path]:
    folder = root / "results" / MACHINE
    return sorted(p for p in folder.glob("*.json") if p.name != "machine.json") if folder.is_dir() else []


def ran(root: Path) -> list[str]:
    log = root / "ran.log"
    return log.read_text().split() if log.is_file() else []
