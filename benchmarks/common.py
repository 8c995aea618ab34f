"""Shared policy for every suite: the timing settings, the workload and the seeds, once.

Seeds and workload sizes are only ever appended to, never changed, so history stays comparable;
a benchmark whose meaning changes bumps its own ``version``.
"""

from __future__ import annotations

import functools
import sys

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

# One training run per optimizer: similar work, very different step counts (1 vs 64 vs 2048 steps/epoch).
EPOCHS = {"gd": 20, "minibatch": 2, "sgd": 1}
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
GATE_EPOCHS = {"gd": 30, "minibatch": 4, "sgd": 1}

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
    return gdopt.OPTIMIZERS[name]()


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


def require_device(device: str) -> None:
    """GPU cases on a host without one: NotImplementedError, which asv shows as n/a (never a fake)."""
    if device == "gpu":
        from gdopt.devices import gpu_available

        if not gpu_available():
            raise NotImplementedError("no GPU visible to TensorFlow on this machine")


def fit_function(method: str):
    return {"gdopt": gdopt.train, "keras": gdopt.keras_fit}[method]
