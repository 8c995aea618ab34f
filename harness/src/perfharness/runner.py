"""Driving asv for the nox sessions: ``python -m perfharness.runner {run,history,matrix,bisect} …``.

TensorFlow-free: asv builds each commit in its own virtualenv and runs the suites there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["MATRIX_TF", "asv", "asv_config", "machine_name", "main", "matrix_cells"]

# The three newest TensorFlow minor releases; each supports Python 3.10-3.12 (2.20+ also 3.13).
MATRIX_TF = ("2.19.1", "2.20.0", "2.21.0")
MATRIX_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
TF_PYTHONS = {"2.19.1": ("3.10", "3.11", "3.12"), "2.20.0": MATRIX_PYTHONS, "2.21.0": MATRIX_PYTHONS}


def machine_name() -> str:
    """asv's machine name: $GDOPT_MACHINE, else the host name (CI runners should set the variable)."""
    return os.environ.get("GDOPT_MACHINE") or platform.node().split(".")[0] or "unknown"


def asv(args: Sequence[str], check: bool = True, **kwargs: object) -> int:
    """Run asv in this interpreter; returns its exit code (raises on failure when ``check``)."""
    cmd = [sys.executable, "-m", "asv", *args]
    print("$ asv " + " ".join(args), flush=True)
    code = subprocess.run(cmd, **kwargs).returncode  # type: ignore[call-overload]
    if check and code:
        raise SystemExit(f"asv {args[0]} failed with exit code {code}")
    return int(code)


def ensure_machine(name: str | None = None) -> str:
    """Register the machine with asv (non-interactive); returns its name."""
    name = name or machine_name()
    asv(["machine", "--yes", "--machine", name])
    return name


def asv_config(repo: Path, out: Path, **overrides: object) -> Path:
    """Write a copy of the repository's asv.conf.json with ``overrides`` (paths made absolute)."""
    from asv.util import load_json

    conf = load_json(str(repo / "asv.conf.json"), js_comments=True)
    for key in ("benchmark_dir", "env_dir", "results_dir", "html_dir"):
        conf[key] = str((repo / conf[key]).resolve())
    conf["repo"] = str(repo.resolve())
    conf.update(overrides)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(conf, indent=1))
    return out


def gpu_present() -> bool:
    return shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True
    ).returncode == 0


def find_python(version: str) -> Path | None:
    """An interpreter for ``version``: on PATH, else one pyenv installed (pyenv's shims refuse inactive ones)."""
    candidates = [shutil.which(f"python{version}")]
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(root.glob(f"versions/{version}.*/bin/python{version}"))]
    for exe in candidates:
        if exe and subprocess.run([exe, "--version"], capture_output=True).returncode == 0:
            return Path(exe)
    return None


def matrix_cells(
    pythons: Sequence[str] | None = None,
    devices: Sequence[str] | None = None,
    tensorflows: Sequence[str] | None = None,
) -> list[dict[str, str]]:
    """(python, tensorflow, device) cells: Pythons present here × the supported TensorFlow × cpu (+gpu)."""
    pythons = [p for p in (pythons or MATRIX_PYTHONS) if find_python(p) is not None]
    devices = list(devices or (["cpu", "gpu"] if gpu_present() else ["cpu"]))
    return [
        {"python": py, "tensorflow": tf, "device": dev}
        for py, tf, dev in itertools.product(pythons, tensorflows or MATRIX_TF, devices)
        if py in TF_PYTHONS.get(tf, MATRIX_PYTHONS)
    ]


def _cell_config(repo: Path, cell: dict[str, str]) -> Path:
    req = {"numpy": [""], "psutil": [""], "nvidia-ml-py": [""], "build": [""], "setuptools": [""], "wheel": [""]}
    if cell["device"] == "gpu":  # the CUDA build; its name differs, so the environment name does too
        req["tensorflow[and-cuda]"] = [cell["tensorflow"]]
    else:
        req["tensorflow-cpu"] = [cell["tensorflow"]]
    name = f"py{cell['python']}-tf{cell['tensorflow']}-{cell['device']}"
    return asv_config(repo, repo / ".asv" / "matrix" / f"{name}.json", pythons=[cell["python"]], matrix={"req": req})


def cmd_run(args: argparse.Namespace) -> int:
    machine = ensure_machine(args.machine)
    rest = args.asv_args or ["HEAD^!"]
    return asv(["run", "--machine", machine, "--record-samples", "--skip-existing-successful", *rest], check=False)


def cmd_history(args: argparse.Namespace) -> int:
    machine = ensure_machine(args.machine)
    rest = args.asv_args or ["--skip-existing-commits", "main"]
    return asv(["run", "--machine", machine, "--record-samples", *rest], check=False)


def cmd_matrix(args: argparse.Namespace) -> int:
    repo = Path(args.repo)
    machine = ensure_machine(args.machine)
    cells = matrix_cells(args.python or None, args.device or None, args.tensorflow or None)
    if not cells:
        print("matrix: no cell to run (none of the requested Pythons is installed here)", file=sys.stderr)
        return 2
    worst = 0
    for cell in cells:
        print(f"matrix: {cell}", flush=True)
        conf = _cell_config(repo, cell)
        exe = find_python(cell["python"])
        env = {**os.environ, "PATH": os.pathsep.join([str(exe.parent), os.environ.get("PATH", "")])} if exe else None
        code = asv(["run", "--config", str(conf), "--machine", machine, "--record-samples",
                    *(args.asv_args or ["HEAD^!"])], check=False, env=env)
        worst = max(worst, code)
    return worst


def cmd_bisect(args: argparse.Namespace) -> int:
    ensure_machine(args.machine)
    return asv(["find", f"{args.good}..{args.bad}", args.benchmark, "--machine", machine_name()], check=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perfharness.runner", description=__doc__)
    parser.add_argument("--machine", default=None, help="asv machine name (default $GDOPT_MACHINE or host name)")
    parser.add_argument("--repo", default=".", help="repository root (default .)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="asv run for HEAD (or the given asv arguments)")
    p.add_argument("asv_args", nargs=argparse.REMAINDER)
    p = sub.add_parser("history", help="asv run over commits on main not yet measured (or the given range)")
    p.add_argument("asv_args", nargs=argparse.REMAINDER)
    p = sub.add_parser("matrix", help="the suite across Python × TensorFlow × device")
    p.add_argument("--python", action="append", help="only this Python version (repeatable)")
    p.add_argument("--device", action="append", choices=["cpu", "gpu"], help="only this device (repeatable)")
    p.add_argument("--tensorflow", action="append", help="only this TensorFlow version (repeatable)")
    p.add_argument("asv_args", nargs=argparse.REMAINDER)
    p = sub.add_parser("bisect", help="asv find: the commit that introduced a regression")
    p.add_argument("good")
    p.add_argument("bad")
    p.add_argument("benchmark", help="a benchmark name (regex), e.g. 'training.Train.time_train'")
    args = parser.parse_args(argv)
    if getattr(args, "asv_args", None) and args.asv_args[0] == "--":
        args.asv_args = args.asv_args[1:]
    handler = {"run": cmd_run, "history": cmd_history, "matrix": cmd_matrix, "bisect": cmd_bisect}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
