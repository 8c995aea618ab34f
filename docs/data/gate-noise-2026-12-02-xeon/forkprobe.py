"""Parent imports TF (like asv's forkserver); K forked children each warm up and time N samples."""
import os, sys, time, json
os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
os.sched_setaffinity(0, {0})
K, n, opt_name, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
sys.path.insert(0, os.getcwd())  # run from the top of a checkout
from benchmarks import common
import gdopt
parent = os.getpid()
for k in range(K):
    pid = os.fork()
    if pid == 0:
        data = common.dataset(common.GATE_N_SAMPLES); opt = common.optimizer(opt_name)
        common.warm_up(gdopt.train, data, opt, "cpu")
        ts = []
        for i in range(n):
            m = common.model_at_start()
            t = time.perf_counter()
            gdopt.train(m, data, opt, epochs=common.GATE_EPOCHS[opt_name], seed=common.TRAIN_SEED, device="cpu")
            ts.append(time.perf_counter() - t)
        with open(out, "a") as fh:
            fh.write(json.dumps({"parent": parent, "child": k, "t": ts}) + "\n")
        os._exit(0)
    os.waitpid(pid, 0)
