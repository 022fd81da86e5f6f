"""The `contour` provider router: the HTTPProxy `<apex>`.

Matrix: golden cases (tests/fixtures/routers/contour), `read_routes` (missing, weights,
malformed), round trip render -> read, `RouteError`s naming the fields Contour cannot
express, the both-weights-0 guard, refs, finalize, Protocol conformance, the capability row
and the registry's `--ingress-class`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import HTTPPROXY
from ensign.model import Canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers.contour import ContourRouter, contour_match_errors, no_valid_weights
from ensign.routers.protocol import (
    CreateObject,
    ObjectRef,
    RouteError,
    Router,
    RouterSettings,
    Split,
)
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID, routed_canary, steps_or_ab
from tests.unit.routers.golden import Case, Objects, check_case, load_cases


@pytest.mark.parametrize("case", load_cases("contour"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_and_are_described() -> None:
    cases = load_cases("contour")
    assert len(cases) >= 12
    for case in cases:
        description = case.data["description"]
        assert description.endswith("."), case.id
        assert "\n" not in description.strip(), case.id


def contour_canary(ab: list[dict[str, Any]] | None = None, **service: Any) -> Canary:
    port = {"port": 9898, "targetPort": 9898}
    return routed_canary("contour", analysis=steps_or_ab(ab), service=port | service)


def rendered(canary: Canary, routes: Routes, **split: Any) -> Objects:
    objects = Objects([])
    for change in ContourRouter().render(
        canary, objects, Split(routes=routes, **split), canary_uid=UID
    ):
        objects.apply(change)
    return objects


# -- protocol, capabilities, registry ---------------------------------------------------------


def test_conforms_to_router_protocol() -> None:
    router: Router = ContourRouter()
    assert router.name == "contour"
    assert router.kinds == (HTTPPROXY,)
    assert router.capabilities == CAPABILITIES[Provider.CONTOUR]


def test_capability_row() -> None:
    row = CAPABILITIES[Provider.CONTOUR]
    assert {Capability.WEIGHTS, Capability.BLUE_GREEN, Capability.HEADER_MATCH} <= row
    assert {Capability.MATCHED_WEIGHTS, Capability.TIMEOUTS} <= row
    assert Capability.MIRROR not in row
    assert Capability.SESSION_AFFINITY not in row


def test_registry_passes_the_ingress_class() -> None:
    router = make_router("contour", settings=RouterSettings(ingress_class="internal"))
    assert isinstance(router, ContourRouter)
    assert router.ingress_class == "internal"
    assert ContourRouter().ingress_class == ""


def test_refs_and_finalize() -> None:
    canary = contour_canary()
    assert ContourRouter().refs(canary) == (
        ObjectRef(kind=HTTPPROXY, namespace="test", name="podinfo"),
    )
    objects = rendered(canary, Routes(primary=50, canary=50))
    assert ContourRouter().finalize(canary, objects) == ()


# -- read_routes and round trip -------------------------------------------------------------


def test_read_routes_none_without_proxy() -> None:
    assert ContourRouter().read_routes(contour_canary(), Objects([])) is None


@pytest.mark.parametrize("weight", [0, 1, 30, 100])
def test_round_trip(weight: int) -> None:
    canary = contour_canary()
    routes = Routes(primary=100 - weight, canary=weight)
    objects = rendered(canary, routes)
    assert ContourRouter().read_routes(canary, objects) == routes
    again = ContourRouter().render(canary, objects, Split(routes=routes), canary_uid=UID)
    assert again == ()


@pytest.mark.parametrize("weight", [0, 40, 100])
def test_round_trip_ab(weight: int) -> None:
    canary = contour_canary([{"headers": {"x-canary": {"exact": "insider"}}}])
    routes = Routes(primary=100 - weight, canary=weight)
    objects = rendered(canary, routes)
    assert ContourRouter().read_routes(canary, objects) == routes


def test_canary_weight_is_100_minus_primary_of_route_0() -> None:
    canary = contour_canary()
    objects = rendered(canary, Routes(primary=70, canary=30))
    proxy = objects.bodies[0]
    proxy["spec"]["routes"][0]["services"][1]["weight"] = 55  # ignored, as in Flagger
    assert ContourRouter().read_routes(canary, objects) == Routes(primary=70, canary=30)


def _proxy_with(services: list[dict[str, Any]]) -> Objects:
    return Objects(
        [
            {
                "apiVersion": "projectcontour.io/v1",
                "kind": "HTTPProxy",
                "metadata": {"name": "podinfo", "namespace": "test"},
                "spec": {"routes": [{"services": services}]},
            }
        ]
    )


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ([], "HTTPProxy podinfo.test services not found"),
        ([{"name": "podinfo-primary", "weight": 100}], "services not found"),
        (
            [{"name": "a", "weight": 100}, {"name": "b", "weight": 0}],
            "route 0 has no service podinfo-primary",
        ),
        (
            [{"name": "podinfo-primary", "weight": "x"}, {"name": "podinfo-canary"}],
            "malformed weight for podinfo-primary: 'x'",
        ),
        (
            [{"name": "podinfo-primary", "weight": 120}, {"name": "podinfo-canary"}],
            "malformed weight",
        ),
    ],
)
def test_read_routes_errors(services: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(RouteError, match=message):
        ContourRouter().read_routes(contour_canary(), _proxy_with(services))


# -- render ---------------------------------------------------------------------------------


def test_create_has_no_status_and_an_owner() -> None:
    (change,) = ContourRouter().render(contour_canary(), Objects([]), Split(), canary_uid=UID)
    assert isinstance(change, CreateObject)
    assert "status" not in change.body
    assert change.body["metadata"]["ownerReferences"][0]["uid"] == UID


def test_ingress_class_name() -> None:
    router = ContourRouter(ingress_class="contour-external")
    (change,) = router.render(contour_canary(), Objects([]), Split(), canary_uid=UID)
    assert change.body["spec"]["ingressClassName"] == "contour-external"  # type: ignore[union-attr]


def test_ingress_class_change_is_written() -> None:
    canary = contour_canary()
    objects = rendered(canary, Routes(primary=80, canary=20))
    changes = ContourRouter(ingress_class="x").render(
        canary, objects, Split(routes=Routes(primary=80, canary=20)), canary_uid=UID
    )
    assert len(changes) == 1


def test_both_weights_zero_is_refused() -> None:
    zero = object.__new__(Routes)
    for name, value in (("primary", 0), ("canary", 0), ("mirrored", False)):
        object.__setattr__(zero, name, value)
    with pytest.raises(RouteError, match=r"^RoutingRule podinfo\.test update failed: no valid"):
        no_valid_weights(contour_canary(), zero)
    with pytest.raises(RouteError, match="no valid weights"):
        ContourRouter().render(contour_canary(), Objects([]), Split(routes=zero), canary_uid=UID)


def test_without_service_is_an_error() -> None:
    canary = contour_canary()
    bare = copy.copy(canary)
    object.__setattr__(bare, "spec", copy.copy(canary.spec))
    object.__setattr__(bare.spec, "service", None)
    with pytest.raises(RouteError, match=r"spec\.service is required by provider contour"):
        ContourRouter().render(bare, Objects([]), Split(), canary_uid=UID)


@pytest.mark.parametrize(
    ("match", "path"),
    [
        ([{"uri": {"prefix": "/api"}}], r"spec\.analysis\.match\[0\]\.uri: matching on uri"),
        ([{"method": {"exact": "GET"}}], r"spec\.analysis\.match\[0\]\.method"),
        ([{"queryParams": {"a": {"exact": "1"}}}], r"spec\.analysis\.match\[0\]\.queryParams"),
        ([{"sourceLabels": {"app": "x"}}], r"spec\.analysis\.match\[0\]\.sourceLabels"),
        (
            [{"headers": {"x": {"exact": "1"}}}, {"headers": {"cookie": {"regex": "c=.*"}}}],
            r"spec\.analysis\.match\[1\]\.headers\.cookie\.regex: a regex header value",
        ),
    ],
)
def test_match_fields_contour_cannot_express(match: list[dict[str, Any]], path: str) -> None:
    canary = contour_canary(match)
    assert contour_match_errors(canary.spec.effective_analysis.match)
    with pytest.raises(RouteError, match=f"^{path}"):
        ContourRouter().render(canary, Objects([]), Split(), canary_uid=UID)


def test_header_conditions_per_entry() -> None:
    canary = contour_canary(
        [
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"headers": {"user-agent": {"prefix": "Mozilla"}, "x-tier": {"suffix": "beta"}}},
        ],
        match=[{"uri": {"prefix": "/api"}}],
    )
    (change,) = ContourRouter().render(canary, Objects([]), Split(), canary_uid=UID)
    routes = change.body["spec"]["routes"]  # type: ignore[union-attr]
    assert [r["conditions"] for r in routes] == [
        [{"prefix": "/api"}, {"header": {"name": "x-canary", "exact": "insider"}}],
        [
            {"prefix": "/api"},
            {"header": {"name": "user-agent", "contains": "Mozilla"}},
            {"header": {"name": "x-tier", "contains": "beta"}},
        ],
        [{"prefix": "/api"}],
    ]
    assert [[s["weight"] for s in r["services"]] for r in routes] == [[100, 0], [100, 0], [100, 0]]


def test_retry_on_split_and_trimmed() -> None:
    canary = contour_canary(retries={"attempts": 2, "retryOn": " 5xx ,reset,"})
    (change,) = ContourRouter().render(canary, Objects([]), Split(), canary_uid=UID)
    (route,) = change.body["spec"]["routes"]  # type: ignore[union-attr]
    assert route["retryPolicy"] == {"count": 2, "retryOn": ["5xx", "reset"]}
    assert "timeoutPolicy" not in route
