"""asv suites for gdopt (run with ``asv run`` or ``nox -s bench``).

asv builds and installs gdopt at each commit it measures, but it always runs *this* checkout's
``benchmarks/``. The probes that watch a benchmark (``perfharness.probes``) come from this checkout too,
from ``harness/src`` put on the path here, so the measuring code is the same for every commit compared;
installed in asv's environments it would be whatever copy the environment was built with.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any suite imports TensorFlow

_HARNESS = str(Path(__file__).resolve().parents[1] / "harness" / "src")
if _HARNESS not in sys.path:
    sys.path.insert(0, _HARNESS)
