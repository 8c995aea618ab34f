"""Data-parallel runs that need a fresh process (TensorFlow's devices are fixed once initialised).

``python tests/replica_runs.py mirrored``: 2 logical CPU devices, MirroredStrategy over 1 and 2 of
them against strategy=None; ``python tests/replica_runs.py gpu``: MirroredStrategy over every visible
GPU; ``python tests/replica_runs.py worker``: one MultiWorkerMirroredStrategy worker (TF_CONFIG set by
the caller). Each prints one JSON object on its last line; tests/test_distribute.py reads it.
"""

from __future__ import annotations

import json
import sys

import numpy as np

RUNS = {  # name: (optimizer, epochs) on make_regression(n_samples=1000, n_features=8, seed=0)
    "gd": ("BatchGD(learning_rate=0.1)", 20),
    "minibatch": ("MiniBatchGD(learning_rate=0.05, batch_size=32)", 3),  # 1000 = 31·32 + 8: partial last batch
    "minibatch11": ("MiniBatchGD(learning_rate=0.05, batch_size=11)", 2),  # shards of 6 and 5; last batch 10
    "momentum": ("Momentum(learning_rate=0.01, batch_size=32, momentum=0.9)", 3),
}


def _run(gdopt, name: str, strategy, seed: int = 0, model_seed: int = 0) -> dict:
    opt_src, epochs = RUNS[name]
    opt = eval(f"gdopt.{opt_src}")
    data = gdopt.make_regression(n_samples=1000, n_features=8, noise=0.1, seed=0)
    model = gdopt.SampleModel(8, 10, model_seed)
    result = gdopt.train(model, data, opt, epochs=epochs, seed=seed, strategy=strategy)
    return {"loss": result.final_loss, "history": result.loss_history, "steps": result.steps,
            "weights": [np.asarray(v.numpy()).ravel().tolist() for v in model.trainable_variables]}


def _error(fn) -> str:
    try:
        fn()
    except ValueError as error:
        return str(error)
    return ""


def mirrored() -> dict:
    from gdopt.devices import logical_cpus

    names = logical_cpus(2)
    import tensorflow as tf

    import gdopt
    from gdopt.training import tracing_count

    one = tf.distribute.MirroredStrategy(names[:1])
    two = tf.distribute.MirroredStrategy(names)
    out: dict = {"devices": names, "runs": {}}
    for name in RUNS:
        out["runs"][name] = {"none": _run(gdopt, name, None), "one": _run(gdopt, name, one),
                             "two": _run(gdopt, name, two), "two_again": _run(gdopt, name, two)}
    before = tracing_count()
    for seed in (1, 2):  # new models, seeds and epoch counts: the same graphs
        _run(gdopt, "minibatch", two, seed=seed, model_seed=seed)
    out["retraced"] = tracing_count() - before

    data = gdopt.make_regression(n_samples=1000, n_features=8, seed=0)
    model = gdopt.SampleModel(8, 10, 0)
    bad = {
        "sgd": lambda: gdopt.train(model, data, gdopt.SGD(0.01), strategy=two),
        "batch1": lambda: gdopt.train(model, data, gdopt.MiniBatchGD(0.05, batch_size=1), strategy=two),
        "small": lambda: gdopt.train(gdopt.SampleModel(8, 10, 0), gdopt.make_regression(1, 8), gdopt.BatchGD(),
                                     strategy=two),
        "last": lambda: gdopt.train(model, data, gdopt.MiniBatchGD(0.05, batch_size=999), strategy=two),
        "not_strategy": lambda: gdopt.train(model, data, gdopt.BatchGD(), strategy="mirrored"),
        "device": lambda: gdopt.train(model, data, gdopt.BatchGD(), strategy=two, device="cpu"),
        "keras_outside": lambda: gdopt.keras_fit(gdopt.SampleModel(8, 10, 0), data, gdopt.BatchGD(), strategy=two),
    }
    out["errors"] = {key: _error(fn) for key, fn in bad.items()}
    out["weights_unchanged"] = bool(np.array_equal(model.trainable_variables[0].numpy(),
                                                   gdopt.SampleModel(8, 10, 0).trainable_variables[0].numpy()))

    small = gdopt.make_regression(n_samples=256, n_features=8, seed=2)
    with two.scope():  # Keras mirrors the variables of a model built in the strategy's scope
        keras_model = gdopt.SampleModel(8, 10, 0)
    out["keras"] = {
        "two": gdopt.keras_fit(keras_model, small, gdopt.BatchGD(0.1), epochs=10, strategy=two).final_loss,
        "none": gdopt.keras_fit(gdopt.SampleModel(8, 10, 0), small, gdopt.BatchGD(0.1), epochs=10).final_loss,
        "ours": gdopt.train(gdopt.SampleModel(8, 10, 0), small, gdopt.BatchGD(0.1), epochs=10, strategy=two).final_loss,
    }
    return out


def gpu() -> dict:
    import tensorflow as tf

    import gdopt

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    strategy = tf.distribute.MirroredStrategy(gpus)
    with tf.device("/GPU:0"):
        runs = {name: {"none": _run(gdopt, name, None), "all": _run(gdopt, name, strategy)} for name in RUNS}
    return {"gpus": gpus, "runs": runs}


def worker() -> dict:
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG; first, before any op
    import gdopt

    return {"replicas": strategy.num_replicas_in_sync,
            "runs": {name: {"none": _run(gdopt, name, None), "workers": _run(gdopt, name, strategy)}
                     for name in ("gd", "minibatch")}}


if __name__ == "__main__":
    print(json.dumps({"mirrored": mirrored, "gpu": gpu, "worker": worker}[sys.argv[1]]()))
