"""The `traefik` provider router: one weighted TraefikService `<apex>`.

Golden cases (tests/fixtures/routers/traefik) pin the writes; here: `read_routes` (missing,
weights, malformed), a round trip over splits, errors naming fields, refs, finalize,
Protocol conformance and the capability row.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import TRAEFIKSERVICE
from ensign.model import Canary, parse_canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability
from ensign.routers.protocol import ObjectRef, RouteError, Router, Split
from ensign.routers.registry import make_router
from ensign.routers.traefik import TraefikRouter, traefik_service_spec
from tests.unit.routers._support import UID
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

ROUTER = TraefikRouter()
SPLITS = [(100, 0), (95, 5), (90, 10), (50, 50), (1, 99), (0, 100)]


@pytest.mark.parametrize("case", load_cases("traefik"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_exist_and_are_described() -> None:
    cases = load_cases("traefik")
    assert len(cases) >= 10
    for case in cases:
        assert str(case.data["description"]).endswith("."), case.id


def traefik_canary(service: dict[str, Any] | None = None) -> Canary:
    spec: dict[str, Any] = {
        "provider": "traefik",
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    }
    if service is not None:
        spec["service"] = service
    else:
        spec["service"] = {"port": 80, "targetPort": 9898}
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test", "uid": UID},
            "spec": spec,
        }
    )


def service_with(services: Any) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"weighted": {"services": services}},
    }


def test_conforms_to_router_protocol() -> None:
    router: Router = make_router("traefik")
    assert isinstance(router, TraefikRouter)
    assert router.name == "traefik"
    assert router.kinds == (TRAEFIKSERVICE,)
    assert router.capabilities == CAPABILITIES[Provider.TRAEFIK]


def test_capability_row_is_weights_and_blue_green_only() -> None:
    caps = CAPABILITIES[Provider.TRAEFIK]
    assert caps == {Capability.TRAFFIC, Capability.WEIGHTS, Capability.BLUE_GREEN}


def test_refs_name_the_traefik_service() -> None:
    assert ROUTER.refs(traefik_canary()) == (
        ObjectRef(kind=TRAEFIKSERVICE, namespace="test", name="podinfo"),
    )


def test_read_routes_none_without_the_object() -> None:
    assert ROUTER.read_routes(traefik_canary(), Objects([])) is None


@pytest.mark.parametrize(("primary", "canary"), SPLITS)
def test_round_trip_over_splits(primary: int, canary: int) -> None:
    """Render from nothing, then step from each split to the next: the split read back is
    the one rendered, and rendering it again writes nothing."""
    objects = Objects([])
    can = traefik_canary()
    for split in (Split(), Split(routes=Routes(primary=primary, canary=canary))):
        for change in ROUTER.render(can, objects, split, canary_uid=UID):
            objects.apply(change)
        assert ROUTER.read_routes(can, objects) == split.routes
        assert ROUTER.render(can, objects, split, canary_uid=UID) == ()


def test_read_routes_is_100_minus_primary() -> None:
    services = [{"name": "podinfo-primary", "namespace": "test", "port": 80, "weight": 30}]
    routes = ROUTER.read_routes(traefik_canary(), Objects([service_with(services)]))
    assert routes == Routes(primary=30, canary=70)


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ([], "TraefikService podinfo.test services not found (spec.weighted.services is empty)"),
        (None, "services not found"),
        (
            [{"name": "other", "weight": 100}],
            "spec.weighted.services has no entry for podinfo-primary",
        ),
        (
            [{"name": "podinfo-primary"}],
            "weight of podinfo-primary is not an integer within 0..100: None",
        ),
        ([{"name": "podinfo-primary", "weight": 101}], "within 0..100: 101"),
        ([{"name": "podinfo-primary", "weight": "50"}], "within 0..100: '50'"),
    ],
)
def test_read_routes_malformed(services: Any, message: str) -> None:
    with pytest.raises(RouteError, match=re.escape(message)):
        ROUTER.read_routes(traefik_canary(), Objects([service_with(services)]))


def test_render_without_service_names_the_field() -> None:
    # parse_canary requires spec.service; a Canary built otherwise is still refused by name.
    canary = traefik_canary()
    canary = dataclasses.replace(canary, spec=dataclasses.replace(canary.spec, service=None))
    with pytest.raises(RouteError, match=r"spec\.service is required by provider traefik"):
        ROUTER.render(canary, Objects([]), Split(), canary_uid=UID)


def test_both_weights_zero_is_refused() -> None:
    routes = Routes(primary=100, canary=0)
    object.__setattr__(routes, "primary", 0)  # impossible through Routes: a defensive check
    with pytest.raises(RouteError, match="no valid weights"):
        traefik_service_spec(traefik_canary(), Split(routes=routes))


def test_finalize_changes_nothing() -> None:
    objects = Objects([service_with([{"name": "podinfo-primary", "weight": 100}])])
    assert ROUTER.finalize(traefik_canary(), objects) == ()
