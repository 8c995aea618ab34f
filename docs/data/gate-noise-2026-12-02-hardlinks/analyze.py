"""Does SGD's A/A side bias go when both sides map the same TensorFlow files?

``PYTHONPATH=harness/src python docs/data/gate-noise-2026-12-02-hardlinks/analyze.py`` over the eight SGD-only
records in this folder: ``normal-*`` (env a and env b, two separate installs) and ``hardlinked-*`` (env a, and a
copy of it made with ``cp -al``: every file of head's environment a hard link to base's, so both sides' libraries
are the same page-cache pages), interleaved.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the same comparison as the environment swap's, on this folder's records
_spec = importlib.util.spec_from_file_location("envswap", HERE.parent / "gate-noise-2026-12-02-envswap" / "analyze.py")
assert _spec is not None and _spec.loader is not None
envswap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(envswap)

if __name__ == "__main__":
    envswap.compare(HERE, "normal", "hardlinked")
    print("A bias from two copies of the libraries in memory goes with the hard links; one from the side stays.")
