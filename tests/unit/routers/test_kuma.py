"""The `kuma` provider router: one cluster-scoped TrafficRoute `<apex>`, deleted by `finalize`.

Golden cases (tests/fixtures/routers/kuma) pin the writes; here: `read_routes`, a round trip
over splits, the cross-namespace name collision, `finalize`, errors, refs, Protocol
conformance and the capability row (`unowned-objects`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import KUMA_TRAFFICROUTE
from ensign.model import Canary, parse_canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers.kuma import KumaRouter, kuma_service, mesh_of
from ensign.routers.protocol import (
    CreateObject,
    DeleteObject,
    ObjectRef,
    RouteError,
    Router,
    Split,
)
from ensign.routers.registry import make_router
from tests.unit.routers._support import UID
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

ROUTER = KumaRouter()
SPLITS = [(100, 0), (95, 5), (90, 10), (50, 50), (1, 99), (0, 100)]


@pytest.mark.parametrize("case", load_cases("kuma"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_and_are_described() -> None:
    cases = load_cases("kuma")
    assert len(cases) >= 8
    for case in cases:
        assert str(case.data["description"]).endswith("."), case.id


def kuma_canary(*, namespace: str = "test", annotations: dict[str, str] | None = None) -> Canary:
    metadata: dict[str, Any] = {"name": "podinfo", "namespace": namespace, "uid": UID}
    if annotations is not None:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {
        "provider": "kuma",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    }
    spec["service"] = {"port": 80, "targetPort": 9898}
    return parse_canary(
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": metadata, "spec": spec}
    )


def route(split: Any, *, namespace: str = "test") -> dict[str, Any]:
    return {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "TrafficRoute",
        "metadata": {"name": "podinfo"},
        "mesh": "default",
        "spec": {
            "destinations": [{"match": {"kuma.io/service": f"podinfo_{namespace}_svc_80"}}],
            "conf": {"split": split},
        },
    }


def entry(name: str, weight: object) -> dict[str, Any]:
    return {"weight": weight, "destination": {"kuma.io/service": f"{name}_test_svc_80"}}


def test_conforms_to_router_protocol() -> None:
    router: Router = make_router("kuma")
    assert isinstance(router, KumaRouter)
    assert router.name == "kuma"
    assert router.kinds == (KUMA_TRAFFICROUTE,)
    assert router.capabilities == CAPABILITIES[Provider.KUMA]
    assert Capability.UNOWNED_OBJECTS in router.capabilities


def test_refs_name_the_cluster_scoped_route() -> None:
    assert ROUTER.refs(kuma_canary()) == (
        ObjectRef(kind=KUMA_TRAFFICROUTE, namespace="", name="podinfo"),
    )


def test_service_tag_and_mesh() -> None:
    assert kuma_service("podinfo-primary", "test", 9898) == "podinfo-primary_test_svc_9898"
    assert mesh_of(kuma_canary()) == "default"
    assert mesh_of(kuma_canary(annotations={"kuma.io/mesh": "payments"})) == "payments"
    assert mesh_of(kuma_canary(annotations={"kuma.io/mesh": ""})) == "default"


def test_created_route_has_no_owner_reference_and_no_namespace() -> None:
    (change,) = ROUTER.render(kuma_canary(), Objects([]), Split(), canary_uid=UID)
    assert isinstance(change, CreateObject)
    assert "ownerReferences" not in change.body["metadata"]
    assert "namespace" not in change.body["metadata"]


@pytest.mark.parametrize(("primary", "canary"), SPLITS)
def test_round_trip_over_splits(primary: int, canary: int) -> None:
    objects = Objects([])
    can = kuma_canary()
    for split in (Split(), Split(routes=Routes(primary=primary, canary=canary))):
        for change in ROUTER.render(can, objects, split, canary_uid=UID):
            objects.apply(change)
        assert ROUTER.read_routes(can, objects) == split.routes
        assert ROUTER.render(can, objects, split, canary_uid=UID) == ()


def test_read_routes_none_without_the_route() -> None:
    assert ROUTER.read_routes(kuma_canary(), Objects([])) is None


def test_read_routes_is_100_minus_primary() -> None:
    objects = Objects([route([entry("podinfo-primary", 35), entry("podinfo-canary", 1)])])
    assert ROUTER.read_routes(kuma_canary(), objects) == Routes(primary=35, canary=65)


@pytest.mark.parametrize(
    ("split", "message"),
    [
        (
            [],
            "TrafficRoute podinfo does not contain routes for podinfo-primary and podinfo-canary",
        ),
        ([entry("podinfo-canary", 100)], "does not contain routes"),
        ([entry("podinfo-primary", 101)], "weight of podinfo-primary is not an integer"),
        ([entry("podinfo-primary", "10")], "within 0..100: '10'"),
    ],
)
def test_read_routes_malformed(split: Any, message: str) -> None:
    with pytest.raises(RouteError, match=re.escape(message)):
        ROUTER.read_routes(kuma_canary(), Objects([route(split)]))


def test_route_of_another_namespace_is_never_taken_over() -> None:
    """Two canaries named after the same apex in two namespaces share one cluster-scoped
    name: the second is refused instead of overwriting the first's route."""
    theirs = route([entry("podinfo-primary", 100)], namespace="shop")
    objects = Objects([theirs])
    message = r"TrafficRoute podinfo routes podinfo_shop_svc_80, a Service of namespace shop"
    with pytest.raises(RouteError, match=message):
        ROUTER.render(kuma_canary(), objects, Split(), canary_uid=UID)
    with pytest.raises(RouteError, match=r"rename spec\.service\.name"):
        ROUTER.read_routes(kuma_canary(), objects)
    assert ROUTER.finalize(kuma_canary(), objects) == ()


def test_finalize_deletes_the_route() -> None:
    objects = Objects([])
    can = kuma_canary()
    for change in ROUTER.render(can, objects, Split(), canary_uid=UID):
        objects.apply(change)
    assert ROUTER.finalize(can, objects) == (
        DeleteObject(kind=KUMA_TRAFFICROUTE, namespace="", name="podinfo"),
    )
    objects.apply(ROUTER.finalize(can, objects)[0])
    assert ROUTER.read_routes(can, objects) is None
    assert ROUTER.finalize(can, objects) == ()


def test_render_without_service_names_the_field() -> None:
    # parse_canary requires spec.service; a Canary built otherwise is still refused by name.
    canary = kuma_canary()
    canary = dataclasses.replace(canary, spec=dataclasses.replace(canary.spec, service=None))
    with pytest.raises(RouteError, match=r"spec\.service is required by provider kuma"):
        ROUTER.render(canary, Objects([]), Split(), canary_uid=UID)
