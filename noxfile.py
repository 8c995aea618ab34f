"""nox sessions for gdopt: ``nox --list`` is the menu. Logic lives in gdopt/ and benchmarks/."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYTHON = None  # the interpreter running nox; the matrix session picks its own


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (add ``-m "not slow"`` to skip the end-to-end tests)."""
    session.install("-e", ".[test,bench,dev]")
    session.run("pytest", *(session.posargs or ["-q"]), env={"TF_CPP_MIN_LOG_LEVEL": "2"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff and mypy on the code."""
    session.install("-e", ".[test,bench,dev]")
    session.run("ruff", "check", "gdopt", "benchmarks", "tests", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def speed(session: nox.Session) -> None:
    """gdopt vs Keras fit vs NumPy, interleaved in one process (the speed targets)."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks.speed", *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "2"})


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """The main job: the speed comparison (the asv suites replace it once they land)."""
    speed(session)
