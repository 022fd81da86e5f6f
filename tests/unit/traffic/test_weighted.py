"""TraefikService, Kuma TrafficRoute, APISIX ApisixRoute and Skipper Ingresses read as their
data planes read them, alone and through `live_split` with the objects the routers write."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.model import parse_canary
from ensign.routers.protocol import Split as RouterSplit
from ensign.routers.registry import make_router
from ensign.traffic.model import Objects, live_split
from ensign.traffic.request import Request
from ensign.traffic.skipper import route_skipper, rules_of_skipper
from ensign.traffic.weighted import (
    route_apisix,
    route_kuma,
    route_traefik,
    rules_of_weighted,
    weighted_hosts,
)
from tests.unit.routers.golden import Objects as View

UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"
PLAIN = Request(host="app.example.com", path="/")


def traefik_service(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"weighted": {"services": list(entries)}},
    }


def test_traefik_weighted_round_robin() -> None:
    obj = traefik_service(
        {"name": "podinfo-primary", "weight": 90}, {"name": "podinfo-canary", "weight": 10}
    )
    routing = route_traefik([obj], PLAIN, apex="podinfo")
    assert routing.percent("podinfo-primary") == 90.0
    assert routing.percent("podinfo-canary") == 10.0
    assert routing.enforced_by == "TraefikService test/podinfo"


def test_traefik_missing_weight_is_one_and_zero_total_is_500() -> None:
    routing = route_traefik([traefik_service({"name": "a"}, {"name": "b"})], PLAIN, apex="podinfo")
    assert routing.percent("a") == routing.percent("b") == 50.0
    zero = traefik_service({"name": "a", "weight": 0})
    assert route_traefik([zero], PLAIN, apex="podinfo").status == 500
    missing = route_traefik([], PLAIN, apex="podinfo")
    assert (missing.status, missing.reason) == (503, "TraefikService podinfo not found")


def trafficroute(apex: str, p: int, c: int) -> dict[str, Any]:
    def tag(name: str) -> dict[str, str]:
        return {"kuma.io/service": f"{name}_test_svc_80"}

    return {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "TrafficRoute",
        "metadata": {"name": apex},
        "mesh": "default",
        "spec": {
            "sources": [{"match": {"kuma.io/service": "*"}}],
            "destinations": [{"match": tag(apex)}],
            "conf": {
                "split": [
                    {"weight": p, "destination": tag(f"{apex}-primary")},
                    {"weight": c, "destination": tag(f"{apex}-canary")},
                ]
            },
        },
    }


def test_kuma_split_by_destination_tag() -> None:
    routing = route_kuma([trafficroute("podinfo", 70, 30)], PLAIN, apex="podinfo")
    assert routing is not None
    assert (routing.percent("podinfo-primary"), routing.percent("podinfo-canary")) == (70, 30)
    assert route_kuma([trafficroute("other", 70, 30)], PLAIN, apex="podinfo") is None
    (rule,) = rules_of_weighted(trafficroute("podinfo", 70, 30))
    assert rule.matches == ("from * to podinfo_test_svc_80 (mesh default)",)


def apisix_route(name: str, http: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"http": http},
    }


def http(name: str, backends: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    return {"name": name, "match": {"paths": ["/*"], **match}, "backends": backends}


def test_apisix_highest_priority_wins() -> None:
    user = apisix_route("podinfo", [http("main", [{"serviceName": "podinfo"}])])
    canary_http = http(
        "main",
        [
            {"serviceName": "podinfo-primary", "weight": 80},
            {"serviceName": "podinfo-canary", "weight": 20},
        ],
    )
    canary_http["priority"] = 10000
    canary = apisix_route("podinfo-podinfo-canary", [canary_http])
    routing = route_apisix([user, canary], PLAIN)
    assert (routing.percent("podinfo-primary"), routing.percent("podinfo-canary")) == (80, 20)
    assert routing.enforced_by == "ApisixRoute test/podinfo-podinfo-canary http main priority 10000"
    assert route_apisix([user], PLAIN).percent("podinfo") == 100.0


@pytest.mark.parametrize(
    ("match", "request_", "hit"),
    [
        ({"hosts": ["app.example.com"]}, PLAIN, True),
        ({"hosts": ["other.example.com"]}, PLAIN, False),
        ({"hosts": ["*.example.com"]}, PLAIN, True),
        ({"methods": ["POST"]}, PLAIN, False),
        ({"paths": ["/api"]}, Request(host="a", path="/api"), True),
        ({"paths": ["/api"]}, Request(host="a", path="/api/v1"), False),
        ({"paths": ["/api/*"]}, Request(host="a", path="/api/v1"), True),
        ({"exprs": [{"subject": {"scope": "Header", "name": "x"}, "op": "Equal"}]}, PLAIN, False),
    ],
)
def test_apisix_match(match: dict[str, Any], request_: Request, hit: bool) -> None:
    route = apisix_route("r", [http("main", [{"serviceName": "s"}], **match)])
    assert (route_apisix([route], request_).status == 200) is hit


def test_apisix_hosts_and_rules_for_display() -> None:
    route = apisix_route("r", [http("main", [{"serviceName": "s"}], hosts=["a.example.com"])])
    assert weighted_hosts(route) == ("a.example.com",)
    (rule,) = rules_of_weighted(route)
    assert rule.label == "http[0]"
    assert rule.matches == ("name main, priority 0, hosts a.example.com, paths /*",)


def ingress(name: str, services: list[str], annotations: dict[str, str]) -> dict[str, Any]:
    paths = [
        {
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": s, "port": {"number": 80}}},
        }
        for s in services
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "test", "annotations": annotations},
        "spec": {"rules": [{"host": "app.example.com", "http": {"paths": paths}}]},
    }


def skipper_canary(p: int, c: int, predicate: str = "Weight(100)") -> dict[str, Any]:
    weights = json.dumps({"podinfo-primary": p, "podinfo-canary": c})
    annotations = {
        "zalando.org/backend-weights": weights,
        "zalando.org/skipper-predicate": predicate,
    }
    return ingress("podinfo-canary", ["podinfo-primary", "podinfo-canary"], annotations)


def test_skipper_weighted_canary_ingress_wins() -> None:
    user = ingress("podinfo", ["podinfo"], {})
    routing = route_skipper([user, skipper_canary(60, 40)], PLAIN)
    assert (routing.percent("podinfo-primary"), routing.percent("podinfo-canary")) == (60, 40)
    disabled = route_skipper([user, skipper_canary(100, 0, "False()")], PLAIN)
    assert disabled.percent("podinfo") == 100.0
    assert route_skipper([], PLAIN).status == 404
    (rule,) = rules_of_skipper(skipper_canary(60, 40))
    assert rule.matches == ("host app.example.com Prefix / [Weight(100)]",)


# ------------------------------------------------------------------ through live_split


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {"selector": {"app": "podinfo-primary"}},
}


def canary_body(provider: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "provider": provider,
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 80, "targetPort": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    }
    spec.update(extra)
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": UID},
        "spec": spec,
    }


USER_OBJECTS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "traefik": ({}, []),
    "kuma": ({}, []),
    "skipper": (
        {
            "ingressRef": {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "name": "podinfo",
            }
        },
        [ingress("podinfo", ["podinfo"], {})],
    ),
    "apisix": (
        {
            "routeRef": {
                "apiVersion": "apisix.apache.org/v2",
                "kind": "ApisixRoute",
                "name": "podinfo",
            }
        },
        [
            apisix_route(
                "podinfo",
                [
                    http(
                        "main",
                        [{"serviceName": "podinfo", "servicePort": 80}],
                        hosts=["app.example.com"],
                    )
                ],
            )
        ],
    ),
}


@pytest.mark.parametrize("provider", sorted(USER_OBJECTS))
@pytest.mark.parametrize(("primary", "canary"), [(100, 0), (90, 10), (50, 50), (0, 100)])
def test_live_split_reads_what_the_router_wrote(provider: str, primary: int, canary: int) -> None:
    extra, user = USER_OBJECTS[provider]
    body = canary_body(provider, **extra)
    view = View(copy.deepcopy(user))
    router = make_router(provider)
    split = RouterSplit(routes=Routes(primary=primary, canary=canary))
    for change in router.render(parse_canary(body), view, split, canary_uid=UID):
        view.apply(change)
    live = live_split(body, *view.bodies, SERVICE)
    assert (live.plain.primary, live.plain.canary) == (primary, canary), live.plain
    assert live.plain.status == 200


def test_objects_of_sorts_the_weighted_kinds() -> None:
    objects = Objects.of(
        [traefik_service(), trafficroute("podinfo", 100, 0), apisix_route("r", [])]
    )
    assert [o["kind"] for o in objects.weighted] == [
        "TraefikService",
        "TrafficRoute",
        "ApisixRoute",
    ]


def test_kuma_without_route_falls_back_to_the_apex_service() -> None:
    live = live_split(canary_body("kuma"), SERVICE)
    assert (live.plain.primary, live.plain.canary) == (100.0, 0.0)
    assert live.plain.enforced_by.startswith("Service test/podinfo")


# ------------------------------------------------------------------ ensign describe


@pytest.mark.parametrize("provider", sorted(USER_OBJECTS))
def test_describe_lists_the_objects_and_the_split(provider: str) -> None:
    from ensign.console.graph import Objects as GraphObjects
    from ensign.console.graph import build_graph
    from ensign.console.routing import build_traffic

    extra, user = USER_OBJECTS[provider]
    body = canary_body(provider, **extra)
    view = View(copy.deepcopy(user))
    split = RouterSplit(routes=Routes(primary=75, canary=25))
    for change in make_router(provider).render(parse_canary(body), view, split, canary_uid=UID):
        view.apply(change)
    ingresses = [b for b in view.bodies if b["kind"] == "Ingress"]
    weighted = [b for b in view.bodies if b["kind"] != "Ingress"]
    traffic = build_traffic(
        body, routes=(), ingresses=ingresses, services=[SERVICE], workloads=(), weighted=weighted
    )
    assert traffic.routes_traffic
    assert all(o.present for o in traffic.objects), traffic.objects
    assert traffic.plain is not None
    assert (traffic.plain.primary, traffic.plain.canary) == (75.0, 25.0)
    graph = build_graph(
        body,
        GraphObjects(services={"podinfo": SERVICE}, ingresses=ingresses, weighted=weighted),
    )
    assert graph is not None


def test_describe_names_what_is_missing() -> None:
    from ensign.console.routing import build_traffic

    traffic = build_traffic(
        canary_body("kuma"), routes=(), ingresses=(), services=[SERVICE], workloads=()
    )
    assert traffic.plain is None
    assert traffic.notes == ("TrafficRoute podinfo: not found",)
    apisix = build_traffic(
        canary_body("apisix"),
        routes=(),
        ingresses=(),
        services=[SERVICE],
        workloads=(),
        missing_kinds=("ApisixRoute",),
    )
    assert apisix.notes[0] == "ApisixRoute : spec.routeRef is not set"
