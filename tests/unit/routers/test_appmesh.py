"""The App Mesh routers (`provider: appmesh`, `appmesh:v1beta2`).

Golden cases (tests/fixtures/routers/appmesh/*.yaml) pin the virtual nodes, routers and
services written for each feature, for both API versions, and show that a render at the
live split of an unchanged spec writes nothing. The tests here cover reading the split
back, a round trip over a table of splits, render errors, Protocol conformance and the
capability rows.
"""

from __future__ import annotations

from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import (
    APPMESH_V1BETA1_VIRTUALNODE,
    APPMESH_V1BETA1_VIRTUALSERVICE,
    APPMESH_VIRTUALNODE,
    APPMESH_VIRTUALROUTER,
    APPMESH_VIRTUALSERVICE,
)
from ensign.model import Canary, InvalidSpec, parse_canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers import Router
from ensign.routers.appmesh import AppMeshRouter
from ensign.routers.protocol import CreateObject, ReplaceObject, RouteError, Split
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

STEP = {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10}
AB = {
    "interval": "1m",
    "threshold": 5,
    "iterations": 10,
    "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
}
V1BETA2 = AppMeshRouter.for_provider(Provider.APPMESH_V1BETA2)
V1BETA1 = AppMeshRouter.for_provider(Provider.APPMESH)
BOTH = pytest.mark.parametrize("router", [V1BETA1, V1BETA2], ids=["v1beta1", "v1beta2"])


def mesh_canary(
    provider: str = "appmesh:v1beta2",
    service: dict[str, Any] | None = None,
    analysis: dict[str, Any] | None = None,
) -> Canary:
    svc: dict[str, Any] = {"port": 9898, "meshName": "global"}
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
                "analysis": analysis or dict(STEP),
            },
        }
    )


def split(primary: int, canary: int, **kwargs: Any) -> Split:
    return Split(routes=Routes(primary=primary, canary=canary), **kwargs)


def applied(router: AppMeshRouter, canary: Canary, s: Split, objects: Objects) -> Objects:
    for change in router.render(canary, objects, s, canary_uid=UID):
        objects.apply(change)
    return objects


def weighted(router: AppMeshRouter, objects: Objects) -> dict[str, Any]:
    """The body holding the weighted route."""
    if router is V1BETA2:
        body = objects.get(APPMESH_VIRTUALROUTER, "test", "podinfo")
    else:
        body = objects.get(APPMESH_V1BETA1_VIRTUALSERVICE, "test", "podinfo.test")
    assert body is not None
    return dict(body)


# --- golden cases --------------------------------------------------------------------


@pytest.mark.parametrize("case", load_cases("appmesh"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_cover_both_versions() -> None:
    providers = {case.data["provider"] for case in load_cases("appmesh")}
    assert providers == {"appmesh", "appmesh:v1beta2"}


# --- protocol, registry, capabilities -------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "row", "kinds"),
    [
        (
            "appmesh",
            Provider.APPMESH,
            (APPMESH_V1BETA1_VIRTUALNODE, APPMESH_V1BETA1_VIRTUALSERVICE),
        ),
        (
            "appmesh:v1beta2",
            Provider.APPMESH_V1BETA2,
            (APPMESH_VIRTUALNODE, APPMESH_VIRTUALROUTER, APPMESH_VIRTUALSERVICE),
        ),
        (
            "appmesh:v1beta2:extra",
            Provider.APPMESH_V1BETA2,
            (APPMESH_VIRTUALNODE, APPMESH_VIRTUALROUTER, APPMESH_VIRTUALSERVICE),
        ),
    ],
)
def test_router_matches_its_row(provider: str, row: Provider, kinds: tuple[Any, ...]) -> None:
    router: Router = make_router(provider)
    assert isinstance(router, AppMeshRouter)
    assert router.name == row.value
    assert router.capabilities == CAPABILITIES[row]
    assert Capability.RECONCILE_FIRST in router.capabilities
    assert Capability.HEADER_MATCH in router.capabilities
    assert Capability.MIRROR not in router.capabilities
    assert router.kinds == kinds


def test_for_provider_refuses_other_providers() -> None:
    with pytest.raises(ValueError, match="not an App Mesh provider"):
        AppMeshRouter.for_provider("istio")


@BOTH
def test_satisfies_router_protocol(router: AppMeshRouter) -> None:
    as_protocol: Router = router
    assert as_protocol.finalize(mesh_canary(router.name), Objects([])) == ()


def test_refs_v1beta2_name_objects_services_and_target() -> None:
    names = [(r.kind.kind, r.name) for r in V1BETA2.refs(mesh_canary())]
    assert names == [
        ("VirtualNode", "podinfo-primary"),
        ("VirtualNode", "podinfo-canary"),
        ("VirtualRouter", "podinfo"),
        ("VirtualRouter", "podinfo-canary"),
        ("VirtualService", "podinfo"),
        ("VirtualService", "podinfo-canary"),
        ("Service", "podinfo-primary"),
        ("Service", "podinfo-canary"),
        ("Deployment", "podinfo"),
    ]


def test_refs_v1beta1_name_nodes_and_services() -> None:
    names = [(r.kind.kind, r.name) for r in V1BETA1.refs(mesh_canary("appmesh"))]
    assert names == [
        ("VirtualNode", "podinfo-primary"),
        ("VirtualNode", "podinfo-canary"),
        ("VirtualService", "podinfo.test"),
        ("VirtualService", "podinfo-canary.test"),
    ]


# --- read_routes ---------------------------------------------------------------------


@BOTH
def test_read_routes_none_without_objects(router: AppMeshRouter) -> None:
    assert router.read_routes(mesh_canary(router.name), Objects([])) is None


@BOTH
@pytest.mark.parametrize(("p", "c"), [(100, 0), (90, 10), (50, 50), (1, 99), (0, 100)])
def test_round_trip(router: AppMeshRouter, p: int, c: int) -> None:
    canary = mesh_canary(router.name)
    objects = applied(router, canary, split(p, c), Objects([]))
    assert router.read_routes(canary, objects) == Routes(primary=p, canary=c)
    assert router.render(canary, objects, split(p, c), canary_uid=UID) == ()


@BOTH
def test_round_trip_ab_reads_the_matching_route(router: AppMeshRouter) -> None:
    canary = mesh_canary(router.name, analysis=AB)
    objects = applied(router, canary, split(0, 100), Objects([]))
    assert router.read_routes(canary, objects) == Routes(primary=0, canary=100)
    names = [route["name"] for route in weighted(router, objects)["spec"]["routes"]]
    assert names == ["podinfo-a", "podinfo-b"]


@BOTH
def test_read_routes_both_zero_is_an_error(router: AppMeshRouter) -> None:
    canary = mesh_canary(router.name)
    objects = applied(router, canary, split(100, 0), Objects([]))
    body = weighted(router, objects)
    for route in body["spec"]["routes"]:
        for value in route.values():
            if isinstance(value, dict):
                for target in value["action"]["weightedTargets"]:
                    target["weight"] = 0
    kind = "VirtualRouter podinfo.test" if router is V1BETA2 else "VirtualService podinfo.test.test"
    with pytest.raises(RouteError, match=f"{kind} does not contain routes for podinfo-primary"):
        router.read_routes(canary, objects)


@BOTH
def test_read_routes_malformed_weights(router: AppMeshRouter) -> None:
    canary = mesh_canary(router.name)
    objects = applied(router, canary, split(100, 0), Objects([]))
    route = weighted(router, objects)["spec"]["routes"][0]
    body = route.get("httpRoute") or route["http"]
    body["action"]["weightedTargets"][0]["weight"] = "100"
    with pytest.raises(RouteError, match="malformed weights"):
        router.read_routes(canary, objects)
    body["action"]["weightedTargets"][0]["weight"] = 70
    with pytest.raises(RouteError, match="must sum to 100"):
        router.read_routes(canary, objects)


def test_read_routes_missing_canary_target_is_an_error() -> None:
    canary = mesh_canary()
    objects = applied(V1BETA2, canary, split(100, 0), Objects([]))
    route = weighted(V1BETA2, objects)["spec"]["routes"][0]
    route["httpRoute"]["action"]["weightedTargets"] = [
        {"virtualNodeRef": {"name": "podinfo-primary"}, "weight": 100}
    ]
    with pytest.raises(RouteError, match="does not contain routes"):
        V1BETA2.read_routes(canary, objects)


# --- render --------------------------------------------------------------------------


def test_create_order_targets_before_referrers() -> None:
    changes = V1BETA2.render(mesh_canary(), Objects([]), split(100, 0), canary_uid=UID)
    assert all(isinstance(c, CreateObject) for c in changes)
    assert [(c.kind.kind, c.body["metadata"]["name"]) for c in changes] == [  # type: ignore[union-attr]
        ("VirtualNode", "podinfo-primary"),
        ("VirtualNode", "podinfo-canary"),
        ("VirtualRouter", "podinfo"),
        ("VirtualRouter", "podinfo-canary"),
        ("VirtualService", "podinfo"),
        ("VirtualService", "podinfo-canary"),
    ]


def test_canary_router_always_sends_everything_to_the_canary() -> None:
    canary = mesh_canary(analysis=AB)
    objects = applied(V1BETA2, canary, split(0, 100), Objects([]))
    body = objects.get(APPMESH_VIRTUALROUTER, "test", "podinfo-canary")
    assert body is not None
    (route,) = body["spec"]["routes"]
    targets = route["httpRoute"]["action"]["weightedTargets"]
    assert [t["weight"] for t in targets] == [0, 100]


def test_step_replaces_only_the_weighted_router() -> None:
    canary = mesh_canary()
    objects = applied(V1BETA2, canary, split(100, 0), Objects([]))
    changes = V1BETA2.render(canary, objects, split(80, 20), canary_uid=UID)
    assert [(type(c), c.body["metadata"]["name"]) for c in changes] == [  # type: ignore[union-attr]
        (ReplaceObject, "podinfo")
    ]


def test_backend_timeout_has_no_app_mesh_counterpart() -> None:
    canary = mesh_canary(service={"backendTimeout": "5s"})
    with pytest.raises(RouteError, match="backendTimeout is not supported"):
        V1BETA2.render(canary, Objects([]), split(100, 0), canary_uid=UID)


def test_v1beta1_has_no_route_timeout() -> None:
    """The capability table refuses the field when the spec is parsed; the router refuses it
    too (a canary on the default provider reaches it with the v1beta2 parse)."""
    with pytest.raises(InvalidSpec, match=r"spec\.service\.timeout: a request timeout is not"):
        mesh_canary("appmesh", {"timeout": "15s"})
    canary = mesh_canary("appmesh:v1beta2", {"timeout": "15s"})
    with pytest.raises(RouteError, match="not supported by App Mesh v1beta1"):
        V1BETA1.render(canary, Objects([]), split(100, 0), canary_uid=UID)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"uri": {"prefix": "/api"}}, "cannot match on uri"),
        ({"sourceLabels": {"app": "web"}}, "cannot match on sourceLabels"),
        ({"queryParams": {"q": {"regex": "a.*"}}}, "query parameter q"),
    ],
)
def test_ab_match_errors(entry: dict[str, Any], message: str) -> None:
    analysis = {**AB, "match": [entry]}
    with pytest.raises(RouteError, match=message):
        V1BETA2.render(mesh_canary(analysis=analysis), Objects([]), split(0, 100), canary_uid=UID)


def test_v1beta1_ab_refuses_query_params() -> None:
    analysis = {**AB, "match": [{"queryParams": {"q": {"exact": "a"}}}]}
    with pytest.raises(RouteError, match="v1beta1"):
        V1BETA1.render(
            mesh_canary("appmesh", analysis=analysis), Objects([]), split(0, 100), canary_uid=UID
        )


def test_ab_query_parameters_v1beta2() -> None:
    analysis = {**AB, "match": [{"queryParams": {"beta": {"exact": "1"}}}]}
    canary = mesh_canary(analysis=analysis)
    objects = applied(V1BETA2, canary, split(0, 100), Objects([]))
    route = weighted(V1BETA2, objects)["spec"]["routes"][0]
    assert route["httpRoute"]["match"] == {
        "prefix": "/",
        "queryParameters": [{"name": "beta", "match": {"exact": "1"}}],
    }


def test_retry_defaults_when_retry_on_has_no_app_mesh_event() -> None:
    canary = mesh_canary(service={"retries": {"attempts": 2, "retryOn": "unknown"}})
    objects = applied(V1BETA2, canary, split(100, 0), Objects([]))
    route = weighted(V1BETA2, objects)["spec"]["routes"][0]
    assert route["httpRoute"]["retryPolicy"] == {
        "maxRetries": 2,
        "perRetryTimeout": {"unit": "ms", "value": 15000},
        "httpRetryEvents": ["server-error", "gateway-error"],
    }


def test_no_retry_policy_without_attempts() -> None:
    canary = mesh_canary(service={"retries": {"perTryTimeout": "1s"}})
    objects = applied(V1BETA2, canary, split(100, 0), Objects([]))
    assert "retryPolicy" not in weighted(V1BETA2, objects)["spec"]["routes"][0]["httpRoute"]


def test_pod_selector_falls_back_to_app_label() -> None:
    canary = mesh_canary()
    objects = applied(V1BETA2, canary, split(100, 0), Objects([]))
    node = objects.get(APPMESH_VIRTUALNODE, "test", "podinfo-canary")
    assert node is not None
    assert node["spec"]["podSelector"] == {"matchLabels": {"app": "podinfo"}}


def test_spec_change_keeps_weights_and_apex_labels_follow_spec() -> None:
    canary = mesh_canary()
    objects = applied(V1BETA2, canary, split(60, 40), Objects([]))
    relabelled = mesh_canary(service={"apex": {"labels": {"team": "a"}}})
    changes = V1BETA2.render(relabelled, objects, split(60, 40), canary_uid=UID)
    assert [c.body["metadata"]["name"] for c in changes] == ["podinfo"]  # type: ignore[union-attr]
    assert changes[0].kind == APPMESH_VIRTUALSERVICE
    for change in changes:
        objects.apply(change)
    assert V1BETA2.read_routes(relabelled, objects) == Routes(primary=60, canary=40)
