"""Contour and Gloo CRDs (HTTPProxy; Upstream and RouteTable): served, what the routers write
is kept as written (so a render at the split read back writes nothing), the status
subresource, and the validation users trip over.

On a real cluster the tests use the CRDs already installed there and install ours only when
there are none.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from ensign.engine.weights import Routes
from ensign.kube.kinds import Kind
from ensign.localcluster.crd_bundles import bundle_crds
from ensign.model import Canary, parse_canary
from ensign.routers.contour import ContourRouter
from ensign.routers.gloo import GlooRouter
from ensign.routers.protocol import CreateObject, ObjectChange, Split
from tests.contract._support import Kube, assert_status_response, causes

UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"


@pytest.fixture
async def crds(kube: Kube) -> AsyncIterator[Kube]:
    for doc in [*bundle_crds("contour"), *bundle_crds("gloo")]:
        if not kube.is_local:
            try:
                await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
                continue  # installed upstream: test against it, never modify it
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        await kube.install_crd(doc)
    yield kube


def canary(kube: Kube, provider: str, name: str = "", **analysis: Any) -> Canary:
    extra: dict[str, Any] = {"name": name} if name else {}
    if provider == "contour":  # Gloo has no timeouts
        extra |= {
            "timeout": "15s",
            "retries": {"attempts": 3, "perTryTimeout": "5s", "retryOn": "5xx,reset"},
        }
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": kube.namespace, "uid": UID},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898, "targetPort": 9898, **extra},
                "analysis": {"interval": "1m", "threshold": 5, **analysis},
            },
        }
    )


class Live:
    """An ObjectView over what the server answered."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Mapping[str, Any]] = {}

    def get(self, kind: Kind, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.objects.get((kind.kind, namespace, name))

    def put(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        self.objects[(str(body["kind"]), str(meta["namespace"]), str(meta["name"]))] = body


async def write(kube: Kube, change: ObjectChange, live: Live) -> dict[str, Any]:
    assert isinstance(change, CreateObject)
    body = copy.deepcopy(dict(change.body))
    body["metadata"].pop("ownerReferences", None)  # no Canary object to own them here
    path = kube.path(change.kind.api_version, change.kind.plural)
    response = await kube.http.post(path, json=body)
    assert response.status_code == 201, response.text
    written: dict[str, Any] = response.json()
    written["metadata"]["ownerReferences"] = change.body["metadata"]["ownerReferences"]
    live.put(written)
    return written


async def post(kube: Kube, api_version: str, plural: str, body: dict[str, Any]) -> Any:
    return await kube.http.post(kube.path(api_version, plural), json=body)


# ------------------------------------------------------------ contour


async def test_httpproxy_round_trip_writes_nothing_more(crds: Kube) -> None:
    for ab in (False, True):
        live = Live()
        analysis: dict[str, Any] = (
            {"iterations": 5, "match": [{"headers": {"x-canary": {"exact": "on"}}}]}
            if ab
            else {"stepWeight": 10}
        )
        can = canary(crds, "contour", crds.name("ab") if ab else "", **analysis)
        router = ContourRouter(ingress_class="contour")
        split = Split(routes=Routes(primary=70, canary=30))
        (change,) = router.render(can, live, split, canary_uid=UID)
        assert isinstance(change, CreateObject)
        written = await write(crds, change, live)
        assert written["spec"] == change.body["spec"]
        assert router.read_routes(can, live) == split.routes
        assert router.render(can, live, split, canary_uid=UID) == ()


async def test_httpproxy_status_is_a_subresource(crds: Kube) -> None:
    body = {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": "podinfo"},
        "spec": {"routes": [{"services": [{"name": "podinfo-primary", "port": 9898}]}]},
        "status": {"currentStatus": "valid", "description": "valid HTTPProxy"},
    }
    response = await post(crds, "projectcontour.io/v1", "httpproxies", body)
    assert response.status_code == 201, response.text
    assert "currentStatus" not in (response.json().get("status") or {})


@pytest.mark.parametrize(
    ("service", "route", "field"),
    [
        ({"name": "a", "port": 0}, {}, "spec.routes[0].services[0].port"),
        ({"name": "a", "port": 80, "weight": -1}, {}, "spec.routes[0].services[0].weight"),
        ({"port": 80}, {}, "spec.routes[0].services[0].name"),
        ({"name": "a", "port": 80}, {"retryPolicy": {"retryOn": ["5xx "]}}, "retryOn"),
    ],
)
async def test_httpproxy_validation(
    crds: Kube, service: dict[str, Any], route: dict[str, Any], field: str
) -> None:
    body = {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": crds.name("bad")},
        "spec": {"routes": [{"services": [service], **route}]},
    }
    response = await post(crds, "projectcontour.io/v1", "httpproxies", body)
    status = assert_status_response(response, 422, "Invalid", kind="HTTPProxy")
    assert any(field in f for f in causes(status)) or field in str(status["message"])


# ------------------------------------------------------------ gloo


async def test_gloo_round_trip_writes_nothing_more(crds: Kube) -> None:
    live = Live()
    for name, app in (("podinfo-primary", "podinfo-primary"), ("podinfo-canary", "podinfo")):
        live.put(
            {
                "kind": "Service",
                "metadata": {"name": name, "namespace": crds.namespace},
                "spec": {"selector": {"app": app}},
            }
        )
    can = canary(
        crds,
        "gloo",
        iterations=5,
        match=[{"headers": {"x-canary": {"regex": "on|yes"}}, "method": {"exact": "GET"}}],
    )
    router = GlooRouter()
    split = Split(routes=Routes(primary=0, canary=100))
    changes = router.render(can, live, split, canary_uid=UID)
    assert [c.kind.kind for c in changes] == ["Upstream", "Upstream", "RouteTable"]
    for change in changes:
        assert isinstance(change, CreateObject)
        written = await write(crds, change, live)
        assert written["spec"] == change.body["spec"]
    assert router.read_routes(can, live) == split.routes
    assert router.render(can, live, split, canary_uid=UID) == ()


@pytest.mark.parametrize(
    ("plural", "spec", "field"),
    [
        ("upstreams", {"kube": {"serviceName": "a", "servicePort": 0}}, "servicePort"),
        ("upstreams", {"kube": {"servicePort": 80}}, "serviceName"),
        (
            "routetables",
            {
                "routes": [
                    {
                        "routeAction": {
                            "multi": {
                                "destinations": [
                                    {"destination": {"upstream": {"name": "a"}}, "weight": -5}
                                ]
                            }
                        }
                    }
                ]
            },
            "weight",
        ),
        ("routetables", {"routes": [{"matchers": [{"headers": [{"value": "x"}]}]}]}, "name"),
    ],
)
async def test_gloo_validation(crds: Kube, plural: str, spec: dict[str, Any], field: str) -> None:
    group = "gloo.solo.io" if plural == "upstreams" else "gateway.solo.io"
    kind = "Upstream" if plural == "upstreams" else "RouteTable"
    body = {
        "apiVersion": f"{group}/v1",
        "kind": kind,
        "metadata": {"name": crds.name("bad")},
        "spec": spec,
    }
    response = await post(crds, f"{group}/v1", plural, body)
    status = assert_status_response(response, 422, "Invalid", kind=kind)
    assert any(field in f for f in causes(status)) or field in str(status["message"])
