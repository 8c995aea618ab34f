"""benchmarks/replicas.py through its class, as asv runs it: a fresh process that has imported TensorFlow
(asv's forkserver) but initialised no device, then setup and every method for every parameter."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = """
import itertools, json
from benchmarks import common, replicas  # common imports TensorFlow and Keras, as in asv's forkserver
out = {}
for name, r in itertools.product(*replicas.Replicas.params):
    case = replicas.Replicas()
    try:
        case.setup(name, r)
    except NotImplementedError as error:
        out[f"{name}-{r}"] = str(error)
        continue
    case.time_epoch(name, r)
    out[f"{name}-{r}"] = case.track_scaling_efficiency(name, r)
print(json.dumps(out))
"""


def test_every_case_gives_an_efficiency(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out) == {"gd-1", "gd-2", "minibatch-1", "minibatch-2"}
    for case, value in out.items():
        if isinstance(value, str):  # n/a: only where GPUs are fewer than the replicas
            assert "GPUs" in value, f"{case}: {value}"
        else:
            assert math.isfinite(value) and value > 0, f"{case} = {value}"
