"""What machine a measurement came from: CPU, memory, OS, Python, library versions, GPU.

Library versions come from installed package metadata, so neither TensorFlow nor NumPy is imported.
The keys are stable (:data:`FINGERPRINT_KEYS`, in this order); a value that cannot be known is None,
and ``gpu_unavailable_reason`` says why the GPU fields are None. GB = GiB (2**30 bytes).

>>> fingerprint = machine_fingerprint()
>>> list(fingerprint) == list(FINGERPRINT_KEYS)
True
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TypedDict

import psutil

from .nvml import nvml_status

__all__ = [
    "FINGERPRINT_KEYS",
    "MEASURED_KEYS",
    "TENSORFLOW_DISTRIBUTIONS",
    "Fingerprint",
    "asv_env_pythons",
    "cpu_model",
    "machine_fingerprint",
    "measured_fingerprint",
]

# Names TensorFlow is published under; the first one installed wins.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "tf-nightly-cpu")


class Fingerprint(TypedDict):
    """The machine fingerprint; see :func:`machine_fingerprint`."""

    cpu_model: str | None  # "AMD EPYC 7B13", from /proc/cpuinfo, sysctl or platform
    cpu_arch: str  # "x86_64", "arm64"
    cpu_logical_cores: int | None
    cpu_physical_cores: int | None
    ram_gb: float  # total physical memory, GiB
    os: str  # "Linux 6.8.0-1015-gcp"
    os_platform: str  # platform.platform(), with libc
    python_version: str  # "3.11.9"
    python_implementation: str  # "CPython"
    tensorflow_version: str | None
    tensorflow_distribution: str | None  # which of TENSORFLOW_DISTRIBUTIONS is installed
    numpy_version: str | None
    gpu_model: str | None  # NVIDIA GPU 0, as NVML names it
    gpu_count: int  # NVIDIA GPUs NVML sees; 0 without NVML
    gpu_memory_gb: float | None  # total memory of GPU 0, GiB
    gpu_driver_version: str | None  # "550.54.15"
    cuda_driver_version: str | None  # highest CUDA the driver supports, "12.4"
    gpu_unavailable_reason: str | None  # None when GPU 0 was read


FINGERPRINT_KEYS: tuple[str, ...] = tuple(Fingerprint.__annotations__)


def cpu_model() -> str | None:
    """This machine's CPU model as the OS names it ("AMD EPYC 7B13"); None where it cannot tell."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
                for line in cpuinfo:
                    key, _, value = line.partition(":")
                    if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                        return value.strip()
        except OSError:
            pass
    elif sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_fingerprint() -> Fingerprint:
    """This machine, keyed by :data:`FINGERPRINT_KEYS`; imports neither TensorFlow nor NumPy."""
    tf_distribution = next((name for name in TENSORFLOW_DISTRIBUTIONS if _version(name) is not None), None)
    gpu = nvml_status(0)
    return Fingerprint(
        cpu_model=cpu_model(),
        cpu_arch=platform.machine(),
        cpu_logical_cores=psutil.cpu_count(logical=True),
        cpu_physical_cores=psutil.cpu_count(logical=False),
        ram_gb=round(psutil.virtual_memory().total / 2**30, 2),
        os=f"{platform.system()} {platform.release()}",
        os_platform=platform.platform(),
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
        tensorflow_version=None if tf_distribution is None else _version(tf_distribution),
        tensorflow_distribution=tf_distribution,
        numpy_version=_version("numpy"),
        gpu_model=gpu.device_name,
        gpu_count=gpu.device_count,
        gpu_memory_gb=None if gpu.memory_total_mb is None else round(gpu.memory_total_mb / 1024, 2),
        gpu_driver_version=gpu.driver_version,
        cuda_driver_version=gpu.cuda_driver_version,
        gpu_unavailable_reason=gpu.reason,
    )


# What measured_fingerprint returns, in this order.
MEASURED_KEYS = ("python_version", "tensorflow_version", "tensorflow_distribution", "numpy_version")
# Runs in the measured interpreter: package metadata only, so neither TensorFlow nor NumPy is imported.
_MEASURE = """
import json, platform, sys
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
dist = next((n for n in sys.argv[1:] if version(n) is not None), None)
print(json.dumps({"python_version": platform.python_version(), "tensorflow_version": dist and version(dist),
                  "tensorflow_distribution": dist, "numpy_version": version("numpy")}))
"""


def measured_fingerprint(python: str | Path, timeout_s: float = 60.0) -> dict[str, str]:
    """The measured environment, read by running ``python`` (an asv environment's interpreter).

    Keys :data:`MEASURED_KEYS`: its Python version, TensorFlow's version and distribution name
    (``tensorflow`` vs ``tensorflow-cpu`` …, from package metadata, TensorFlow not imported) and
    NumPy's version; a package that is not installed reads ``"not installed"``. ValueError names
    an interpreter that is missing or fails.
    """
    exe = Path(python)
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise ValueError(f"measured_fingerprint: {exe} is not an executable file")
    try:
        proc = subprocess.run([str(exe), "-I", "-c", _MEASURE, *TENSORFLOW_DISTRIBUTIONS], capture_output=True,
                              text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"measured_fingerprint: could not run {exe}: {exc}") from None
    if proc.returncode:
        raise ValueError(f"measured_fingerprint: {exe} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {key: str(data[key]) if data[key] is not None else "not installed" for key in MEASURED_KEYS}


def asv_env_pythons(env_dir: str | Path) -> dict[str, Path]:
    """asv environment name -> its interpreter, for every environment under ``env_dir`` (asv's env_dir).

    asv keeps each environment in ``env_dir/<hash>/`` with ``asv-env-info.json`` (tool, Python,
    requirements), from which asv's own ``get_env_name`` gives the name that results files carry
    (``virtualenv-py3.11-…``); a folder without it is named by the folder.
    """
    root = Path(env_dir)
    if not root.is_dir():
        raise ValueError(f"asv_env_pythons: {root} is not a directory (asv's env_dir)")
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        exe = next((c for c in (folder / "bin" / "python", folder / "Scripts" / "python.exe") if c.is_file()), None)
        if exe is None:
            continue
        name = folder.name
        try:
            from asv.environment import get_env_name

            info = json.loads((folder / "asv-env-info.json").read_text(encoding="utf-8"))
            name = get_env_name(info["tool_name"], info["python"], info["requirements"], {})
        except (ImportError, OSError, ValueError, KeyError, TypeError):
            pass
        found[name] = exe
    return found
