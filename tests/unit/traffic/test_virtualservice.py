"""Istio VirtualServices in the traffic model, table-driven, on objects in the shapes Flagger
writes (§3.6, §2.12.4) and the ones users write."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.traffic import (
    Request,
    describe_istio_match,
    live_split,
    route_virtualservice,
    rules_of_virtualservice,
    service_of,
)

JSON = dict[str, Any]
COOKIE = "flagger-cookie=abc; Max-Age=21600"


# ------------------------------------------------------------------ builders


def dest(host: str, weight: int | None = None, **extra: Any) -> JSON:
    out: JSON = {"destination": {"host": host, **extra.pop("destination", {})}, **extra}
    if weight is not None:
        out["weight"] = weight
    return out


def weighted(primary: int, canary: int, **extra: Any) -> JSON:
    return {"route": [dest("podinfo-primary", primary), dest("podinfo-canary", canary)], **extra}


def to(host: str, **extra: Any) -> JSON:
    return {"route": [dest(host)], **extra}


def vs(
    *http: JSON,
    hosts: list[str] | None = None,
    tcp: list[JSON] | None = None,
    name: str = "podinfo",
    namespace: str = "test",
    **meta: Any,
) -> JSON:
    spec: JSON = {
        "hosts": hosts if hosts is not None else ["app.example.com", "podinfo"],
        "gateways": ["public-gateway.istio-system.svc.cluster.local", "mesh"],
        "http": list(http),
    }
    if tcp is not None:
        spec["tcp"] = tcp
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": spec,
    }


def req(path: str = "/", **kw: Any) -> Request:
    return Request(host=kw.pop("host", "app.example.com"), path=path, **kw)


def canary_share(vs_: JSON, request: Request) -> float:
    return route_virtualservice([vs_], request).percent("podinfo-canary")


def response_add(value: str) -> JSON:
    return {"response": {"add": {"Set-Cookie": value}}}


# ------------------------------------------------------------------ match kinds

MATCHES: list[tuple[str, JSON, Request, bool]] = [
    ("uri exact", {"uri": {"exact": "/api"}}, req("/api"), True),
    ("uri exact, other path", {"uri": {"exact": "/api"}}, req("/api/v1"), False),
    ("uri exact ignores the query", {"uri": {"exact": "/api"}}, req("/api?x=1"), True),
    ("uri prefix is a plain prefix", {"uri": {"prefix": "/api"}}, req("/apis"), True),
    ("uri prefix miss", {"uri": {"prefix": "/api"}}, req("/v1/api"), False),
    ("uri regex is a full match", {"uri": {"regex": "/api/v[0-9]+"}}, req("/api/v12"), True),
    ("uri regex partial is a miss", {"uri": {"regex": "/api"}}, req("/api/v1"), False),
    ("uri bad regex never matches", {"uri": {"regex": "(["}}, req("/(["), False),
    ("ignoreUriCase exact", {"uri": {"exact": "/API"}, "ignoreUriCase": True}, req("/api"), True),
    ("case matters by default", {"uri": {"exact": "/API"}}, req("/api"), False),
    (
        "ignoreUriCase prefix",
        {"uri": {"prefix": "/Api"}, "ignoreUriCase": True},
        req("/aPi/x"),
        True,
    ),
    ("scheme exact", {"scheme": {"exact": "https"}}, req(scheme="https"), True),
    ("scheme miss", {"scheme": {"exact": "https"}}, req(), False),
    ("method exact", {"method": {"exact": "POST"}}, req(method="POST"), True),
    ("method miss", {"method": {"exact": "POST"}}, req(), False),
    ("method regex", {"method": {"regex": "GET|HEAD"}}, req(method="HEAD"), True),
    ("authority exact", {"authority": {"exact": "app.example.com"}}, req(), True),
    ("authority prefix", {"authority": {"prefix": "app."}}, req(), True),
    ("authority miss", {"authority": {"exact": "x.example.com"}}, req(), False),
    (
        "header exact, name any case in the request",
        {"headers": {"x-canary": {"exact": "insider"}}},
        req(headers={"X-Canary": "insider"}),
        True,
    ),
    ("header absent", {"headers": {"x-canary": {"exact": "insider"}}}, req(), False),
    (
        "header prefix",
        {"headers": {"user-agent": {"prefix": "Mozilla"}}},
        req(headers={"user-agent": "Mozilla/5.0"}),
        True,
    ),
    (
        "header suffix (older Istio)",
        {"headers": {"user-agent": {"suffix": "Firefox"}}},
        req(headers={"user-agent": "Mozilla Firefox"}),
        True,
    ),
    (
        "header regex full match",
        {"headers": {"user-agent": {"regex": ".*Firefox.*"}}},
        req(headers={"user-agent": "Mozilla/5.0 Firefox/1"}),
        True,
    ),
    (
        "header regex partial is a miss",
        {"headers": {"user-agent": {"regex": "Firefox"}}},
        req(headers={"user-agent": "Mozilla/5.0 Firefox/1"}),
        False,
    ),
    (
        "empty StringMatch is presence",
        {"headers": {"x-debug": {}}},
        req(headers={"x-debug": ""}),
        True,
    ),
    ("presence miss", {"headers": {"x-debug": {}}}, req(), False),
    (
        "cookie through the Cookie header (Flagger's canary-by-cookie regex)",
        {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
        req(cookies={"canary": "always", "session": "1"}),
        True,
    ),
    (
        # Envoy matches the raw header: "session=1; canary=always" has a space after ";"
        "the documented cookie regex misses a cookie sent after another",
        {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
        req(cookies={"session": "1", "canary": "always"}),
        False,
    ),
    (
        "header key `Cookie` as Flagger writes it (names match in any case)",
        {"headers": {"Cookie": {"regex": ".*flagger-cookie.*abc.*"}}},
        req(headers={"cookie": "a=1; flagger-cookie=abc"}),
        True,
    ),
    (
        "cookie regex miss",
        {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}},
        req(cookies={"canary": "never"}),
        False,
    ),
    (
        "withoutHeaders: present header excludes",
        {"withoutHeaders": {"x-internal": {}}},
        req(headers={"x-internal": "1"}),
        False,
    ),
    ("withoutHeaders: absent header matches", {"withoutHeaders": {"x-internal": {}}}, req(), True),
    (
        "withoutHeaders: another value matches",
        {"withoutHeaders": {"x-env": {"exact": "test"}}},
        req(headers={"x-env": "prod"}),
        True,
    ),
    ("queryParams exact", {"queryParams": {"v": {"exact": "2"}}}, req("/?v=2"), True),
    ("queryParams miss", {"queryParams": {"v": {"exact": "2"}}}, req("/?v=3"), False),
    ("queryParams regex", {"queryParams": {"v": {"regex": "[0-9]"}}}, req(query={"v": "7"}), True),
    (
        "sourceLabels all equal",
        {"sourceLabels": {"app": "frontend", "version": "v2"}},
        req(source_labels={"app": "frontend", "version": "v2", "x": "y"}),
        True,
    ),
    (
        "sourceLabels one differs",
        {"sourceLabels": {"app": "frontend", "version": "v2"}},
        req(source_labels={"app": "frontend", "version": "v1"}),
        False,
    ),
    ("sourceLabels from outside the mesh", {"sourceLabels": {"app": "frontend"}}, req(), False),
    (
        "sourceNamespace",
        {"sourceNamespace": "shop"},
        req(source_namespace="shop"),
        True,
    ),
    ("port from the request", {"port": 9898}, req(port=9898), True),
    ("port from the Host header", {"port": 9898}, req(host="app.example.com:9898"), True),
    ("port miss", {"port": 9898}, req(port=80), False),
    ("port unknown", {"port": 9898}, req(), False),
    (
        "every condition of an entry",
        {"uri": {"prefix": "/api"}, "headers": {"x-canary": {"exact": "1"}}},
        req("/api", headers={"x-canary": "2"}),
        False,
    ),
]


@pytest.mark.parametrize(
    ("match", "request_", "matched"),
    [pytest.param(m, r, ok, id=name) for name, m, r, ok in MATCHES],
)
def test_each_match_kind(match: JSON, request_: Request, matched: bool) -> None:
    service = vs(to("podinfo-canary", match=[match]), to("podinfo-primary"))
    routing = route_virtualservice([service], request_)
    assert routing.percent("podinfo-canary") == (100.0 if matched else 0.0)
    assert routing.enforced_by == f"VirtualService test/podinfo http route {0 if matched else 1}"


def test_any_match_entry_selects_the_route() -> None:
    route = to("podinfo-canary", match=[{"uri": {"exact": "/a"}}, {"uri": {"exact": "/b"}}])
    service = vs(route, to("podinfo-primary"))
    assert [canary_share(service, req(p)) for p in ("/a", "/b", "/c")] == [100.0, 100.0, 0.0]


# ------------------------------------------------------------------ route order


ORDER: list[tuple[str, list[JSON], Request, str]] = [
    (
        "first match wins, not the most specific",
        [
            to("a", match=[{"uri": {"prefix": "/"}}]),
            to("b", match=[{"uri": {"exact": "/api"}}]),
        ],
        req("/api"),
        "a",
    ),
    (
        "a route without match catches everything after it",
        [to("a"), to("b", match=[{"uri": {"exact": "/api"}}])],
        req("/api"),
        "a",
    ),
    (
        "later route when the first does not match",
        [to("a", match=[{"headers": {"x": {"exact": "1"}}}]), to("b")],
        req(),
        "b",
    ),
]


@pytest.mark.parametrize(
    ("routes", "request_", "winner"),
    [pytest.param(routes, r, w, id=name) for name, routes, r, w in ORDER],
)
def test_first_matching_route_wins(routes: list[JSON], request_: Request, winner: str) -> None:
    routing = route_virtualservice([vs(*routes)], request_)
    assert routing.percent(winner) == 100.0


def test_no_route_matches_is_a_404() -> None:
    service = vs(to("podinfo-canary", match=[{"uri": {"prefix": "/api"}}]))
    routing = route_virtualservice([service], req("/web"))
    assert (routing.status, routing.destinations) == (404, ())
    assert routing.reason == "no http route of VirtualService test/podinfo matches the request"


# ------------------------------------------------------------------ hosts


HOSTS: list[tuple[list[str], str, bool]] = [
    (["app.example.com"], "app.example.com", True),
    (["app.example.com"], "APP.example.com:8080", True),
    (["app.example.com"], "www.example.com", False),
    (["podinfo"], "podinfo", True),
    (["podinfo"], "podinfo.test", True),
    (["podinfo"], "podinfo.test.svc", True),
    (["podinfo"], "podinfo.test.svc.cluster.local", True),
    (["podinfo"], "podinfo.other.svc.cluster.local", False),
    (["podinfo.test.svc.cluster.local"], "podinfo", True),
    (["*.example.com"], "app.example.com", True),
    (["*.example.com"], "a.b.example.com", True),
    (["*.example.com"], "example.com", False),
    (["*"], "anything.io", True),
    ([], "app.example.com", False),  # a delegate VirtualService applies only through a parent
]


@pytest.mark.parametrize(("hosts", "host", "served"), HOSTS)
def test_host_matching(hosts: list[str], host: str, served: bool) -> None:
    routing = route_virtualservice([vs(to("podinfo-primary"), hosts=hosts)], req(host=host))
    assert (routing.status == 200) is served
    if not served:
        assert routing.reason == f"no VirtualService for host {Request(host=host).hostname}"


def test_the_most_specific_host_then_the_oldest_virtualservice() -> None:
    wildcard = vs(to("wild"), hosts=["*.example.com"], name="a")
    exact = vs(to("exact"), hosts=["app.example.com"], name="b")
    assert route_virtualservice([wildcard, exact], req()).percent("exact") == 100.0
    old = vs(to("old"), name="z", creationTimestamp="2024-01-01T00:00:00Z")
    new = vs(to("new"), name="a", creationTimestamp="2025-01-01T00:00:00Z")
    assert route_virtualservice([new, old], req()).percent("old") == 100.0


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("podinfo-primary", "podinfo-primary"),
        ("podinfo-primary.test", "podinfo-primary"),
        ("podinfo-primary.test.svc.cluster.local", "podinfo-primary"),
        ("podinfo-primary.other.svc.cluster.local", "podinfo-primary.other"),
        ("httpbin.org", "httpbin.org"),
    ],
)
def test_destination_hosts_name_services(host: str, service: str) -> None:
    assert service_of(host, "test") == service


# ------------------------------------------------------------------ weights and mirrors


WEIGHTS: list[tuple[list[JSON], dict[str, float]]] = [
    ([dest("podinfo-primary", 90), dest("podinfo-canary", 10)], {"primary": 90, "canary": 10}),
    ([dest("podinfo-primary", 1), dest("podinfo-canary", 3)], {"primary": 25, "canary": 75}),
    ([dest("podinfo-primary", 100), dest("podinfo-canary", 0)], {"primary": 100, "canary": 0}),
    ([dest("podinfo-primary")], {"primary": 100, "canary": 0}),
    # Flagger's A/B route 2: a single destination at weight p still takes everything
    ([dest("podinfo-primary", 40)], {"primary": 100, "canary": 0}),
    ([dest("podinfo-primary"), dest("podinfo-canary", 20)], {"primary": 0, "canary": 100}),
]


@pytest.mark.parametrize(("destinations", "shares"), WEIGHTS)
def test_weights_share_proportionally(destinations: list[JSON], shares: dict[str, float]) -> None:
    routing = route_virtualservice([vs({"route": destinations})], req())
    assert routing.percent("podinfo-primary") == shares["primary"]
    assert routing.percent("podinfo-canary") == shares["canary"]


@pytest.mark.parametrize(
    ("route", "status", "reason"),
    [
        (weighted(0, 0), 500, "every destination weighs 0"),
        ({"route": []}, 500, "the route has no destinations"),
        (
            {"delegate": {"name": "reviews", "namespace": "nsA"}},
            200,
            "delegated to VirtualService nsA/reviews",
        ),
        ({"delegate": {"name": "reviews"}}, 200, "delegated to VirtualService test/reviews"),
        ({"redirect": {"uri": "/v2"}}, 301, "redirect to /v2"),
        ({"directResponse": {"status": 418}}, 418, "direct response"),
    ],
)
def test_routes_answered_without_a_destination(route: JSON, status: int, reason: str) -> None:
    routing = route_virtualservice([vs(route)], req())
    assert (routing.status, routing.reason, routing.destinations) == (status, reason, ())
    assert routing.enforced_by == "VirtualService test/podinfo http route 0"


@pytest.mark.parametrize(
    ("extra", "percent"),
    [
        ({"mirror": {"host": "podinfo-canary"}}, 100.0),
        ({"mirror": {"host": "podinfo-canary"}, "mirrorPercentage": {"value": 5}}, 5.0),
        ({"mirror": {"host": "podinfo-canary"}, "mirrorPercentage": {"value": 0.5}}, 0.5),
        ({"mirror": {"host": "podinfo-canary"}, "mirrorPercent": 30}, 30.0),
        ({"mirrors": [{"destination": {"host": "podinfo-canary"}}]}, 100.0),
        (
            {"mirrors": [{"destination": {"host": "podinfo-canary"}, "percentage": {"value": 12}}]},
            12.0,
        ),
        ({}, 0.0),
    ],
)
def test_mirror_percentage(extra: JSON, percent: float) -> None:
    routing = route_virtualservice([vs(weighted(100, 0, **extra))], req())
    assert routing.mirrored("podinfo-canary") == percent
    assert routing.percent("podinfo-primary") == 100.0


def test_subset_without_destination_rule_is_a_503() -> None:
    route = {"route": [dest("reviews", destination={"subset": "v2"})]}
    rule = {"metadata": {"name": "reviews", "namespace": "test"}, "spec": {"host": "reviews"}}
    routing = route_virtualservice([vs(route)], req(), destination_rules=[rule])
    assert (routing.status, routing.reason) == (
        503,
        "no DestinationRule of reviews defines subset v2",
    )
    defined = {**rule, "spec": {"host": "reviews", "subsets": [{"name": "v2"}]}}
    assert route_virtualservice([vs(route)], req(), destination_rules=[defined]).status == 200
    assert route_virtualservice([vs(route)], req()).status == 200  # not checked without rules


# ------------------------------------------------------------------ session affinity


def sticky(primary: int, canary: int) -> JSON:
    """Flagger's VirtualService with session affinity at weight `canary`: [sticky canary,
    sticky primary, weighted], Set-Cookie on the destinations."""
    canary_cookie = {"headers": {"cookie": {"regex": ".*flagger-cookie.*abc.*"}}}
    primary_cookie = {"headers": {"cookie": {"regex": ".*primary-cookie.*xyz.*"}}}
    return vs(
        {
            "match": [canary_cookie],
            "route": [
                dest("podinfo-primary", 0),
                dest("podinfo-canary", 100, headers=response_add(COOKIE)),
            ],
        },
        {
            "match": [primary_cookie],
            "route": [dest("podinfo-primary", 100), dest("podinfo-canary", 0)],
        },
        {
            "route": [
                dest("podinfo-primary", primary, headers=response_add("primary-cookie=xyz")),
                dest("podinfo-canary", canary, headers=response_add(COOKIE)),
            ]
        },
    )


@pytest.mark.parametrize(
    ("request_", "canary", "index"),
    [
        (req(cookies={"flagger-cookie": "abc"}), 100.0, 0),
        (req(headers={"Cookie": "a=b; flagger-cookie=abc"}), 100.0, 0),
        (req(cookies={"primary-cookie": "xyz"}), 0.0, 1),
        (req(cookies={"flagger-cookie": "old"}), 10.0, 2),
        (req(), 10.0, 2),
    ],
)
def test_sticky_cookie_routes(request_: Request, canary: float, index: int) -> None:
    routing = route_virtualservice([sticky(90, 10)], request_)
    assert routing.percent("podinfo-canary") == canary
    assert routing.enforced_by == f"VirtualService test/podinfo http route {index}"


def test_response_headers_at_route_and_destination_level() -> None:
    expire = {"response": {"add": {"Set-Cookie": "flagger-cookie=old; Max-Age=-1"}}}
    service = sticky(90, 10)
    service["spec"]["http"][2]["headers"] = expire
    routing = route_virtualservice([service], req())
    assert routing.set_cookies("podinfo-canary") == ("flagger-cookie=old; Max-Age=-1", COOKIE)
    assert routing.set_cookies("podinfo-primary") == (
        "flagger-cookie=old; Max-Age=-1",
        "primary-cookie=xyz",
    )
    both = {"response": {"set": {"x-a": "1"}, "add": {"x-b": "2"}}}
    routing = route_virtualservice([vs(to("podinfo-primary", headers=both))], req())
    assert [(h.name, h.value) for h in routing.response_headers] == [("x-a", "1"), ("x-b", "2")]


# ------------------------------------------------------------------ TCP


def test_tcp_routes_for_a_tcp_connection() -> None:
    tcp = [
        {
            "match": [{"port": 9898}],
            "route": [dest("podinfo-primary", 70), dest("podinfo-canary", 30)],
        },
        {"route": [dest("podinfo-primary")]},
    ]
    service = vs(to("http-only"), tcp=tcp)
    routing = route_virtualservice([service], req(host="podinfo", protocol="tcp", port=9898))
    assert routing.percent("podinfo-canary") == 30.0
    assert routing.enforced_by == "VirtualService test/podinfo tcp route 0"
    other = route_virtualservice([service], req(host="podinfo", protocol="tcp", port=80))
    assert other.percent("podinfo-primary") == 100.0
    assert other.enforced_by == "VirtualService test/podinfo tcp route 1"
    # an HTTP request to the same host takes the http routes
    assert route_virtualservice([service], req(host="podinfo")).percent("http-only") == 100.0
    none = route_virtualservice([vs(to("x"))], req(host="podinfo", protocol="tcp"))
    assert none.status == 404


@pytest.mark.parametrize(
    ("match", "request_", "matched"),
    [
        ({"destinationSubnets": ["10.0.0.0/8"]}, req(host="10.1.2.3", protocol="tcp"), True),
        ({"destinationSubnets": ["10.0.0.0/8"]}, req(host="192.168.0.1", protocol="tcp"), False),
        (
            {"sourceLabels": {"app": "db-client"}},
            req(protocol="tcp", source_labels={"app": "db-client"}),
            True,
        ),
        ({"sourceLabels": {"app": "db-client"}}, req(protocol="tcp"), False),
    ],
)
def test_tcp_match(match: JSON, request_: Request, matched: bool) -> None:
    service = vs(tcp=[{"match": [match], "route": [dest("podinfo-canary")]}], hosts=["*"])
    assert (route_virtualservice([service], request_).status == 200) is matched


# ------------------------------------------------------------------ display


def test_rules_of_virtualservice() -> None:
    service = sticky(90, 10)
    service["spec"]["tcp"] = [{"match": [{"port": 9898}], "route": [dest("podinfo-primary")]}]
    service["spec"]["http"][2]["mirror"] = {"host": "podinfo-canary"}
    service["spec"]["http"][2]["mirrorPercentage"] = {"value": 5}
    rules = rules_of_virtualservice(service)
    assert [r.label for r in rules] == ["http[0]", "http[1]", "http[2]", "tcp[0]"]
    assert rules[0].matches == ("header cookie ~ .*flagger-cookie.*abc.*",)
    assert rules[2].matches == ("any request",)
    assert rules[2].routing.mirrored("podinfo-canary") == 5.0
    assert [d.percent for d in rules[2].routing.destinations] == [90.0, 10.0]
    assert rules[3].matches == ("port 9898",)
    assert rules[3].routing.enforced_by == "VirtualService test/podinfo tcp route 0"


@pytest.mark.parametrize(
    ("match", "text"),
    [
        ({}, "any request"),
        ({"uri": {"prefix": "/api"}, "ignoreUriCase": True}, "uri prefix /api (any case)"),
        ({"uri": {"exact": "/"}, "method": {"exact": "GET"}}, "uri=/, method=GET"),
        (
            {"headers": {"x-canary": {"exact": "insider"}, "x-debug": {}}},
            "header x-canary=insider, header x-debug present",
        ),
        ({"withoutHeaders": {"x-b": {"regex": "a.*"}}}, "without header x-b ~ a.*"),
        ({"queryParams": {"v": {"exact": "2"}}}, "query v=2"),
        (
            {"sourceLabels": {"app": "web", "v": "2"}, "port": 80, "gateways": ["mesh"]},
            "sourceLabels app=web,v=2, port 80, gateways mesh",
        ),
    ],
)
def test_describe_istio_match(match: JSON, text: str) -> None:
    assert describe_istio_match(match) == text


# ------------------------------------------------------------------ live_split


def canary(**extra: Any) -> JSON:
    service: JSON = {"port": 9898, "hosts": ["app.example.com"], **extra.pop("service", {})}
    return {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": "istio",
            "targetRef": {"kind": "Deployment", "name": "podinfo"},
            "service": service,
            "analysis": {"interval": "1m", "stepWeight": 10, **extra},
        },
    }


def apex_service() -> JSON:
    return {
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"selector": {"app": "podinfo-primary"}, "ports": [{"port": 9898}]},
    }


def test_live_split_istio_weights_mirror_and_cookies() -> None:
    service = sticky(80, 20)
    service["spec"]["http"][2]["mirror"] = {"host": "podinfo-canary"}
    service["spec"]["http"][2]["mirrorPercentage"] = {"value": 50}
    live = live_split(canary(), service)
    assert live.provider == "istio"
    assert (live.plain.primary, live.plain.canary) == (80.0, 20.0)
    assert (live.plain.mirrored, live.plain.mirror_percent) == (True, 50.0)
    assert live.plain.enforced_by == "VirtualService test/podinfo http route 2"
    assert live.plain.set_cookies == ("primary-cookie=xyz", COOKIE)
    assert live.matched is None


def test_live_split_istio_ab_by_header_and_by_source_labels() -> None:
    ab = {
        "match": [
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"sourceLabels": {"app": "frontend"}},
        ],
        "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
    }
    service = vs(ab, {"route": [dest("podinfo-primary", 100)]})
    by_header = live_split(canary(match=[{"headers": {"x-canary": {"exact": "insider"}}}]), service)
    assert (by_header.plain.primary, by_header.plain.canary) == (100.0, 0.0)
    assert by_header.matched is not None and by_header.matched.canary == 100.0
    assert by_header.matched.enforced_by == "VirtualService test/podinfo http route 0"
    by_source = live_split(canary(match=[{"sourceLabels": {"app": "frontend"}}]), service)
    assert by_source.matched_request is not None
    assert by_source.matched_request.source_labels == {"app": "frontend"}
    assert by_source.matched is not None and by_source.matched.canary == 100.0


def test_live_split_istio_tcp() -> None:
    tcp = [
        {
            "match": [{"port": 9898}],
            "route": [dest("podinfo-primary", 60), dest("podinfo-canary", 40)],
        }
    ]
    live = live_split(canary(service={"appProtocol": "tcp"}), vs(tcp=tcp))
    assert live.request.protocol == "tcp" and live.request.port == 9898
    assert (live.plain.primary, live.plain.canary) == (60.0, 40.0)


def test_live_split_istio_without_a_virtualservice() -> None:
    # a mesh request to the apex goes to the apex Service when no VirtualService claims it
    body = canary(service={"hosts": []})
    live = live_split(body, apex_service())
    assert live.request.host == "podinfo"
    assert live.plain.primary == 100.0
    assert live.plain.enforced_by.endswith("(no VirtualService for this host)")
    # a gateway host nobody serves is a 404
    missing = live_split(canary(), apex_service())
    assert (missing.plain.status, missing.plain.reason) == (
        404,
        "no VirtualService for host app.example.com",
    )


def test_objects_without_kind_are_sorted_by_shape() -> None:
    service = sticky(90, 10)
    del service["kind"]
    rule = {
        "metadata": {"name": "podinfo-canary"},
        "spec": {"host": "podinfo-canary", "trafficPolicy": {}},
    }
    live = live_split(canary(), service, rule)
    assert live.plain.canary == 10.0


def test_live_split_istio_plain_request_is_selected_by_service_match() -> None:
    # Flagger copies service.match into every route: the plain request must satisfy it
    scope = {"uri": {"prefix": "/api"}, "headers": {"x-tenant": {"exact": "a"}}}
    legacy = {**scope, "sourceLabels": {"app": "legacy"}}
    ab = {
        "match": [{**scope, "sourceLabels": {"app": "frontend"}}],
        "route": [dest("podinfo-primary", 0), dest("podinfo-canary", 100)],
    }
    rest = {"match": [legacy], "route": [dest("podinfo-primary", 100)]}
    body = canary(match=[{"sourceLabels": {"app": "frontend"}}], service={"match": [legacy]})
    live = live_split(body, vs(ab, rest))
    assert live.request.path == "/api" and live.request.headers == {"x-tenant": "a"}
    assert live.request.source_labels == {"app": "legacy"}
    assert (live.plain.primary, live.plain.enforced_by) == (
        100.0,
        "VirtualService test/podinfo http route 1",
    )
    assert live.matched is not None and live.matched.canary == 100.0
    assert live.matched_request is not None
    assert live.matched_request.source_labels == {"app": "frontend"}


def test_live_split_istio_delegate_virtualservice() -> None:
    # delegation: true — Flagger's VirtualService has no hosts; the user's parent hands it
    # requests, so its routes give the split
    delegate = vs(weighted(70, 30), hosts=[])
    del delegate["spec"]["gateways"]
    live = live_split(canary(), delegate, apex_service())
    assert (live.plain.primary, live.plain.canary) == (70.0, 30.0)
    assert live.plain.enforced_by == "VirtualService test/podinfo http route 0"
    # the parent itself reports the delegation without resolving it
    parent = vs({"delegate": {"name": "podinfo", "namespace": "test"}}, name="frontend")
    routing = route_virtualservice([parent, delegate], req())
    assert routing.reason == "delegated to VirtualService test/podinfo"
