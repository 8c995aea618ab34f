"""perfharness.probes.fingerprint.measured_fingerprint / asv_env_pythons, against real interpreters."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest
from perfharness.probes.fingerprint import MEASURED_KEYS, asv_env_pythons, measured_fingerprint


def test_this_interpreter_reads_as_its_metadata() -> None:
    got = measured_fingerprint(sys.executable)
    assert list(got) == list(MEASURED_KEYS)
    assert got["python_version"] == platform.python_version()
    assert got["numpy_version"] == metadata.version("numpy")
    dist = got["tensorflow_distribution"]
    assert dist in ("tensorflow", "tensorflow-cpu") and got["tensorflow_version"] == metadata.version(dist)


def test_an_environment_without_tensorflow(tmp_path: Path) -> None:
    env = tmp_path / "plain"
    venv.create(env, with_pip=False)
    got = measured_fingerprint(env / "bin" / "python")
    assert got["tensorflow_version"] == "not installed" and got["numpy_version"] == "not installed"
    assert got["python_version"] == platform.python_version()


def test_tensorflow_is_not_imported(tmp_path: Path) -> None:
    # A fake `tensorflow` module that fails on import: the probe must not touch it.
    (tmp_path / "tensorflow.py").write_text("raise SystemExit('imported')\n")
    got = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                          "from perfharness.probes.fingerprint import measured_fingerprint as m;"
                          "import json; print(json.dumps(m(sys.executable)))", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["python_version"] == platform.python_version()


def test_a_missing_or_failing_interpreter_is_named(tmp_path: Path) -> None:
    plain = tmp_path / "python"
    plain.write_text("not a program\n")
    for bad in (tmp_path / "missing", plain):
        with pytest.raises(ValueError, match="is not an executable file"):
            measured_fingerprint(bad)
    plain.write_text("#!/bin/sh\necho broken >&2; exit 3\n")
    plain.chmod(0o755)
    with pytest.raises(ValueError, match="exited 3: broken"):
        measured_fingerprint(plain)


def test_asv_env_pythons_names_environments_as_asv_does(tmp_path: Path) -> None:
    env = tmp_path / "env" / "0123abcd"
    venv.create(env, with_pip=False)
    (env / "asv-env-info.json").write_text(json.dumps(
        {"tool_name": "virtualenv", "python": "3.11", "requirements": {"tensorflow-cpu": "2.21.0", "numpy": ""},
         "build_env_vars": {}}))
    (tmp_path / "env" / "not-an-env").mkdir()
    found = asv_env_pythons(tmp_path / "env")
    assert found == {"virtualenv-py3.11-numpy-tensorflow-cpu2.21.0": env / "bin" / "python"}
    with pytest.raises(ValueError, match="is not a directory"):
        asv_env_pythons(tmp_path / "nope")
