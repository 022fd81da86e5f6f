"""The `apisix` provider router: the canary ApisixRoute `<routeRef>-<apex>-canary`.

Golden cases (tests/fixtures/routers/apisix) pin the writes; here: `read_routes`, a round
trip over splits, errors naming fields (routeRef, the http route), refs, finalize, Protocol
conformance and the capability row.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import APISIXROUTE
from ensign.model import Canary, parse_canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers.apisix import MAX_PRIORITY, ApisixRouter, canary_route_name
from ensign.routers.protocol import CreateObject, ObjectRef, RouteError, Router, Split
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

ROUTER = ApisixRouter()
SPLITS = [(100, 0), (95, 5), (90, 10), (50, 50), (1, 99), (0, 100)]


@pytest.mark.parametrize("case", load_cases("apisix"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_and_are_described() -> None:
    cases = load_cases("apisix")
    assert len(cases) >= 8
    for case in cases:
        assert str(case.data["description"]).endswith("."), case.id


def apisix_canary(route: str | None = "podinfo") -> Canary:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 80, "targetPort": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    }
    if route is not None:
        spec["provider"] = "apisix"
        spec["routeRef"] = {
            "apiVersion": "apisix.apache.org/v2",
            "kind": "ApisixRoute",
            "name": route,
        }
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test", "uid": UID},
            "spec": spec,
        }
    )


def user_route(http: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"http": http},
    }


def http_route(*services: str, name: str = "main") -> dict[str, Any]:
    return {
        "name": name,
        "match": {"paths": ["/*"]},
        "backends": [{"serviceName": s, "servicePort": 80} for s in services],
    }


def canary_route(backends: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {"name": "podinfo-podinfo-canary", "namespace": "test"},
        "spec": {"http": [{"name": "main", "backends": backends}]},
    }


def test_conforms_to_router_protocol() -> None:
    router: Router = make_router("apisix")
    assert isinstance(router, ApisixRouter)
    assert router.name == "apisix"
    assert router.kinds == (APISIXROUTE,)
    assert router.capabilities == CAPABILITIES[Provider.APISIX]
    assert Capability.HEADER_MATCH not in router.capabilities


def test_refs_name_the_user_and_canary_routes() -> None:
    assert canary_route_name("web", "podinfo") == "web-podinfo-canary"
    assert ROUTER.refs(apisix_canary()) == (
        ObjectRef(kind=APISIXROUTE, namespace="test", name="podinfo"),
        ObjectRef(kind=APISIXROUTE, namespace="test", name="podinfo-podinfo-canary"),
    )
    assert ROUTER.refs(apisix_canary(route=None)) == ()


@pytest.mark.parametrize(("primary", "canary"), SPLITS)
def test_round_trip_over_splits(primary: int, canary: int) -> None:
    user = user_route([http_route("podinfo")])
    objects = Objects([user])
    can = apisix_canary()
    for split in (Split(), Split(routes=Routes(primary=primary, canary=canary))):
        for change in ROUTER.render(can, objects, split, canary_uid=UID):
            objects.apply(change)
        assert ROUTER.read_routes(can, objects) == split.routes
        assert ROUTER.render(can, objects, split, canary_uid=UID) == ()
    assert objects.get(APISIXROUTE, "test", "podinfo") == user


def test_priority_is_raised_to_the_maximum() -> None:
    route = http_route("podinfo") | {"priority": 3}
    (change,) = ROUTER.render(
        apisix_canary(), Objects([user_route([route])]), Split(), canary_uid=UID
    )
    assert isinstance(change, CreateObject)
    assert change.body["spec"]["http"][0]["priority"] == MAX_PRIORITY == 10000


def test_read_routes_none_without_canary_route() -> None:
    objects = Objects([user_route([http_route("podinfo")])])
    assert ROUTER.read_routes(apisix_canary(), objects) is None


def test_read_routes_is_100_minus_primary() -> None:
    objects = Objects([canary_route([{"serviceName": "podinfo-primary", "weight": 15}])])
    assert ROUTER.read_routes(apisix_canary(), objects) == Routes(primary=15, canary=85)


@pytest.mark.parametrize(
    ("backends", "message"),
    [
        (
            [{"serviceName": "podinfo-canary", "weight": 100}],
            "ApisixRoute podinfo-podinfo-canary.test has no http route with backend"
            " podinfo-primary",
        ),
        (
            [{"serviceName": "podinfo-primary"}],
            "weight of podinfo-primary is not an integer within 0..100: None",
        ),
        ([{"serviceName": "podinfo-primary", "weight": 120}], "within 0..100: 120"),
    ],
)
def test_read_routes_malformed(backends: Any, message: str) -> None:
    with pytest.raises(RouteError, match=re.escape(message)):
        ROUTER.read_routes(apisix_canary(), Objects([canary_route(backends)]))


@pytest.mark.parametrize(
    ("http", "message"),
    [
        ([], "ApisixRoute podinfo.test spec.http is empty"),
        (
            [http_route("frontend")],
            "ApisixRoute podinfo.test has no http route with backend podinfo"
            " (spec.http[].backends)",
        ),
        (
            [http_route("static", name="a"), http_route("podinfo", "other", name="b")],
            "ApisixRoute podinfo.test spec.http[1] (b): only one backend is supported (found 2)",
        ),
    ],
)
def test_render_user_route_errors_name_the_field(http: Any, message: str) -> None:
    with pytest.raises(RouteError, match=re.escape(message)):
        ROUTER.render(apisix_canary(), Objects([user_route(http)]), Split(), canary_uid=UID)


def test_render_user_route_missing() -> None:
    with pytest.raises(RouteError, match=r"ApisixRoute podinfo\.test not found \(spec\.routeRef\)"):
        ROUTER.render(apisix_canary(), Objects([]), Split(), canary_uid=UID)


def test_render_without_route_ref_names_the_field() -> None:
    with pytest.raises(RouteError, match=r"apisix route selector is empty \(spec\.routeRef\)"):
        ROUTER.render(apisix_canary(route=None), Objects([]), Split(), canary_uid=UID)
    with pytest.raises(RouteError, match=r"spec\.routeRef"):
        ROUTER.read_routes(apisix_canary(route=None), Objects([]))


def test_finalize_changes_nothing() -> None:
    objects = Objects([user_route([http_route("podinfo")])])
    assert ROUTER.finalize(apisix_canary(), objects) == ()
