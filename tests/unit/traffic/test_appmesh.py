"""The traffic model over App Mesh objects: the objects the `appmesh` routers write, read as
the Envoy sidecars read them (VirtualService → VirtualRouter → weighted virtual nodes →
the Services they discover)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.model import parse_canary
from ensign.routers.appmesh import AppMeshRouter
from ensign.routers.protocol import Split
from ensign.traffic import Request, live_split
from ensign.traffic.appmesh import describe_appmesh_match, route_appmesh, rules_of_appmesh
from tests.unit.routers.golden import Objects

UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"
AB = {
    "interval": "1m",
    "threshold": 5,
    "iterations": 10,
    "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
}


def canary_body(provider: str, analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898, "meshName": "global"},
            "analysis": analysis or {"interval": "1m", "threshold": 5, "stepWeight": 10},
        },
    }


def mesh_objects(body: dict[str, Any], p: int, c: int, *, matched: bool = True) -> list[Any]:
    router = AppMeshRouter.for_provider(body["spec"]["provider"])
    objects = Objects([])
    split = Split(routes=Routes(primary=p, canary=c), matched_only=matched)
    for change in router.render(parse_canary(copy.deepcopy(body)), objects, split, canary_uid=UID):
        objects.apply(change)
    return objects.bodies


PROVIDERS = pytest.mark.parametrize("provider", ["appmesh", "appmesh:v1beta2"])


@PROVIDERS
def test_plain_request_follows_the_weights(provider: str) -> None:
    body = canary_body(provider)
    live = live_split(body, *mesh_objects(body, 90, 10))
    assert (live.plain.primary, live.plain.canary) == (90.0, 10.0)
    assert "route 0 (podinfo)" in live.plain.enforced_by
    assert live.matched is None


@PROVIDERS
def test_ab_matching_request_goes_to_the_canary_others_to_the_primary(provider: str) -> None:
    body = canary_body(provider, AB)
    live = live_split(body, *mesh_objects(body, 0, 100))
    assert (live.plain.primary, live.plain.canary) == (100.0, 0.0)
    assert "podinfo-b" in live.plain.enforced_by
    assert live.matched is not None
    assert (live.matched.primary, live.matched.canary) == (0.0, 100.0)
    assert "podinfo-a" in live.matched.enforced_by


@PROVIDERS
def test_ab_all_traffic_split(provider: str) -> None:
    body = canary_body(provider, AB)
    live = live_split(body, *mesh_objects(body, 30, 70, matched=False))
    assert (live.plain.primary, live.plain.canary) == (30.0, 70.0)


@PROVIDERS
@pytest.mark.parametrize(
    "host", ["podinfo-canary.test", "podinfo-canary", "podinfo-canary.test.svc.cluster.local"]
)
def test_canary_virtual_service_reaches_the_canary_only(provider: str, host: str) -> None:
    body = canary_body(provider)
    routing = route_appmesh(mesh_objects(body, 90, 10), Request(host=host), apex="podinfo")
    assert [(d.service, d.percent) for d in routing.destinations] == [
        ("podinfo-primary", 0.0),
        ("podinfo-canary", 100.0),
    ]


def test_unknown_host_is_404() -> None:
    body = canary_body("appmesh:v1beta2")
    routing = route_appmesh(mesh_objects(body, 90, 10), Request(host="other.test"), apex="podinfo")
    assert routing.status == 404


def test_no_objects_is_404() -> None:
    assert route_appmesh([], Request(), apex="podinfo").status == 404


def test_missing_router_is_503() -> None:
    body = canary_body("appmesh:v1beta2")
    objects = [o for o in mesh_objects(body, 90, 10) if o["kind"] != "VirtualRouter"]
    routing = route_appmesh(objects, Request(host="podinfo.test"), apex="podinfo")
    assert routing.status == 503
    assert "VirtualRouter podinfo not found" in routing.reason


def test_all_zero_weights_is_500() -> None:
    body = canary_body("appmesh:v1beta2")
    objects = mesh_objects(body, 90, 10)
    for obj in objects:
        if obj["kind"] == "VirtualRouter":
            for target in obj["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"]:
                target["weight"] = 0
    assert route_appmesh(objects, Request(host="podinfo.test"), apex="podinfo").status == 500


def router(routes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualRouter",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"routes": routes},
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "awsName": "podinfo.test",
            "provider": {"virtualRouter": {"virtualRouterRef": {"name": "podinfo"}}},
        },
    }


def route(name: str, node: str, priority: int | None = None, **match: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "httpRoute": {
            "match": {"prefix": "/", **match},
            "action": {"weightedTargets": [{"virtualNodeRef": {"name": node}, "weight": 1}]},
        },
    }
    if priority is not None:
        body["priority"] = priority
    return body


def test_routes_are_tried_by_priority() -> None:
    objects = [
        service(),
        router(
            [
                route("catch-all", "podinfo-primary", 20),
                route("beta", "podinfo-canary", 10, headers=[{"name": "x-beta"}]),
            ]
        ),
    ]
    beta = route_appmesh(objects, Request(host="podinfo.test", headers={"x-beta": "1"}), apex="x")
    assert beta.destinations[0].service == "podinfo-canary"
    plain = route_appmesh(objects, Request(host="podinfo.test"), apex="x")
    assert plain.destinations[0].service == "podinfo-primary"


@pytest.mark.parametrize(
    ("entry", "headers", "selected"),
    [
        ({"name": "x", "match": {"prefix": "ab"}}, {"x": "abc"}, True),
        ({"name": "x", "match": {"suffix": "bc"}}, {"x": "abc"}, True),
        ({"name": "x", "match": {"regex": "a.c"}}, {"x": "abc"}, True),
        ({"name": "x", "match": {"regex": "a"}}, {"x": "abc"}, False),
        ({"name": "x", "match": {"range": {"start": 1, "end": 5}}}, {"x": "4"}, True),
        ({"name": "x", "match": {"range": {"start": 1, "end": 5}}}, {"x": "5"}, False),
        ({"name": "x", "match": {"exact": "a"}, "invert": True}, {"x": "b"}, True),
        ({"name": "x", "match": {"exact": "a"}, "invert": True}, {"x": "a"}, False),
    ],
)
def test_header_match_methods(
    entry: dict[str, Any], headers: dict[str, str], selected: bool
) -> None:
    objects = [
        service(),
        router([route("a", "podinfo-canary", 1, headers=[entry]), route("b", "podinfo-primary")]),
    ]
    routing = route_appmesh(objects, Request(host="podinfo.test", headers=headers), apex="x")
    assert (routing.destinations[0].service == "podinfo-canary") is selected


def test_prefix_and_query_parameters() -> None:
    objects = [
        service(),
        router(
            [
                route(
                    "api",
                    "podinfo-canary",
                    1,
                    prefix="/api",
                    queryParameters=[{"name": "beta", "match": {"exact": "1"}}],
                )
            ]
        ),
    ]
    hit = route_appmesh(objects, Request(host="podinfo.test", path="/api/x?beta=1"), apex="x")
    assert hit.destinations[0].service == "podinfo-canary"
    miss = route_appmesh(objects, Request(host="podinfo.test", path="/web?beta=1"), apex="x")
    assert miss.status == 404


def test_rules_for_display() -> None:
    body = canary_body("appmesh:v1beta2", AB)
    objects = mesh_objects(body, 0, 100)
    vr = next(
        o for o in objects if o["kind"] == "VirtualRouter" and o["metadata"]["name"] == "podinfo"
    )
    rules = rules_of_appmesh(vr, objects)
    assert [r.label for r in rules] == ["route 0 (podinfo-a)", "route 1 (podinfo-b)"]
    assert rules[0].matches == ("prefix /, header x-canary exact insider",)
    assert [(d.service, d.weight) for d in rules[0].routing.destinations] == [
        ("podinfo-primary", 0),
        ("podinfo-canary", 100),
    ]


def test_describe_match_without_conditions() -> None:
    assert describe_appmesh_match({}) == "any request"
