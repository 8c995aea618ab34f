"""Lint the GitHub workflows: schema, zizmor audit, and pinned actions; exit non-zero on any finding.

Runs offline (check-jsonschema bundles the workflow schema; zizmor runs with ``--offline``)::

    python -m perfharness.site.workflows_lint [WORKFLOW_DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["check_pins", "main"]

DEFAULT_DIR = Path(".github/workflows")
# `uses: owner/repo[/path]@<40 hex> # vN...`: a full commit SHA, and the tag it stands for.
_USES_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
_PINNED_RE = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
_TAG_COMMENT_RE = re.compile(r"#\s*v\d")


def _tool(name: str) -> str | None:
    """A console script beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def check_pins(path: Path) -> list[str]:
    """Findings for one workflow: unpinned actions, missing tag comments, ``pull_request_target``."""
    findings = []
    text = path.read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _USES_RE.match(line)
        if m is None or m["ref"].startswith(("./", "docker://")):
            continue
        if not _PINNED_RE.match(m["ref"]):
            findings.append(f"{path}:{lineno}: {m['ref']} is not pinned to a full commit SHA")
        elif not _TAG_COMMENT_RE.search(m["rest"]):
            findings.append(f"{path}:{lineno}: {m['ref']} has no '# vX' comment naming its tag")
    if re.search(r"^\s*pull_request_target\s*:", text, re.MULTILINE):
        findings.append(f"{path}: uses pull_request_target; use pull_request plus a workflow_run commenter")
    if not re.search(r"^permissions\s*:", text, re.MULTILINE):
        findings.append(f"{path}: no top-level `permissions:`; set least privilege explicitly")
    return findings


def _run(cmd: list[str]) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=False).returncode


def main(argv: Sequence[str] | None = None) -> int:
    """Run all three checks on the workflow folder; return 0 only if every one passes."""
    parser = argparse.ArgumentParser(prog="python -m perfharness.site.workflows_lint", description=__doc__)
    parser.add_argument("workflow_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    files = sorted([*args.workflow_dir.glob("*.yml"), *args.workflow_dir.glob("*.yaml")])
    if not files:
        print(f"error: no workflow files in {args.workflow_dir}", file=sys.stderr)
        return 1

    failed = []
    schema = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    if _run([*schema, *map(str, files)]) != 0:
        failed.append("check-jsonschema")

    zizmor = _tool("zizmor")
    if zizmor is None:
        print("error: zizmor is not installed (pip install zizmor)", file=sys.stderr)
        failed.append("zizmor")
    elif _run([zizmor, "--offline", "--no-progress", "--min-severity", "medium", str(args.workflow_dir)]) != 0:
        failed.append("zizmor")

    pins = [finding for f in files for finding in check_pins(f)]
    for finding in pins:
        print(finding)
    if pins:
        failed.append("pins")

    if failed:
        print(f"workflow lint failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"workflow lint passed: {len(files)} workflows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
