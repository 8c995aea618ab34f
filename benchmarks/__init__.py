"""asv suites for gdopt (run with ``asv run`` or ``nox -s bench``)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any suite imports TensorFlow
