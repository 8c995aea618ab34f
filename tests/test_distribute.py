"""gdopt.train(strategy=): parity with one device, determinism, no retracing, bad input, keras_fit.

TensorFlow fixes its devices once initialised, so every case runs in a fresh process
(tests/replica_runs.py) and this process only reads the JSON it prints: the other tests here keep
their single default CPU device.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
RUNS_PY = Path(__file__).with_name("replica_runs.py")
RUN_NAMES = ["gd", "minibatch", "minibatch11", "momentum"]
PARITY = 1e-6  # relative final-loss difference allowed between replicas and one device (float rounding)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # gRPC must not proxy loopback
    path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2", "NO_PROXY": "127.0.0.1,localhost", **extra}


def _json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _python(*args: str, timeout: int = 600) -> dict:
    proc = subprocess.run([sys.executable, str(RUNS_PY), *args], env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return _json(proc.stdout)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.fixture(scope="module")
def mirrored() -> dict:
    return _python("mirrored")


def test_two_logical_cpus(mirrored):
    assert mirrored["devices"] == ["/device:CPU:0", "/device:CPU:1"]


@pytest.mark.parametrize("name", RUN_NAMES)
@pytest.mark.parametrize("replicas", ["one", "two"])
def test_replicas_match_one_device(mirrored, name, replicas):
    """Same steps, same shuffles, the same losses and weights up to float rounding."""
    runs = mirrored["runs"][name]
    ref, got = runs["none"], runs[replicas]
    assert got["steps"] == ref["steps"]
    assert _rel(got["loss"], ref["loss"]) <= PARITY
    np.testing.assert_allclose(got["history"], ref["history"], rtol=PARITY)
    for a, b in zip(got["weights"], ref["weights"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", RUN_NAMES)
def test_replicated_runs_are_deterministic(mirrored, name):
    assert mirrored["runs"][name]["two"] == mirrored["runs"][name]["two_again"]  # bitwise


def test_not_retraced_across_calls(mirrored):
    assert mirrored["retraced"] == 0


BAD = [
    ("sgd", r"SGD's batch of one sample per step cannot be split across 2 replicas: use MiniBatchGD"),
    ("batch1", r"MiniBatchGD's batch of 1 sample\(s\) cannot be split across 2 replicas .*use batch_size >= 2"),
    ("small", r"BatchGD's batch of 1 sample\(s\) cannot be split across 2 replicas"),
    ("last", r"the last batch of every epoch has 1 sample\(s\) \(n_samples 1000 % batch_size 999\), fewer than "
             r"the 2 replicas: choose a batch_size"),
    ("not_strategy", r"strategy must be a tf\.distribute\.Strategy \(e\.g\. tf\.distribute\.MirroredStrategy\(\)\), "
                     r"got str"),
    ("device", r"device='cpu' cannot be combined with strategy=: .*pass device=None"),
    ("keras_outside", r"keras_fit\(strategy=\.\.\.\) needs a model built under that strategy's scope"),
]


@pytest.mark.parametrize(("key", "match"), BAD, ids=[k for k, _ in BAD])
def test_bad_input_says_why(mirrored, key, match):
    assert mirrored["errors"][key]
    with pytest.raises(ValueError, match=match):
        raise ValueError(mirrored["errors"][key])


def test_bad_input_changes_nothing(mirrored):
    assert mirrored["weights_unchanged"]


def test_keras_fit_with_a_strategy(mirrored):
    """keras_fit(strategy=) on a model built in the scope: Keras' own data parallelism, same trajectory."""
    keras = mirrored["keras"]
    assert _rel(keras["two"], keras["none"]) <= 1e-5
    assert _rel(keras["ours"], keras["none"]) <= 1e-5


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


@pytest.mark.slow
def test_two_workers_match_one_process():
    """A real two-process MultiWorkerMirroredStrategy on loopback ports: the same result as one process."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, str(RUNS_PY), "worker"], env=_env(TF_CONFIG=tf_config),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-4000:]
            outputs.append(_json(out))
    finally:
        for proc in procs:  # a worker whose peer died waits forever for it
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert outputs[0] == outputs[1]  # every worker holds the same θ
    for name, runs in outputs[0]["runs"].items():
        assert runs["workers"]["steps"] == runs["none"]["steps"], name
        assert _rel(runs["workers"]["loss"], runs["none"]["loss"]) <= PARITY, name
    assert outputs[0]["replicas"] == 2


@pytest.mark.gpu
@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU visible to TensorFlow")
def test_gpus_match_one_device():
    """MirroredStrategy over every visible GPU, the same code path as logical CPUs."""
    out = _python("gpu")
    assert out["gpus"]
    for name, runs in out["runs"].items():
        assert runs["all"]["steps"] == runs["none"]["steps"], name
        assert _rel(runs["all"]["loss"], runs["none"]["loss"]) <= 1e-5, name  # GPU reductions reorder sums
