"""``python -m perfharness.probes``: the machine fingerprint and a short sampled reading; exits 0 without a GPU."""

from __future__ import annotations

import argparse
import json
import time

from .fingerprint import machine_fingerprint
from .host import PeakRSSSampler
from .nvml import GpuEnergyMeter, nvml_status


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "-" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    """Print fingerprint, an RSS reading of a small allocation, and NVML readings when a GPU is present."""
    parser = argparse.ArgumentParser(prog="python -m perfharness.probes", description=main.__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each sampled reading")
    parser.add_argument("--alloc-mb", type=int, default=64, help="host block allocated during the RSS reading")
    parser.add_argument("--json", action="store_true", help="print the fingerprint as JSON")
    args = parser.parse_args(argv)

    fingerprint = machine_fingerprint()
    if args.json:
        print(json.dumps(fingerprint, indent=2))
    else:
        width = max(map(len, fingerprint))
        for key, value in fingerprint.items():
            print(f"{key:<{width}}  {_show(value)}")

    with PeakRSSSampler() as sampler:
        block = bytearray(b"\x01") * (args.alloc_mb * 2**20)  # repeated, so every page is written
        time.sleep(args.seconds)
        del block
    rss = sampler.reading
    print(
        f"\nhost RSS: baseline {rss.baseline_rss_mb:.1f} MB, peak +{rss.peak_rss_mb:.1f} MB from the "
        f"{rss.peak_source} ({args.alloc_mb} MB allocated); sampled peak +{rss.sampled_peak_rss_mb:.1f} MB, "
        f"{rss.n_samples} samples in {rss.duration_s:.2f} s (every {rss.mean_interval_s * 1e3:.2f} ms); "
        f"kernel high-water mark {_show(rss.lifetime_max_rss_mb)} MB ({rss.lifetime_max_rss_source or 'unavailable'})"
    )

    status = nvml_status()
    if not status.available:
        print(f"no NVIDIA GPU: {status.reason}")
        return 0
    print(
        f"GPU {status.device_index}: {status.device_name}, driver {status.driver_version}, "
        f"CUDA {status.cuda_driver_version}, memory {_show(status.memory_used_mb)} / "
        f"{_show(status.memory_total_mb)} MB, utilization {_show(status.gpu_utilization_pct)} %"
    )
    try:
        with GpuEnergyMeter(status.device_index) as meter:
            time.sleep(args.seconds)
    except RuntimeError as error:  # NvmlUnavailableError, or NVML failing mid-reading
        print(f"GPU reading failed: {error}")
        return 1
    gpu = meter.reading
    print(
        f"GPU idle {gpu.duration_s:.2f} s: energy {_show(gpu.energy_j)} J "
        f"({gpu.method or gpu.energy_unavailable_reason}), "
        f"mean power {_show(gpu.mean_power_w)} W, memory peak +{gpu.peak_gpu_memory_mb:.1f} MB, "
        f"utilization max {_show(gpu.max_gpu_utilization_pct)} %, {gpu.n_samples} samples"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
