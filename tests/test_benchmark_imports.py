"""asv imports every module of ``benchmarks/`` in its own environments, which carry only what
``asv.conf.json``'s matrix and gdopt install: a top-level import of anything else (scipy, say) breaks
discovery of the whole suite. The slow asv tests run in this environment, which has everything, so
this check reads the imports instead."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT_NAMES = {"tensorflow-cpu": "tensorflow", "tensorflow": "tensorflow", "nvidia-ml-py": "pynvml"}


def _asv_env_modules() -> set[str]:
    text = re.sub(r"^\s*//.*$", "", (ROOT / "asv.conf.json").read_text(), flags=re.M)
    reqs = json.loads(text)["matrix"]["req"]
    # gdopt's own dependencies come with its wheel; keras comes with TensorFlow.
    return {IMPORT_NAMES.get(r, r.replace("-", "_")) for r in reqs} | {"gdopt", "keras", "benchmarks", "perfharness"}


def _top_level_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.parse(path.read_text()).body:  # module level only: imports inside functions run later
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmark_modules_import_only_what_asv_environments_have(path: Path) -> None:
    allowed = _asv_env_modules() | set(sys.stdlib_module_names) | {"__future__"}
    extra = _top_level_imports(path) - allowed
    assert not extra, f"{path.name} imports {sorted(extra)} at module level; import it inside the function"


# The harness's own dependencies (pyproject's bench/test/dev extras), absent from asv's environments.
HARNESS_ONLY = ("scipy", "matplotlib", "asv", "nox", "selenium", "pytest")


def test_benchmark_modules_import_in_discovery_without_harness_dependencies() -> None:
    """The same, transitively: each module imported as asv's discovery does, with the harness's packages
    made unimportable (a ``from perfharness.gate import ...`` pulls in scipy, for one)."""
    code = textwrap.dedent(f"""
        import importlib, importlib.abc, sys
        sys.argv = ["benchmark.py", "discover"]
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {HARNESS_ONLY!r}:
                    raise ImportError(f"{{name}} is not installed in asv's environments")
        sys.meta_path.insert(0, Block())
        for mod in {sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py"))!r}:
            importlib.import_module(f"benchmarks.{{mod}}")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
