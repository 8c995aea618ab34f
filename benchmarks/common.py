"""Shared policy for every suite: the timing settings, the workload and the seeds, once.

Seeds and workload sizes are only ever appended to, never changed, so history stays comparable;
a benchmark whose meaning changes bumps its own ``version``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import gdopt

# asv's forkserver (asv.conf.json: launch_method) imports the suites once per run and forks a
# process per benchmark: importing TensorFlow here, at module level, makes every fork start with
# it loaded instead of paying ~3 s each. Importing is fork-safe; initialising a device is not,
# and nothing here touches one (gdopt.devices, which does, is imported inside the fork).
# asv also imports the suites just to list them (``benchmark.py discover``): no TensorFlow needed there.
if sys.argv[1:2] != ["discover"]:
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

# The workload measured by the suites.
N_SAMPLES = 2048
N_FEATURES = 8
HIDDEN = 10
NOISE = 0.1
DATA_SEED = 0
MODEL_SEED = 0
TRAIN_SEED = 0

TARGET_LOSS = 0.1  # time-to-target: first epoch whose whole-data MSE is at or below this
TARGET_MAX_EPOCHS = 2000

OPTIMIZER_NAMES = list(gdopt.OPTIMIZERS)
DEVICES = ["cpu", "gpu"]
METHODS = ["gdopt", "keras"]

# Timing policy. Training mutates the weights, so every sample gets a fresh model from setup
# (number = 1; asv re-runs setup before each timed call); warm-up happens in setup, not in asv.
TIMING = {
    "number": 1,
    "repeat": (3, 10, 10.0),  # min, max samples and seconds per round
    "rounds": 2,  # rounds run in separate processes
    "warmup_time": 0.0,
    "timeout": 300,
}
TRACK = {"rounds": 2, "repeat": 1, "timeout": 300}

# The PR gate's suite (benchmarks/gate.py): a larger data set, so the training's own memory (a few MB)
# stands well above allocator noise, and runs of ~0.1 s per sample.
GATE_N_SAMPLES = 65536


@dataclass(frozen=True)
class Workload:
    """Epochs per run of one optimizer in each suite: similar work, very different step counts."""

    epochs: int  # benchmarks/training.py Train, TrainMemory (N_SAMPLES)
    gate_epochs: int  # benchmarks/gate.py (GATE_N_SAMPLES)
    curve_epochs: int  # benchmarks/training.py LossCurve: long enough to flatten out
    energy_epochs: int  # benchmarks/gpu.py: long enough for NVML's coarse energy counters


# The one workload table. Values are only appended, never changed (history). An optimizer not listed
# gets DEFAULT_WORKLOAD, a mini-batch optimizer's (b = 32: 64 steps per epoch at N_SAMPLES).
WORKLOADS = {
    "gd": Workload(epochs=20, gate_epochs=30, curve_epochs=400, energy_epochs=2000),  # 1 step per epoch
    "minibatch": Workload(epochs=2, gate_epochs=4, curve_epochs=20, energy_epochs=20),
    "sgd": Workload(epochs=1, gate_epochs=1, curve_epochs=5, energy_epochs=4),  # n steps per epoch
}
DEFAULT_WORKLOAD = WORKLOADS["minibatch"]


def workload(name: str) -> Workload:
    """The epochs of optimizer ``name`` in every suite (DEFAULT_WORKLOAD when it has no row)."""
    return WORKLOADS.get(name, DEFAULT_WORKLOAD)


class _Column(Mapping[str, int]):
    """One column of the workload table as a read-only mapping over every optimizer (default included)."""

    def __init__(self, attr: str) -> None:
        self.attr = attr

    def __getitem__(self, name: str) -> int:
        return getattr(workload(name), self.attr)

    def __iter__(self) -> Iterator[str]:
        return iter(OPTIMIZER_NAMES)

    def __len__(self) -> int:
        return len(OPTIMIZER_NAMES)


EPOCHS: Mapping[str, int] = _Column("epochs")  # for suites that index by name (gate.py, sampler_overhead.py)
GATE_EPOCHS: Mapping[str, int] = _Column("gate_epochs")

# The RSS sampler's interval: the exact peak comes from the kernel's high-water mark (perfharness.probes.host),
# the thread's reads are the cross-check; every 5 ms they cost the training 1-4 %, every 50 ms ≤ ~1 %.
RSS_INTERVAL_S = 0.05


def memory_setup() -> None:
    """First thing in a memory benchmark's setup: glibc's mmap threshold fixed, so the training's buffers
    are counted alike in every process (perfharness.probes.host.pin_mmap_threshold). Memory benchmarks are
    their own classes, so the time benchmarks run with the allocator's defaults."""
    from perfharness.probes.host import pin_mmap_threshold

    pin_mmap_threshold()


def optimizer(name: str) -> gdopt.Optimizer:
    """The optimizer with its default hyperparameters (learning rate, batch size)."""
    return gdopt.OPTIMIZERS[name]()  # type: ignore[call-arg]  # the registry's classes have default rates


@functools.cache
def dataset(n_samples: int = N_SAMPLES) -> gdopt.Dataset:
    """One dataset per size and process: asv re-runs setup before every sample, and fresh arrays each
    time made the timed run pay first-touch costs (65536 rows: 48 ms became ~80 ms)."""
    return gdopt.make_regression(n_samples=n_samples, n_features=N_FEATURES, noise=NOISE, seed=DATA_SEED)


_warm: set[tuple] = set()


def warm_up(fit, data: gdopt.Dataset, opt: gdopt.Optimizer, device: str, hidden: int = HIDDEN) -> None:
    """Trace and compile once per process, on a throwaway model, so samples measure training only."""
    key = (fit, data.n_samples, opt, device, hidden)
    if key not in _warm:
        fit(model(hidden), data, opt, epochs=1, seed=TRAIN_SEED, device=device)
        _warm.add(key)


def model(hidden: int = HIDDEN) -> gdopt.SampleModel:
    return gdopt.SampleModel(n_features=N_FEATURES, hidden=hidden, seed=MODEL_SEED)


_start: dict[int, tuple[gdopt.SampleModel, list]] = {}


def model_at_start(hidden: int = HIDDEN) -> gdopt.SampleModel:
    """:func:`model`'s weights in one model per process and width, set back to them at every call: what a fresh
    model gives, bit for bit, in ~0.7 ms instead of ~12 (a new Keras model), which asv pays before every sample."""
    if hidden not in _start:
        m = model(hidden)
        _start[hidden] = (m, [w.numpy().copy() for w in m.weights])
    m, weights = _start[hidden]
    for var, value in zip(m.weights, weights, strict=True):
        var.assign(value)
    return m


def require_device(device: str) -> None:
    """GPU cases on a host without one: NotImplementedError, which asv shows as n/a (never a fake)."""
    if device == "gpu":
        from gdopt.devices import gpu_available

        if not gpu_available():
            raise NotImplementedError("no GPU visible to TensorFlow on this machine")


def fit_function(method: str):
    return {"gdopt": gdopt.train, "keras": gdopt.keras_fit}[method]
