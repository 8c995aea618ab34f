"""Command line: ``python -m perfharness.site offline HTML_DIR``, ``merge DEST SRC...``,
``summary RESULTS_DIR HTML_DIR`` and ``fingerprint RESULTS_DIR MACHINE``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from perfharness.site.fingerprints import write_fingerprint
from perfharness.site.merge import MergeError, merge_results
from perfharness.site.offline import VendorError, default_cache_dir, make_offline
from perfharness.site.summary import SummaryError, build_summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perfharness.site", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    off = sub.add_parser("offline", help="vendor the CDN assets into a published asv site")
    off.add_argument("html_dir", type=Path, help="the folder `asv publish` wrote (html_dir)")
    off.add_argument("--cache-dir", type=Path, default=None, help=f"tarball cache (default: {default_cache_dir()})")
    mrg = sub.add_parser("merge", help="merge asv results folders (machines, CI shards) into one")
    mrg.add_argument("dest", type=Path, help="results folder to write; its own results take part")
    mrg.add_argument("sources", type=Path, nargs="+", help="results folders to merge in")
    mrg.add_argument("--strict", action="store_true", help="exit 1 if any file was skipped or conflicted")
    smy = sub.add_parser("summary", help="write HTML_DIR/summary.html from the results and link it from index.html")
    smy.add_argument("results_dir", type=Path, help="asv's results folder (results_dir)")
    smy.add_argument("html_dir", type=Path, help="the folder `asv publish` wrote (html_dir)")
    smy.add_argument(
        "--repo",
        type=Path,
        default=_default_repo(),
        help="git checkout whose history orders the commits (default: the current directory if it is one; "
        "without one, commits are ordered by date)",
    )
    fpr = sub.add_parser("fingerprint", help="record this machine's fingerprint (GPU included) beside its results")
    fpr.add_argument("results_dir", type=Path, help="asv's results folder (results_dir)")
    fpr.add_argument("machine", nargs="?", default=None,
                     help="asv's machine name (the results subfolder; default $GDOPT_MACHINE or the host name)")
    return parser


def _default_repo() -> Path | None:
    return Path.cwd() if (Path.cwd() / ".git").exists() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return the exit status (0 ok, 1 failure or --strict findings, 2 usage)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "offline":
            refs = make_offline(args.html_dir, args.cache_dir)
            for ref in refs:
                print(f"vendored {ref}")
            print(f"{len(refs)} CDN references rewritten; assets under {args.html_dir / 'vendor'}")
            return 0
        if args.command == "summary":
            print(f"wrote {build_summary(args.results_dir, args.html_dir, args.repo)}")
            return 0
        if args.command == "fingerprint":
            from perfharness.runner import machine_name

            print(f"wrote {write_fingerprint(args.results_dir, args.machine or machine_name())}")
            return 0
        report = merge_results(args.sources, args.dest)
    except (VendorError, MergeError, SummaryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 1 if args.strict and not report.clean else 0


if __name__ == "__main__":
    sys.exit(main())
