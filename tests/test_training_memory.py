"""The training's heap peak is the same in every process (memray), so the gate can gate memory tightly.

Before ``gdopt.training.owned_tensor`` the SGD / mini-batch peak was 2.3 or 4.3 MiB depending on whether
TensorFlow kept ``tf.constant``'s NumPy copy of the data (a 64-byte alignment coin flip per process).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("memray")
ROOT = Path(__file__).resolve().parents[1]

CODE = """
import sys
sys.path[:0] = [{root!r}, {harness!r}]
import gdopt
from benchmarks import common
from perfharness.probes.heap import HeapPeak
data = common.dataset(16384)
opt = common.optimizer(sys.argv[1])
gdopt.train(common.model(), data, opt, epochs=1, seed=0, device="cpu")  # warm-up, as the suites do
model = common.model()
with HeapPeak(native_traces=False) as heap:
    gdopt.train(model, data, opt, epochs=1, seed=0, device="cpu")
print(heap.peak_bytes)
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sgd", "minibatch"])
def test_heap_peak_is_the_same_in_every_process(name: str) -> None:
    code = CODE.format(root=str(ROOT), harness=str(ROOT / "harness" / "src"))
    peaks = []
    for _ in range(6):  # on the old code, six processes all landing in one mode: ~3 %
        proc = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, timeout=300,
                              env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        peaks.append(int(proc.stdout.split()[-1]))
    assert max(peaks) - min(peaks) <= 0.02 * min(peaks), peaks  # within 2 %: no 2 MiB jumps
    assert min(peaks) >= 16384 * 8 * 4  # at least the data: the probe sees the training's buffers
