"""The PR gate's suite: a fast, representative subset (gdopt on the CPU, each optimizer).

``nox -s gate`` runs only this module, in rounds: base and head at the same time, one core each, every
sample started together (each setup ends on the gate's barrier; a no-op outside the gate). The gate
decides on training time and final loss (``Gate``) and training memory (``GateMemory``). It lives beside
the full suites so it is also part of every ``asv run`` and of the published history.
"""

from __future__ import annotations

import os

from perfharness.barrier import wait_for_partner

import gdopt

from . import common


class _GateCase:
    """One gate training run per optimizer: gdopt on the CPU, the gate's data set."""

    params = (common.OPTIMIZER_NAMES,)
    param_names = ["optimizer"]
    timeout = 120
    version = "2"  # was a new Keras model per sample; now one model set back to the same start (model_at_start)

    def setup(self, name: str) -> None:
        self.data = common.dataset(common.GATE_N_SAMPLES)
        self.opt = common.optimizer(name)
        self.epochs = common.GATE_EPOCHS[name]
        common.warm_up(gdopt.train, self.data, self.opt, "cpu")
        self.model = common.model_at_start()  # the seeded start again, without building a model per sample
        wait_for_partner(f"{type(self).__name__}({name})")  # the last thing before asv starts the clock

    def _run(self) -> gdopt.TrainResult:
        return gdopt.train(self.model, self.data, self.opt, epochs=self.epochs, seed=common.TRAIN_SEED, device="cpu")


class Gate(_GateCase):
    """Training time and final loss."""

    number = 1
    # A fixed, even count: both sides of a duet reach the barrier equally often, and trade cores at each
    # (half the samples on each core). 32, not 16: most of a round's spread was sample noise
    # (docs/MEASUREMENTS.md, "the sides trade cores at every sample").
    repeat = 32
    rounds = 1
    warmup_time = 0.0

    def time_train(self, name: str) -> None:
        self._run()

    def track_final_loss(self, name: str) -> float:
        return self._run().final_loss

    track_final_loss.unit = "MSE"


class GateMemory(_GateCase):
    """Training memory: the exact heap high-water mark of one training call (memray: every allocation,
    native ones included, whatever the allocator does with pages), the same in every process."""

    rounds = 1
    version = "2"  # was the RSS peak above the start, bimodal across processes for SGD and mini-batch

    def setup(self, name: str) -> None:
        # Plain malloc instead of TensorFlow's CPU pool, which memray sees only when it grows (in some
        # processes, during the measured call): then every tensor and XLA buffer the training holds counts.
        # Read at the first device use, which comes after this line in the benchmark's process.
        os.environ["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] = "1"
        super().setup(name)

    def track_train_heap_peak_mb(self, name: str) -> float:
        from perfharness.probes.heap import HeapPeak

        with HeapPeak(native_traces=False) as heap:  # no stacks needed: the peak alone, at less cost
            self._run()
        return heap.peak_mib

    track_train_heap_peak_mb.unit = "MiB"
