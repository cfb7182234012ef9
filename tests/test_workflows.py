"""The GitHub Actions workflows: linted, audited, pinned, and gated as promised."""

import re
import shutil
import subprocess

import pytest
import yaml

from testing_utils import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def load(name):
    # PyYAML reads the key `on` as True; map it back
    data = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_there_are_cpu_gpu_and_pages_workflows():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "gpu.yml", "pages.yml"}


def test_actionlint_finds_nothing():
    exe = shutil.which("actionlint")
    assert exe, "actionlint is missing: pip install -r requirements.txt"
    proc = subprocess.run([exe, "-color=false"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing():
    exe = shutil.which("zizmor")
    assert exe, "zizmor is missing: pip install -r requirements.txt"
    proc = subprocess.run(
        [exe, "--offline", "--no-progress", "--format=plain", ".github/workflows"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_hardening(path):
    data = load(path.name)
    assert data["permissions"] == {}, "grant permissions per job, none at the top"
    assert "concurrency" in data
    for name, job in data["jobs"].items():
        assert "timeout-minutes" in job, f"{name} has no timeout"
        assert "permissions" in job, f"{name} does not state its permissions"
        for step in job.get("steps", []):
            uses = step.get("uses")
            if uses:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), f"{uses} is not pinned by SHA"
            if uses and uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_gpu_workflow_runs_only_when_trusted():
    data = load("gpu.yml")
    assert set(data["on"]) == {"push", "schedule", "workflow_dispatch", "pull_request"}
    assert data["on"]["push"]["branches"] == ["main"]
    assert data["on"]["pull_request"]["types"] == ["labeled"]  # a maintainer's label, nothing else
    job = data["jobs"]["gpu"]
    assert "github.event.label.name == 'run-gpu'" in job["if"]
    assert "gpu" in job["runs-on"] and "self-hosted" in job["runs-on"]
    text = (REPO / ".github/workflows/gpu.yml").read_text(encoding="utf-8")
    assert "pull_request_target:" not in text and "pull_request_target" not in str(data["on"])


def test_cpu_workflow_runs_ci_script_on_every_pull_request():
    data = load("ci.yml")
    assert "pull_request" in data["on"] and "push" in data["on"]
    assert any(step.get("run") == "bash .ci/run" for step in data["jobs"]["test"]["steps"])
