"""The traffic model on Contour HTTPProxies and Gloo RouteTables: what the routers write, read
back as the data plane reads it (weights, A/B conditions and matchers, route precedence)."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.model import parse_canary
from ensign.routers.contour import ContourRouter
from ensign.routers.gloo import GlooRouter
from ensign.routers.protocol import Split
from ensign.traffic import (
    Request,
    live_split,
    route_httpproxy,
    route_routetable,
    rules_of_httpproxy,
    rules_of_routetable,
)
from tests.unit.routers.golden import Objects

UID = "uid"
SERVICES = [
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"selector": {"app": app}},
    }
    for name, app in (("podinfo-primary", "podinfo-primary"), ("podinfo-canary", "podinfo"))
]


def canary_body(provider: str, ab: bool) -> dict[str, Any]:
    analysis: dict[str, Any] = {"interval": "1m", "threshold": 5}
    if ab:
        analysis |= {
            "iterations": 5,
            "match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"user-agent": {"prefix": "Mozilla"}}},
            ],
        }
    else:
        analysis |= {"stepWeight": 10}
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": UID},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898, "targetPort": 9898},
            "analysis": analysis,
        },
    }


def written(provider: str, routes: Routes, *, ab: bool = False) -> tuple[dict[str, Any], list[Any]]:
    body = canary_body(provider, ab)
    router = ContourRouter() if provider == "contour" else GlooRouter()
    objects = Objects(SERVICES)
    for change in router.render(parse_canary(body), objects, Split(routes=routes), canary_uid=UID):
        objects.apply(change)
    return body, [o for o in objects.bodies if o["kind"] != "Service"]


@pytest.mark.parametrize("provider", ["contour", "gloo"])
@pytest.mark.parametrize("weight", [0, 10, 50, 100])
def test_live_split_follows_the_weights(provider: str, weight: int) -> None:
    body, objs = written(provider, Routes(primary=100 - weight, canary=weight))
    live = live_split(body, *objs, *SERVICES)
    assert (live.plain.primary, live.plain.canary) == (100.0 - weight, float(weight))
    assert live.matched is None
    assert live.plain.enforced_by.endswith("route 0")


@pytest.mark.parametrize("provider", ["contour", "gloo"])
def test_ab_matching_requests_only(provider: str) -> None:
    body, objs = written(provider, Routes(primary=0, canary=100), ab=True)
    live = live_split(body, *objs, *SERVICES)
    assert (live.plain.primary, live.plain.canary) == (100.0, 0.0)
    assert live.matched is not None
    assert (live.matched.primary, live.matched.canary) == (0.0, 100.0)


def test_contour_prefix_and_suffix_become_contains() -> None:
    _, objs = written("contour", Routes(primary=0, canary=100), ab=True)
    routing = route_httpproxy(objs, Request(path="/", headers={"User-Agent": "x Mozilla/5"}))
    assert routing.percent("podinfo-canary") == 100.0  # contains, as Flagger writes it


def test_contour_precedence_and_even_split() -> None:
    proxy = {
        "kind": "HTTPProxy",
        "metadata": {"name": "p", "namespace": "t"},
        "spec": {
            "routes": [
                {"conditions": [{"prefix": "/"}], "services": [{"name": "a", "port": 80}]},
                {
                    "conditions": [{"prefix": "/api"}],
                    "services": [{"name": "b", "port": 80}, {"name": "c", "port": 80}],
                },
                {
                    "conditions": [{"prefix": "/"}, {"header": {"name": "x", "notpresent": True}}],
                    "services": [{"name": "d", "port": 80, "weight": 1}],
                },
            ]
        },
    }
    api = route_httpproxy([proxy], Request(path="/api/v1", headers={"x": "1"}))
    assert (api.percent("b"), api.percent("c")) == (50.0, 50.0)
    assert route_httpproxy([proxy], Request(path="/")).percent("d") == 100.0
    assert route_httpproxy([proxy], Request(path="/", headers={"x": "1"})).percent("a") == 100.0
    assert [r.label for r in rules_of_httpproxy(proxy)] == ["routes[0]", "routes[1]", "routes[2]"]
    assert rules_of_httpproxy(proxy)[2].matches == ("prefix /, header x absent",)


def test_gloo_matchers_methods_regex_and_upstream_names() -> None:
    _, objs = written("gloo", Routes(primary=0, canary=100), ab=True)
    tables = [o for o in objs if o["kind"] == "RouteTable"]
    upstreams = [o for o in objs if o["kind"] == "Upstream"]
    ua = Request(headers={"user-agent": "Mozilla/5.0"})
    assert route_routetable(tables, ua, upstreams=upstreams).percent("podinfo-canary") == 100.0
    assert route_routetable(tables, ua).percent("podinfo-canary") == 100.0  # by naming
    other = Request(headers={"user-agent": "curl"})
    assert route_routetable(tables, other).percent("podinfo-primary") == 100.0
    rules = rules_of_routetable(tables[0])
    assert rules[0].matches == (
        "inherited path, header x-canary=insider",
        "inherited path, header user-agent ~ Mozilla.*",
    )
    assert rules[1].matches == ("inherited path",)


def test_gloo_zero_weights_and_no_route() -> None:
    table = {
        "kind": "RouteTable",
        "metadata": {"name": "t"},
        "spec": {
            "routes": [
                {
                    "matchers": [{"methods": ["POST"]}],
                    "routeAction": {
                        "multi": {
                            "destinations": [
                                {"destination": {"upstream": {"name": "u"}}, "weight": 0}
                            ]
                        }
                    },
                }
            ]
        },
    }
    assert route_routetable([table], Request(method="POST")).status == 503
    assert route_routetable([table], Request(method="GET")).status == 404
