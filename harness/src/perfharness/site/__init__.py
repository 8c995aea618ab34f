"""The published benchmark site: self-contained assets and merged results (TensorFlow-free).

Names load lazily, so ``python -m perfharness.site.workflows_lint`` needs neither asv nor the network.

>>> from perfharness.site import make_offline, merge_results
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfharness.site.merge import Conflict, MergeError, MergeReport, Skipped, merge_results
    from perfharness.site.offline import VendorError, make_offline

__all__ = [
    "Conflict",
    "MergeError",
    "MergeReport",
    "Skipped",
    "VendorError",
    "make_offline",
    "merge_results",
]

_HOME = {
    "Conflict": "merge",
    "MergeError": "merge",
    "MergeReport": "merge",
    "Skipped": "merge",
    "merge_results": "merge",
    "VendorError": "offline",
    "make_offline": "offline",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"perfharness.site.{_HOME[name]}"), name)
    raise AttributeError(f"module 'perfharness.site' has no attribute {name!r}")
