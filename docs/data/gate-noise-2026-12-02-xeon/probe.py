"""One process: SGD gate workload, N samples, pinned to core 0, one TF thread. mode: fixed | pad | model"""
import os, sys, time, json
os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
os.sched_setaffinity(0, {0})
mode, n, opt_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, os.getcwd())  # run from the top of a checkout
import numpy as np
from benchmarks import common
import gdopt
data = common.dataset(common.GATE_N_SAMPLES); opt = common.optimizer(opt_name)
common.warm_up(gdopt.train, data, opt, "cpu")
rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
ts = []; keep = []
for i in range(n):
    if mode == "pad":
        keep = [np.empty(int(rng.integers(1, 8192)), np.uint8) for _ in range(int(rng.integers(1, 16)))]
    m = common.model() if mode == "model" else common.model_at_start()
    t = time.perf_counter()
    gdopt.train(m, data, opt, epochs=common.GATE_EPOCHS[opt_name], seed=common.TRAIN_SEED, device="cpu")
    ts.append(time.perf_counter() - t)
print(json.dumps({"mode": mode, "t": ts}))
