"""The SMI router (`linkerd`, `osm`, `smi:v1alpha1`, `smi:v1alpha2`, `smi:v1alpha3`).

Golden cases (tests/fixtures/routers/smi/*.yaml) pin the TrafficSplit written for each
version and step and show that a render at the live split of an unchanged spec writes
nothing. The tests here cover what a golden case cannot: reading the split back (and its
errors), a round trip over a table of splits for every version, provider string parsing,
quantities, Protocol conformance and the capability rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ensign.engine.weights import Routes
from ensign.kube.kinds import TRAFFICSPLIT_V1ALPHA1, TRAFFICSPLIT_V1ALPHA2, TRAFFICSPLIT_V1ALPHA3
from ensign.model import Canary, parse_canary
from ensign.model.canary import Provider
from ensign.model.capabilities import CAPABILITIES, Capability, capability_errors
from ensign.routers import Router
from ensign.routers.protocol import CreateObject, ObjectRef, ReplaceObject, RouteError, Split
from ensign.routers.registry import make_router
from ensign.routers.smi import (
    ISTIO_GATEWAYS_ANNOTATION,
    SMI_VERSIONS,
    SmiRouter,
    mesh_of,
    parse_quantity,
)
from tests.unit.routers._support import UID
from tests.unit.routers.golden import Case, Objects, check_case, load_cases

STEP = {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10}
PROVIDERS = ("linkerd", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "osm")


def smi_canary(
    service: dict[str, Any] | None = None,
    analysis: dict[str, Any] | None = None,
    *,
    provider: str | None = "linkerd",
) -> Canary:
    svc: dict[str, Any] = {"port": 9898}
    svc.update(service or {})
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": svc,
        "analysis": analysis or dict(STEP),
    }
    if provider is not None:
        spec["provider"] = provider
    return parse_canary(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": spec,
        }
    )


def split(primary: int, canary: int) -> Split:
    return Split(routes=Routes(primary=primary, canary=canary))


def traffic_split(
    backends: list[dict[str, Any]], version: str = "v1alpha1", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "3"},
        "spec": {"service": "podinfo", "backends": backends, **spec},
    }


def backend(name: str, weight: object) -> dict[str, Any]:
    return {"service": name, "weight": weight}


# --- golden cases --------------------------------------------------------------------


@pytest.mark.parametrize("case", load_cases("smi"), ids=lambda case: case.id)
def test_golden(case: Case) -> None:
    check_case(case)


def test_golden_cases_cover_every_provider() -> None:
    covered = {case.data["provider"] for case in load_cases("smi")}
    assert set(PROVIDERS) <= covered
    assert "smi:v1alpha3:istio" in covered


# --- protocol, registry, capabilities -------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "kind", "quantities", "mesh"),
    [
        ("linkerd", TRAFFICSPLIT_V1ALPHA1, True, "linkerd"),
        ("smi:v1alpha1", TRAFFICSPLIT_V1ALPHA1, True, ""),
        ("smi:v1alpha2", TRAFFICSPLIT_V1ALPHA2, False, ""),
        ("smi:v1alpha3", TRAFFICSPLIT_V1ALPHA3, False, ""),
        ("osm", TRAFFICSPLIT_V1ALPHA2, False, "osm"),
        ("smi:v1alpha1:istio", TRAFFICSPLIT_V1ALPHA1, True, "istio"),
        ("smi:v1alpha2:linkerd", TRAFFICSPLIT_V1ALPHA2, False, "linkerd"),
        ("smi:v1alpha3:istio", TRAFFICSPLIT_V1ALPHA3, False, "istio"),
    ],
)
def test_provider_strings(provider: str, kind: object, quantities: bool, mesh: str) -> None:
    router = make_router(provider)
    assert isinstance(router, SmiRouter)
    assert router.name == provider
    assert router.kinds == (kind,)
    assert router.version.quantity_weights is quantities
    assert router.mesh == mesh == mesh_of(provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_router_matches_its_row(provider: str) -> None:
    router: Router = make_router(provider)
    assert router.capabilities == CAPABILITIES[Provider(provider)]
    assert router.capabilities == frozenset(
        {Capability.TRAFFIC, Capability.WEIGHTS, Capability.BLUE_GREEN}
    )


def test_suffixed_provider_takes_its_base_row() -> None:
    router = make_router("smi:v1alpha3:istio")
    assert router.capabilities == CAPABILITIES[Provider.SMI_V1ALPHA3]


def test_version_table_covers_the_smi_providers() -> None:
    assert set(SMI_VERSIONS) == {
        Provider.LINKERD,
        Provider.OSM,
        Provider.SMI_V1ALPHA1,
        Provider.SMI_V1ALPHA2,
        Provider.SMI_V1ALPHA3,
    }


@pytest.mark.parametrize("provider", ["istio", "smi", "smi:v1alpha4", "kubernetes"])
def test_for_provider_refuses_other_providers(provider: str) -> None:
    with pytest.raises(ValueError, match="not an SMI provider"):
        SmiRouter.for_provider(provider)


def test_model_refuses_what_smi_cannot_do() -> None:
    ab = {"interval": "1m", "threshold": 5, "iterations": 10}
    ab["match"] = [{"headers": {"x-canary": {"exact": "insider"}}}]
    sticky = {**STEP, "sessionAffinity": {"cookieName": "c"}}
    mirror = {"interval": "1m", "threshold": 5, "iterations": 10, "mirror": True}
    for provider in (*PROVIDERS, "smi:v1alpha3:istio"):
        for analysis, path in (
            (ab, "analysis.match"),
            (sticky, "analysis.sessionAffinity"),
            (mirror, "analysis.mirror"),
        ):
            parsed = smi_canary(None, analysis, provider=None).spec.analysis
            paths = {where for where, _ in capability_errors(provider, parsed, None)}
            assert path in paths, (provider, path)


def test_refs_name_the_traffic_split() -> None:
    canary = smi_canary({"name": "frontend"})
    assert make_router("osm").refs(canary) == (
        ObjectRef(kind=TRAFFICSPLIT_V1ALPHA2, namespace="test", name="frontend"),
    )


def test_satisfies_router_protocol() -> None:
    router: Router = SmiRouter.for_provider("linkerd")
    assert router.name == "linkerd"
    assert router.finalize(smi_canary(), Objects([])) == ()


# --- read_routes ---------------------------------------------------------------------


def test_read_routes_none_without_traffic_split() -> None:
    assert make_router("linkerd").read_routes(smi_canary(), Objects([])) is None


def test_read_routes_quantities() -> None:
    ts = traffic_split([backend("podinfo-canary", "30"), backend("podinfo-primary", "70")])
    assert make_router("linkerd").read_routes(smi_canary(), Objects([ts])) == Routes(
        primary=70, canary=30
    )


def test_read_routes_integers() -> None:
    ts = traffic_split(
        [backend("podinfo-primary", 40), backend("podinfo-canary", 60)], version="v1alpha3"
    )
    routes = make_router("smi:v1alpha3").read_routes(smi_canary(), Objects([ts]))
    assert routes == Routes(primary=40, canary=60)


def test_read_routes_missing_backend_weighs_zero() -> None:
    ts = traffic_split([backend("podinfo-primary", 100)], version="v1alpha2")
    routes = make_router("osm").read_routes(smi_canary(), Objects([ts]))
    assert routes == Routes(primary=100, canary=0)


@pytest.mark.parametrize(
    ("primary", "canary", "expected"),
    [("500m", "500m", (50, 50)), ("3", "1", (75, 25)), ("2", "1", (67, 33)), ("1k", "0", (100, 0))],
)
def test_read_routes_relative_weights(primary: str, canary: str, expected: tuple[int, int]) -> None:
    ts = traffic_split([backend("podinfo-canary", canary), backend("podinfo-primary", primary)])
    routes = make_router("linkerd").read_routes(smi_canary(), Objects([ts]))
    assert routes == Routes(primary=expected[0], canary=expected[1])


def test_both_weights_zero_is_flaggers_error() -> None:
    ts = traffic_split([backend("podinfo-canary", "0"), backend("podinfo-primary", "0")])
    with pytest.raises(RouteError) as caught:
        make_router("linkerd").read_routes(smi_canary(), Objects([ts]))
    assert str(caught.value) == (
        "TrafficSplit podinfo.test does not contain routes for podinfo-primary and podinfo-canary"
    )


def test_no_backends_is_flaggers_error() -> None:
    ts = traffic_split([backend("other", 100)], version="v1alpha2")
    with pytest.raises(RouteError, match="does not contain routes for podinfo-primary"):
        make_router("smi:v1alpha2").read_routes(smi_canary(), Objects([ts]))


@pytest.mark.parametrize(
    ("provider", "version", "weight"),
    [
        ("linkerd", "v1alpha1", "ninety"),
        ("linkerd", "v1alpha1", True),
        ("smi:v1alpha2", "v1alpha2", "90"),
        ("smi:v1alpha3", "v1alpha3", 9.5),
    ],
)
def test_malformed_weight_is_an_error(provider: str, version: str, weight: object) -> None:
    ts = traffic_split(
        [backend("podinfo-canary", 10), backend("podinfo-primary", weight)], version=version
    )
    with pytest.raises(RouteError, match="backend podinfo-primary has a malformed weight"):
        make_router(provider).read_routes(smi_canary(), Objects([ts]))


def test_negative_weight_is_an_error() -> None:
    ts = traffic_split(
        [backend("podinfo-canary", -10), backend("podinfo-primary", 110)], version="v1alpha2"
    )
    with pytest.raises(RouteError, match="negative weight"):
        make_router("osm").read_routes(smi_canary(), Objects([ts]))


# --- render --------------------------------------------------------------------------


SPLITS = [(100, 0), (90, 10), (50, 50), (1, 99), (0, 100)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_round_trip_over_splits(provider: str) -> None:
    router = make_router(provider)
    canary = smi_canary(provider=provider)
    objects = Objects([])
    for primary, canary_weight in SPLITS:
        wanted = split(primary, canary_weight)
        changes = router.render(canary, objects, wanted, canary_uid=UID)
        assert len(changes) == 1
        for change in changes:
            objects.apply(change)
        assert router.read_routes(canary, objects) == wanted.routes
        assert router.render(canary, objects, wanted, canary_uid=UID) == ()


def test_first_render_creates_then_replaces_keeping_metadata() -> None:
    router = make_router("smi:v1alpha2")
    canary = smi_canary(provider="smi:v1alpha2")
    objects = Objects([])
    (created,) = router.render(canary, objects, split(100, 0), canary_uid=UID)
    assert isinstance(created, CreateObject)
    objects.apply(created)
    (replaced,) = router.render(canary, objects, split(80, 20), canary_uid=UID)
    assert isinstance(replaced, ReplaceObject)
    meta = replaced.body["metadata"]
    assert meta["resourceVersion"] == "1"
    assert meta["ownerReferences"][0]["uid"] == UID
    assert replaced.body["spec"]["backends"] == [
        {"service": "podinfo-canary", "weight": 20},
        {"service": "podinfo-primary", "weight": 80},
    ]


def test_v1alpha1_weights_are_strings() -> None:
    (created,) = make_router("linkerd").render(
        smi_canary(), Objects([]), split(90, 10), canary_uid=UID
    )
    assert created.body["spec"]["backends"] == [
        {"service": "podinfo-canary", "weight": "10"},
        {"service": "podinfo-primary", "weight": "90"},
    ]


def test_live_object_of_another_version_is_rewritten_in_ours() -> None:
    """After a switch from osm (v1alpha2) to linkerd (v1alpha1) the same TrafficSplit is
    read back through v1alpha1 (the server serves every version) and written in it."""
    live = traffic_split(
        [backend("podinfo-canary", 10), backend("podinfo-primary", 90)], version="v1alpha1"
    )
    router = make_router("linkerd")
    canary = smi_canary()
    assert router.read_routes(canary, Objects([live])) == Routes(primary=90, canary=10)
    (replaced,) = router.render(canary, Objects([live]), split(90, 10), canary_uid=UID)
    assert replaced.body["apiVersion"] == "split.smi-spec.io/v1alpha1"


@pytest.mark.parametrize(
    ("provider", "annotated"),
    [
        ("smi:v1alpha3:istio", True),
        ("smi:v1alpha1:istio", True),
        ("smi:v1alpha3", False),
        ("linkerd", False),
        ("osm", False),
    ],
)
def test_gateways_annotation_only_for_istio(provider: str, annotated: bool) -> None:
    canary = smi_canary({"gateways": ["public", "mesh"]}, provider=None)
    (created,) = make_router(provider).render(canary, Objects([]), split(100, 0), canary_uid=UID)
    annotations = created.body["metadata"]["annotations"]
    if annotated:
        assert annotations[ISTIO_GATEWAYS_ANNOTATION] == '["public","mesh"]'
    else:
        assert ISTIO_GATEWAYS_ANNOTATION not in annotations


def test_istio_mesh_without_gateways_has_no_annotation() -> None:
    canary = smi_canary(provider=None)
    (created,) = make_router("smi:v1alpha3:istio").render(
        canary, Objects([]), split(100, 0), canary_uid=UID
    )
    assert ISTIO_GATEWAYS_ANNOTATION not in created.body["metadata"]["annotations"]


def test_spec_service_defaults_to_apex_and_follows_hosts() -> None:
    router = make_router("osm")
    for service, expected in (
        ({"name": "frontend"}, "frontend"),
        ({"hosts": ["a.example.com", "b.example.com"]}, "a.example.com"),
    ):
        (created,) = router.render(
            smi_canary(service, provider="osm"), Objects([]), split(100, 0), canary_uid=UID
        )
        assert created.body["spec"]["service"] == expected


# --- quantities ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", Decimal(100)),
        (90, Decimal(90)),
        ("500m", Decimal("0.5")),
        ("1k", Decimal(1000)),
        ("1Ki", Decimal(1024)),
        ("1e2", Decimal(100)),
        ("1.5", Decimal("1.5")),
        ("+7", Decimal(7)),
        (" 3 ", Decimal(3)),
    ],
)
def test_parse_quantity(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "m", "1x", "ten", "1 k", None, True, [1]])
def test_parse_quantity_refuses(text: object) -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)
