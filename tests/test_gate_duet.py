"""The duet's parts: the barrier (together, lone sides let go, cores traded every sample), a round's value,
and the replay of recorded rounds (its horizon, the committed records)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from perfharness.barrier import SIDE_ENV, SOCKET_ENV, DuetBarrier
from perfharness.gate.budget import another_round_fits, rounds_within
from perfharness.gate.config import PR_GATE
from perfharness.gate.decide import round_value
from perfharness.gate.simulate import budget_rounds, load_rounds, simulate

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "harness" / "src"
TWO_CORES = len(os.sched_getaffinity(0)) >= 2 if hasattr(os, "sched_getaffinity") else False

# A side of a duet: n barrier calls, each followed by the cores this process (all its threads) may use.
SIDE = """
import os, sys, threading
sys.path.insert(0, sys.argv[1])
from perfharness.barrier import wait_for_partner
worker = threading.Thread(target=threading.Event().wait, daemon=True)  # a second thread, as TensorFlow has
worker.start()
for _ in range(int(sys.argv[2])):
    wait_for_partner("Gate(gd)")
    print(sorted(os.sched_getaffinity(0)), sorted(os.sched_getaffinity(worker.native_id)), flush=True)
"""


def _sides(sock: Path, calls: int, sides: tuple[str, ...] = ("base", "head")) -> dict[str, list[str]]:
    procs = {
        side: subprocess.Popen([sys.executable, "-c", SIDE, str(HARNESS), str(calls)], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, SOCKET_ENV: str(sock), SIDE_ENV: side})
        for side in sides
    }
    out = {side: proc.communicate(timeout=120)[0].splitlines() for side, proc in procs.items()}
    assert all(proc.returncode == 0 for proc in procs.values())
    return out


def test_barrier_releases_both_sides_together(tmp_path: Path) -> None:
    with DuetBarrier(tmp_path / "b.sock") as barrier:
        out = _sides(tmp_path / "b.sock", 3)
    assert barrier.stats.together == 3 and barrier.stats.mismatched == 0 and barrier.stats.alone == 0
    assert barrier.stats.labels == [f"{n}\tGate(gd)" for n in (1, 2, 3)]
    assert all(len(lines) == 3 for lines in out.values())
    released = barrier.stats.released  # when each pair started, for tools.gate_timeline
    assert len(released) == 3 and 0 < released[0] < released[1] < released[2] < 120


def test_a_side_without_partner_is_let_go(tmp_path: Path) -> None:
    with DuetBarrier(tmp_path / "b.sock", timeout_s=0.5) as barrier:
        out = _sides(tmp_path / "b.sock", 2, sides=("base",))
    assert barrier.stats.alone == 2 and barrier.stats.together == 0 and len(out["base"]) == 2


@pytest.mark.skipif(not TWO_CORES, reason="trading cores needs two CPU cores this process may use")
def test_sides_trade_cores_at_every_sample_all_threads_included(tmp_path: Path) -> None:
    first, second = sorted(os.sched_getaffinity(0))[:2]
    swap = {"base": (first, second), "head": (second, first)}
    with DuetBarrier(tmp_path / "b.sock", swap=swap):
        out = _sides(tmp_path / "b.sock", 4)
    # call n (1, 2, …): base on swap["base"][n % 2], head on the other; the worker thread moves too
    assert out["base"] == [f"[{c}] [{c}]" for c in (second, first, second, first)]
    assert out["head"] == [f"[{c}] [{c}]" for c in (first, second, first, second)]


def test_without_swap_the_barrier_leaves_cores_alone(tmp_path: Path) -> None:
    everything = str(sorted(os.sched_getaffinity(0)))
    with DuetBarrier(tmp_path / "b.sock"):
        out = _sides(tmp_path / "b.sock", 2)
    assert out["base"] == [f"{everything} {everything}"] * 2


def test_barrier_refuses_a_socket_path_too_long(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long for a Unix socket"):
        DuetBarrier(tmp_path / ("x" * 120))


def test_round_value_is_the_pseudo_median_of_paired_log_ratios() -> None:
    base = [1.0, 1.0, 1.0]
    head = [1.01, 1.03, 1.10]
    d = np.log(head)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(3) for j in range(i, 3))
    assert round_value(base, head) == (1.0, 1.03, pytest.approx(float(np.median(walsh))))


def test_round_value_cancels_a_slow_core_on_alternate_samples() -> None:
    """The sides trade cores every sample: a core 8 % slower shows as ±8 % on alternate samples, and the
    pseudo-median still finds the 1 % change."""
    base = np.full(32, 0.06)
    head = 0.06 * 1.01 * np.where(np.arange(32) % 2 == 0, 1.08, 1 / 1.08)
    assert round_value(base, head)[2] == pytest.approx(math.log(1.01), abs=1e-12)


def test_round_value_of_unpaired_samples_is_the_log_ratio_of_medians() -> None:
    assert round_value([1.0, 2.0, 3.0], [4.0]) == (2.0, 4.0, pytest.approx(math.log(2.0)))


def _record(path: Path, seconds: list[float], d: list[float], head: str = "a" * 40) -> Path:
    rounds = [{"round": k, "seconds": s, "pairs": {"gate.Gate.time_train(gd)": [1.0, math.exp(v), v]},
               "samples": {"gate.Gate.time_train(gd)": [[1.0, 1.0], [math.exp(v), math.exp(v)]]}}
              for k, (s, v) in enumerate(zip(seconds, d, strict=True))]
    path.write_text(json.dumps({"mode": "duet", "base": "a" * 40, "head": head, "rounds": rounds}))
    return path


def test_budget_rounds_follows_the_gates_own_rule(tmp_path: Path) -> None:
    rec = _record(tmp_path / "r.json", [40.0, 20.0, 19.0, 21.0], [0.0] * 4)
    # The 13th round starts at 40 + 11 * 20 = 260 s; a 14th would start at 280 s, and a 20.8-s round (the
    # 90th percentile) with the 3-s tail no longer fits in 300 s. Before, the replay counted 1 + 260 // 20 = 14:
    # a round that ends at the budget, with no room for the report, which the gate never starts.
    assert budget_rounds([rec], 300.0) == 13
    assert budget_rounds([rec], 30.0) == 1
    assert budget_rounds([rec], 300.0) == rounds_within(40.0, 20.0, 20.8, 300.0)
    assert not another_round_fits(40.0 + 12 * 20.0, 20.8, 300.0)


def test_rounds_within_refuses_a_round_time_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="round times must be positive"):
        rounds_within(30.0, 0.0, 20.0, 300.0)


def test_load_rounds_recomputes_from_samples_and_refuses_non_aa(tmp_path: Path) -> None:
    rec = _record(tmp_path / "r.json", [1.0, 1.0], [0.01, -0.02])
    assert [r["gate.Gate.time_train(gd)"] for r in load_rounds([rec])] == pytest.approx([0.01, -0.02])
    with pytest.raises(ValueError, match="not an A/A record"):
        load_rounds([_record(tmp_path / "ab.json", [1.0], [0.0], head="b" * 40)])


def test_simulation_stops_at_its_horizon(tmp_path: Path) -> None:
    """Rounds too noisy to decide: every run ends undecided after the horizon, never after the last look."""
    rng = np.random.default_rng(1)
    rounds = [{"gate.Gate.time_train(gd)": float(v)} for v in rng.normal(0, 0.05, 64)]
    (point,) = simulate(rounds, [0.0], runs=30, horizon=12)
    assert point.undecided.k == 30 and point.median_rounds == 12
    with pytest.raises(ValueError, match="horizon must be an int >= the first look"):
        simulate(rounds, [0.0], runs=3, horizon=PR_GATE.looks[0] - 1)


def test_the_run_is_flagged_if_any_time_metric_is() -> None:
    """Two time metrics replayed from the same rounds: the run-level point is flagged at least as often as
    either metric, and passes (no metric undecided or wrong) no more often than either."""
    rng = np.random.default_rng(2)
    rounds = [{"gate.Gate.time_train(gd)": float(a), "gate.Gate.time_train(sgd)": float(b)}
              for a, b in rng.normal(0, 0.012, (64, 2))]
    points = {(p.metric, p.change): p for p in simulate(rounds, [0.0, 0.02], runs=200, horizon=16)}
    run, gd, sgd = (points[(m, 0.02)] for m in ("any time metric", "gate.Gate.time_train(gd)",
                                                 "gate.Gate.time_train(sgd)"))
    assert run.flagged.k >= max(gd.flagged.k, sgd.flagged.k) and run.flagged.k > 0
    aa = [points[(m, 0.0)] for m in ("any time metric", "gate.Gate.time_train(gd)", "gate.Gate.time_train(sgd)")]
    assert aa[0].undecided.k >= max(p.undecided.k for p in aa[1:]) and aa[0].false_alarm.k == 0


def test_gate_power_replays_the_committed_records(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``nox -s gate_power -- --simulate``: no files named, the committed A/A rounds are replayed."""
    from tools import gate_power

    monkeypatch.chdir(ROOT)
    assert gate_power.main(["--simulate", "--runs", "10"]) == 0
    out = capsys.readouterr().out
    assert "recorded A/A rounds" in out and "gate.Gate.time_train(sgd)" in out
    # PR_GATE's own looks, as far as 300 s reach, then the budget's end with the next look's alpha
    assert re.search(r"looks 8 \(alpha 0\.008\), then the budget's end at 1\d \(alpha 0\.042\)", out), out


def test_gate_power_replays_another_rule(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``--set`` replays the same records under a changed rule (here the equal thirds the gate used before)."""
    from tools import gate_power

    monkeypatch.chdir(ROOT)
    assert gate_power.main(["--simulate", "--runs", "10", "--set", "looks=8,12,16", "--set", "look_alphas="]) == 0
    out = capsys.readouterr().out  # the look at 12, or the budget's end before it, at the same alpha
    assert re.search(r"looks 8 \(alpha 0\.0166667\), (12|then the budget's end at \d+) \(alpha 0\.0166667\)", out)
    for bad in (["--simulate", "--set", "look_alphas=0.04,0.04,0.04"], ["--set", "looks=8"]):
        with pytest.raises(SystemExit) as exc:
            gate_power.main(bad)
        assert exc.value.code == 2


def test_barrier_server_thread_stops(tmp_path: Path) -> None:
    before = threading.active_count()
    with DuetBarrier(tmp_path / "b.sock"):
        assert threading.active_count() == before + 1
    assert threading.active_count() == before and not (tmp_path / "b.sock").exists()


MAPS = "import sys; print(next(l.split()[0] for l in open('/proc/self/maps') if '[heap]' in l or '[stack]' in l))"


def _first_map(fixed: bool) -> str:
    from perfharness.gate.duet import fix_layout

    return subprocess.run([sys.executable, "-c", MAPS], preexec_fn=fix_layout if fixed else None,
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="personality(2) is Linux's")
def test_fixed_layout_gives_every_child_the_same_addresses() -> None:
    from perfharness.gate.duet import ADDR_NO_RANDOMIZE, check_fixed_layout, fix_layout

    check_fixed_layout()  # the gate's own check before a duet: this kernel allows it
    out = subprocess.run(["cat", "/proc/self/personality"], preexec_fn=fix_layout, capture_output=True, text=True,
                         check=True).stdout
    assert int(out, 16) & ADDR_NO_RANDOMIZE
    assert len({_first_map(fixed=True) for _ in range(3)}) == 1  # heap (or stack) at one address in all three
    if Path("/proc/sys/kernel/randomize_va_space").read_text().strip() != "0":  # the kernel randomises by default
        assert len({_first_map(fixed=False) for _ in range(3)}) > 1


# A gate that starts one side (as _popen does: the side's environment from child_environ), prints the side's
# pid and waits; the side does what asv_child does with PERFHARNESS_PARENT_PID, then sleeps.
GATE = r"""
import subprocess, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from perfharness.gate.duet import SideRun, child_environ
side = ("import os, time; from perfharness.procs import PARENT_ENV, die_with_parent, kill_descendants_on_signal\n"
        "parent = os.environ.get(PARENT_ENV)\n"
        "if parent:\n    kill_descendants_on_signal(); die_with_parent(int(parent))\n"
        "print('armed' if parent else 'not armed', flush=True); time.sleep(60)")
run = SideRun("base", "c" * 40, (), Path("."), {"PYTHONPATH": sys.argv[1]})
proc = subprocess.Popen([sys.executable, "-c", side], env=child_environ(run, {}), start_new_session=True)
print(proc.pid, flush=True)
time.sleep(60)
"""


def test_a_side_dies_with_the_gate_even_when_the_gate_is_killed() -> None:
    import signal
    import time

    gate = subprocess.Popen([sys.executable, "-c", GATE, str(HARNESS)], stdout=subprocess.PIPE, text=True)
    assert gate.stdout is not None
    side = int(gate.stdout.readline())
    assert gate.stdout.readline().strip() == "armed"  # the side was told the gate's pid, as asv_child is
    gate.send_signal(signal.SIGKILL)  # no finally, no handler: only the kernel's parent-death signal is left
    gate.wait()
    gate.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(side, 0)
        except ProcessLookupError:
            return
        # a zombie (dead, not yet reaped by init) counts as gone
        try:
            if Path(f"/proc/{side}/stat").read_text().split(") ")[1].startswith("Z"):
                return
        except OSError:
            return
        time.sleep(0.1)
    os.kill(side, signal.SIGKILL)
    raise AssertionError("the side outlived the gate")


def test_redecide_gives_what_the_rule_says_on_a_recorded_run(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A recorded run stopped by its budget at 11 rounds after its warm-up round, 2.5 % slower with 0.4 % noise:
    today's rule decides it at the budget's end (the look at 24 brought forward); the look at 8 alone left it
    undecided."""
    from perfharness.gate.decide import Verdict
    from perfharness.gate.simulate import redecide, simulated_verdict

    from tools import gate_power

    wide = (0.03, -0.02, 0.0, 0.01, -0.01, 0.004, -0.004, 0.002)  # at 8 rounds, [min, max] reaches below 1.01
    d = [float(np.log(1.025) + x) for x in (*wide, *np.random.default_rng(4).normal(0, 0.004, 3))]
    path = _record(tmp_path / "run.json", [40.0] + [20.0] * 11, [-0.05, *d], head="b" * 40)  # round 0: warm-up
    assert simulated_verdict(np.ones(8), np.exp(d[:8]), "time", PR_GATE)[0] is Verdict.UNDECIDED
    verdict, rounds = redecide(path)["gate.Gate.time_train(gd)"]
    assert (verdict, rounds) == (Verdict.REGRESSED, 11)
    assert gate_power.main(["--redecide", str(path)]) == 0
    assert "run.json: exit 1: Gate.time_train(gd) regressed (11)" in capsys.readouterr().out
