"""Check perfharness.probes' NVML readings against a real GPU load; run by hand on an NVIDIA host.

    python tools/gpu_probe_check.py [--seconds 15] [--json readings.json]

Needs nvidia-ml-py, psutil and torch (CUDA), not TensorFlow: the probes are loaded from this checkout's
harness/src, so neither gdopt nor the harness (asv, scipy) has to be installed. Measures 2 s idle, then
``--seconds`` of large float32 matmuls plus a known block of device memory, and checks the readings are
plausible. Exit status: 0 plausible, 1 implausible, 2 no NVIDIA GPU through NVML, 3 no CUDA device for torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

MIB = 2**20


def fmt(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.1f} {unit}"


HARNESS_SRC = Path(__file__).resolve().parents[1] / "harness" / "src"


def load_probes() -> Any:
    """Import ``perfharness.probes`` from ``harness/src`` beside this script: a GPU host may have only
    nvidia-ml-py and psutil (the probes import nothing else at import time)."""
    if str(HARNESS_SRC) not in sys.path:
        sys.path.insert(0, str(HARNESS_SRC))
    return importlib.import_module("perfharness.probes")


def gpu_load(torch: Any, device: Any, seconds: float, size: int, ballast_mb: int) -> int:
    """Hold ``ballast_mb`` MiB plus three size×size float32 matrices and multiply for ``seconds``."""
    ballast = torch.ones(ballast_mb * MIB // 4, dtype=torch.float32, device=device)
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    c = torch.empty(size, size, device=device)
    matmuls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            torch.matmul(a, b, out=c)
        torch.cuda.synchronize(device)  # keeps the queue short, so the load stops when the loop does
        matmuls += 10
    if not bool(torch.isfinite(c).all()) or float(ballast[-1]) != 1.0:
        raise RuntimeError("the GPU load produced wrong numbers")
    return matmuls


def main(argv: list[str] | None = None) -> int:
    """Measure idle and a matmul load with GpuEnergyMeter; print the readings and check them."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--index", type=int, default=0, help="GPU index, NVML's and torch's")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the matmul load")
    parser.add_argument("--size", type=int, default=8192, help="matrix side of the matmuls")
    parser.add_argument("--ballast-mb", type=int, default=2048, help="extra device memory held under load")
    parser.add_argument("--json", type=Path, help="also write the readings to this file")
    args = parser.parse_args(argv)

    probes = load_probes()
    status = probes.nvml_status(args.index)
    if not status.available:
        print(f"no NVIDIA GPU: {status.reason}")
        return 2
    print(
        f"GPU {status.device_index} of {status.device_count}: {status.device_name}, "
        f"driver {status.driver_version}, CUDA {status.cuda_driver_version}, "
        f"memory {status.memory_used_mb:.0f} / {status.memory_total_mb:.0f} MB"
    )
    try:
        import torch
    except ImportError as error:
        print(f"torch is not importable: {error}")
        return 3
    if not torch.cuda.is_available() or args.index >= torch.cuda.device_count():
        print(f"torch sees no CUDA device {args.index} (CUDA {torch.version.cuda})")
        return 3
    device = torch.device("cuda", args.index)
    torch_name = torch.cuda.get_device_name(device)
    if torch_name != status.device_name:
        print(f"warning: torch calls device {args.index} {torch_name!r}, NVML {status.device_name!r}")
    torch.ones(1, device=device)  # create the CUDA context before the baselines
    torch.cuda.synchronize(device)

    with probes.GpuEnergyMeter(args.index, interval_s=0.05) as idle_meter:
        time.sleep(2.0)
    idle = idle_meter.reading
    matrices_mb = 3 * args.size * args.size * 4 / MIB
    with (
        probes.GpuEnergyMeter(args.index, interval_s=0.02) as meter,
        probes.PeakRSSSampler(interval_s=0.005) as host,
    ):
        matmuls = gpu_load(torch, device, args.seconds, args.size, args.ballast_mb)
    load = meter.reading
    torch.cuda.empty_cache()

    tflops = matmuls * 2 * args.size**3 / load.duration_s / 1e12
    print(f"idle: {fmt(idle.mean_power_w, 'W')} mean ({idle.method}), {idle.n_samples} samples")
    print(
        f"load: {matmuls} matmuls of {args.size}² in {load.duration_s:.1f} s ({tflops:.1f} TFLOP/s)\n"
        f"  energy {fmt(load.energy_j, 'J')} by {load.method or load.energy_unavailable_reason} "
        f"(power integration: {fmt(load.power_integrated_energy_j, 'J')})\n"
        f"  mean power {fmt(load.mean_power_w, 'W')}\n"
        f"  GPU memory baseline {load.baseline_gpu_memory_mb:.0f} MB, peak +{load.peak_gpu_memory_mb:.0f} MB "
        f"(held {args.ballast_mb + matrices_mb:.0f} MB)\n"
        f"  utilization mean {fmt(load.mean_gpu_utilization_pct, '%')}, "
        f"max {fmt(load.max_gpu_utilization_pct, '%')}, "
        f"{load.n_samples} samples\n"
        f"  host RSS peak +{host.reading.peak_rss_mb:.1f} MB over {host.reading.n_samples} samples"
    )

    failures = []
    if load.energy_j is None or load.mean_power_w is None or not load.energy_j > 0:
        failures.append(f"no positive energy reading: {load.energy_j} ({load.energy_unavailable_reason})")
    elif not 1 < load.mean_power_w < 2000:
        failures.append(f"mean power {load.mean_power_w:.1f} W is not a GPU's power (unit error?)")
    elif idle.mean_power_w is not None and not load.mean_power_w > idle.mean_power_w:
        failures.append(f"load power {load.mean_power_w:.1f} W is not above idle {idle.mean_power_w:.1f} W")
    integrated = load.power_integrated_energy_j
    if load.energy_j and integrated and not 0.5 < integrated / load.energy_j < 2:
        failures.append(f"counter {load.energy_j:.0f} J and power integration {integrated:.0f} J disagree")
    if not load.peak_gpu_memory_mb >= 0.9 * (args.ballast_mb + matrices_mb):
        failures.append(f"GPU memory rose {load.peak_gpu_memory_mb:.0f} MB, less than the block held")
    if load.max_gpu_utilization_pct is not None and not load.max_gpu_utilization_pct >= 50:
        failures.append(f"utilization peaked at {load.max_gpu_utilization_pct} % under a matmul load")

    if args.json is not None:
        readings = {
            "status": dataclasses.asdict(status),
            "idle": dataclasses.asdict(idle),
            "load": dataclasses.asdict(load),
            "host": dataclasses.asdict(host.reading),
            "matmuls": matmuls,
            "tflops": tflops,
            "failures": failures,
            "fingerprint": probes.machine_fingerprint(),
        }
        args.json.write_text(json.dumps(readings, indent=2))
    for failure in failures:
        print(f"IMPLAUSIBLE: {failure}")
    print("OK: readings plausible" if not failures else f"FAILED: {len(failures)} implausible reading(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
