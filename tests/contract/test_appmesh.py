"""App Mesh CRDs (Mesh, VirtualNode, VirtualRouter, VirtualService): both served versions, the
objects the `appmesh` routers write, and the validation users trip over.

On a real cluster the tests use the App Mesh CRDs already installed there (so they double as a
check of ours against upstream), and install ours only when there are none. Upstream serves
v1beta2 only (the v1beta1 CRDs belong to the pre-1.0 controller): the v1beta1 tests are local
only. App Mesh reports status (conditions `VirtualNodeActive`, ...) that neither Flagger nor
Ensign waits on; no simulator writes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from ensign.engine.weights import Routes
from ensign.kube.kinds import Kind
from ensign.localcluster.crd_bundles import bundle_crds
from ensign.model import Canary, parse_canary
from ensign.routers.appmesh import AppMeshRouter
from ensign.routers.protocol import CreateObject, Split
from tests.contract._support import Kube, assert_status_response, causes

GROUP = "appmesh.k8s.aws"
UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"
V1BETA1 = "upstream App Mesh controllers >= 1.0 serve v1beta2 only"


@pytest.fixture
async def mesh(kube: Kube) -> AsyncIterator[Kube]:
    """The App Mesh CRDs, served: ours, unless a real cluster already has them."""
    for doc in bundle_crds("appmesh"):
        if not kube.is_local:
            try:
                await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
                continue  # installed upstream: test against it, never modify it
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        scope_namespaced = doc["spec"]["scope"] == "Namespaced"
        await kube.install_crd(doc, served_namespace=scope_namespaced)
    yield kube


def canary(kube: Kube, provider: str, **analysis: Any) -> Canary:
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": kube.namespace},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {
                    "port": 9898,
                    "meshName": "global",
                    "backends": ["backend"],
                    **({"timeout": "15s"} if provider != "appmesh" else {}),
                    "retries": {"attempts": 3, "perTryTimeout": "5s", "retryOn": "5xx"},
                },
                "analysis": {"interval": "1m", "threshold": 5, **analysis},
            },
        }
    )


class Live:
    """An ObjectView over what the API server returns."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.bodies: dict[tuple[str, str], dict[str, Any]] = {}

    async def load(self, kinds: tuple[Kind, ...], names: list[tuple[Kind, str]]) -> None:
        for kind, name in names:
            response = await self.kube.http.get(self.kube.path(kind.api_version, kind.plural, name))
            if response.status_code == 200:
                self.bodies[(kind.kind, name)] = response.json()

    def get(self, kind: Kind, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.bodies.get((kind.kind, name)) if kind.group == GROUP else None


async def create_all(kube: Kube, router: AppMeshRouter, c: Canary, split: Split) -> Live:
    """Create what the router renders on an empty namespace; the objects read back."""
    live = Live(kube)
    changes = router.render(c, live, split, canary_uid=UID)
    names = []
    for change in changes:
        assert isinstance(change, CreateObject)
        body = dict(change.body)
        body["metadata"] = {k: v for k, v in body["metadata"].items() if k != "ownerReferences"}
        kind = change.kind
        response = await kube.http.post(kube.path(kind.api_version, kind.plural), json=body)
        assert response.status_code == 201, response.text
        names.append((kind, body["metadata"]["name"]))
    await live.load(router.kinds, names)
    return live


def doc(kind: str, name: str, spec: dict[str, Any], version: str = "v1beta2") -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def router_doc(weight: int = 10, **route: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "podinfo",
        "httpRoute": {
            "match": {"prefix": "/"},
            "action": {
                "weightedTargets": [
                    {"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 100 - weight},
                    {"virtualNodeRef": {"name": "podinfo-canary"}, "weight": weight},
                ]
            },
        },
    }
    body.update(route)
    spec = {"listeners": [{"portMapping": {"port": 9898, "protocol": "http"}}], "routes": [body]}
    return doc("VirtualRouter", "podinfo", spec)


async def rejected(kube: Kube, body: dict[str, Any], plural: str) -> dict[str, str]:
    response = await kube.http.post(kube.path(body["apiVersion"], plural), json=body)
    status = assert_status_response(
        response, 422, "Invalid", name=body["metadata"]["name"], kind=body["kind"], group=GROUP
    )
    return causes(status)


# ------------------------------------------------------------ what the routers write


@pytest.mark.parametrize(
    ("provider", "analysis", "split"),
    [
        ("appmesh:v1beta2", {"maxWeight": 50, "stepWeight": 10}, (90, 10)),
        (
            "appmesh:v1beta2",
            {"iterations": 10, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]},
            (0, 100),
        ),
        pytest.param(
            "appmesh",
            {"iterations": 10, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]},
            (0, 100),
            marks=pytest.mark.local_only(V1BETA1),
        ),
    ],
    ids=["v1beta2-canary", "v1beta2-ab", "v1beta1-ab"],
)
async def test_router_objects_round_trip(
    mesh: Kube, provider: str, analysis: dict[str, Any], split: tuple[int, int]
) -> None:
    """The server keeps every field the router writes: the split reads back, and a render at
    that split writes nothing."""
    router = AppMeshRouter.for_provider(provider)
    c = canary(mesh, provider, **analysis)
    wanted = Split(routes=Routes(primary=split[0], canary=split[1]))
    live = await create_all(mesh, router, c, wanted)
    assert router.read_routes(c, live) == wanted.routes
    assert router.render(c, live, wanted, canary_uid=UID) == ()


# ------------------------------------------------------------ validation


async def test_weight_above_100_is_refused(mesh: Kube) -> None:
    found = await rejected(mesh, router_doc(weight=-1), "virtualrouters")
    assert any("weight" in field for field in found), found


async def test_unknown_listener_protocol_is_refused(mesh: Kube) -> None:
    body = router_doc()
    body["spec"]["listeners"][0]["portMapping"]["protocol"] = "https"
    found = await rejected(mesh, body, "virtualrouters")
    assert any("protocol" in field for field in found), found


async def test_route_priority_range(mesh: Kube) -> None:
    found = await rejected(mesh, router_doc(priority=1001), "virtualrouters")
    assert any("priority" in field for field in found), found


async def test_unknown_retry_event_is_refused(mesh: Kube) -> None:
    policy = {
        "maxRetries": 2,
        "perRetryTimeout": {"unit": "ms", "value": 1000},
        "httpRetryEvents": ["5xx"],
    }
    body = router_doc()
    body["spec"]["routes"][0]["httpRoute"]["retryPolicy"] = policy
    found = await rejected(mesh, body, "virtualrouters")
    assert any("httpRetryEvents" in field for field in found), found


async def test_duration_unit_is_s_or_ms(mesh: Kube) -> None:
    body = router_doc()
    body["spec"]["routes"][0]["httpRoute"]["timeout"] = {"perRequest": {"unit": "m", "value": 1}}
    found = await rejected(mesh, body, "virtualrouters")
    assert any("unit" in field for field in found), found


async def test_virtual_node_port_range(mesh: Kube) -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "podinfo"}},
        "listeners": [{"portMapping": {"port": 70000, "protocol": "http"}}],
        "serviceDiscovery": {"dns": {"hostname": "podinfo.test.svc.cluster.local"}},
    }
    found = await rejected(mesh, doc("VirtualNode", "podinfo", spec), "virtualnodes")
    assert any("port" in field for field in found), found


@pytest.mark.local_only(V1BETA1)
async def test_v1beta1_weighted_target_needs_a_node_name(mesh: Kube) -> None:
    spec = {
        "meshName": "global",
        "virtualRouter": {"name": "podinfo"},
        "routes": [
            {
                "name": "podinfo",
                "http": {"match": {"prefix": "/"}, "action": {"weightedTargets": [{"weight": 1}]}},
            }
        ],
    }
    body = doc("VirtualService", "podinfo.test", spec, version="v1beta1")
    found = await rejected(mesh, body, "virtualservices")
    assert any("virtualNodeName" in field for field in found), found


async def test_mesh_is_cluster_scoped(mesh: Kube) -> None:
    name = mesh.name("mesh")
    body = doc("Mesh", name, {"namespaceSelector": {"matchLabels": {"mesh": name}}})
    response = await mesh.http.post(
        mesh.path(f"{GROUP}/v1beta2", "meshes", namespace=None), json=body
    )
    assert response.status_code == 201, response.text

    async def remove() -> None:
        await mesh.http.delete(mesh.path(f"{GROUP}/v1beta2", "meshes", name, namespace=None))

    mesh.defer(remove)
    assert response.json()["spec"]["namespaceSelector"] == {"matchLabels": {"mesh": name}}
