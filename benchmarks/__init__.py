"""asv suites for gdopt (run with ``asv run`` or ``nox -s bench``)."""
