"""The Gateway API router (`gatewayapi:v1`, `gatewayapi:v1beta1`).

Golden cases (tests/fixtures/routers/gatewayapi/*.yaml) pin the HTTPRoute written for each
feature and show that a render at the live split of an unchanged spec writes nothing. The
tests here cover what a golden case cannot: unsupported matches (RouteError), reading the
split back (missing route, parent status, weights with session affinity, mirroring,
malformed weights), Protocol conformance and the capability rows.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.engine.affinity import AffinityCookies
from ensign.engine.weights import Routes
from ensign.kube.kinds import HTTPROUTE_V1, HTTPROUTE_V1BETA1
from ensign.model import Canary, parse_canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers import Router
from ensign.routers.gatewayapi import GatewayApiRouter
from ensign.routers.protocol import CreateObject, ObjectRef, ReplaceObject, RouteError, Split
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

V1 = "gatewayapi:v1"
V1BETA1 = "gatewayapi:v1beta1"
GATEWAY = {"name": "gateway", "namespace": "istio-ingress"}


def gw_canary(
    service: dict[str, Any] | None = None,
    analysis: dict[str, Any] | None = None,
    *,
    provider: str = V1,
) -> Canary:
    svc: dict[str, Any] = {"port": 9898, "gatewayRefs": [dict(GATEWAY)]}
    svc.update(service or {})
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "provider": provider,
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": svc,
                "analysis": analysis
                or {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
            },
        }
    )


def created(
    router: GatewayApiRouter, canary: Canary, split: Split | None = None, *, generation: int = 1
) -> dict[str, Any]:
    """The route the router creates at `split`, as stored (with a generation)."""
    (change,) = router.render(canary, Objects([]), split or Split(), canary_uid=UID)
    assert isinstance(change, CreateObject)
    body = copy.deepcopy(dict(change.body))
    body["metadata"]["generation"] = generation
    body["status"] = {
        "parents": [accepted(dict(ref), observed=generation) for ref in body["spec"]["parentRefs"]]
    }
    return body


def accepted(
    ref: dict[str, Any], *, status: str = "True", observed: int | None = 1
) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": "Accepted", "status": status, "reason": "Accepted"}
    if observed is not None:
        condition["observedGeneration"] = observed
    return {"parentRef": ref, "controllerName": "example.com/gateway", "conditions": [condition]}


# --- golden cases --------------------------------------------------------------------


@pytest.mark.parametrize("case", load_cases("gatewayapi"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_for_both_versions() -> None:
    providers = {case.data["provider"] for case in load_cases("gatewayapi")}
    assert providers == {V1, V1BETA1}


# --- protocol, registry, capabilities -------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "kind"),
    [(Provider.GATEWAYAPI_V1, HTTPROUTE_V1), (Provider.GATEWAYAPI_V1BETA1, HTTPROUTE_V1BETA1)],
)
def test_router_matches_its_row(provider: Provider, kind: Any) -> None:
    router: Router = make_router(provider.value)
    assert isinstance(router, GatewayApiRouter)
    assert router.name == provider.value
    assert router.capabilities == CAPABILITIES[provider]
    assert router.kinds == (kind,)
    assert router.refs(gw_canary(provider=provider.value)) == (
        ObjectRef(kind=kind, namespace="test", name="podinfo"),
    )
    assert router.finalize(gw_canary(provider=provider.value), Objects([])) == ()


def test_satisfies_router_protocol() -> None:
    routers: list[Router] = [GatewayApiRouter.v1(), GatewayApiRouter.v1beta1()]
    assert [router.name for router in routers] == [V1, V1BETA1]


def test_factories_build_each_version() -> None:
    assert GatewayApiRouter.v1() == GatewayApiRouter.for_provider(Provider.GATEWAYAPI_V1)
    assert GatewayApiRouter.v1beta1().kind == HTTPROUTE_V1BETA1
    v1_features = GatewayApiRouter.v1().features
    beta_features = GatewayApiRouter.v1beta1().features
    assert (v1_features.timeouts, v1_features.cors, v1_features.primary_cookie) == (
        True,
        True,
        True,
    )
    assert (beta_features.timeouts, beta_features.cors, beta_features.primary_cookie) == (
        False,
        False,
        False,
    )


def test_refs_use_service_name() -> None:
    canary = gw_canary({"name": "frontend"})
    assert GatewayApiRouter.v1().refs(canary)[0].name == "frontend"
    body = created(GatewayApiRouter.v1(), canary)
    names = [ref["name"] for ref in body["spec"]["rules"][0]["backendRefs"]]
    assert names == ["frontend-primary", "frontend-canary"]


# --- render errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "what", "path"),
    [
        ({"uri": {"suffix": "/x"}}, "path", "spec.service.match[0].uri"),
        ({"method": {"prefix": "G"}}, "method", "spec.service.match[0].method"),
        (
            {"headers": {"x-user": {"prefix": "a"}}},
            "header",
            "spec.service.match[0].headers.x-user",
        ),
        ({"queryParams": {"q": {"suffix": "z"}}}, "query", "spec.service.match[0].queryParams.q"),
        ({"authority": {"exact": "a.example.com"}}, "authority", "spec.service.match[0].authority"),
        (
            {"withoutHeaders": {"x": {"exact": "1"}}},
            "withoutHeaders",
            "spec.service.match[0].withoutHeaders",
        ),
        (
            {"ignoreUriCase": True, "uri": {"prefix": "/"}},
            "ignoreUriCase",
            "spec.service.match[0].ignoreUriCase",
        ),
    ],
)
def test_unsupported_match_raises(match: dict[str, Any], what: str, path: str) -> None:
    canary = gw_canary({"match": [match]})
    with pytest.raises(RouteError) as error:
        GatewayApiRouter.v1().render(canary, Objects([]), Split(), canary_uid=UID)
    message = str(error.value)
    assert message.startswith(f"Gateway API doesn't support the specified {what} matching selector")
    assert path in message


def test_unsupported_analysis_match_names_analysis_field() -> None:
    canary = gw_canary(
        None,
        {
            "interval": "1m",
            "threshold": 5,
            "iterations": 10,
            "match": [{"headers": {"x-canary": {"prefix": "in"}}}],
        },
    )
    with pytest.raises(RouteError, match=r"spec\.analysis\.match\[0\]\.headers\.x-canary"):
        GatewayApiRouter.v1().render(canary, Objects([]), Split(), canary_uid=UID)


def test_bad_cors_max_age_raises() -> None:
    canary = gw_canary({"corsPolicy": {"allowOrigin": ["*"], "maxAge": "a day"}})
    with pytest.raises(RouteError, match=r"corsPolicy\.maxAge"):
        GatewayApiRouter.v1().render(canary, Objects([]), Split(), canary_uid=UID)


def test_timeouts_and_cors_dropped_by_v1beta1_router() -> None:
    # Validation refuses them for v1beta1 (so the canary is parsed as v1); the router
    # cannot write them either.
    canary = gw_canary(
        {"timeout": "5s", "backendTimeout": "2s", "corsPolicy": {"allowOrigin": ["*"]}}
    )
    body = created(GatewayApiRouter.v1beta1(), canary)
    (rule,) = body["spec"]["rules"]
    assert "timeouts" not in rule and "filters" not in rule
    assert body["apiVersion"] == "gateway.networking.k8s.io/v1beta1"


def test_primary_cookie_ignored_by_v1beta1_router() -> None:
    canary = gw_canary(
        None,
        {
            "interval": "1m",
            "threshold": 5,
            "stepWeight": 10,
            "sessionAffinity": {"cookieName": "c", "primaryCookieName": "p"},
        },
    )  # parsed as v1: validation refuses a primary cookie for v1beta1
    cookies = AffinityCookies(canary="c=abc", primary="p=def")
    split = Split(routes=Routes(primary=90, canary=10), cookies=cookies)
    rules = created(GatewayApiRouter.v1beta1(), canary, split)["spec"]["rules"]
    assert len(rules) == 2  # sticky canary + weighted, no sticky primary
    primary_ref, canary_ref = rules[1]["backendRefs"]
    assert "filters" not in primary_ref
    assert canary_ref["filters"][0]["responseHeaderModifier"]["add"] == [
        {"name": "Set-Cookie", "value": "c=abc; Max-Age=86400"}
    ]


def test_affinity_without_cookie_writes_weighted_rule_only() -> None:
    canary = gw_canary(
        None,
        {
            "interval": "1m",
            "threshold": 5,
            "stepWeight": 10,
            "sessionAffinity": {"cookieName": "c"},
        },
    )
    split = Split(routes=Routes(primary=90, canary=10))
    (rule,) = created(GatewayApiRouter.v1(), canary, split)["spec"]["rules"]
    assert [ref["weight"] for ref in rule["backendRefs"]] == [90, 10]


def test_replace_keeps_live_metadata_and_drops_status() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary()
    live = created(router, canary)
    live["metadata"].update(resourceVersion="7", uid="route-uid", labels={"stale": "yes"})
    live["status"] = {"parents": [accepted(dict(GATEWAY))]}
    split = Split(routes=Routes(primary=90, canary=10))
    (change,) = router.render(canary, Objects([live]), split, canary_uid=UID)
    assert isinstance(change, ReplaceObject)
    body = change.body
    assert "status" not in body
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["metadata"]["uid"] == "route-uid"
    assert "labels" not in body["metadata"]  # labels are exactly service.apex.labels
    assert body["metadata"]["ownerReferences"] == live["metadata"]["ownerReferences"]


# --- read_routes ---------------------------------------------------------------------


def test_read_routes_none_when_missing() -> None:
    assert GatewayApiRouter.v1().read_routes(gw_canary(), Objects([])) is None


def test_read_routes_with_accepted_parent() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary()
    live = created(router, canary, Split(routes=Routes(primary=70, canary=30)), generation=3)
    live["status"] = {"parents": [accepted(dict(GATEWAY), observed=3)]}
    assert router.read_routes(canary, Objects([live])) == Routes(primary=70, canary=30)


@pytest.mark.parametrize(
    ("status", "observed", "generation", "expected"),
    [
        ("False", 2, 2, "(status: False, observed generation: 2, current generation: 2)"),
        ("Unknown", 2, 2, "(status: Unknown, observed generation: 2, current generation: 2)"),
        ("True", 1, 2, "(status: True, observed generation: 1, current generation: 2)"),
    ],
)
def test_read_routes_parent_not_ready(
    status: str, observed: int, generation: int, expected: str
) -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary()
    live = created(router, canary, generation=generation)
    live["status"] = {"parents": [accepted(dict(GATEWAY), status=status, observed=observed)]}
    with pytest.raises(RouteError) as error:
        router.read_routes(canary, Objects([live]))
    assert str(error.value) == f"HTTPRoute podinfo.test parent gateway is not ready {expected}"


def test_read_routes_entry_without_accepted_condition() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary()
    live = created(router, canary, generation=2)
    entry = accepted(dict(GATEWAY))
    entry["conditions"] = [{"type": "ResolvedRefs", "status": "True", "observedGeneration": 2}]
    live["status"] = {"parents": [entry]}
    with pytest.raises(RouteError, match=r"\(status: missing, observed generation: 0"):
        router.read_routes(canary, Objects([live]))


def test_read_routes_unreported_parent_has_not_accepted() -> None:
    """A parentRef without a status entry has not been seen by its controller yet: the
    weights are not trusted until it accepts the route (a gateway that is not running must
    not let the analysis step on)."""
    router = GatewayApiRouter.v1()
    canary = gw_canary({"gatewayRefs": [dict(GATEWAY), {"name": "internal", "namespace": "mesh"}]})
    live = created(router, canary, generation=2)
    live["status"] = {"parents": [accepted(dict(GATEWAY), observed=2)]}
    message = (
        "HTTPRoute podinfo.test parent internal is not ready (status: missing,"
        " observed generation: 0, current generation: 2)"
    )
    with pytest.raises(RouteError) as raised:
        router.read_routes(canary, Objects([live]))
    assert str(raised.value) == message
    live["status"] = {}
    with pytest.raises(RouteError):
        router.read_routes(canary, Objects([live]))


def test_read_routes_matches_parent_by_section_and_kind() -> None:
    router = GatewayApiRouter.v1()
    https = {**GATEWAY, "sectionName": "https"}
    canary = gw_canary({"gatewayRefs": [https]})
    live = created(router, canary, generation=2)
    # Another listener of the same gateway refused the route: not this parentRef's entry.
    live["status"] = {
        "parents": [
            accepted({**GATEWAY, "sectionName": "http"}, status="False", observed=2),
            accepted(
                {**https, "group": "gateway.networking.k8s.io", "kind": "Gateway"}, observed=2
            ),
        ]
    }
    assert router.read_routes(canary, Objects([live])) == Routes(primary=100, canary=0)


def test_read_routes_missing_observed_generation_is_not_stale() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary({"gatewayRefs": [{"group": "core", "kind": "Service", "name": "podinfo"}]})
    live = created(router, canary, generation=4)
    ref = {"group": "core", "kind": "Service", "name": "podinfo", "namespace": "test", "port": 9898}
    live["status"] = {"parents": [accepted(ref, observed=None)]}
    assert router.read_routes(canary, Objects([live])) == Routes(primary=100, canary=0)


def test_read_routes_v1beta1_ignores_parent_status() -> None:
    router = GatewayApiRouter.v1beta1()
    canary = gw_canary(provider=V1BETA1)
    live = created(router, canary, generation=5)
    live["status"] = {"parents": [accepted(dict(GATEWAY), status="False", observed=1)]}
    assert router.read_routes(canary, Objects([live])) == Routes(primary=100, canary=0)


def test_read_routes_with_affinity_reads_the_rule_with_backend_filters() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary(
        None,
        {
            "interval": "1m",
            "threshold": 5,
            "stepWeight": 10,
            "sessionAffinity": {"cookieName": "c", "primaryCookieName": "p"},
        },
    )
    cookies = AffinityCookies(canary="c=abc", primary="p=def")
    split = Split(routes=Routes(primary=80, canary=20), cookies=cookies)
    live = created(router, canary, split)
    rules = live["spec"]["rules"]
    assert [[ref["weight"] for ref in rule["backendRefs"]] for rule in rules] == [
        [0, 100],
        [100, 0],
        [80, 20],
    ]
    # Put the weighted rule first: the rule with backend filters still wins.
    live["spec"]["rules"] = [rules[2], rules[0], rules[1]]
    assert router.read_routes(canary, Objects([live])) == Routes(primary=80, canary=20)


def test_read_routes_ab_reads_the_two_backend_rule() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary(
        None,
        {
            "interval": "1m",
            "threshold": 5,
            "iterations": 10,
            "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
        },
    )
    live = created(router, canary, Split(routes=Routes(primary=0, canary=100)))
    assert len(live["spec"]["rules"]) == 2
    assert router.read_routes(canary, Objects([live])) == Routes(primary=0, canary=100)


def test_read_routes_detects_mirroring() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary(None, {"interval": "1m", "threshold": 5, "iterations": 5, "mirror": True})
    live = created(router, canary, Split(routes=Routes(primary=100, canary=0, mirrored=True)))
    assert router.read_routes(canary, Objects([live])) == Routes(
        primary=100, canary=0, mirrored=True
    )
    # A static service mirror to another backend is not canary mirroring.
    other = gw_canary({"mirror": [{"backendRef": {"name": "shadow", "port": 80}}]})
    live = created(router, other)
    assert router.read_routes(other, Objects([live])) == Routes(primary=100, canary=0)


def test_mirroring_needs_iterations() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary()
    live = created(router, canary, Split(routes=Routes(primary=100, canary=0, mirrored=True)))
    assert "filters" not in live["spec"]["rules"][0]


@pytest.mark.parametrize(
    "weights",
    [(None, 0), ("90", 10), (True, 0), (60, 30), (120, -20)],
)
def test_read_routes_malformed_weights(weights: tuple[Any, Any]) -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary()
    live = created(router, canary)
    for ref, weight in zip(live["spec"]["rules"][0]["backendRefs"], weights, strict=True):
        if weight is None:
            del ref["weight"]
        else:
            ref["weight"] = weight
    with pytest.raises(RouteError, match=r"HTTPRoute podinfo\.test has malformed weights"):
        router.read_routes(canary, Objects([live]))


def test_read_routes_without_weighted_rule() -> None:
    router = GatewayApiRouter.v1()
    canary = gw_canary()
    live = created(router, canary)
    live["spec"]["rules"][0]["backendRefs"].pop()
    with pytest.raises(RouteError, match="does not contain a rule routing to podinfo-primary"):
        router.read_routes(canary, Objects([live]))
