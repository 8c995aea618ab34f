"""gdopt.train: hand-computed epochs, step counts, determinism, tracing, convergence, bad input."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from optimizer_cases import BY_NAME, CASES, GOLDEN_DATA, IDS

import gdopt
from gdopt.training import epoch_order, tracing_count
from tools import reference

OPTS = {c.name: c.opt for c in CASES}


def weights(model):
    return [v.numpy().astype(np.float64) for v in model.trainable_variables]


@pytest.fixture(scope="module")
def small():
    return gdopt.make_regression(**GOLDEN_DATA)


@pytest.mark.parametrize("name", IDS)
def test_first_epoch_matches_numpy(small, name):
    """One epoch, step by step in NumPy (float64: the reference gradient and the optimizer's rule) on the
    same batches, agrees to ~1e-6; with several steps per epoch, momentum's velocity carries over."""
    case = BY_NAME[name]
    opt = case.opt
    model = gdopt.SampleModel(n_features=3, hidden=5, seed=0)
    params = weights(model)
    state = case.numpy_init(opt, params)
    x, y = small.x.astype(np.float64), small.y.astype(np.float64)
    order = epoch_order(small.n_samples, 7, 0) if opt.shuffles else np.arange(small.n_samples)
    b = opt.batch_size_for(small.n_samples)
    for start in range(0, small.n_samples, b):  # the last batch is partial (20 = 8 + 8 + 4)
        idx = order[start : start + b]
        _, grads = reference.loss_and_grads(params, x[idx], y[idx])
        params, state = case.numpy_update(opt, grads, state, params)
    result = gdopt.train(model, small, opt, epochs=1, seed=7)
    for got, want in zip(weights(model), params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    want_loss, _ = reference.loss_and_grads(params, x, y)
    assert result.final_loss == pytest.approx(want_loss, rel=1e-5)


def test_epoch_order_is_a_reshuffled_permutation():
    a, b, c = epoch_order(50, 0, 0), epoch_order(50, 0, 1), epoch_order(50, 1, 0)
    assert sorted(a) == list(range(50))
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(a, epoch_order(50, 0, 0))


@pytest.mark.parametrize("name", IDS)
def test_golden_trajectory(small, name):
    """[initial, after epoch 1, 2, 3] on the golden problem; gd/minibatch/sgd recorded before state existed."""
    result = gdopt.train(gdopt.SampleModel(3, 5, 0), small, OPTS[name], epochs=3, seed=7, device="cpu")
    np.testing.assert_allclose([result.initial_loss, *result.loss_history], BY_NAME[name].golden, rtol=1e-5)


@pytest.mark.parametrize("name", IDS)
def test_steps_and_history_length(name):
    data = gdopt.make_regression(n_samples=100, n_features=3, seed=0)
    result = gdopt.train(gdopt.SampleModel(3, 5, 0), data, OPTS[name], epochs=3, seed=0)
    assert result.steps == 3 * BY_NAME[name].steps_per_epoch_100
    assert len(result.loss_history) == 3 and result.final_loss == result.loss_history[-1]
    assert result.seconds > 0 and all(math.isfinite(v) for v in result.loss_history)


@pytest.mark.parametrize("name", IDS)
def test_deterministic_and_seeded(small, name):
    runs = {}
    for seed in (0, 0, 1):
        model = gdopt.SampleModel(3, 5, seed=0)
        result = gdopt.train(model, small, OPTS[name], epochs=3, seed=seed)
        runs.setdefault(seed, []).append((result.final_loss, weights(model)))
    (loss_a, w_a), (loss_b, w_b) = runs[0]
    assert loss_a == loss_b  # bitwise
    assert all(np.array_equal(p, q) for p, q in zip(w_a, w_b, strict=True))
    other = runs[1][0][0]
    if OPTS[name].shuffles:
        assert other != loss_a
    else:
        assert other == loss_a  # full batch has no order to shuffle


def test_no_retracing_for_same_shapes(small):
    gdopt.train(gdopt.SampleModel(3, 5, 0), small, gdopt.SGD(0.01), epochs=1)
    before = tracing_count()
    for seed in range(3):  # new models, seeds, learning rates and epoch counts: same graph
        gdopt.train(gdopt.SampleModel(3, 5, seed), small, gdopt.SGD(0.01 * (seed + 1)), epochs=seed + 1, seed=seed)
    assert tracing_count() == before


def test_train_mutates_the_model(small):
    model = gdopt.SampleModel(3, 5, 0)
    before = weights(model)
    gdopt.train(model, small, OPTS["gd"], epochs=2)
    assert not np.array_equal(before[0], weights(model)[0])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_convergence_cuts_loss_by_80_percent(case):
    data = gdopt.make_regression(n_samples=1024, n_features=8, noise=0.1, seed=0)
    result = gdopt.train(gdopt.SampleModel(8, 10, 0), data, case.cls(), epochs=case.converge_epochs, seed=0)
    assert result.final_loss <= 0.2 * result.initial_loss


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_converges_to_the_known_optimum(case):
    """Noise-free linear data y = x·w* + b* and a linear model: the optimum is (w*, b*) at loss 0."""
    import keras

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 3)).astype(np.float32)
    w_star, b_star = np.array([[1.5], [-2.0], [0.5]], np.float32), np.float32(0.25)
    data = gdopt.Dataset(x=x, y=x @ w_star + b_star)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    epochs = {"gd": 300, "sgd": 10}.get(case.name, 60)
    result = gdopt.train(model, data, case.cls(), epochs=epochs, seed=0)
    kernel, bias = weights(model)
    np.testing.assert_allclose(kernel, w_star, atol=1e-3)
    np.testing.assert_allclose(bias, [b_star], atol=1e-3)
    assert result.final_loss < 1e-6


def test_momentum_zero_is_minibatch_gd_bitwise(small):
    """β = 0 makes v = g exactly, so the run is MiniBatchGD's bit for bit."""
    m1, m2 = gdopt.SampleModel(3, 5, 0), gdopt.SampleModel(3, 5, 0)
    a = gdopt.train(m1, small, gdopt.Momentum(learning_rate=0.05, batch_size=8, momentum=0.0), epochs=3, seed=7)
    b = gdopt.train(m2, small, gdopt.MiniBatchGD(learning_rate=0.05, batch_size=8), epochs=3, seed=7)
    assert a.loss_history == b.loss_history
    assert all(np.array_equal(p, q) for p, q in zip(weights(m1), weights(m2), strict=True))


def test_keras_parity_batch_gd():
    data = gdopt.make_regression(n_samples=256, n_features=8, noise=0.1, seed=2)
    m1, m2 = gdopt.SampleModel(8, 10, 0), gdopt.SampleModel(8, 10, 0)
    ours = gdopt.train(m1, data, gdopt.BatchGD(0.1), epochs=10, seed=0)
    theirs = gdopt.keras_fit(m2, data, gdopt.BatchGD(0.1), epochs=10, seed=0)
    assert ours.final_loss == pytest.approx(theirs.final_loss, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(ours.loss_history, theirs.loss_history, rtol=1e-5, atol=1e-6)
    for a, b in zip(weights(m1), weights(m2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_keras_parity_momentum_full_batches():
    """One batch of all samples per epoch: Keras' SGD(momentum=β) follows the same heavy-ball trajectory."""
    data = gdopt.make_regression(n_samples=256, n_features=8, noise=0.1, seed=2)
    opt = gdopt.Momentum(learning_rate=0.05, batch_size=256, momentum=0.9)
    m1, m2 = gdopt.SampleModel(8, 10, 0), gdopt.SampleModel(8, 10, 0)
    ours = gdopt.train(m1, data, opt, epochs=10, seed=0)
    theirs = gdopt.keras_fit(m2, data, opt, epochs=10, seed=0)
    np.testing.assert_allclose(ours.loss_history, theirs.loss_history, rtol=1e-4, atol=1e-6)
    for a, b in zip(weights(m1), weights(m2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["minibatch", "sgd", "momentum"])
def test_keras_fit_runs_the_same_schedule(small, name):
    result = gdopt.keras_fit(gdopt.SampleModel(3, 5, 0), small, OPTS[name], epochs=2, seed=0)
    assert result.steps == 2 * OPTS[name].steps_per_epoch(small.n_samples)
    assert len(result.loss_history) == 2 and result.final_loss < result.initial_loss


def test_divergence_raises_and_keeps_weights():
    data = gdopt.make_regression(n_samples=64, n_features=3, noise=0.1, seed=0)
    model = gdopt.SampleModel(3, 5, 0)
    before = weights(model)
    with pytest.raises(gdopt.TrainingDiverged, match="diverged in epoch") as info:
        gdopt.train(model, data, gdopt.BatchGD(learning_rate=1e6), epochs=50)
    assert isinstance(info.value, FloatingPointError)
    assert info.value.epoch >= 1 and math.isfinite(info.value.last_finite_loss)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model), strict=True))


def test_keras_divergence_raises():
    data = gdopt.make_regression(n_samples=64, n_features=3, noise=0.1, seed=0)
    with pytest.raises(gdopt.TrainingDiverged):
        gdopt.keras_fit(gdopt.SampleModel(3, 5, 0), data, gdopt.BatchGD(learning_rate=1e6), epochs=50)


BAD = [
    ({"epochs": 0}, r"epochs must be an int >= 1, got 0"),
    ({"epochs": 1.5}, r"epochs must be an int >= 1, got 1\.5"),
    ({"seed": -1}, r"seed must be an int"),
    ({"device": "tpu"}, r"device must be None, 'cpu' or 'gpu', got 'tpu'"),
    ({"optimizer": "sgd"}, r"optimizer must be a gdopt optimizer"),
    ({"optimizer": gdopt.MiniBatchGD(batch_size=21)}, r"batch_size must be an int in 1\.\.20"),
    ({"data": (np.zeros((4, 3)), np.zeros((4, 1)))}, r"data must be a gdopt\.Dataset"),
    ({"model": gdopt.SampleModel(n_features=4)}, r"model expects 4 features but data has n_features=3"),
]


@pytest.mark.parametrize("fit", [gdopt.train, gdopt.keras_fit], ids=["train", "keras_fit"])
@pytest.mark.parametrize(("override", "match"), BAD, ids=[m for _, m in BAD])
def test_bad_input_is_rejected_before_any_change(small, fit, override, match):
    model = override.get("model", gdopt.SampleModel(3, 5, 0))
    before = weights(model)
    kwargs = {"model": model, "data": small, "optimizer": gdopt.SGD(0.01), "epochs": 1, "seed": 0}
    kwargs.update(override)
    with pytest.raises(ValueError, match=match):
        fit(**kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model), strict=True))


def test_unsupported_model_is_rejected(small):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="stack of Dense layers"):
        gdopt.train(model, small, gdopt.SGD(0.01))


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="this host has a GPU")
def test_gpu_request_without_gpu_says_so(small):
    with pytest.raises(ValueError, match="TensorFlow sees no GPU"):
        gdopt.train(gdopt.SampleModel(3, 5, 0), small, gdopt.SGD(0.01), device="gpu")


@pytest.mark.gpu
@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU visible to TensorFlow")
@pytest.mark.parametrize("name", IDS)
def test_gpu_matches_cpu(small, name):
    cpu = gdopt.train(gdopt.SampleModel(3, 5, 0), small, OPTS[name], epochs=2, device="cpu")
    gpu = gdopt.train(gdopt.SampleModel(3, 5, 0), small, OPTS[name], epochs=2, device="gpu")
    assert gpu.final_loss == pytest.approx(cpu.final_loss, rel=1e-4)


def test_cpu_device_runs(small):
    result = gdopt.train(gdopt.SampleModel(3, 5, 0), small, OPTS["gd"], epochs=1, device="cpu")
    assert math.isfinite(result.final_loss)


def test_training_leaves_no_autograph_files(tmp_path):
    """The loop is traced without AutoGraph: a fresh process that trains and exits without cleanup
    (as asv's forked benchmarks do) leaves no converted source in the temporary directory."""
    code = (
        "import os, gdopt\n"
        "data = gdopt.make_regression(n_samples=64, n_features=3, seed=0)\n"
        "for opt in (gdopt.BatchGD(0.1), gdopt.MiniBatchGD(0.1, batch_size=16), gdopt.SGD(0.01)):\n"
        "    gdopt.train(gdopt.SampleModel(n_features=3, hidden=5, seed=0), data, opt, epochs=2, device='cpu')\n"
        "os._exit(0)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == []
