"""Fixtures of the API contract suite: one `kube` connection per test.

By default each test gets a fresh `LocalCluster` (it starts in milliseconds). When the
environment variable ENSIGN_TEST_KUBECONFIG names a kubeconfig file, the suite runs against
that cluster instead, and then it works ONLY in a throwaway namespace
`ensign-contract-<random>` created for the test session and deleted at its end; cluster-scoped
objects (CRDs, extra namespaces) get unique names and are removed by the test that made them.

Markers (registered here, not in pyproject.toml):

* ``local_only(reason)``: the test needs a LocalCluster knob (fault injection, compaction,
  workload-simulator annotations); skipped on a real cluster, never on the local one.
* ``slow_on_real(reason)``: the behaviour holds on a real cluster too but takes too long
  there (real controllers, image pulls); skipped on a real cluster only.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from lightkube import AsyncClient, Client, KubeConfig
from lightkube.config.client_adapter import AsyncClient as HttpxAsyncClient
from lightkube.config.client_adapter import ConnectionParams
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from tests.contract._support import Kube

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
        "slow_on_real(reason): holds on a real cluster but is too slow there; skipped on a "
        "real cluster only",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not REAL_KUBECONFIG:
        return
    for item in items:
        for marker_name, prefix in (
            ("local_only", "needs the local cluster"),
            ("slow_on_real", "too slow on a real cluster"),
        ):
            marker = item.get_closest_marker(marker_name)
            if marker is not None:
                why = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
                item.add_marker(pytest.mark.skip(reason=f"{prefix}: {why}".rstrip(": ")))


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
