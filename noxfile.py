"""nox sessions for gdopt: ``nox --list`` is the menu. Logic lives in harness/ (perfharness) and benchmarks/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def _harness(session: nox.Session) -> None:
    """The asv-driving environment: the harness (perfharness) alone, without TensorFlow (asv installs
    TensorFlow and gdopt in its own environments; the harness never imports the library it measures)."""
    session.install("-e", "./harness")


def _exit_with(session: nox.Session, *args: str) -> None:
    """Run a command and leave nox with its exit code (nox itself would turn every failure into 1)."""
    python = str(Path(session.bin) / "python")
    session.log(" ".join(["python", *args]))
    env = {**os.environ, **session.env, **ENV}
    env["PATH"] = os.pathsep.join([session.bin, env.get("PATH", "")])
    code = subprocess.call([python, *args], env={k: v for k, v in env.items() if v is not None})  # None: unset
    if code:
        sys.exit(code)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (add ``-m "not slow"`` to skip the end-to-end tests)."""
    session.install("-e", ".[test]", "-e", "./harness[test]")
    session.run("pytest", *(session.posargs or ["-q"]), env=ENV)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy, and the GitHub workflows (schema + zizmor)."""
    session.install("-e", ".[test,dev]", "-e", "./harness[test,dev]")
    session.run("ruff", "check", "gdopt", "harness", "benchmarks", "tools", "tests", "noxfile.py")
    session.run("mypy")
    session.run("python", "-m", "perfharness.site.workflows_lint")


@nox.session(default=False)
def speed(session: nox.Session) -> None:
    """gdopt vs Keras fit vs NumPy, interleaved in one process (figures: docs/MEASUREMENTS.md)."""
    session.install("-e", ".")
    session.run("python", "-m", "tools.speed", *session.posargs, env=ENV)


def _runner(session: nox.Session, *args: str, ok: tuple[int, ...] = (0,)) -> int:
    """``python -m perfharness.runner ARGS``; leaves nox with its exit code unless it is in ``ok``.

    The runner exits 1 when a benchmark failed (the site is still worth publishing) and 2 when it
    could not run as asked (a busy checkout, a --bench that matches nothing): never 2 for both.
    """
    python = str(Path(session.bin) / "python")
    session.log(" ".join(["python -m perfharness.runner", *args]))
    env = {**os.environ, **session.env, **ENV}
    env["PATH"] = os.pathsep.join([session.bin, env.get("PATH", "")])
    code = subprocess.call([python, "-m", "perfharness.runner", *args],
                           env={k: v for k, v in env.items() if v is not None})
    if code not in ok:
        sys.exit(code)
    return code


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The main job: asv run for HEAD on this machine, then publish the site (posargs go to asv run;
    ``--wait`` first waits for another run of this checkout instead of exiting 2)."""
    _harness(session)
    wait = ["--wait"] if "--wait" in session.posargs else []
    code = _runner(session, "run", *session.posargs, ok=(0, 1))
    # GPU identity: asv's machine.json has none
    session.run("python", "-m", "perfharness.site", "fingerprint", "results")
    _runner(session, "publish", *wait)
    if code:
        session.warn("some benchmarks failed (see above); the site was published with them as failed")


@nox.session(default=False)
def history(session: nox.Session) -> None:
    """asv run over the commits on main not yet measured (or the range in posargs);
    ``-- --list --json --shards N [RANGE]`` prints the range split into N ranges (CI backfill shards)."""
    _harness(session)
    _runner(session, "history", *session.posargs, ok=(0, 1))


@nox.session(default=False)
def matrix(session: nox.Session) -> None:
    """The suite across Python × TensorFlow × device, from [tool.perfharness.matrix]; each cell lands
    under its own asv environment. ``-- --list --json`` prints the cells (for CI's strategy.matrix)."""
    _harness(session)
    _runner(session, "matrix", *session.posargs, ok=(0, 1))


@nox.session(default=False)
def merge(session: nox.Session) -> None:
    """Merge results directories from several machines or shards: ``nox -s merge -- DEST SRC [SRC …]``."""
    _harness(session)
    if len(session.posargs) < 2:
        session.error("usage: nox -s merge -- DEST SRC [SRC ...]")
    _exit_with(session, "-m", "perfharness.site", "merge", *session.posargs)


@nox.session(default=False)
def publish(session: nox.Session) -> None:
    """asv publish into html/, vendored for offline use, plus gdopt's summary page (``-- --wait``: wait
    for another run of this checkout instead of exiting 2)."""
    _harness(session)
    _runner(session, "publish", *session.posargs)


@nox.session(default=False)
def preview(session: nox.Session) -> None:
    """Serve the published site on http://127.0.0.1:8080 (after ``nox -s publish``)."""
    _harness(session)
    session.run("python", "-m", "http.server", "--bind", "127.0.0.1", "--directory", "html",
                *(session.posargs or ["8080"]))


@nox.session(default=False)
def gate(session: nox.Session) -> None:
    """PR gate: ``nox -s gate -- BASE HEAD [--bench REGEX] [--budget S]``; exit 0 pass, 1 regression, 2 could
    not measure, 3 undecided."""
    _harness(session)
    _exit_with(session, "-m", "perfharness.gate.run", *session.posargs)


@nox.session(default=False)
def gate_power(session: nox.Session) -> None:
    """The gate's power: controlled changes on top of HEAD, K trials each (slow), or ``-- --simulate``."""
    _harness(session)
    _exit_with(session, "-m", "tools.gate_power", *session.posargs)


@nox.session(default=False)
def bisect(session: nox.Session) -> None:
    """Find the commit that introduced a regression: ``nox -s bisect -- GOOD BAD BENCHMARK`` (asv find)."""
    _harness(session)
    if len(session.posargs) != 3:
        session.error("usage: nox -s bisect -- GOOD BAD BENCHMARK")
    session.run("python", "-m", "perfharness.runner", "bisect", *session.posargs)
