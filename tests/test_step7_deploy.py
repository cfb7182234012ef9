"""Step 7: the container and the Kubernetes manifests, checked offline: hadolint, the
Kubernetes schemas (kubernetes-validate ships them), and agreement with the app itself."""

import copy
import fnmatch
import json
import re
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from guide.timing import hang_guard
from step7_deployment.app import parse_args
from testing_utils import REPO

DOCKERFILE = REPO / "deploy" / "Dockerfile"
MANIFESTS = sorted((REPO / "deploy" / "k8s").glob("*.yaml"))


def instructions():
    """(INSTRUCTION, arguments) for each line of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint") or pytest.fail("hadolint is missing: pip install -r requirements.txt")
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout


def test_the_dockerfile_is_multi_stage_pinned_non_root_and_checks_health():
    steps = instructions()
    bases = [args for op, args in steps if op == "FROM"]
    assert len(bases) >= 2, "multi-stage: build in one stage, run from a clean one"
    for base in bases:
        assert re.match(r"python:\d+\.\d+\.\d+-slim-\w+( AS \w+)?$", base), f"pin the base image exactly: {base}"
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the final stage must run as a non-root user"
    health = [args for op, args in final if op == "HEALTHCHECK"]
    assert health and "/health" in health[0]
    assert any(op == "COPY" and "--from=build" in args for op, args in final)
    entry = json.loads(next(args for op, args in final if op == "ENTRYPOINT"))
    cmd = json.loads(next(args for op, args in final if op == "CMD"))
    assert entry == ["python", "-m", "step7_deployment.app"]

    assert parse_args(cmd).host == "0.0.0.0"  # reachable from outside the container


def ignored(path, patterns):
    """Docker's rule: the last matching pattern wins; '!' re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
            verdict = not negate
    return verdict


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_else():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [args.split()[-2] for op, args in instructions() if op == "COPY" and "--from" not in args]
    for source in copied:
        assert (REPO / source).exists(), f"the Dockerfile copies {source}, which does not exist"
        assert not ignored(source.rstrip("/") + ("/x.py" if source.endswith("/") else ""), patterns), source
    for secret_or_bulk in [
        ".git/config",
        ".cache/guide-model/model.safetensors",
        "site/index.html",
        "tests/x.py",
        "artifacts/a.png",
        "snippets/step7_deployment/__pycache__/app.cpython-312.pyc",
    ]:
        assert ignored(secret_or_bulk, patterns), f"{secret_or_bulk} would be sent to the Docker daemon"


def test_the_image_pins_the_same_versions_as_requirements_txt():
    def pins(path):
        return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.M))

    serve, everything = pins(REPO / "deploy" / "requirements-serve.txt"), pins(REPO / "requirements.txt")
    assert serve and {name: everything.get(name) for name in serve} == serve
    assert f"torch=={everything['torch']}" in DOCKERFILE.read_text()


def test_the_service_starts_the_way_the_image_starts_it(tmp_path):
    env = {"PYTHONPATH": str(REPO / "snippets"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "step7_deployment.app", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=hang_guard("step7_deployment/app.py"),
    )
    assert proc.returncode == 0 and "--max-batch" in proc.stdout, proc.stderr


def documents():
    return {doc["kind"]: doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc}


def test_the_manifests_are_valid_kubernetes_offline():
    docs = documents()
    assert set(docs) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for doc in docs.values():
        kubernetes_validate.validate(doc, "1.37.0", strict=True)  # raises on any error
    broken = copy.deepcopy(docs["Deployment"])
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = "http"  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37.0", strict=True)


def test_the_manifests_agree_with_the_app_and_with_each_other(service):
    docs = documents()
    deployment, svc, hpa = docs["Deployment"], docs["Service"], docs["HorizontalPodAutoscaler"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = parse_args(container["args"])  # flags the app really has
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["http"] == args.port and svc["spec"]["ports"][0]["targetPort"] == "http"
    probes = {kind: container[kind]["httpGet"]["path"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes == {"startupProbe": "/ready", "readinessProbe": "/ready", "livenessProbe": "/health"}
    assert all(service.get(path).status_code == 200 for path in probes.values())  # the running app answers them
    assert container["resources"]["limits"].keys() >= {"cpu", "memory"}
    assert container["resources"]["requests"].keys() >= {"cpu", "memory"}  # the HPA's utilisation needs requests
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["allowPrivilegeEscalation"] is False
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert svc["spec"]["selector"] == selector
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
