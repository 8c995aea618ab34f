"""GPU resources of a training run: TensorFlow's allocator peak, NVML memory and energy.

On a host without an NVIDIA GPU (or without NVML) setup raises NotImplementedError and asv shows
n/a; nothing is faked. The GPU's identity goes with the results through the machine fingerprint.
"""

from __future__ import annotations

from perfharness.probes import nvml, tf_memory

import gdopt

from . import common


class GpuResources:
    params = (common.OPTIMIZER_NAMES,)
    param_names = ["optimizer"]
    rounds = 2
    repeat = 1
    timeout = common.TIMING["timeout"]
    version = "1"

    def setup(self, name: str) -> None:
        common.require_device("gpu")
        status = nvml.nvml_status()
        if not status.available:
            raise NotImplementedError(f"NVML unavailable: {status.reason}")
        self.data = common.dataset()
        self.opt = common.optimizer(name)
        self.epochs = common.workload(name).energy_epochs
        common.warm_up(gdopt.train, self.data, self.opt, "gpu")

    def _run(self) -> None:
        gdopt.train(common.model(), self.data, self.opt, epochs=self.epochs, seed=common.TRAIN_SEED, device="gpu")

    def track_gpu_allocator_peak_mb(self, name: str) -> float:
        """TensorFlow's allocator peak during the run (tf.config.experimental.get_memory_info)."""
        tf_memory.reset_tf_peak_memory("GPU:0")
        self._run()
        return tf_memory.tf_peak_memory_mb("GPU:0")

    track_gpu_allocator_peak_mb.unit = "MB"

    def track_nvml_memory_mb(self, name: str) -> float:
        """Device memory used above the pre-run level, NVML-sampled (memory growth is on)."""
        with nvml.GpuEnergyMeter() as meter:
            self._run()
        return meter.reading.peak_gpu_memory_mb

    track_nvml_memory_mb.unit = "MB"

    def track_energy_j(self, name: str) -> float:
        """Energy the GPU drew during the run (NVML total-energy counter, or integrated power)."""
        with nvml.GpuEnergyMeter() as meter:
            self._run()
        reading = meter.reading
        if reading.energy_j is None:
            raise NotImplementedError(reading.energy_unavailable_reason or "no energy reading")
        return reading.energy_j

    track_energy_j.unit = "J"
