"""deploy/check.sh, the static checks CI runs on the deployment files: each passes on the real
file and fails on a copy with the kind of mistake it is there to catch. Without the deploy-check
extra the checks skip locally; in CI (CI=true) a missing validator is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile import DEPLOY

TOOLS = {"dockerfile": "hadolint", "k8s": "kubernetes-validate", "compose": "check-jsonschema"}


def check(kind: str, *files: Path) -> subprocess.CompletedProcess:
    # The validators are console scripts of the environment running the tests.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    tool = TOOLS[kind]
    if shutil.which(tool, path=path) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing: CI installs it with pip install -e '.[deploy-check]'")
        pytest.skip(f"{tool} not installed (pip install -e '.[deploy-check]')")
    return subprocess.run(["sh", str(DEPLOY / "check.sh"), kind, *map(str, files)], env={**os.environ, "PATH": path},
                          capture_output=True, text=True, timeout=120)


def broken_copy(tmp_path: Path, original: Path, old: str, new: str) -> Path:
    text = original.read_text()
    assert old in text, f"{original.name} no longer contains {old!r}: update this test"
    copy = tmp_path / original.name
    copy.write_text(text.replace(old, new, 1))
    return copy


def test_the_dockerfile_passes_hadolint():
    done = check("dockerfile", DEPLOY / "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("old", "new", "finding"), [
    ("USER 10001:10001", "USER root", "DL3002"),  # running as root
    ("HEALTHCHECK --interval", "HEALTHCHEK --interval", ""),  # a misspelt instruction
])
def test_hadolint_fails_a_broken_dockerfile(tmp_path, old, new, finding):
    done = check("dockerfile", broken_copy(tmp_path, DEPLOY / "Dockerfile", old, new))
    assert done.returncode != 0
    assert finding in done.stdout + done.stderr


def test_the_kubernetes_manifests_pass_kubernetes_validate():
    manifests = sorted((DEPLOY / "k8s").glob("*.yaml"))
    assert {m.name for m in manifests} >= {"deployment.yaml", "service.yaml", "secret.example.yaml"}
    done = check("k8s", *manifests)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("old", "new", "finding"), [
    ("replicas: 2", "replicas: two", "spec.replicas"),  # a wrong type
    ("readinessProbe:", "readinesProbe:", "readinesProbe"),  # a misspelt field: strict mode
])
def test_kubernetes_validate_fails_a_broken_manifest(tmp_path, old, new, finding):
    done = check("k8s", broken_copy(tmp_path, DEPLOY / "k8s" / "deployment.yaml", old, new))
    assert done.returncode != 0
    assert finding in done.stdout + done.stderr


def test_the_compose_file_matches_the_compose_schema():
    done = check("compose", DEPLOY / "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("old", "new", "finding"), [
    ("healthcheck:", "healthchek:", "healthchek"),  # a misspelt key
    ("condition: service_healthy", "condition: healthy", "condition"),  # a value compose does not know
])
def test_the_compose_schema_fails_a_broken_compose_file(tmp_path, old, new, finding):
    done = check("compose", broken_copy(tmp_path, DEPLOY / "docker-compose.yml", old, new))
    assert done.returncode != 0
    assert finding in done.stdout + done.stderr
