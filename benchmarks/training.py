"""Training time, host memory and final loss of every optimizer, gdopt against Keras ``fit``."""

from __future__ import annotations

import math

from perfharness.probes.host import PeakRSSSampler

import gdopt

from . import common


class _TrainCase:
    """One fixed training run per (method, optimizer, device)."""

    params = (common.METHODS, common.OPTIMIZER_NAMES, common.DEVICES)
    param_names = ["method", "optimizer", "device"]
    timeout = common.TIMING["timeout"]
    version = "1"

    def setup(self, method: str, name: str, device: str) -> None:
        common.require_device(device)
        self.data = common.dataset()
        self.opt = common.optimizer(name)
        self.epochs = common.workload(name).epochs
        self.fit = common.fit_function(method)
        self.device = device
        common.warm_up(self.fit, self.data, self.opt, device)
        self.model = common.model()

    def _run(self) -> gdopt.TrainResult:
        return self.fit(self.model, self.data, self.opt, epochs=self.epochs, seed=common.TRAIN_SEED,
                        device=self.device)


class Train(_TrainCase):
    """Training time (the whole call, and the training alone), final loss and the process's peak memory."""

    number = common.TIMING["number"]
    repeat = common.TIMING["repeat"]
    rounds = common.TIMING["rounds"]
    warmup_time = common.TIMING["warmup_time"]

    def time_train(self, method: str, name: str, device: str) -> None:
        """The whole call as a user makes it (Keras compiles its model inside keras_fit)."""
        self._run()

    def track_train_seconds(self, method: str, name: str, device: str) -> float:
        """The training alone, as TrainResult.seconds reports it (tracing and compilation excluded)."""
        return self._run().seconds

    track_train_seconds.unit = "seconds"


    def track_final_loss(self, method: str, name: str, device: str) -> float:
        """Whole-data MSE after the run: deterministic for a given seed on a given machine."""
        return self._run().final_loss

    track_final_loss.unit = "MSE"

    def peakmem_train(self, method: str, name: str, device: str) -> None:
        """Whole-process peak RSS (TensorFlow's import and setup included)."""
        self._run()


class TrainMemory(_TrainCase):
    """Host memory of the training itself, in processes whose allocator is set up for measuring it."""

    rounds = common.TRACK["rounds"]

    def setup(self, method: str, name: str, device: str) -> None:
        common.memory_setup()
        super().setup(method, name, device)

    def track_train_peak_rss_mb(self, method: str, name: str, device: str) -> float:
        """Peak host RSS of the training above the RSS just before it (kernel high-water mark, psutil cross-check)."""
        with PeakRSSSampler(interval_s=common.RSS_INTERVAL_S) as sampler:
            self._run()
        return sampler.reading.peak_rss_mb

    track_train_peak_rss_mb.unit = "MB"


class TimeToTarget:
    """Seconds until the whole-data loss first reaches TARGET_LOSS (MLPerf/DAWNBench style)."""

    params = (common.OPTIMIZER_NAMES, common.DEVICES)
    param_names = ["optimizer", "device"]
    timeout = common.TIMING["timeout"]
    rounds = common.TRACK["rounds"]
    repeat = common.TRACK["repeat"]
    version = "1"

    def setup(self, name: str, device: str) -> None:
        common.require_device(device)
        self.data = common.dataset()
        self.opt = common.optimizer(name)
        self.device = device
        # The epoch count needed is deterministic; find it once, then time a fresh run of exactly that.
        probe = gdopt.train(common.model(), self.data, self.opt, epochs=common.TARGET_MAX_EPOCHS,
                            seed=common.TRAIN_SEED, device=device)
        hits = [i for i, loss in enumerate(probe.loss_history, 1) if loss <= common.TARGET_LOSS]
        self.epochs = hits[0] if hits else None

    def track_time_to_target_s(self, name: str, device: str) -> float:
        if self.epochs is None:
            return math.nan  # target not reached within TARGET_MAX_EPOCHS: shown as n/a
        run = gdopt.train(common.model(), self.data, self.opt, epochs=self.epochs, seed=common.TRAIN_SEED,
                          device=self.device)
        return run.seconds

    track_time_to_target_s.unit = "seconds"

    def track_epochs_to_target(self, name: str, device: str) -> float:
        return math.nan if self.epochs is None else float(self.epochs)

    track_epochs_to_target.unit = "epochs"


CURVE_POINTS = 10


class LossCurve:
    """Loss against wall time for each optimizer on the CPU: the site's loss-versus-time plot.

    One run per optimizer; point k of CURVE_POINTS is the epoch ⌈k·E/CURVE_POINTS⌉. Every epoch does the
    same work, so its elapsed time is the run's measured time × epoch/E.
    """

    params = (common.OPTIMIZER_NAMES, list(range(CURVE_POINTS + 1)))
    param_names = ["optimizer", "point"]
    timeout = common.TIMING["timeout"]
    rounds = 1
    repeat = 1
    version = "1"

    def setup_cache(self) -> dict[str, dict[str, list[float]]]:
        data = common.dataset()
        curves = {}
        for name in common.OPTIMIZER_NAMES:
            opt = common.optimizer(name)
            epochs = common.workload(name).curve_epochs
            gdopt.train(common.model(), data, opt, epochs=1, seed=common.TRAIN_SEED, device="cpu")  # warm-up
            run = gdopt.train(common.model(), data, opt, epochs=epochs, seed=common.TRAIN_SEED, device="cpu")
            picks = [0] + [math.ceil(k * epochs / CURVE_POINTS) for k in range(1, CURVE_POINTS + 1)]
            losses = [run.initial_loss, *run.loss_history]
            curves[name] = {
                "loss": [losses[e] for e in picks],
                "elapsed_s": [run.seconds * e / epochs for e in picks],
            }
        return curves

    def track_loss(self, curves: dict, name: str, point: int) -> float:
        return curves[name]["loss"][point]

    track_loss.unit = "MSE"

    def track_elapsed_s(self, curves: dict, name: str, point: int) -> float:
        return curves[name]["elapsed_s"][point]

    track_elapsed_s.unit = "seconds"
