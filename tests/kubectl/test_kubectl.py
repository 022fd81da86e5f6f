"""kubectl, a black-box client, can get, apply, patch, scale and watch against the local cluster.

kubectl is part of this machine kind's image (see docs/architecture.md); these tests fail, and
say so, when it is missing rather than being skipped.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ensign.crds import crd_directory
from ensign.localcluster.cluster import LocalCluster

KUBECTL = shutil.which("kubectl")

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.25
          env: [{name: COLOR, value: blue}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""

CANARY = """
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: web, namespace: default}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  service: {port: 80}
  analysis: {interval: 30s, threshold: 2, iterations: 5}
"""


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[LocalCluster, Path]]:
    assert KUBECTL, "kubectl is not on PATH; it ships with this machine image (google-cloud-cli)"
    async with LocalCluster(default_ready_delay=0.05) as local:
        yield local, local.write_kubeconfig(tmp_path / "kubeconfig")


async def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 20
) -> tuple[int, str, str]:
    assert KUBECTL is not None
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        f"--kubeconfig={kubeconfig}",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin else None), timeout=timeout
    )
    return proc.returncode or 0, out.decode(), err.decode()


async def ok(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    code, out, err = await kubectl(kubeconfig, *args, stdin=stdin)
    assert code == 0, f"kubectl {' '.join(args)} failed: {err}"
    return out


async def test_apply_get_patch_scale_and_reapply(cluster: tuple[LocalCluster, Path]) -> None:
    _, kc = cluster
    out = await ok(kc, "apply", "-f", "-", stdin=WEB)
    assert "deployment.apps/web created" in out
    assert "service/web created" in out
    table = await ok(kc, "get", "deploy", "web")
    assert table.split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    await ok(kc, "set", "image", "deploy/web", "nginx=nginx:1.26")
    await ok(kc, "patch", "deploy", "web", "-p", '{"metadata":{"labels":{"tier":"front"}}}')
    await ok(kc, "scale", "deploy", "web", "--replicas=3")
    deployment = json.loads(await ok(kc, "get", "deploy", "web", "-o", "json"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.26"
    assert container["env"] == [{"name": "COLOR", "value": "blue"}]  # strategic merge kept env
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["labels"]["tier"] == "front"
    assert deployment["metadata"]["generation"] == 3  # image and scale; labels do not count
    again = await ok(kc, "apply", "-f", "-", stdin=WEB)
    assert "service/web unchanged" in again
    selected = await ok(kc, "get", "deploy", "-l", "tier in (front,back)", "-o", "name")
    assert selected.strip() == "deployment.apps/web"


async def test_get_pods_and_replicasets_of_a_deployment(cluster: tuple[LocalCluster, Path]) -> None:
    local, kc = cluster
    await ok(kc, "apply", "-f", "-", stdin=WEB)
    await local.workloads.idle(1.0)
    pods = await ok(kc, "get", "pods", "-l", "app=web")
    header, *rows = pods.strip().splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(rows) == 2
    for row in rows:
        name, ready, status, restarts, _ = row.split()
        assert name.startswith("web-")
        assert (ready, status, restarts) == ("1/1", "Running", "0")
    replicasets = await ok(kc, "get", "rs", "-o", "name")
    assert replicasets.strip().startswith("replicaset.apps/web-")
    nodes = await ok(kc, "get", "nodes")
    assert "local-node-1" in nodes and "Ready" in nodes


async def test_crds_apply_and_canary_printer_columns(cluster: tuple[LocalCluster, Path]) -> None:
    _, kc = cluster
    out = await ok(kc, "apply", "-f", str(crd_directory()))
    assert "customresourcedefinition.apiextensions.k8s.io/canaries.flagger.app created" in out
    await ok(kc, "apply", "-f", "-", stdin=CANARY)
    await ok(
        kc,
        "patch",
        "canary",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Succeeded","canaryWeight":0,"failedChecks":0}}',
    )
    table = await ok(kc, "get", "canaries")
    header, row = table.strip().splitlines()
    assert header.split() == ["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]
    assert row.split()[:3] == ["web", "Succeeded", "0"]
    code, _, err = await kubectl(
        kc, "apply", "-f", "-", stdin=CANARY.replace("iterations: 5", "stepWeight: -5")
    )
    assert code != 0
    assert "spec.analysis.stepWeight" in err


async def test_watch_streams_changes(cluster: tuple[LocalCluster, Path]) -> None:
    _, kc = cluster
    await ok(kc, "apply", "-f", "-", stdin=WEB)
    assert KUBECTL is not None
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        f"--kubeconfig={kc}",
        "get",
        "deploy",
        "web",
        "--watch",
        "--output-watch-events",
        "-o",
        "jsonpath={.type} {.object.spec.template.spec.containers[0].image}{'\\n'}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), timeout=10)
        assert first.decode().split() == ["ADDED", "nginx:1.25"]
        await ok(kc, "set", "image", "deploy/web", "nginx=nginx:1.27")
        seen = ""
        while "nginx:1.27" not in seen:
            seen = (await asyncio.wait_for(proc.stdout.readline(), timeout=10)).decode()
        assert seen.split() == ["MODIFIED", "nginx:1.27"]
    finally:
        proc.kill()
        await proc.wait()


async def test_protobuf_bodies_get_a_clear_415(cluster: tuple[LocalCluster, Path]) -> None:
    _, kc = cluster
    code, _, err = await kubectl(kc, "create", "deployment", "pb", "--image=nginx")
    assert code != 0
    assert "unknown format" in err
