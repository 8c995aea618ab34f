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
    assert "workflow lint passed: 3 workflows" in proc.stdout


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
        assert gate["run"] == 'nox -s gate -- "origin/${BASE_REF}" HEAD'
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


def test_publish_permissions_and_gpu_gate() -> None:
    doc = load("publish.yml")
    assert set(doc["on"]) == {"push", "workflow_dispatch"}
    assert doc["permissions"] == {"contents": "read"}
    jobs = doc["jobs"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert all("permissions" not in j for name, j in jobs.items() if name != "deploy")
    assert jobs["bench-gpu"]["runs-on"] == ["self-hosted", "linux", "gpu"]
    assert jobs["bench-gpu"]["if"] == "vars.GDOPT_GPU_RUNNER == 'true'"
    site = [s.get("run") for s in jobs["site"]["steps"]]
    assert site.index("nox -s merge -- results shards/*/") < site.index("nox -s publish")
    assert steps_using(jobs["site"], "actions/upload-pages-artifact")
    assert steps_using(jobs["deploy"], "actions/deploy-pages")
