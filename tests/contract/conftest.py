"""Fixtures of the API contract suite: one `kube` connection per test.

By default each test gets a fresh `LocalCluster` (it starts in milliseconds). When the
environment variable ENSIGN_TEST_KUBECONFIG names a kubeconfig file, the suite runs against
that cluster instead, and then it works ONLY in a throwaway namespace
`ensign-contract-<random>` created for the test session and deleted at its end; cluster-scoped
objects (CRDs, extra namespaces) get unique names and are removed by the test that made them.

Markers (registered here, not in pyproject.toml):

* ``local_only(reason)``: the test needs a LocalCluster knob (fault injection, compaction,
  workload-simulator annotations); skipped on a real cluster, never on the local one.
* ``needs_ready_pods(reason)``: the test waits for pods to become ready (more than once, or
  on every node). On a real cluster it runs when the cluster can serve it: a capability
  probe, once per session, creates a one-pod Deployment and times its readiness; the tests
  run when it is ready within PODS_READY_WITHIN seconds (a kubelet that marks pods ready at
  once, such as kwok's, or a warm image cache) and are skipped, with the measured reason,
  otherwise. Never skipped on the local cluster.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from lightkube import AsyncClient, Client, KubeConfig
from lightkube.config.client_adapter import AsyncClient as HttpxAsyncClient
from lightkube.config.client_adapter import ConnectionParams
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace

from tests.contract._support import Kube, deployment

KUBECONFIG_ENV = "ENSIGN_TEST_KUBECONFIG"
REAL_KUBECONFIG = os.environ.get(KUBECONFIG_ENV, "")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "local_only(reason): needs a LocalCluster knob; skipped on a real cluster "
        f"(${KUBECONFIG_ENV} set), never on the local cluster",
    )
    config.addinivalue_line(
        "markers",
        "needs_ready_pods(reason): waits for pods to become ready; on a real cluster it runs "
        "when a capability probe saw a pod ready within PODS_READY_WITHIN seconds",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not REAL_KUBECONFIG:
        return
    for item in items:
        marker = item.get_closest_marker("local_only")
        if marker is not None:
            why = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"needs the local cluster: {why}".rstrip(": ")))


PODS_READY_WITHIN = 20.0


@pytest.fixture(scope="session")
def pods_ready_seconds(real_namespace: str | None) -> float | None:
    """Real cluster only: seconds a one-replica Deployment took to become ready, or None
    when it was not ready within PODS_READY_WITHIN (the capability probe)."""
    assert real_namespace is not None
    config = KubeConfig.from_file(Path(REAL_KUBECONFIG))
    name = f"probe-{secrets.token_hex(3)}"
    with Client(config=config, namespace=real_namespace, trust_env=False) as client:
        client.create(deployment(name))
        started = time.monotonic()
        try:
            while time.monotonic() - started < PODS_READY_WITHIN:
                status = client.get(Deployment, name).status
                if status is not None and (status.readyReplicas or 0) >= 1:
                    return time.monotonic() - started
                time.sleep(0.2)
            return None
        finally:
            client.delete(Deployment, name)


@pytest.fixture(autouse=True)
def _ready_pods_capability(request: pytest.FixtureRequest, real_namespace: str | None) -> None:
    marker = request.node.get_closest_marker("needs_ready_pods")
    if marker is None or real_namespace is None:
        return
    if request.getfixturevalue("pods_ready_seconds") is None:
        why = marker.args[0] if marker.args else ""
        pytest.skip(
            f"{why}: the capability probe's pod was not ready within {PODS_READY_WITHIN:.0f}s "
            "on this cluster"
        )


def _http_client(config: KubeConfig) -> httpx2.AsyncClient:
    """An httpx2 client with the base URL, TLS settings and credentials of the kubeconfig."""
    params = ConnectionParams(timeout=httpx2.Timeout(10.0), trust_env=False)
    return HttpxAsyncClient(config.get(), params)


# What tests create in the session namespace; purged after each test on a real cluster so
# the next test can reuse plain names like "a" or "cas".
PURGED = (
    ("v1", "configmaps"),
    ("v1", "services"),
    ("v1", "secrets"),
    ("apps/v1", "deployments"),
    ("apps/v1", "daemonsets"),
    ("coordination.k8s.io/v1", "leases"),
)
KEEP = "metadata.name!=kube-root-ca.crt"


async def _purge(kube: Kube) -> None:
    """Empty the shared namespace of what the test left (real cluster only) and wait for it."""
    for api_version, plural in PURGED:
        path = kube.path(api_version, plural)
        await kube.http.delete(path, params={"fieldSelector": KEEP})

    async def empty() -> bool:
        for api_version, plural in PURGED:
            response = await kube.http.get(
                kube.path(api_version, plural), params={"fieldSelector": KEEP}
            )
            if response.json().get("items"):
                return False
        return True

    await kube.eventually(empty, within=60, what="namespace purged between tests")


@pytest.fixture(scope="session")
def real_namespace() -> Iterator[str | None]:
    """On a real cluster: the session's throwaway namespace (created here, deleted at the end)."""
    if not REAL_KUBECONFIG:
        yield None
        return
    config = KubeConfig.from_file(Path(REAL_KUBECONFIG))
    name = f"ensign-contract-{secrets.token_hex(4)}"
    with Client(config=config, trust_env=False) as client:
        client.create(
            Namespace(
                metadata=ObjectMeta(
                    name=name, labels={"app.kubernetes.io/managed-by": "ensign-contract"}
                )
            )
        )
        try:
            yield name
        finally:
            client.delete(Namespace, name)


@pytest.fixture
async def kube(real_namespace: str | None) -> AsyncIterator[Kube]:
    if real_namespace is not None:
        config = KubeConfig.from_file(Path(REAL_KUBECONFIG))
        client = AsyncClient(config=config, namespace=real_namespace, trust_env=False)
        http = _http_client(config)
        kube = Kube(client=client, namespace=real_namespace, http=http, local=None)
        try:
            yield kube
        finally:
            await kube.run_cleanups()
            await _purge(kube)
            await client.close()
            await http.aclose()
        return

    from ensign.localcluster.cluster import LocalCluster

    async with LocalCluster() as cluster:
        kubeconfig = cluster.kubeconfig()
        # Plain http on 127.0.0.1: skipping TLS setup saves ~30 ms of CA loading per client.
        for entry in kubeconfig["clusters"]:
            entry["cluster"]["insecure-skip-tls-verify"] = True
        config = KubeConfig.from_dict(kubeconfig)
        namespace = f"ensign-contract-{secrets.token_hex(4)}"
        client = AsyncClient(config=config, namespace=namespace, trust_env=False)
        http = _http_client(config)
        kube = Kube(client=client, namespace=namespace, http=http, local=cluster)
        try:
            await client.create(Namespace(metadata=ObjectMeta(name=namespace)))
            yield kube
        finally:
            await kube.run_cleanups()
            await client.close()
            await http.aclose()
