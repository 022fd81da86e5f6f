"""The traffic model, table-driven, on objects in the shapes Flagger writes (§3.4, §3.5)."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.traffic import (
    Request,
    Split,
    endpoints,
    live_split,
    route_http,
    route_ingress,
    rules_of,
    rules_of_ingress,
    starved,
)

JSON = dict[str, Any]
P = "nginx.ingress.kubernetes.io"


# ------------------------------------------------------------------ builders


def backend(name: str, weight: int | None, **extra: Any) -> JSON:
    out: JSON = {"group": "", "kind": "Service", "name": name, "port": 9898, **extra}
    if weight is not None:
        out["weight"] = weight
    return out


def weighted(primary: int, canary: int, *, matches: list[JSON] | None = None) -> JSON:
    rule: JSON = {
        "backendRefs": [backend("podinfo-primary", primary), backend("podinfo-canary", canary)]
    }
    if matches is not None:
        rule["matches"] = matches
    return rule


def httproute(*rules: JSON, hostnames: list[str] | None = None, **meta: Any) -> JSON:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "podinfo", "namespace": "test", **meta},
        "spec": {
            "parentRefs": [{"name": "gateway", "namespace": "istio-ingress"}],
            "hostnames": hostnames if hostnames is not None else ["app.example.com"],
            "rules": list(rules),
        },
    }


def prefix(value: str = "/") -> JSON:
    return {"path": {"type": "PathPrefix", "value": value}}


def header(name: str, value: str, kind: str = "Exact") -> JSON:
    return {"name": name, "value": value, "type": kind}


def cookie_header(name: str, value: str) -> JSON:
    return header("Cookie", f".*{name}.*{value}.*", "RegularExpression")


def set_cookie(value: str) -> list[JSON]:
    return [
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"add": [{"name": "Set-Cookie", "value": value}]},
        }
    ]


def req(path: str = "/", **kw: Any) -> Request:
    return Request(host=kw.pop("host", "app.example.com"), path=path, **kw)


def shares(route: JSON, request: Request) -> dict[str, float]:
    routing = route_http([route], request)
    return {d.service: d.percent for d in routing.destinations}


# ------------------------------------------------------------------ matches


def one(match: JSON) -> JSON:
    """A route with a rule for `match` → canary, and a catch-all → primary."""
    special: JSON = {"matches": [match], "backendRefs": [backend("podinfo-canary", 1)]}
    return httproute(special, {"backendRefs": [backend("podinfo-primary", 1)]})


MATCHES = [
    # (match, request, goes to canary?)
    ({"path": {"type": "Exact", "value": "/api"}}, req("/api"), True),
    ({"path": {"type": "Exact", "value": "/api"}}, req("/api/"), False),
    (prefix("/api"), req("/api"), True),
    (prefix("/api"), req("/api/v1"), True),
    (prefix("/api/"), req("/api"), True),
    (prefix("/api"), req("/apiv1"), False),
    ({"path": {"type": "RegularExpression", "value": "/v[0-9]+/.*"}}, req("/v2/x"), True),
    ({"path": {"type": "RegularExpression", "value": "/v[0-9]+"}}, req("/v2/x"), False),
    ({"method": "POST"}, req(method="POST"), True),
    ({"method": "POST"}, req(), False),
    ({"headers": [header("x-canary", "insider")]}, req(headers={"X-Canary": "insider"}), True),
    ({"headers": [header("x-canary", "insider")]}, req(headers={"x-canary": "other"}), False),
    ({"headers": [header("x-canary", "insider")]}, req(), False),
    (
        {"headers": [header("user-agent", ".*Firefox.*", "RegularExpression")]},
        req(headers={"User-Agent": "Mozilla Firefox/1"}),
        True,
    ),
    ({"headers": [cookie_header("canary", "always")]}, req(cookies={"canary": "always"}), True),
    (
        {"headers": [cookie_header("canary", "always")]},
        req(headers={"Cookie": "a=1; canary=always"}),
        True,
    ),
    ({"headers": [cookie_header("canary", "always")]}, req(cookies={"canary": "never"}), False),
    ({"queryParams": [header("beta", "1")]}, req("/?beta=1"), True),
    ({"queryParams": [header("beta", "1")]}, req(query={"beta": "2"}), False),
    (
        {"queryParams": [header("beta", "[0-9]", "RegularExpression")]},
        req(query={"beta": "7"}),
        True,
    ),
    ({"path": {"type": "Exact", "value": "/"}, "method": "GET"}, req(), True),
]


@pytest.mark.parametrize(("match", "request_", "to_canary"), MATCHES)
def test_each_match_type(match: JSON, request_: Request, to_canary: bool) -> None:
    got = shares(one(match), request_)
    assert got == ({"podinfo-canary": 100.0} if to_canary else {"podinfo-primary": 100.0})


HOSTS = [
    (["app.example.com"], "app.example.com", True),
    (["app.example.com"], "APP.example.com:8080", True),
    (["app.example.com"], "other.example.com", False),
    (["*.example.com"], "a.b.example.com", True),
    (["*.example.com"], "example.com", False),
    ([], "anything.test", True),
]


@pytest.mark.parametrize(("hostnames", "host", "served"), HOSTS)
def test_hostnames(hostnames: list[str], host: str, served: bool) -> None:
    routing = route_http([httproute(weighted(100, 0), hostnames=hostnames)], Request(host=host))
    assert (routing.status == 200) is served
    if not served:
        assert routing.status == 404 and routing.destinations == ()


# ------------------------------------------------------------------ precedence


def to(name: str, *matches: JSON) -> JSON:
    return {"matches": list(matches), "backendRefs": [backend(name, 1)]}


PRECEDENCE = [
    # (rules in list order, request, winning backend)
    ([to("a", prefix("/")), to("b", {"path": {"type": "Exact", "value": "/x"}})], req("/x"), "b"),
    ([to("a", prefix("/")), to("b", prefix("/x"))], req("/x/y"), "b"),
    ([to("a", prefix("/x")), to("b", prefix("/x/y"))], req("/x/y"), "b"),
    ([to("a", prefix("/")), to("b", {**prefix("/"), "method": "GET"})], req(), "b"),
    (
        [
            to("a", {"headers": [header("h1", "1")]}),
            to("b", {"headers": [header("h1", "1"), header("h2", "2")]}),
        ],
        req(headers={"h1": "1", "h2": "2"}),
        "b",
    ),
    (
        [to("a", {"headers": [header("h1", "1")]}), to("b", {"queryParams": [header("q", "1")]})],
        req(headers={"h1": "1"}, query={"q": "1"}),
        "a",  # headers count before query params
    ),
    ([to("a", prefix("/")), to("b", prefix("/"))], req(), "a"),  # tie: first rule
    ([to("a", {"headers": [header("h", "1")]}), to("b", prefix("/"))], req(), "b"),
    ([to("a"), to("b", prefix("/x"))], req("/x"), "b"),  # no matches = PathPrefix /
]


@pytest.mark.parametrize(("rules", "request_", "winner"), PRECEDENCE)
def test_precedence(rules: list[JSON], request_: Request, winner: str) -> None:
    assert shares(httproute(*rules), request_) == {winner: 100.0}


def test_tie_between_routes_goes_to_the_older_one() -> None:
    old = httproute(to("old"), name="b", creationTimestamp="2024-01-01T00:00:00Z")
    new = httproute(to("new"), name="a", creationTimestamp="2025-01-01T00:00:00Z")
    assert route_http([new, old], req()).destinations[0].service == "old"


def test_a_route_no_parent_accepted_is_not_served() -> None:
    route = httproute(weighted(100, 0))
    route["status"] = {
        "parents": [{"conditions": [{"type": "Accepted", "status": "False"}]}],
    }
    assert route_http([route], req()).status == 404


# ------------------------------------------------------------------ weights, mirror, cookies

WEIGHTS = [
    ((90, 10), {"podinfo-primary": 90.0, "podinfo-canary": 10.0}),
    ((100, 0), {"podinfo-primary": 100.0, "podinfo-canary": 0.0}),
    ((0, 100), {"podinfo-primary": 0.0, "podinfo-canary": 100.0}),
    ((1, 3), {"podinfo-primary": 25.0, "podinfo-canary": 75.0}),
    ((None, None), {"podinfo-primary": 50.0, "podinfo-canary": 50.0}),  # weight defaults to 1
]


@pytest.mark.parametrize(("weights", "expected"), WEIGHTS)
def test_weights_share_proportionally(
    weights: tuple[int | None, int | None], expected: dict[str, float]
) -> None:
    rule = {
        "backendRefs": [
            backend("podinfo-primary", weights[0]),
            backend("podinfo-canary", weights[1]),
        ]
    }
    assert shares(httproute(rule), req()) == expected


@pytest.mark.parametrize("rule", [weighted(0, 0), {"matches": [prefix()]}])
def test_no_weighted_backend_is_a_500(rule: JSON) -> None:
    routing = route_http([httproute(rule)], req())
    assert routing.status == 500 and routing.destinations == ()
    assert routing.enforced_by == "HTTPRoute test/podinfo rule 0"


MIRRORS = [
    ({}, 100.0),
    ({"percent": 25}, 25.0),
    ({"fraction": {"numerator": 1, "denominator": 4}}, 25.0),
    ({"fraction": {"numerator": 30}}, 30.0),
]


@pytest.mark.parametrize(("extra", "percent"), MIRRORS)
def test_mirror(extra: JSON, percent: float) -> None:
    rule = weighted(100, 0)
    mirror = {"backendRef": {"name": "podinfo-canary", "port": 9898}, **extra}
    rule["filters"] = [{"type": "RequestMirror", "requestMirror": mirror}]
    routing = route_http([httproute(rule)], req())
    assert routing.mirrored("podinfo-canary") == percent
    assert routing.percent("podinfo-primary") == 100.0


def sticky_route() -> JSON:
    """Flagger's session-affinity rules at weight 10: [sticky canary, weighted]."""
    sticky = weighted(
        0, 100, matches=[{**prefix(), "headers": [cookie_header("flagger-cookie", "abc")]}]
    )
    sticky["backendRefs"][1]["filters"] = set_cookie("flagger-cookie=abc; Max-Age=21600")
    main = weighted(90, 10, matches=[prefix()])
    main["backendRefs"][1]["filters"] = set_cookie("flagger-cookie=abc; Max-Age=21600")
    return httproute(sticky, main)


def test_the_cookie_sticky_rule_wins_over_the_weighted_rule() -> None:
    route = sticky_route()
    sticky = route_http([route], req(cookies={"flagger-cookie": "abc"}))
    assert sticky.percent("podinfo-canary") == 100.0
    assert sticky.enforced_by == "HTTPRoute test/podinfo rule 0"
    assert sticky.set_cookies("podinfo-canary") == ("flagger-cookie=abc; Max-Age=21600",)
    plain = route_http([route], req())
    assert (plain.percent("podinfo-primary"), plain.percent("podinfo-canary")) == (90.0, 10.0)
    assert plain.enforced_by == "HTTPRoute test/podinfo rule 1"
    assert plain.set_cookies("podinfo-primary") == ()


def test_rule_level_response_headers_and_rules_of() -> None:
    expire = weighted(100, 0, matches=[{**prefix(), "headers": [cookie_header("c", "old")]}])
    expire["filters"] = set_cookie("c=old; Max-Age=-1")
    route = httproute(expire, weighted(100, 0))
    routing = route_http([route], req(cookies={"c": "old"}))
    assert routing.set_cookies("podinfo-primary") == ("c=old; Max-Age=-1",)
    rules = rules_of(route)
    assert [r.index for r in rules] == [0, 1]
    assert rules[0].matches == ("PathPrefix /, header Cookie ~ .*c.*old.*",)
    assert rules[1].matches == ("PathPrefix /",)


# ------------------------------------------------------------------ NGINX


def ingress(name: str, service: str, annotations: dict[str, str] | None = None) -> JSON:
    return {
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "test", "annotations": annotations or {}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "app.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def nginx(**policy: str) -> list[JSON]:
    annotations = {
        f"{P}/canary": "true",
        **{f"{P}/canary-{k.replace('_', '-')}": v for k, v in policy.items()},
    }
    return [ingress("podinfo", "podinfo"), ingress("podinfo-canary", "podinfo-canary", annotations)]


NGINX = [
    # (policy annotations, request, canary share)
    ({"weight": "10"}, req(), 10.0),
    ({"weight": "0"}, req(), 0.0),
    ({"weight": "50", "weight_total": "200"}, req(), 25.0),
    ({"weight": "10", "weight_total": "50"}, req(), 10.0),  # totals under 100 are ignored
    ({"by_header": "x-canary", "weight": "0"}, req(headers={"X-Canary": "always"}), 100.0),
    ({"by_header": "x-canary", "weight": "100"}, req(headers={"x-canary": "never"}), 0.0),
    ({"by_header": "x-canary", "weight": "10"}, req(headers={"x-canary": "maybe"}), 10.0),
    (
        {"by_header": "x-canary", "by_header_value": "insider", "weight": "0"},
        req(headers={"x-canary": "insider"}),
        100.0,
    ),
    (
        {"by_header": "x-canary", "by_header_value": "insider", "weight": "0"},
        req(headers={"x-canary": "always"}),
        0.0,  # with a value, `always` is just another value
    ),
    (
        {"by_header": "x-canary", "by_header_pattern": "^in.*", "weight": "0"},
        req(headers={"x-canary": "insider"}),
        100.0,
    ),
    ({"by_cookie": "canary", "weight": "0"}, req(cookies={"canary": "always"}), 100.0),
    ({"by_cookie": "canary", "weight": "100"}, req(cookies={"canary": "never"}), 0.0),
    ({"by_cookie": "canary", "weight": "10"}, req(cookies={"canary": "yes"}), 10.0),
    (  # the header is looked at before the cookie
        {"by_header": "x-canary", "by_cookie": "canary", "weight": "0"},
        req(headers={"x-canary": "never"}, cookies={"canary": "always"}),
        0.0,
    ),
    (
        {"by_header": "x-canary", "by_cookie": "canary", "weight": "0"},
        req(headers={"x-canary": "other"}, cookies={"canary": "always"}),
        100.0,
    ),
]


@pytest.mark.parametrize(("policy", "request_", "canary"), NGINX)
def test_nginx_header_cookie_weight_order(
    policy: dict[str, str], request_: Request, canary: float
) -> None:
    routing = route_ingress(nginx(**policy), request_)
    assert routing.percent("podinfo-canary") == canary
    assert routing.percent("podinfo") == 100.0 - canary
    assert routing.enforced_by.startswith("Ingress test/podinfo-canary canary-")


def test_nginx_host_mismatch_and_custom_prefix() -> None:
    assert route_ingress(nginx(weight="10"), req(host="other.example.com")).status == 404
    custom = [
        ingress("podinfo", "podinfo"),
        ingress(
            "podinfo-canary", "podinfo-canary", {"x.io/canary": "true", "x.io/canary-weight": "30"}
        ),
    ]
    assert route_ingress(custom, req(), prefix="x.io").percent("podinfo-canary") == 30.0
    # under the default prefix the "canary" is a second main Ingress for the same path
    assert route_ingress(custom, req()).percent("podinfo-canary") in (0.0, 100.0)


def test_nginx_without_canary_and_rules_of_ingress() -> None:
    main = ingress("podinfo", "podinfo")
    routing = route_ingress([main], req("/anything"))
    assert routing.destinations[0].service == "podinfo" and routing.percent("podinfo") == 100.0
    rules = rules_of_ingress(
        nginx(by_header="x-canary", by_cookie="canary", weight="5")[1], main_service="podinfo"
    )
    assert [r.matches[0] for r in rules] == [
        "header x-canary=always",
        "header x-canary=never",
        "cookie canary=always",
        "cookie canary=never",
        "any other request",
    ]
    assert rules[-1].routing.percent("podinfo-canary") == 5.0


# ------------------------------------------------------------------ endpoints


def deployment(name: str, app: str, ready: int | None) -> JSON:
    status = {} if ready is None else {"readyReplicas": ready}
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"template": {"metadata": {"labels": {"app": app, "extra": "x"}}}},
        "status": status,
    }


def service(name: str, app: str) -> JSON:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80}]},
    }


def test_service_resolution_and_zero_ready_pods() -> None:
    workloads = [
        deployment("podinfo-primary", "podinfo-primary", 2),
        deployment("podinfo", "podinfo", None),
    ]
    services = [service("podinfo-primary", "podinfo-primary"), service("podinfo-canary", "podinfo")]
    primary = endpoints(services[0], workloads)
    assert (primary.workloads, primary.ready, primary.serving) == (("podinfo-primary",), 2, True)
    canary = endpoints(services[1], workloads)
    assert (canary.workloads, canary.ready, canary.serving) == (("podinfo",), 0, False)
    routing = route_http([httproute(weighted(90, 10))], req())
    assert starved(routing, services, workloads) == ("podinfo-canary",)
    assert starved(route_http([httproute(weighted(100, 0))], req()), services, workloads) == ()


# ------------------------------------------------------------------ live_split


def canary(provider: str, **analysis: Any) -> JSON:
    return {
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": provider,
            "targetRef": {"kind": "Deployment", "name": "podinfo"},
            "ingressRef": {"name": "podinfo"},
            "service": {"port": 9898, "hosts": ["app.example.com"]},
            "analysis": analysis,
        },
    }


def test_live_split_gateway_api_ab() -> None:
    ab = weighted(0, 100, matches=[{**prefix(), "headers": [header("x-canary", "insider")]}])
    route = httproute(ab, weighted(100, 0, matches=[prefix()]))
    route.pop("kind")  # list items carry no kind: sorted by shape
    live = live_split(
        canary("gatewayapi:v1", match=[{"headers": {"x-canary": {"exact": "insider"}}}]), route
    )
    assert live.plain == Split(
        primary=100.0, canary=0.0, enforced_by="HTTPRoute test/podinfo rule 1"
    )
    assert live.matched == Split(
        primary=0.0, canary=100.0, enforced_by="HTTPRoute test/podinfo rule 0"
    )


def test_live_split_gateway_api_weights_and_mirror() -> None:
    rule = weighted(90, 10)
    rule["filters"] = [
        {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "podinfo-canary"}}}
    ]
    live = live_split(canary("gatewayapi:v1beta1"), httproute(rule))
    assert (live.plain.primary, live.plain.canary, live.plain.mirrored) == (90.0, 10.0, True)
    assert live.matched is None


def test_live_split_nginx_cookie() -> None:
    objects = nginx(by_cookie="canary", weight="0")
    live = live_split(
        canary("nginx", match=[{"headers": {"cookie": {"exact": "canary"}}}]), *objects
    )
    assert (live.plain.primary, live.plain.canary) == (100.0, 0.0)
    assert live.matched is not None and live.matched.canary == 100.0
    assert live.matched_request is not None and live.matched_request.cookie("canary") == "always"


def test_live_split_nginx_regex_header_sample() -> None:
    objects = nginx(by_header="x-user", by_header_pattern="^(.*?;)?(beta=on)(;.*)?$", weight="0")
    match = [{"headers": {"x-user": {"regex": "^(.*?;)?(beta=on)(;.*)?$"}}}]
    live = live_split(canary("nginx", match=match), *objects)
    assert live.matched is not None and live.matched.canary == 100.0


def test_live_split_kubernetes_follows_the_apex_selector() -> None:
    workloads = [
        deployment("podinfo-primary", "podinfo-primary", 2),
        deployment("podinfo", "podinfo", 1),
    ]
    apex = service("podinfo", "podinfo-primary")
    live = live_split(canary("kubernetes"), apex, *workloads)
    assert (live.plain.primary, live.plain.canary) == (100.0, 0.0)
    assert live.plain.enforced_by == "Service test/podinfo selector app=podinfo-primary"
    before_init = live_split(canary("kubernetes"), service("podinfo", "podinfo"), *workloads)
    assert (before_init.plain.primary, before_init.plain.canary) == (0.0, 100.0)
    missing = live_split(canary("kubernetes"), *workloads)
    assert missing.plain.status == 503
