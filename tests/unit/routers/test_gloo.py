"""The `gloo` provider router: the kube Upstreams and the RouteTable `<apex>`.

Matrix: golden cases (tests/fixtures/routers/gloo), `read_routes` (missing, weights,
malformed, both 0), round trip render -> read, the `upstreamRef` Upstream missing,
`RouteError`s naming the match fields Gloo cannot express, refs, finalize, Protocol
conformance, the capability row and suffixed provider strings.
"""

from __future__ import annotations

from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import GLOO_ROUTETABLE, GLOO_UPSTREAM, SERVICE
from ensign.model import Canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers.gloo import GlooRouter, gloo_match_errors, upstream_names
from ensign.routers.protocol import ObjectRef, RouteError, Router, Split
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID, routed_canary, steps_or_ab
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

PRIMARY = "test-podinfo-primaryupstream-9898"
CANARY = "test-podinfo-canaryupstream-9898"


@pytest.mark.parametrize("case", load_cases("gloo"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_and_are_described() -> None:
    cases = load_cases("gloo")
    assert len(cases) >= 12
    for case in cases:
        description = case.data["description"]
        assert description.endswith("."), case.id
        assert "\n" not in description.strip(), case.id


def gloo_canary(ab: list[dict[str, Any]] | None = None, **spec: Any) -> Canary:
    port = {"port": 9898, "targetPort": 9898}
    return routed_canary("gloo", analysis=steps_or_ab(ab), service=port, **spec)


def services() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "test"},
            "spec": {"selector": {"app": app}},
        }
        for name, app in (("podinfo-primary", "podinfo-primary"), ("podinfo-canary", "podinfo"))
    ]


def rendered(canary: Canary, routes: Routes, **split: Any) -> Objects:
    objects = Objects(services())
    for change in GlooRouter().render(
        canary, objects, Split(routes=routes, **split), canary_uid=UID
    ):
        objects.apply(change)
    return objects


def table(objects: Objects) -> dict[str, Any]:
    found = objects.get(GLOO_ROUTETABLE, "test", "podinfo")
    assert found is not None
    return dict(found)


# -- protocol, capabilities, registry ---------------------------------------------------------


def test_conforms_to_router_protocol() -> None:
    router: Router = GlooRouter()
    assert router.name == "gloo"
    assert router.kinds == (GLOO_UPSTREAM, GLOO_ROUTETABLE)
    assert router.capabilities == CAPABILITIES[Provider.GLOO]


def test_capability_row() -> None:
    row = CAPABILITIES[Provider.GLOO]
    assert {Capability.WEIGHTS, Capability.BLUE_GREEN, Capability.HEADER_MATCH} <= row
    assert Capability.MATCHED_WEIGHTS in row
    assert not {Capability.MIRROR, Capability.TIMEOUTS, Capability.SESSION_AFFINITY} & row


@pytest.mark.parametrize("provider", ["gloo", "gloo:v1", "gloo-edge"])
def test_registry_maps_suffixed_providers(provider: str) -> None:
    assert isinstance(make_router(provider), GlooRouter)


def test_upstream_names() -> None:
    assert upstream_names(gloo_canary()) == (PRIMARY, CANARY)


def test_refs_and_finalize() -> None:
    ref = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "settings"}
    canary = gloo_canary(upstreamRef=ref)
    assert GlooRouter().refs(canary) == (
        ObjectRef(kind=GLOO_ROUTETABLE, namespace="test", name="podinfo"),
        ObjectRef(kind=GLOO_UPSTREAM, namespace="test", name=PRIMARY),
        ObjectRef(kind=GLOO_UPSTREAM, namespace="test", name=CANARY),
        ObjectRef(kind=SERVICE, namespace="test", name="podinfo-primary"),
        ObjectRef(kind=SERVICE, namespace="test", name="podinfo-canary"),
        ObjectRef(kind=GLOO_UPSTREAM, namespace="test", name="settings"),
    )
    assert len(GlooRouter().refs(gloo_canary())) == 5
    assert GlooRouter().finalize(canary, Objects([])) == ()


# -- read_routes and round trip -------------------------------------------------------------


def test_read_routes_none_without_route_table() -> None:
    assert GlooRouter().read_routes(gloo_canary(), Objects(services())) is None


@pytest.mark.parametrize("weight", [0, 1, 30, 100])
def test_round_trip(weight: int) -> None:
    canary = gloo_canary()
    routes = Routes(primary=100 - weight, canary=weight)
    objects = rendered(canary, routes)
    assert GlooRouter().read_routes(canary, objects) == routes
    assert GlooRouter().render(canary, objects, Split(routes=routes), canary_uid=UID) == ()


@pytest.mark.parametrize("weight", [0, 40, 100])
def test_round_trip_ab(weight: int) -> None:
    canary = gloo_canary([{"headers": {"x-canary": {"exact": "insider"}}}])
    routes = Routes(primary=100 - weight, canary=weight)
    objects = rendered(canary, routes)
    assert GlooRouter().read_routes(canary, objects) == routes
    assert len(table(objects)["spec"]["routes"]) == 2


def _set_weights(objects: Objects, primary: Any, canary: Any) -> None:
    destinations = table(objects)["spec"]["routes"][0]["routeAction"]["multi"]["destinations"]
    destinations[0]["weight"] = primary
    destinations[1]["weight"] = canary


@pytest.mark.parametrize(
    ("primary", "canary", "message"),
    [
        (0, 0, r"^RoutingRule podinfo\.test update failed: no valid weights$"),
        ("x", 0, "malformed weights"),
        (60, 60, "malformed weights"),
    ],
)
def test_read_routes_bad_weights(primary: Any, canary: Any, message: str) -> None:
    objects = rendered(gloo_canary(), Routes(primary=100, canary=0))
    _set_weights(objects, primary, canary)
    with pytest.raises(RouteError, match=message):
        GlooRouter().read_routes(gloo_canary(), objects)


def test_read_routes_destinations_not_found() -> None:
    objects = rendered(gloo_canary(), Routes(primary=100, canary=0))
    multi = table(objects)["spec"]["routes"][0]["routeAction"]["multi"]
    multi["destinations"] = multi["destinations"][:1]
    with pytest.raises(RouteError, match=r"^RouteTable podinfo\.test destinations not found$"):
        GlooRouter().read_routes(gloo_canary(), objects)


# -- render ---------------------------------------------------------------------------------


def test_upstream_ref_missing_is_an_error() -> None:
    ref = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "gone", "namespace": "gs"}
    with pytest.raises(RouteError, match=r"^spec\.upstreamRef: Upstream gone\.gs not found$"):
        GlooRouter().render(
            gloo_canary(upstreamRef=ref), Objects(services()), Split(), canary_uid=UID
        )


def test_upstreams_wait_for_their_services() -> None:
    changes = GlooRouter().render(gloo_canary(), Objects([]), Split(), canary_uid=UID)
    assert [c.kind for c in changes] == [GLOO_ROUTETABLE]


@pytest.mark.parametrize(
    ("match", "path"),
    [
        ([{"uri": {"prefix": "/api"}}], r"spec\.analysis\.match\[0\]\.uri: matching on uri"),
        ([{"queryParams": {"a": {"exact": "1"}}}], r"spec\.analysis\.match\[0\]\.queryParams"),
        ([{"sourceLabels": {"app": "x"}}], r"spec\.analysis\.match\[0\]\.sourceLabels"),
        (
            [{"headers": {"x": {"exact": "1"}}}, {"method": {"regex": "GET|POST"}}],
            r"spec\.analysis\.match\[1\]\.method\.regex: only an exact method",
        ),
    ],
)
def test_match_fields_gloo_cannot_express(match: list[dict[str, Any]], path: str) -> None:
    canary = gloo_canary(match)
    assert gloo_match_errors(canary.spec.effective_analysis.match)
    with pytest.raises(RouteError, match=f"^{path}"):
        GlooRouter().render(canary, Objects(services()), Split(), canary_uid=UID)


def test_matchers_one_per_entry() -> None:
    canary = gloo_canary(
        [
            {"headers": {"x-canary": {"exact": "insider"}}, "method": {"exact": "GET"}},
            {"headers": {"x-user": {"prefix": "a.b"}}},
        ]
    )
    objects = rendered(canary, Routes(primary=0, canary=100))
    first, default = table(objects)["spec"]["routes"]
    assert first["matchers"] == [
        {"headers": [{"name": "x-canary", "value": "insider"}], "methods": ["GET"]},
        {"headers": [{"name": "x-user", "value": r"a\.b.*", "regex": True}]},
    ]
    assert first["inheritablePathMatchers"] is True
    assert "matchers" not in default
    weights = [d["weight"] for d in default["routeAction"]["multi"]["destinations"]]
    assert weights == [100, 0]
