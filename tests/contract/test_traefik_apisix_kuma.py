"""Traefik (TraefikService), APISIX (ApisixRoute) and Kuma (TrafficRoute) CRDs: served, the
objects Ensign's routers write accepted unchanged, the validation users trip over, pruning,
and Kuma's cluster scope.

On a real cluster the tests use the CRDs already installed there, and install ours only when
there are none. Upstream bundles check less in their schemas (Kuma's accepts any spec and
leaves validation to its webhook), so the refusals are checked against our schemas only.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from ensign.engine.weights import Routes
from ensign.localcluster.crd_bundles import bundle_crds
from ensign.model import Canary, parse_canary
from ensign.routers.apisix import ApisixRouter
from ensign.routers.kuma import KumaRouter
from ensign.routers.protocol import CreateObject, Split
from ensign.routers.traefik import TraefikRouter
from tests.contract._support import Kube, assert_status_response, causes
from tests.unit.routers.golden import Objects

OURS = "our schema; upstream bundles check less"
UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"
TRAEFIK = ("traefik.io/v1alpha1", "traefikservices", "TraefikService", "traefik.io")
APISIX = ("apisix.apache.org/v2", "apisixroutes", "ApisixRoute", "apisix.apache.org")
KUMA = ("kuma.io/v1alpha1", "trafficroutes", "TrafficRoute", "kuma.io")


async def _install(kube: Kube, bundle: str) -> Kube:
    for doc in bundle_crds(bundle):
        if not kube.is_local:
            try:
                await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
                continue  # installed upstream: test against it, never modify it
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        await kube.install_crd(doc, served_namespace=doc["spec"]["scope"] == "Namespaced")
    return kube


@pytest.fixture
async def traefik(kube: Kube) -> AsyncIterator[Kube]:
    yield await _install(kube, "traefik")


@pytest.fixture
async def apisix(kube: Kube) -> AsyncIterator[Kube]:
    yield await _install(kube, "apisix")


@pytest.fixture
async def kuma(kube: Kube) -> AsyncIterator[Kube]:
    yield await _install(kube, "kuma")


def canary(namespace: str, provider: str, **extra: Any) -> Canary:
    spec: dict[str, Any] = {
        "provider": provider,
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 80, "targetPort": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    }
    spec.update(extra)
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": namespace, "uid": UID},
            "spec": spec,
        }
    )


def written(changes: tuple[Any, ...]) -> dict[str, Any]:
    (change,) = changes
    assert isinstance(change, CreateObject)
    body = copy.deepcopy(dict(change.body))
    body["metadata"].pop("ownerReferences", None)  # the Canary does not exist here
    return body


async def post(kube: Kube, which: tuple[str, str, str, str], doc: dict[str, Any]) -> Any:
    api_version, plural, _, _ = which
    namespace = "" if which is not KUMA else None
    return await kube.http.post(kube.path(api_version, plural, namespace=namespace), json=doc)


async def created(kube: Kube, which: tuple[str, str, str, str], doc: dict[str, Any]) -> Any:
    response = await post(kube, which, doc)
    assert response.status_code == 201, response.text
    if which is KUMA:
        name = doc["metadata"]["name"]

        async def remove() -> None:
            await kube.http.delete(kube.path(KUMA[0], KUMA[1], name, namespace=None))

        kube.defer(remove)
    return response.json()


async def rejected(
    kube: Kube, which: tuple[str, str, str, str], doc: dict[str, Any]
) -> tuple[dict[str, str], str]:
    response = await post(kube, which, doc)
    _, _, kind, group = which
    body = assert_status_response(
        response, 422, "Invalid", name=doc["metadata"]["name"], kind=kind, group=group
    )
    return causes(body), str(body["message"])


def _names(found: dict[str, str], message: str, field: str) -> bool:
    return any(field in f for f in found) or field in message


# ------------------------------------------------------------ Traefik


STEP = Routes(primary=90, canary=10)


def traefik_doc(kube: Kube) -> dict[str, Any]:
    router = TraefikRouter()
    changes = router.render(
        canary(kube.namespace, "traefik"), Objects([]), Split(routes=STEP), canary_uid=UID
    )
    return written(changes)


async def test_traefik_service_written_by_the_router_is_kept(traefik: Kube) -> None:
    doc = traefik_doc(traefik)
    body = await created(traefik, TRAEFIK, doc)
    assert body["spec"] == doc["spec"]
    assert body["metadata"]["annotations"] == doc["metadata"]["annotations"]
    response = await traefik.http.get(traefik.path(TRAEFIK[0], TRAEFIK[1], "podinfo"))
    assert response.json()["spec"]["weighted"]["services"][1]["weight"] == 10


async def test_traefik_service_port_by_name_and_sticky_are_kept(traefik: Kube) -> None:
    doc = traefik_doc(traefik)
    doc["spec"]["weighted"]["services"][0]["port"] = "http"
    doc["spec"]["weighted"]["sticky"] = {"cookie": {"name": "lb", "httpOnly": True}}
    body = await created(traefik, TRAEFIK, doc)
    assert body["spec"] == doc["spec"]


@pytest.mark.local_only(OURS)
async def test_traefik_service_unknown_fields_are_pruned(traefik: Kube) -> None:
    doc = traefik_doc(traefik)
    doc["spec"]["weighted"]["services"][0]["colour"] = "blue"
    body = await created(traefik, TRAEFIK, doc)
    assert "colour" not in body["spec"]["weighted"]["services"][0]


@pytest.mark.local_only(OURS)
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight": -1}, "spec.weighted.services[0].weight"),
        ({"kind": "Deployment"}, "spec.weighted.services[0].kind"),
        ({"name": None}, "spec.weighted.services[0].name"),
    ],
)
async def test_traefik_service_refusals(traefik: Kube, change: dict[str, Any], field: str) -> None:
    doc = traefik_doc(traefik)
    entry = doc["spec"]["weighted"]["services"][0]
    for key, value in change.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    found, message = await rejected(traefik, TRAEFIK, doc)
    assert _names(found, message, field), (found, message)


# ------------------------------------------------------------ APISIX


def user_route() -> dict[str, Any]:
    return {
        "apiVersion": APISIX[0],
        "kind": "ApisixRoute",
        "metadata": {"name": "podinfo", "labels": {"app": "podinfo"}},
        "spec": {
            "ingressClassName": "apisix",
            "http": [
                {
                    "name": "podinfo",
                    "priority": 5,
                    "match": {"hosts": ["app.example.com"], "paths": ["/*"], "methods": ["GET"]},
                    "plugins": [
                        {"name": "proxy-rewrite", "enable": True, "config": {"uri": "/"}},
                    ],
                    "backends": [
                        {
                            "serviceName": "podinfo",
                            "servicePort": 80,
                            "resolveGranularity": "service",
                            "subset": "stable",
                        }
                    ],
                }
            ],
            "stream": [
                {
                    "name": "tcp",
                    "protocol": "TCP",
                    "match": {"ingressPort": 9100},
                    "backend": {"serviceName": "podinfo", "servicePort": 9100},
                }
            ],
        },
    }


async def test_user_route_and_canary_route_are_kept(apisix: Kube) -> None:
    user = user_route()
    got = await created(apisix, APISIX, user)
    assert got["spec"] == user["spec"]
    got["metadata"]["namespace"] = apisix.namespace
    can = canary(
        apisix.namespace,
        "apisix",
        routeRef={"apiVersion": APISIX[0], "kind": "ApisixRoute", "name": "podinfo"},
    )
    split = Split(routes=Routes(primary=70, canary=30))
    doc = written(ApisixRouter().render(can, Objects([got]), split, canary_uid=UID))
    assert doc["metadata"]["name"] == "podinfo-podinfo-canary"
    body = await created(apisix, APISIX, doc)
    assert body["spec"] == doc["spec"]
    assert [b["weight"] for b in body["spec"]["http"][0]["backends"]] == [70, 30]


@pytest.mark.local_only(OURS)
@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("http", 0, "backends", 0, "weight"), -5, "weight"),
        (("http", 0, "backends", 0, "resolveGranularity"), "pod", "resolveGranularity"),
        (("http", 0, "backends", 0, "serviceName"), None, "serviceName"),
        (("http", 0, "name"), None, "spec.http[0].name"),
        (("http", 0, "match", "paths"), [], "paths"),
        (("http", 0, "match", "methods"), ["FETCH"], "methods"),
        (("stream", 0, "protocol"), "SCTP", "protocol"),
    ],
)
async def test_apisix_route_refusals(
    apisix: Kube, path: tuple[Any, ...], value: Any, field: str
) -> None:
    doc = user_route()
    target: Any = doc["spec"]
    for step in path[:-1]:
        target = target[step]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    found, message = await rejected(apisix, APISIX, doc)
    assert _names(found, message, field), (found, message)


# ------------------------------------------------------------ Kuma


def kuma_doc(kube: Kube) -> dict[str, Any]:
    # Cluster-scoped: a unique apex name so tests never collide on a shared cluster.
    apex = kube.name("podinfo")
    can = canary(kube.namespace, "kuma", service={"name": apex, "port": 80, "targetPort": 9898})
    split = Split(routes=Routes(primary=80, canary=20))
    return written(KumaRouter().render(can, Objects([]), split, canary_uid=UID))


async def test_traffic_route_written_by_the_router_is_kept(kuma: Kube) -> None:
    doc = kuma_doc(kuma)
    body = await created(kuma, KUMA, doc)
    assert body["mesh"] == "default"
    assert body["spec"] == doc["spec"]
    assert "namespace" not in body["metadata"]
    listed = await kuma.http.get(kuma.path(KUMA[0], KUMA[1], namespace=None))
    names = [item["metadata"]["name"] for item in listed.json()["items"]]
    assert doc["metadata"]["name"] in names


async def test_traffic_route_is_cluster_scoped(kuma: Kube) -> None:
    response = await kuma.http.get(f"/apis/{KUMA[0]}")
    resources = {r["name"]: r for r in response.json()["resources"]}
    assert resources["trafficroutes"]["namespaced"] is False
    namespaced = await kuma.http.get(kuma.path(KUMA[0], KUMA[1]))
    assert namespaced.status_code == 404


@pytest.mark.local_only(OURS)
@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda spec: spec["conf"]["split"][0].update(weight=-1), "weight"),
        (lambda spec: spec.pop("sources"), "sources"),
        (lambda spec: spec["destinations"][0].pop("match"), "match"),
        (lambda spec: spec["conf"]["split"][1].pop("destination"), "destination"),
    ],
)
async def test_traffic_route_refusals(kuma: Kube, change: Any, field: str) -> None:
    doc = kuma_doc(kuma)
    change(doc["spec"])
    found, message = await rejected(kuma, KUMA, doc)
    assert _names(found, message, field), (found, message)


@pytest.mark.local_only(OURS)
async def test_traffic_route_empty_mesh_is_refused(kuma: Kube) -> None:
    doc = kuma_doc(kuma)
    doc["mesh"] = ""
    found, message = await rejected(kuma, KUMA, doc)
    assert _names(found, message, "mesh"), (found, message)
