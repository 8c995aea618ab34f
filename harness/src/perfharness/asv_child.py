"""asv 0.6.6, run so that an interrupted run keeps what it finished: ``python -m perfharness.asv_child ARGS``.

What asv itself does (asv/commands/run.py, asv/runner.py, asv/util.py): ``asv run`` collects a
commit's results in memory and writes that commit's file once, after its last benchmark, with a
plain ``open(path, "w")`` + ``json.dump``. A run killed mid-commit loses every benchmark of that
commit, and one killed while writing leaves a truncated file that asv then refuses to load.

This entry point runs the real asv with three small hooks, for the run that :mod:`perfharness.runner`
supervises:

* **atomic writes**: ``asv.util.write_json`` writes a temp file in a staging folder on the same
  file system (``$PERFHARNESS_STAGING``, else beside the target), fsyncs it and renames it into
  place: ``results/`` only ever holds complete files (benchmarks.json and machine.json included);
* **save as they finish**: each time asv logs a benchmark's *final* round (``log_benchmark_result``),
  the commit's results file is rewritten with the results it held when asv loaded it plus every
  benchmark finished since. A benchmark still between rounds (asv runs rounds in separate passes)
  is not finished and keeps its previous value, so no file ever holds half a benchmark;
  ``--skip-existing-successful`` then skips the finished ones on the next run;
* **dies with its parent, and takes its children along**: SIGTERM when the supervisor dies
  (prctl), and on SIGTERM/SIGINT/SIGHUP every descendant (forkserver, benchmark, pip) is killed.

* **discovery once** (``$PERFHARNESS_ASV_DISCOVERED``, set by the gate from its second round on): the
  benchmark list comes from that ``benchmarks.json``, written by the same commits' first run, instead of a
  fresh discovery. asv discovers from the working tree's benchmark folder in a process that imports the
  suite, TensorFlow with it: ~4 s of every gate round, for a list that cannot change within a gate run.

And one check: a ``--bench`` that selects no benchmark exits 2 saying so (asv says "No
benchmarks selected" and exits 1, like any other failure). asv's own exit 2 (a benchmark failed)
becomes 1, so 2 always means "nothing could be measured as asked".
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ASV_VERSION", "DISCOVERED_ENV", "NO_MATCH_EXIT", "STAGING_ENV", "install_hooks", "main",
           "write_json_atomic"]

ASV_VERSION = "0.6.6"  # the hooks below follow this release's internals; another one is refused
STAGING_ENV = "PERFHARNESS_STAGING"
DISCOVERED_ENV = "PERFHARNESS_ASV_DISCOVERED"  # a benchmarks.json to use instead of discovering again
NO_MATCH_EXIT = 2
ASV_FAILED_EXIT = 1  # asv run exits 2 when a benchmark failed; passed on as 1
TMP_SUFFIX = ".phtmp"  # temp files of an interrupted write; the runner sweeps them
# Results' per-benchmark tables, as asv.results.Results keeps them (see Results.load_data).
_TABLES = ("_results", "_samples", "_stats", "_benchmark_params", "_profiles", "_started_at", "_duration",
           "_benchmark_version")


class NoBenchmarkMatched(Exception):
    """The --bench selection matched none of the benchmarks asv discovered."""


def write_json_atomic(path: str, data: Any, api_version: int | None = None, compact: bool = False) -> None:
    """``asv.util.write_json``, written to a temp file and renamed into place (readers never see half)."""
    target = Path(os.path.abspath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    if api_version is not None:
        data = dict(data)
        data["version"] = api_version
    text = json.dumps(data) if compact else json.dumps(data, indent=4, sort_keys=True)
    staging = os.environ.get(STAGING_ENV)
    folder = Path(staging) if staging else target.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.replace(tmp, target)
        except OSError:  # staging on another file system: rename beside the target instead
            beside = target.parent / Path(tmp).name
            os.replace(_copy(tmp, beside), target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _copy(src: str, dst: Path) -> Path:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fout.write(fin.read())
        fout.flush()
        os.fsync(fout.fileno())
    return dst


def install_hooks() -> None:
    """Patch asv 0.6.6 in this process: atomic JSON writes, per-benchmark saves, the --bench check."""
    import asv
    from asv import runner, util
    from asv.benchmarks import Benchmarks
    from asv.results import Results

    if asv.__version__ != ASV_VERSION:
        raise SystemExit(f"perfharness.asv_child: asv {asv.__version__} is installed, but these hooks follow "
                         f"asv {ASV_VERSION}'s internals (pin asv=={ASV_VERSION})")
    util.write_json = write_json_atomic

    original_load_data = Results.load_data

    def load_data(self: Any, result_dir: str) -> None:
        original_load_data(self, result_dir)
        # What is on disk now: a benchmark keeps this value until its last round is done.
        self._ph_dir = result_dir
        self._ph_kept = {name: copy.deepcopy(getattr(self, name)) for name in _TABLES}

    Results.load_data = load_data

    original_log = runner.log_benchmark_result

    def log_benchmark_result(results: Any, benchmark: Any, show_stderr: bool = False) -> None:
        original_log(results, benchmark, show_stderr=show_stderr)
        result_dir = getattr(results, "_ph_dir", None)
        if result_dir is None:  # asv does not save this run (dry run, existing environment)
            return
        kept = results._ph_kept
        name = benchmark["name"]
        for table in _TABLES:
            source = getattr(results, table)
            if name in source:
                kept[table][name] = copy.deepcopy(source[name])
        for key, value in results._duration.items():  # run-level durations (<build>, <setup_cache …>)
            if key.startswith("<"):
                kept["_duration"][key] = value
        snapshot = copy.copy(results)
        for table in _TABLES:
            setattr(snapshot, table, kept[table])
        for key in kept["_results"]:
            kept["_stats"].setdefault(key, None)
        snapshot.save(result_dir)

    runner.log_benchmark_result = log_benchmark_result

    original_discover = Benchmarks.discover.__func__

    def discover(cls: Any, conf: Any, repo: Any, environments: Any, commit_hash: Any, regex: Any = None,
                 check: bool = False) -> Any:
        listed = os.environ.get(DISCOVERED_ENV)
        if listed:  # the list this gate run's first round discovered (asv's own benchmarks.json format)
            if not os.path.isfile(listed):
                raise util.UserError(f"${DISCOVERED_ENV} names {listed}, which does not exist")
            found = cls(conf, util.load_json(listed, api_version=cls.api_version).values(), regex=regex)
        else:
            found = original_discover(cls, conf, repo, environments, commit_hash, regex=regex, check=check)
        if regex and len(found) == 0 and regex != ["just-discover"]:
            raise NoBenchmarkMatched(
                f"--bench {' '.join(repr(r) for r in regex)} matches none of the "
                f"{len(found._all_benchmarks)} benchmarks asv discovered; nothing was run"
            )
        return found

    Benchmarks.discover = classmethod(discover)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``asv ARGS`` with the hooks; exit code as asv's, or 2 when --bench matched nothing."""
    from perfharness.procs import PARENT_ENV, die_with_parent, kill_descendants_on_signal

    parent = os.environ.get(PARENT_ENV)
    if parent:  # started by run_supervised: never outlive it
        kill_descendants_on_signal()
        die_with_parent(int(parent))
    install_hooks()
    from asv.main import main as asv_main

    sys.argv = ["asv", *(sys.argv[1:] if argv is None else argv)]
    try:
        asv_main()
    except NoBenchmarkMatched as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return NO_MATCH_EXIT
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        # asv's 2 means "a benchmark failed"; here 2 is kept for "could not run at all" (usage).
        return ASV_FAILED_EXIT if code == 2 else code
    return 0


if __name__ == "__main__":
    sys.exit(main())
