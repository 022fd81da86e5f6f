"""`ensign describe`'s routing: router objects, rules and the live split, from hand-built
objects in the shapes Flagger writes, rendered as text, JSON and SVG."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from rich.console import Console

from ensign.console import describing
from ensign.console.graph import Graph, Objects, build_graph, to_json
from ensign.console.render_svg import render_svg
from ensign.console.render_text import render
from ensign.kube.api import NotFound
from ensign.kube.kinds import CANARY as CANARY_KIND
from ensign.kube.kinds import (
    DEPLOYMENT,
    DESTINATIONRULE,
    HTTPROUTE_V1,
    HTTPROUTE_V1BETA1,
    INGRESS,
    SERVICE,
    VIRTUALSERVICE,
    Kind,
)

JSON = dict[str, Any]
P = "nginx.ingress.kubernetes.io"


def workload(name: str, app: str, ready: int) -> JSON:
    return {
        "metadata": {"name": name, "namespace": "test"},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "podinfo:1"}]},
            },
        },
        "status": {"readyReplicas": ready},
    }


def service(name: str, app: str) -> JSON:
    return {
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"selector": {"app": app}, "ports": [{"port": 9898}]},
    }


def canary(provider: str | None, **analysis: Any) -> JSON:
    spec: JSON = {
        "targetRef": {"kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898, "hosts": ["app.example.com"]},
        "ingressRef": {"name": "podinfo"},
        "analysis": {"interval": "1m", "stepWeight": 10, **analysis},
    }
    if provider:
        spec["provider"] = provider
    return {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": spec,
        "status": {"phase": "Progressing", "canaryWeight": 10},
    }


def ref(name: str, weight: int, **extra: Any) -> JSON:
    return {"group": "", "kind": "Service", "name": name, "port": 9898, "weight": weight, **extra}


def httproute() -> JSON:
    """Flagger's HTTPRoute at weight 10 with session affinity: [sticky canary, weighted]."""
    cookie = {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {
            "add": [{"name": "Set-Cookie", "value": "flagger-cookie=abc; Max-Age=21600"}]
        },
    }
    sticky_match = {
        "path": {"type": "PathPrefix", "value": "/"},
        "headers": [
            {"name": "Cookie", "type": "RegularExpression", "value": ".*flagger-cookie.*abc.*"}
        ],
    }
    return {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "hostnames": ["app.example.com"],
            "rules": [
                {
                    "matches": [sticky_match],
                    "backendRefs": [
                        ref("podinfo-primary", 0),
                        ref("podinfo-canary", 100, filters=[cookie]),
                    ],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        ref("podinfo-primary", 90),
                        ref("podinfo-canary", 10, filters=[cookie]),
                    ],
                    "filters": [
                        {
                            "type": "RequestMirror",
                            "requestMirror": {
                                "backendRef": {"name": "podinfo-canary"},
                                "percent": 5,
                            },
                        }
                    ],
                },
            ],
        },
    }


def ingress(name: str, backend: str, annotations: dict[str, str] | None = None) -> JSON:
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": backend, "port": {"number": 9898}}},
    }
    return {
        "metadata": {"name": name, "namespace": "test", "annotations": annotations or {}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "app.example.com", "http": {"paths": [path]}}],
        },
    }


def objects(**extra: Any) -> Objects:
    return Objects(
        services={
            "podinfo": service("podinfo", "podinfo-primary"),
            "podinfo-primary": service("podinfo-primary", "podinfo-primary"),
            "podinfo-canary": service("podinfo-canary", "podinfo"),
        },
        workloads={
            "podinfo-primary": workload("podinfo-primary", "podinfo-primary", 2),
            "podinfo": workload("podinfo", "podinfo", 1),
        },
        **extra,
    )


def text(graph: Graph) -> str:
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(render(graph))
    return console.export_text()


def test_gateway_api_split_rules_and_cookie() -> None:
    graph = build_graph(canary("gatewayapi:v1"), objects(routes=[httproute()]))
    out = text(graph)
    assert (
        "routing: primary 90% / canary 10%, mirrored 5% to the canary"
        "  ← HTTPRoute test/podinfo rule 1"
    ) in out
    assert "HTTPRoute/podinfo [router]  hosts app.example.com  2 rules" in out
    assert (
        "rule 0: PathPrefix /, header Cookie ~ .*flagger-cookie.*abc.* → podinfo-primary 0 (0%),"
        " podinfo-canary 100 (100%) sets flagger-cookie=abc" in out
    )
    assert "rule 1: PathPrefix / → podinfo-primary 90 (90%), podinfo-canary 10 (10%)" in out
    assert "mirror 5% to podinfo-canary" in out
    assert graph.targets("HTTPRoute/podinfo", "routes")  # drawn with edges to its Services

    doc = to_json(graph)
    assert json.loads(json.dumps(doc)) == doc
    traffic = doc["traffic"]
    assert traffic["provider"] == "gatewayapi:v1" and traffic["routesTraffic"] is True
    assert traffic["plain"]["primary"] == 90.0 and traffic["plain"]["canary"] == 10.0
    assert traffic["plain"]["enforcedBy"] == "HTTPRoute test/podinfo rule 1"
    assert traffic["plain"]["setCookies"] == ["flagger-cookie=abc; Max-Age=21600"]
    assert traffic["matched"] is None
    (route,) = traffic["objects"]
    assert (route["kind"], route["name"], route["present"]) == ("HTTPRoute", "podinfo", True)
    assert [b["percent"] for b in route["rules"][1]["backends"]] == [90.0, 10.0]
    assert route["rules"][1]["mirrors"] == [{"service": "podinfo-canary", "percent": 5.0}]

    svg = render_svg(graph)
    ET.fromstring(svg)
    assert 'id="HTTPRoute/podinfo"' in svg and "HTTPRoute/podinfo rules" in svg


def test_ab_split_for_a_matching_request() -> None:
    ab = {
        "matches": [
            {
                "path": {"type": "PathPrefix", "value": "/"},
                "headers": [{"name": "x-canary", "type": "Exact", "value": "insider"}],
            }
        ],
        "backendRefs": [ref("podinfo-primary", 0), ref("podinfo-canary", 100)],
    }
    rest = {"backendRefs": [ref("podinfo-primary", 100)]}
    route = {"metadata": {"name": "podinfo", "namespace": "test"}, "spec": {"rules": [ab, rest]}}
    body = canary("gatewayapi:v1beta1", match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    graph = build_graph(body, objects(routes=[route]))
    out = text(graph)
    assert "routing: primary 100% / canary 0%  ← HTTPRoute test/podinfo rule 1" in out
    assert (
        "A/B (header x-canary: insider): primary 0% / canary 100%  ← HTTPRoute test/podinfo rule 0"
        in out
    )
    assert to_json(graph)["traffic"]["matched"]["request"]["headers"] == {"x-canary": "insider"}


@pytest.mark.parametrize(
    ("missing", "note"),
    [(frozenset(), "not found"), (frozenset({"HTTPRoute"}), "HTTPRoute CRD not installed")],
)
def test_missing_httproute_or_crd(missing: frozenset[str], note: str) -> None:
    graph = build_graph(canary("gatewayapi:v1"), objects(missing_kinds=missing))
    out = text(graph)
    assert f"HTTPRoute/podinfo [router]  ({note})" in out
    assert f"routing: no routing (gatewayapi:v1): HTTPRoute podinfo: {note}" in out
    doc = to_json(graph)["traffic"]
    assert doc["plain"] is None and doc["notes"] == [f"HTTPRoute podinfo: {note}"]
    assert doc["objects"][0]["present"] is False and doc["objects"][0]["note"] == note
    svg = render_svg(graph)
    ET.fromstring(svg)
    assert note in svg


def test_nginx_canary_ingress_policy() -> None:
    annotations = {
        f"{P}/canary": "true",
        f"{P}/canary-by-cookie": "canary",
        f"{P}/canary-weight": "20",
    }
    ingresses = [
        ingress("podinfo", "podinfo"),
        ingress("podinfo-canary", "podinfo-canary", annotations),
    ]
    body = canary("nginx", match=[{"headers": {"cookie": {"exact": "canary"}}}])
    graph = build_graph(body, objects(ingresses=ingresses))
    out = text(graph)
    assert (
        "routing: primary 80% / canary 20%  ← Ingress test/podinfo-canary canary-weight 20/100"
        in out
    )
    assert (
        "A/B (cookie canary=always): primary 0% / canary 100%"
        "  ← Ingress test/podinfo-canary canary-by-cookie canary"
    ) in out
    assert "rule 0: cookie canary=always → podinfo-canary 100 (100%)" in out
    assert "rule 1: cookie canary=never → podinfo 100 (100%)" in out
    assert "rule 2: any other request → podinfo 80 (80%), podinfo-canary 20 (20%)" in out
    assert "rule 0: host app.example.com Prefix / → podinfo 100 (100%)" in out
    roles = [(o["name"], o["role"]) for o in to_json(graph)["traffic"]["objects"]]
    assert roles == [("podinfo", "ingress"), ("podinfo-canary", "canary-ingress")]


def test_nginx_missing_canary_ingress() -> None:
    graph = build_graph(canary("nginx"), objects(ingresses=[ingress("podinfo", "podinfo")]))
    out = text(graph)
    assert "Ingress/podinfo-canary [ingress]  (not found)" in out
    assert "Ingress podinfo-canary: not found" in out
    assert graph.node("Ingress/podinfo-canary") is not None


def test_kubernetes_provider_is_the_default_and_splits_nothing() -> None:
    graph = build_graph(canary(None), objects())
    out = text(graph)
    assert (
        "routing (kubernetes, nothing is split): primary 100% / canary 0%"
        "  ← Service test/podinfo selector app=podinfo-primary"
    ) in out
    doc = to_json(graph)["traffic"]
    assert (doc["provider"], doc["routesTraffic"], doc["objects"]) == ("kubernetes", False, [])
    # the controller's default provider applies to a canary without spec.provider
    gateway = build_graph(
        canary(None), objects(routes=[httproute()]), default_provider="gatewayapi:v1"
    )
    assert to_json(gateway)["traffic"]["plain"]["canary"] == 10.0


class FakeApi:
    """get/list answering from a dict; kinds absent from `served` answer 404 like a missing
    CRD."""

    def __init__(self, objects: dict[tuple[Kind, str], JSON], served: set[Kind]) -> None:
        self.objects, self.served = objects, served

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON:
        if (kind, name) not in self.objects:
            raise NotFound("404")
        return self.objects[(kind, name)]

    async def list(self, kind: Kind, *, namespace: str | None = None) -> tuple[list[JSON], str]:
        if kind not in self.served:
            raise NotFound("404 page not found")
        return [o for (k, _), o in self.objects.items() if k == kind], "1"


@pytest.mark.parametrize(
    ("objects_", "served", "expected"),
    [
        (
            {(HTTPROUTE_V1, "podinfo"): {"metadata": {"name": "podinfo"}}},
            {HTTPROUTE_V1},
            (True, True),
        ),
        ({(HTTPROUTE_V1BETA1, "podinfo"): {}}, {HTTPROUTE_V1BETA1}, (True, True)),
        ({}, {HTTPROUTE_V1}, (False, True)),
        ({}, set(), (False, False)),
    ],
)
async def test_read_route_tells_a_missing_route_from_a_missing_crd(
    objects_: dict[tuple[Kind, str], JSON], served: set[Kind], expected: tuple[bool, bool]
) -> None:
    route, is_served = await describing.read_route(FakeApi(objects_, served), "test", "podinfo")  # type: ignore[arg-type]
    assert (route is not None, is_served) == expected


# ------------------------------------------------------------------ Istio

COOKIE = "flagger-cookie=abc; Max-Age=21600"


def dest(host: str, weight: int, **extra: Any) -> JSON:
    return {"destination": {"host": host}, "weight": weight, **extra}


def set_cookie(value: str) -> JSON:
    return {"response": {"add": {"Set-Cookie": value}}}


def virtualservice(*http: JSON) -> JSON:
    """Flagger's VirtualService at weight 10 with session affinity and a 5 % mirror, unless
    `http` routes are given."""
    routes = list(http) or [
        {
            "match": [{"headers": {"cookie": {"regex": ".*flagger-cookie.*abc.*"}}}],
            "route": [
                dest("podinfo-primary", 0),
                dest("podinfo-canary", 100, headers=set_cookie(COOKIE)),
            ],
        },
        {
            "route": [
                dest("podinfo-primary", 90),
                dest("podinfo-canary", 10, headers=set_cookie(COOKIE)),
            ],
            "mirror": {"host": "podinfo-canary"},
            "mirrorPercentage": {"value": 5},
        },
    ]
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "hosts": ["app.example.com", "podinfo"],
            "gateways": ["istio-system/public-gateway", "mesh"],
            "http": routes,
        },
    }


def destination_rule(name: str, **spec: Any) -> JSON:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"host": name, **spec},
    }


def istio_objects(**extra: Any) -> Objects:
    rules = [
        destination_rule("podinfo-primary", trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}}),
        destination_rule("podinfo-canary"),
    ]
    return objects(**{"virtualservices": [virtualservice()], "destination_rules": rules, **extra})


def test_istio_virtualservice_routes_and_destination_rules() -> None:
    graph = build_graph(canary("istio"), istio_objects())
    out = text(graph)
    assert (
        "routing: primary 90% / canary 10%, mirrored 5% to the canary"
        "  ← VirtualService test/podinfo http route 1"
    ) in out
    assert (
        "VirtualService/podinfo [router]  hosts app.example.com, podinfo"
        "  gateways istio-system/public-gateway, mesh  2 routes"
    ) in out
    assert (
        "http[0]: header cookie ~ .*flagger-cookie.*abc.* → podinfo-primary 0 (0%),"
        " podinfo-canary 100 (100%) sets flagger-cookie=abc"
    ) in out
    assert (
        "http[1]: any request → podinfo-primary 90 (90%), podinfo-canary 10 (10%)"
        " sets flagger-cookie=abc; mirror 5% to podinfo-canary"
    ) in out
    assert (
        "DestinationRule/podinfo-primary [policy]  host podinfo-primary  trafficPolicy tls" in out
    )
    assert "DestinationRule/podinfo-canary [policy]  host podinfo-canary  no trafficPolicy" in out
    assert {n.id for n in graph.targets("VirtualService/podinfo", "routes")} == {
        "Service/podinfo-primary",
        "Service/podinfo-canary",
    }
    assert [n.id for n in graph.targets("DestinationRule/podinfo-canary", "configures")] == [
        "Service/podinfo-canary"
    ]

    doc = to_json(graph)
    assert json.loads(json.dumps(doc)) == doc
    traffic = doc["traffic"]
    assert (traffic["provider"], traffic["routesTraffic"]) == ("istio", True)
    assert (traffic["plain"]["primary"], traffic["plain"]["canary"]) == (90.0, 10.0)
    assert traffic["plain"]["mirrorPercent"] == 5.0
    assert traffic["plain"]["enforcedBy"] == "VirtualService test/podinfo http route 1"
    assert traffic["plain"]["setCookies"] == [COOKIE]
    vs, primary_rule, canary_rule = traffic["objects"]
    assert (vs["kind"], vs["role"], vs["present"]) == ("VirtualService", "route", True)
    assert vs["gateways"] == ["istio-system/public-gateway", "mesh"]
    assert [r["label"] for r in vs["rules"]] == ["http[0]", "http[1]"]
    assert vs["rules"][0]["matches"] == ["header cookie ~ .*flagger-cookie.*abc.*"]
    assert [b["percent"] for b in vs["rules"][1]["backends"]] == [90.0, 10.0]
    assert vs["rules"][1]["mirrors"] == [{"service": "podinfo-canary", "percent": 5.0}]
    assert vs["rules"][0]["backends"][1]["responseHeaders"] == [
        {"name": "Set-Cookie", "value": COOKIE}
    ]
    assert (primary_rule["role"], primary_rule["policy"]) == (
        "destination-rule",
        "trafficPolicy tls",
    )
    assert (canary_rule["name"], canary_rule["hosts"]) == ("podinfo-canary", ["podinfo-canary"])
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert nodes["VirtualService/podinfo"]["details"]["rules"] == 2
    assert nodes["DestinationRule/podinfo-primary"]["details"]["services"] == [
        "Service/podinfo-primary"
    ]

    svg = render_svg(graph)
    ET.fromstring(svg)
    assert 'id="VirtualService/podinfo"' in svg and 'id="DestinationRule/podinfo-canary"' in svg
    assert "VirtualService/podinfo rules" in svg and "http[1]: any request" in svg
    assert 'class="edge configures"' in svg


def test_istio_ab_by_header_and_source_labels() -> None:
    ab = {
        "match": [{"headers": {"x-canary": {"exact": "insider"}}, "sourceLabels": {"app": "web"}}],
        "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
    }
    rest = {"route": [dest("podinfo-primary", 100)]}
    match = [{"headers": {"x-canary": {"exact": "insider"}}, "sourceLabels": {"app": "web"}}]
    graph = build_graph(
        canary("istio", match=match), istio_objects(virtualservices=[virtualservice(ab, rest)])
    )
    out = text(graph)
    assert "routing: primary 100% / canary 0%  ← VirtualService test/podinfo http route 1" in out
    assert (
        "A/B (header x-canary: insider, from a pod with app=web): primary 0% / canary 100%"
        "  ← VirtualService test/podinfo http route 0"
    ) in out
    assert "http[0]: header x-canary=insider, sourceLabels app=web → " in out
    matched = to_json(graph)["traffic"]["matched"]
    assert matched["request"]["sourceLabels"] == {"app": "web"}
    assert matched["canary"] == 100.0


def test_istio_delegated_route_is_reported() -> None:
    delegated = {"delegate": {"name": "podinfo-routes", "namespace": "shop"}}
    graph = build_graph(canary("istio"), istio_objects(virtualservices=[virtualservice(delegated)]))
    out = text(graph)
    assert (
        "routing: delegated to VirtualService shop/podinfo-routes"
        "  ← VirtualService test/podinfo http route 0"
    ) in out
    assert "http[0]: any request → delegated to VirtualService shop/podinfo-routes" in out
    rule = to_json(graph)["traffic"]["objects"][0]["rules"][0]
    assert (rule["backends"], rule["reason"]) == (
        [],
        "delegated to VirtualService shop/podinfo-routes",
    )


@pytest.mark.parametrize(
    ("missing", "note"),
    [
        (frozenset(), "not found"),
        (frozenset({"VirtualService"}), "VirtualService CRD not installed"),
    ],
)
def test_istio_missing_virtualservice_or_crd(missing: frozenset[str], note: str) -> None:
    graph = build_graph(canary("istio"), istio_objects(virtualservices=[], missing_kinds=missing))
    out = text(graph)
    assert f"VirtualService/podinfo [router]  ({note})" in out
    assert f"routing: no routing (istio): VirtualService podinfo: {note}" in out
    doc = to_json(graph)["traffic"]
    assert doc["plain"] is None and doc["notes"] == [f"VirtualService podinfo: {note}"]
    svg = render_svg(graph)
    ET.fromstring(svg)
    assert note in svg


def test_istio_missing_destination_rule_leaves_the_split_readable() -> None:
    rules = [destination_rule("podinfo-primary")]
    graph = build_graph(canary("istio"), istio_objects(destination_rules=rules))
    out = text(graph)
    assert "routing: primary 90% / canary 10%" in out
    assert "DestinationRule/podinfo-canary [policy]  (not found)" in out
    doc = to_json(graph)["traffic"]
    assert doc["plain"]["canary"] == 10.0
    assert doc["notes"] == ["DestinationRule podinfo-canary: not found"]


class IstioApi(FakeApi):
    """Also lists the core kinds read_graph needs."""

    def __init__(self, objects: dict[tuple[Kind, str], JSON], served: set[Kind]) -> None:
        super().__init__(objects, served | {SERVICE, INGRESS, DEPLOYMENT})


VS_V1 = describing.VIRTUALSERVICE_V1
DR_V1 = describing.DESTINATIONRULE_V1


@pytest.mark.parametrize(
    ("served", "version", "note"),
    [
        ({VIRTUALSERVICE, DESTINATIONRULE}, VIRTUALSERVICE, ""),
        ({VS_V1, DR_V1}, VS_V1, ""),  # an Istio that serves only v1
        ({VIRTUALSERVICE, DESTINATIONRULE}, None, "not found"),
        (set(), None, "VirtualService CRD not installed"),
    ],
)
async def test_read_graph_reads_the_virtualservice(
    served: set[Kind], version: Kind | None, note: str
) -> None:
    store: dict[tuple[Kind, str], JSON] = {
        (CANARY_KIND, "podinfo"): canary("istio"),
    }
    if version is not None:
        store[(version, "podinfo")] = virtualservice()
        rule_kind = DESTINATIONRULE if version == VIRTUALSERVICE else DR_V1
        store[(rule_kind, "podinfo-primary")] = destination_rule("podinfo-primary")
        store[(rule_kind, "podinfo-canary")] = destination_rule("podinfo-canary")
    graph = await describing.read_graph(IstioApi(store, served), "test", "podinfo")  # type: ignore[arg-type]
    vs, *rules = graph.traffic.objects
    assert (vs.kind, vs.present, vs.note) == ("VirtualService", version is not None, note)
    assert [r.present for r in rules] == [version is not None] * 2
    if not served:
        assert rules[0].note == "DestinationRule CRD not installed"
