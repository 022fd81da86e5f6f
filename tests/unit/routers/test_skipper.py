"""The `skipper` provider router: the canary Ingress and Skipper's weight annotations.

Golden cases (tests/fixtures/routers/skipper) pin the writes; here: `read_routes` (missing,
weights, malformed), a round trip over splits, the predicate helper, errors naming fields,
refs, finalize, Protocol conformance and the capability row.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import INGRESS
from ensign.model import Canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers.protocol import ObjectRef, RouteError, Router, Split
from ensign.routers.registry import make_router
from ensign.routers.skipper import BACKEND_WEIGHTS, SkipperRouter, canary_predicate
from tests.unit.routers._support import UID, ingress_canary, user_ingress
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

ROUTER = SkipperRouter()
SPLITS = [(100, 0), (95, 5), (90, 10), (50, 50), (1, 99), (0, 100)]


@pytest.mark.parametrize("case", load_cases("skipper"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_and_are_described() -> None:
    cases = load_cases("skipper")
    assert len(cases) >= 10
    for case in cases:
        assert str(case.data["description"]).endswith("."), case.id


def skipper_canary(ingress: str | None = "podinfo") -> Canary:
    return ingress_canary("skipper", ingress=ingress)


def canary_ingress(weights: object) -> dict[str, Any]:
    body = copy.deepcopy(user_ingress("podinfo-primary"))
    annotations = {} if weights is None else {BACKEND_WEIGHTS: weights}
    body["metadata"] = {"name": "podinfo-canary", "namespace": "test", "annotations": annotations}
    return body


def test_conforms_to_router_protocol() -> None:
    router: Router = make_router("skipper")
    assert isinstance(router, SkipperRouter)
    assert router.name == "skipper"
    assert router.kinds == (INGRESS,)
    assert router.capabilities == CAPABILITIES[Provider.SKIPPER]
    assert Capability.HEADER_MATCH not in router.capabilities


def test_refs_name_the_user_and_canary_ingresses() -> None:
    assert ROUTER.refs(skipper_canary()) == (
        ObjectRef(kind=INGRESS, namespace="test", name="podinfo"),
        ObjectRef(kind=INGRESS, namespace="test", name="podinfo-canary"),
    )
    assert ROUTER.refs(skipper_canary(ingress=None)) == ()


@pytest.mark.parametrize(("primary", "canary"), SPLITS)
def test_round_trip_over_splits(primary: int, canary: int) -> None:
    objects = Objects([user_ingress()])
    can = skipper_canary()
    for split in (Split(), Split(routes=Routes(primary=primary, canary=canary))):
        for change in ROUTER.render(can, objects, split, canary_uid=UID):
            objects.apply(change)
        assert ROUTER.read_routes(can, objects) == split.routes
        assert ROUTER.render(can, objects, split, canary_uid=UID) == ()
    assert objects.get(INGRESS, "test", "podinfo") == user_ingress()


def test_read_routes_none_without_canary_ingress() -> None:
    assert ROUTER.read_routes(skipper_canary(), Objects([user_ingress()])) is None


def test_read_routes_any_key_order() -> None:
    weights = json.dumps({"podinfo-canary": 25, "podinfo-primary": 75})
    routes = ROUTER.read_routes(skipper_canary(), Objects([canary_ingress(weights)]))
    assert routes == Routes(primary=75, canary=25)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (None, "ingress podinfo-canary.test annotation zalando.org/backend-weights not found"),
        ("{", "is not valid JSON"),
        ("[1, 2]", "is not a JSON object"),
        ('{"podinfo-primary": 100}', "has no integer weight for podinfo-canary"),
        ('{"podinfo-primary": 50.5, "podinfo-canary": 49.5}', "no integer weight"),
        ('{"podinfo-primary": 60, "podinfo-canary": 60}', "weights must sum to 100"),
    ],
)
def test_read_routes_malformed(weights: object, message: str) -> None:
    with pytest.raises(RouteError, match=re.escape(message)):
        ROUTER.read_routes(skipper_canary(), Objects([canary_ingress(weights)]))


@pytest.mark.parametrize(
    ("user", "weight", "expected"),
    [
        ("", 10, "Weight(100)"),
        ("", 0, "False()"),
        ('Path("/api")', 10, 'Weight(100) && Path("/api")'),
        ('False() && Path("/api") && Weight(100)', 0, 'False() && Path("/api")'),
        (' Weight(100) &&  Method("GET") ', 100, 'Weight(100) && Method("GET")'),
    ],
)
def test_canary_predicate(user: str, weight: int, expected: str) -> None:
    assert canary_predicate(user, weight) == expected


def test_render_user_ingress_missing() -> None:
    with pytest.raises(RouteError, match=r"^ingress podinfo\.test not found$"):
        ROUTER.render(skipper_canary(), Objects([]), Split(), canary_uid=UID)


def test_render_without_ingress_ref_names_the_field() -> None:
    with pytest.raises(RouteError, match=r"ingress selector is empty \(spec\.ingressRef\)"):
        ROUTER.render(skipper_canary(ingress=None), Objects([]), Split(), canary_uid=UID)
    with pytest.raises(RouteError, match=r"spec\.ingressRef"):
        ROUTER.read_routes(skipper_canary(ingress=None), Objects([]))


def test_render_no_apex_backend() -> None:
    objects = Objects([user_ingress(backend="frontend")])
    with pytest.raises(RouteError, match=r"^backend podinfo not found in ingress podinfo$"):
        ROUTER.render(skipper_canary(), objects, Split(), canary_uid=UID)


def test_finalize_changes_nothing() -> None:
    objects = Objects([user_ingress(), canary_ingress('{"podinfo-primary":100}')])
    assert ROUTER.finalize(skipper_canary(), objects) == ()
