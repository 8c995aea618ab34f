"""The GitHub workflows: schema + zizmor + pins via perfharness.site.workflows_lint, and their security shape."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from perfharness.site.workflows_lint import check_pins, main

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
LINT_TOOLS = importlib.util.find_spec("check_jsonschema") is not None and (
    (Path(sys.executable).parent / "zizmor").is_file() or shutil.which("zizmor") is not None
)
needs_tools = pytest.mark.skipif(not LINT_TOOLS, reason="needs check-jsonschema and zizmor (the dev extra)")


def load(name: str) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return dict(doc)


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(f"{action}@")]


@needs_tools
def test_workflow_lint_passes_offline() -> None:
    # Run as a script: the lint environment needs neither TensorFlow nor asv.
    proc = subprocess.run(
        [sys.executable, str(ROOT / "harness" / "src" / "perfharness" / "site" / "workflows_lint.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "workflow lint passed: 4 workflows" in proc.stdout


@needs_tools
def test_workflow_lint_fails_on_a_bad_workflow(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        "on: pull_request_target\n"
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    assert main([str(tmp_path)]) == 1


def test_check_pins_findings(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on:\n  pull_request_target:\n"
        "jobs:\n  x:\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065\n"
        "      - uses: ./local-action\n"
    )
    findings = check_pins(bad)
    assert any("actions/checkout@v4 is not pinned" in f for f in findings)
    assert any("has no '# vX' comment" in f for f in findings)
    assert any("pull_request_target" in f for f in findings)
    assert any("top-level `permissions:`" in f for f in findings)
    assert len(findings) == 4
    for workflow in WORKFLOWS.glob("*.yml"):
        assert check_pins(workflow) == []


def test_pr_gate_is_read_only_and_untemplated() -> None:
    doc = load("pr-gate.yml")
    assert set(doc["on"]) == {"pull_request"}
    assert doc["permissions"] == {"contents": "read"}
    for job in doc["jobs"].values():
        assert "permissions" not in job and "secrets" not in str(job)
        [checkout] = steps_using(job, "actions/checkout")
        assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step
        gate = next(s for s in job["steps"] if "nox -s gate" in s.get("run", ""))
        assert 'nox -s gate -- "origin/${BASE_REF}" HEAD || code=$?' in gate["run"]
        assert gate["env"] == {"BASE_REF": "${{ github.base_ref }}"}
        [upload] = steps_using(job, "actions/upload-artifact")
        assert upload["if"] == "always()"
    gpu = doc["jobs"]["gate-gpu"]
    assert gpu["runs-on"] == ["self-hosted", "linux", "gpu"]
    assert "github.event.label.name == 'gpu-gate'" in gpu["if"]
    assert doc["jobs"]["gate-cpu"]["runs-on"] == "ubuntu-latest"


def test_pr_comment_treats_the_artifact_as_data() -> None:
    doc = load("pr-comment.yml")
    assert doc["on"]["workflow_run"]["workflows"] == ["pr-gate"]
    assert doc["permissions"] == {}
    [job] = doc["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert not steps_using(job, "actions/checkout")  # never fetches, let alone runs, PR code
    [script] = steps_using(job, "actions/github-script")
    code = script["with"]["script"]
    assert "${{" not in code
    assert "/^[1-9][0-9]{0,9}$/.test(raw)" in code and "pr.head.sha !== process.env.GATED_SHA" in code
    assert "<!-- gdopt-perf-gate:" in code and "updateComment" in code


def _runs(job: dict[str, Any]) -> list[str]:
    return [s["run"] for s in job["steps"] if "run" in s]


def test_no_workflow_splices_expressions_into_a_shell() -> None:
    for workflow in WORKFLOWS.glob("*.yml"):
        for job in load(workflow.name)["jobs"].values():
            for run in _runs(job):
                assert "${{" not in run, (workflow.name, run)


def test_publish_permissions_and_gpu_gate() -> None:
    doc = load("publish.yml")
    assert set(doc["on"]) == {"push", "workflow_dispatch"}  # never pull requests
    assert doc["on"]["push"] == {"branches": ["main"]}
    assert doc["permissions"] == {"contents": "read"}
    jobs = doc["jobs"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["history"]["permissions"] == {"contents": "write"}
    assert all("permissions" not in j for name, j in jobs.items() if name not in ("deploy", "history"))
    for name in ("bench-gpu", "matrix-gpu"):
        assert jobs[name]["runs-on"] == ["self-hosted", "linux", "gpu"]
        assert "vars.GDOPT_GPU_RUNNER == 'true'" in jobs[name]["if"]
    site = _runs(jobs["site"])
    assert site.index("nox -s merge -- results history/ shards/*/") < site.index("nox -s publish")
    assert site[site.index("nox -s merge -- results history/ shards/*/") - 1] == ".ci/results-branch fetch history"
    assert steps_using(jobs["site"], "actions/upload-pages-artifact")
    assert steps_using(jobs["deploy"], "actions/deploy-pages")
    for job in jobs.values():
        for checkout in steps_using(job, "actions/checkout"):
            assert checkout["with"]["persist-credentials"] is False


def test_publish_keeps_history_only_on_pushes_to_main() -> None:
    jobs = load("publish.yml")["jobs"]
    history = jobs["history"]
    assert "github.event_name == 'push'" in history["if"] and "github.ref == 'refs/heads/main'" in history["if"]
    assert set(history["needs"]) == {"bench-cpu", "bench-gpu", "matrix-cpu", "matrix-gpu"}
    assert _runs(history)[-1] == ".ci/results-branch push shards"
    assert "history" in jobs["site"]["needs"] and "needs.history.result != 'failure'" in jobs["site"]["if"]


def test_publish_runs_one_job_per_listed_cell() -> None:
    jobs = load("publish.yml")["jobs"]
    listing = "\n".join(_runs(jobs["cells"]))
    assert "nox -s matrix -- --list --json --any-python --device cpu --without-default > cells-cpu.json" in listing
    assert "nox -s matrix -- --list --json --any-python --device gpu > cells-gpu.json" in listing
    for name, kind in (("matrix-cpu", "cpu"), ("matrix-gpu", "gpu")):
        job = jobs[name]
        assert job["strategy"]["matrix"] == {"include": f"${{{{ fromJSON(needs.cells.outputs.{kind}) }}}}"}
        assert job["strategy"]["fail-fast"] is False
        [cell] = [s for s in job["steps"] if "nox -s matrix" in s.get("run", "")]
        assert cell["env"] == {"CELL": "${{ matrix.name }}"} and '--cell "$CELL"' in cell["run"]
        [upload] = steps_using(job, "actions/upload-artifact")
        assert upload["with"]["name"] == "results-matrix-${{ matrix.name }}"  # the site's results-* pattern


def test_backfill_splits_the_range_into_jobs() -> None:
    doc = load("backfill.yml")
    assert set(doc["on"]) == {"workflow_dispatch"}
    assert set(doc["on"]["workflow_dispatch"]["inputs"]) == {"range", "shards"}
    assert doc["permissions"] == {"contents": "read"}
    jobs = doc["jobs"]
    assert jobs["plan"]["if"] == "github.ref == 'refs/heads/main'"
    [plan] = [s for s in jobs["plan"]["steps"] if s.get("id") == "plan"]
    assert 'nox -s history -- --list --json --shards "$SHARDS" "$RANGE"' in plan["run"]
    assert plan["env"]["RANGE"] == "${{ inputs.range }}" and plan["env"]["SHARDS"] == "${{ inputs.shards }}"
    assert jobs["shard"]["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.plan.outputs.shards) }}"}
    assert 'nox -s history -- "$SHARD_RANGE"' in _runs(jobs["shard"])
    assert jobs["history"]["permissions"] == {"contents": "write"}
    assert _runs(jobs["history"])[-1] == ".ci/results-branch push shards"
    assert all("permissions" not in j for name, j in jobs.items() if name != "history")
    # The same asv machine name as publish's CPU jobs, or the backfilled history would not line up.
    machine = load("publish.yml")["env"]["GDOPT_MACHINE"]
    assert {s["env"]["GDOPT_MACHINE"] for j in jobs.values() for s in j["steps"]
            if "GDOPT_MACHINE" in s.get("env", {})} == {machine}


def test_pr_gate_treats_undecided_as_not_passed() -> None:
    """Exit 3 (undecided) reruns the gate once with a larger budget; the step's exit is the rerun's."""
    for job in load("pr-gate.yml")["jobs"].values():
        gate = next(s for s in job["steps"] if "nox -s gate" in s.get("run", ""))
        run = gate["run"]
        assert 'if [ "$code" -eq 3 ]' in run and "HEAD --budget 600 || code=$?" in run
        assert run.rstrip().endswith('exit "$code"')
