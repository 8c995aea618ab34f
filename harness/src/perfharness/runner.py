"""Driving asv for the nox sessions: ``python -m perfharness.runner {run,history,matrix,bisect,publish} …``.

TensorFlow-free: asv builds each commit in its own virtualenv and runs the suites there. Every
command that measures or publishes holds the checkout's lock (:mod:`perfharness.lock`; ``--wait``
waits for the holder, else exit 2), runs asv through :mod:`perfharness.asv_child` (finished
benchmarks saved atomically as they finish) under :func:`perfharness.procs.run_supervised` (nothing
outlives the run), and exits 2 when its arguments cannot work (a ``--bench`` matching nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["UsageError", "asv", "asv_config", "ensure_machine", "machine_name", "main", "matrix_cells"]

EXIT_USAGE = 2
STAGING = Path(".asv") / "staging"
# asv run options that take a value (so the value is not mistaken for a range).
_VALUE_OPTS = {"--bench", "-b", "--machine", "-m", "--steps", "-s", "--parallel", "-j", "--attribute", "-a",
               "--python", "--environment", "-E", "--launch-method", "--config", "--durations", "--strict"}


class UsageError(Exception):
    """Arguments that cannot work; the message names the problem (exit 2)."""


def _project(repo: Path | str = ".") -> Any:
    from perfharness.project import load_project

    return load_project(repo)


def machine_source(repo: Path | str = ".", explicit: str | None = None) -> tuple[str, str]:
    """asv's machine name and where it came from: --machine, the project's variable, or the host name."""
    if explicit:
        return explicit, "--machine"
    var = _project(repo).machine_env
    if os.environ.get(var):
        return os.environ[var], f"${var}"
    return platform.node().split(".")[0] or "unknown", f"the host name; set ${var} for a stable one"


def machine_name(repo: Path | str = ".") -> str:
    """asv's machine name: the project's machine variable ($GDOPT_MACHINE here), else the host name."""
    return machine_source(repo)[0]


def ensure_machine(name: str | None = None, repo: Path | str = ".", quiet: bool = False) -> str:
    """Register the machine with asv, without its questionnaire, and print one line saying which; its name."""
    from asv import util
    from asv.machine import Machine, MachineCollection

    from perfharness.asv_child import write_json_atomic

    chosen, source = machine_source(repo, name)
    path = Path(MachineCollection.get_machine_file_path())
    stored: dict[str, Any] = util.load_json(str(path)) if path.is_file() else {"version": 1}
    entry = dict(stored.get(chosen) or {})
    # What `asv machine --yes` would ask, answered with its own defaults (kept where already known).
    info = {**Machine.get_defaults(), **{k: v for k, v in entry.items() if v}, "machine": chosen}
    if info != entry:
        stored[chosen] = info
        stored.pop("version", None)
        write_json_atomic(str(path), stored, api_version=MachineCollection.api_version)
    if not quiet:
        ram = f"{int(info['ram']) / 2**30:.1f} GiB" if str(info.get("ram", "")).isdigit() else info.get("ram")
        print(f"asv machine {chosen!r} (from {source}; {path}): {info.get('os')}, {info.get('arch')}, "
              f"{info.get('cpu')}, {info.get('num_cpu')} CPUs, {ram} RAM", flush=True)
    return chosen


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


def _child_env(repo: Path) -> dict[str, str]:
    from perfharness.asv_child import STAGING_ENV

    env = {**os.environ, **_project(repo).env}
    env[STAGING_ENV] = str((repo / STAGING).resolve())
    return env


def asv(args: Sequence[str], check: bool = True, *, repo: Path | str = ".", lock_fd: int | None = None,
        env: dict[str, str] | None = None) -> int:
    """Run asv (through :mod:`perfharness.asv_child`, supervised); returns its exit code.

    Raises SystemExit on failure when ``check``. ``lock_fd``: the checkout lock, kept by the child too.
    """
    from perfharness.procs import run_supervised

    root = Path(repo)
    print("$ asv " + " ".join(args), flush=True)
    code = run_supervised([sys.executable, "-m", "perfharness.asv_child", *args], cwd=root,
                          env={**_child_env(root), **(env or {})}, pass_fds=() if lock_fd is None else (lock_fd,))
    if check and code:
        raise SystemExit(f"asv {args[0]} failed with exit code {code}")
    return code


def _sweep(repo: Path) -> None:
    """Remove temp files an interrupted write left (only ever in the staging folder or beside results)."""
    from perfharness.asv_child import TMP_SUFFIX

    staging = repo / STAGING
    if staging.is_dir():
        shutil.rmtree(staging)
    results = repo / "results"
    if results.is_dir():
        for leftover in results.rglob(f"*{TMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)


def check_asv_args(asv_args: Sequence[str]) -> list[str]:
    """Validate the arguments passed through to ``asv run``; returns the ``--bench`` regexes."""
    if any(a.startswith(("--interleave-rounds", "--interleave-processes")) for a in asv_args):
        raise UsageError("--interleave-rounds makes asv save half-finished benchmarks between rounds; "
                         "these runs keep only finished ones, so it is not supported here")
    benches = []
    for i, arg in enumerate(asv_args):
        value = None
        if arg in ("--bench", "-b"):
            if i + 1 >= len(asv_args):
                raise UsageError(f"{arg} needs a regular expression")
            value = asv_args[i + 1]
        elif arg.startswith("--bench="):
            value = arg.split("=", 1)[1]
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise UsageError(f"--bench {value!r} is not a regular expression: {exc}") from None
            benches.append(value)
    return benches


def _ranges(asv_args: Sequence[str]) -> list[str]:
    out, skip = [], False
    for arg in asv_args:
        if skip:
            skip = False
        elif arg in _VALUE_OPTS:
            skip = True
        elif not arg.startswith("-"):
            out.append(arg)
    return out


def _locked_asv(args: argparse.Namespace, purpose: str, asv_args: list[str], config: Path | None = None) -> int:
    from perfharness.lock import checkout_lock

    repo = Path(args.repo)
    check_asv_args(asv_args)
    with checkout_lock(repo, purpose, wait=args.wait) as held:
        _sweep(repo)
        machine = ensure_machine(args.machine, repo)
        conf = ["--config", str(config)] if config else []
        return asv(["run", *conf, "--machine", machine, "--record-samples", *asv_args], check=False, repo=repo,
                   lock_fd=held.fd)


def cmd_run(args: argparse.Namespace) -> int:
    """bench: HEAD (or the given asv arguments), re-measuring only what is missing or failed."""
    return _locked_asv(args, "bench", ["--skip-existing-successful", *(args.asv_args or ["HEAD^!"])])


def cmd_history(args: argparse.Namespace) -> int:
    """history: the commits on main (or a range), each benchmark measured once; --list prints shards."""
    repo = Path(args.repo)
    if args.list:
        if args.wait:
            raise UsageError("--list measures nothing; --wait does not apply")
        extra = [a for a in args.asv_args if a.startswith("-")]
        if extra or len(args.asv_args) > 1:
            raise UsageError(f"history --list takes at most one RANGE (an asv range), got {args.asv_args}")
        from perfharness.history import history_shards

        spec = args.asv_args[0] if args.asv_args else "main"
        shards = history_shards(repo, spec, args.shards, repo / "results", machine_source(repo, args.machine)[0])
        _print_list(shards, args.json, lambda s: f"{s['shard']}/{s['shards']}  {s['range']}  "
                    f"({s['commits']} commits, {s['to_measure']} to measure)")
        return 0
    if args.shards != 1 or args.json:
        raise UsageError("--shards and --json go with --list (they print the ranges; run each with `history RANGE`)")
    rest = list(args.asv_args)
    if not _ranges(rest):  # asv's own default would be main's tip alone, not its history
        rest.append("main")
    if len(_ranges(rest)) > 1:
        raise UsageError(f"history takes one range, got {_ranges(rest)}")
    from perfharness.history import check_range

    for spec in _ranges(rest):
        check_range(spec)
    # --skip-existing: a commit measured in part (an interrupted run) is completed, not skipped whole.
    return _locked_asv(args, "history", ["--skip-existing", *rest])


def _print_list(items: list[dict[str, Any]], as_json: bool, line: Any) -> None:
    if as_json:
        print(json.dumps(items, separators=(",", ":")))
    else:
        for item in items:
            print(line(item))


def matrix_cells(args: argparse.Namespace | None = None, repo: Path | str = ".") -> list[dict[str, Any]]:
    """The cells ``matrix`` runs and ``matrix --list`` prints (one function decides both)."""
    from perfharness import matrix

    project = _project(repo if args is None else args.repo)
    if args is None:
        return matrix.matrix_cells(project)
    try:
        cells = matrix.matrix_cells(project, args.python, args.tensorflow, args.device, any_python=args.any_python)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.without_default:
        cells = [c for c in cells if not c["default"]]
    if args.cell:
        unknown = sorted(set(args.cell) - {c["name"] for c in cells})
        if unknown:
            raise UsageError(f"matrix: no cell named {', '.join(unknown)} here; `matrix --list` shows the cells")
        cells = [c for c in cells if c["name"] in args.cell]
    return cells


def cmd_matrix(args: argparse.Namespace) -> int:
    """matrix: each cell's asv run (results under the cell's own environment name); --list prints them."""
    from perfharness import matrix
    from perfharness.lock import checkout_lock

    repo = Path(args.repo)
    cells = matrix_cells(args)
    if args.list:
        _print_list(cells, args.json, lambda c: c["name"] + ("  (the project's own environment)" if c["default"]
                                                              else ""))
        return 0
    if args.json:
        raise UsageError("--json goes with --list")
    if not cells:
        print("matrix: no cell to run (none of the requested Pythons is installed here)", file=sys.stderr)
        return EXIT_USAGE
    asv_args = ["--skip-existing-successful", *(args.asv_args or ["HEAD^!"])]
    check_asv_args(asv_args)
    project = _project(repo)
    worst = 0
    with checkout_lock(repo, "matrix", wait=args.wait) as held:
        _sweep(repo)
        machine = ensure_machine(args.machine, repo)
        for cell in cells:
            print(f"matrix: cell {cell['name']}", flush=True)
            exe = matrix.find_python(cell["python"])
            if exe is None:
                print(f"matrix: cell {cell['name']}: no Python {cell['python']} here", file=sys.stderr)
                worst = max(worst, EXIT_USAGE)
                continue
            conf = matrix.cell_config(repo, project, cell)
            path = os.pathsep.join([str(exe.parent), os.environ.get("PATH", "")])
            code = asv(["run", "--config", str(conf), "--machine", machine, "--record-samples", *asv_args],
                       check=False, repo=repo, lock_fd=held.fd, env={"PATH": path})
            worst = max(worst, code)
            if code == EXIT_USAGE or code >= 128:  # --bench matched nothing, or we were interrupted
                break
    return worst


def cmd_bisect(args: argparse.Namespace) -> int:
    """bisect: asv find GOOD..BAD BENCHMARK."""
    from perfharness.lock import checkout_lock

    repo = Path(args.repo)
    with checkout_lock(repo, "bisect", wait=args.wait) as held:
        machine = ensure_machine(args.machine, repo)
        return asv(["find", f"{args.good}..{args.bad}", args.benchmark, "--machine", machine], check=False,
                   repo=repo, lock_fd=held.fd)


def cmd_publish(args: argparse.Namespace) -> int:
    """publish: asv publish, its assets vendored for offline use, the summary page; under the lock."""
    import subprocess

    from perfharness.lock import checkout_lock

    repo = Path(args.repo)
    site = [sys.executable, "-m", "perfharness.site"]
    with checkout_lock(repo, "publish", wait=args.wait) as held:
        code = asv(["publish"], check=False, repo=repo, lock_fd=held.fd)
        for step in (["offline", "html"], ["summary", "results", "html"]):
            if code:
                break
            print("$ python -m perfharness.site " + " ".join(step), flush=True)
            code = subprocess.call([*site, *step], cwd=repo, env=_child_env(repo))
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perfharness.runner", description=__doc__, allow_abbrev=False)
    parser.add_argument("--machine", default=None, help="asv machine name (default $GDOPT_MACHINE or host name)")
    parser.add_argument("--repo", default=".", help="repository root (default .)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str, asv_args: bool = True) -> argparse.ArgumentParser:
        epilog = "Any other argument is passed to `asv run`." if asv_args else None
        p = sub.add_parser(name, help=help_, epilog=epilog, allow_abbrev=False)
        p.set_defaults(takes_asv_args=asv_args)
        p.add_argument("--wait", action="store_true",
                       help="if another run holds this checkout, wait for it (default: exit 2 naming it)")
        return p

    add("run", "asv run for HEAD (or the given asv arguments)")
    p = add("history", "asv run over commits on main not yet measured (or the given range)")
    p.add_argument("--list", action="store_true", help="print the range split into --shards ranges; run nothing")
    p.add_argument("--json", action="store_true", help="with --list: one JSON list (for strategy.matrix)")
    p.add_argument("--shards", type=int, default=1, help="with --list: how many ranges (default 1)")
    p = add("matrix", "the suite across Python × TensorFlow × device")
    p.add_argument("--python", action="append", help="only this Python version (repeatable)")
    p.add_argument("--device", action="append", choices=["cpu", "gpu"], help="only this device (repeatable)")
    p.add_argument("--tensorflow", "--version", action="append", dest="tensorflow",
                   help="only this version of the matrix package (repeatable)")
    p.add_argument("--cell", action="append", help="only the cell of this name (repeatable; see --list)")
    p.add_argument("--any-python", action="store_true",
                   help="include Pythons not installed here (a CI lister whose jobs install their own)")
    p.add_argument("--without-default", action="store_true",
                   help="leave out the cell equal to the project's own environment (what `bench` measures)")
    p.add_argument("--list", action="store_true", help="print the cells it would run; run nothing")
    p.add_argument("--json", action="store_true", help="with --list: one JSON list (for strategy.matrix)")
    p = add("bisect", "asv find: the commit that introduced a regression", asv_args=False)
    p.add_argument("good")
    p.add_argument("bad")
    p.add_argument("benchmark", help="a benchmark name (regex), e.g. 'training.Train.time_train'")
    add("publish", "asv publish into html/, offline assets, the summary page", asv_args=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one command; 0 ok, 1 a benchmark failed, 2 unusable arguments or the checkout is busy."""
    from perfharness.lock import LockBusy
    from perfharness.procs import die_with_parent

    parser = _parser()
    args, rest = parser.parse_known_args(argv)  # ours anywhere; the rest, in order, is asv's
    if rest and not args.takes_asv_args:
        parser.error(f"{args.command} takes no asv arguments, got {rest}")
    args.asv_args = [a for a in rest if a != "--"]
    repo = Path(args.repo)
    if not (repo / "asv.conf.json").is_file():
        print(f"error: {repo.resolve()} has no asv.conf.json (--repo names the repository root)", file=sys.stderr)
        return EXIT_USAGE
    handler = {"run": cmd_run, "history": cmd_history, "matrix": cmd_matrix, "bisect": cmd_bisect,
               "publish": cmd_publish}[args.command]
    if not getattr(args, "list", False):
        die_with_parent()  # nox killed: this run stops, and run_supervised takes asv down with it
    try:
        return handler(args)
    except (UsageError, LockBusy) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except ValueError as exc:  # pyproject's [tool.perfharness] (ProjectConfigError) and the like
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
