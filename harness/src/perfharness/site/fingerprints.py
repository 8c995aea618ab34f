"""Machine fingerprints beside asv's results: ``<results>/<machine>/fingerprint.jsonl``.

asv's machine.json has no GPU fields, so the fingerprint (CPU, RAM, GPU model, driver, CUDA, TensorFlow and
Python versions; :func:`perfharness.probes.machine_fingerprint`) goes here, one JSON line per change. A ``.jsonl``
name because asv 0.6.6 tries to load every ``*.json`` under the results directory as a results file.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfharness.site.atomic import write_atomic

__all__ = ["FINGERPRINT_FILE", "fingerprint_history", "fingerprint_path", "merge_fingerprints", "read_fingerprint",
           "write_fingerprint"]

log = logging.getLogger(__name__)

FINGERPRINT_FILE = "fingerprint.jsonl"


def fingerprint_path(results_dir: Path, machine: str) -> Path:
    """``<results_dir>/<machine>/fingerprint.jsonl``."""
    return Path(results_dir) / machine / FINGERPRINT_FILE


def write_fingerprint(results_dir: Path, machine: str, fingerprint: Mapping[str, Any] | None = None) -> Path:
    """Record this machine's fingerprint beside its asv results; return the file's path.

    ``fingerprint`` defaults to :func:`perfharness.probes.machine_fingerprint` (psutil and NVML, no TensorFlow).
    A line ``{"recorded_at": ISO time, "fingerprint": {...}}`` is appended only when the fingerprint
    differs from the last one recorded, so the file is the machine's history (a driver upgrade shows).
    """
    if fingerprint is None:
        from perfharness.probes.fingerprint import machine_fingerprint

        fingerprint = machine_fingerprint()
    path = fingerprint_path(results_dir, machine)
    history = fingerprint_history(path)
    if history and history[-1].get("fingerprint") == dict(fingerprint):
        return path
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record = {"recorded_at": now, "fingerprint": dict(fingerprint)}
    lines = [json.dumps(r, sort_keys=True) for r in [*history, record]]
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def read_fingerprint(results_dir: Path, machine: str) -> dict[str, Any] | None:
    """The latest fingerprint recorded for ``machine`` (with ``recorded_at``), or None if there is none."""
    history = fingerprint_history(fingerprint_path(results_dir, machine))
    if not history:
        return None
    latest = history[-1]
    return {**latest["fingerprint"], "recorded_at": latest.get("recorded_at")}


def fingerprint_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    history = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            log.warning("skipped line %d of %s: not JSON (%s)", number, path, exc)
            continue
        if isinstance(record, dict) and isinstance(record.get("fingerprint"), dict):
            history.append(record)
        else:
            log.warning("skipped line %d of %s: not a fingerprint record", number, path)
    return history


def merge_fingerprints(sources: list[Path], dest: Path) -> bool:
    """The union of the records in ``sources`` (several ``fingerprint.jsonl``), by time; True if ``dest`` changed."""
    records = {}
    for path in [*sources, dest]:
        for record in fingerprint_history(path):
            records[json.dumps(record, sort_keys=True)] = record
    ordered = sorted(records.values(), key=lambda r: str(r.get("recorded_at", "")))
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in ordered)
    if dest.is_file() and dest.read_text(encoding="utf-8") == text:
        return False
    write_atomic(dest, text.encode("utf-8"))
    return True
