"""Which observer's queries the builtin metrics use: Flagger's rules, each quirk included."""

from __future__ import annotations

import pytest

from ensign.model import Provider
from ensign.queries import Observer, select_observer

DEPLOYMENT = "Deployment"
SERVICE = "Service"


@pytest.mark.parametrize(
    ("provider", "observer"),
    [
        ("istio", Observer.ISTIO),
        ("linkerd", Observer.LINKERD),
        ("appmesh", Observer.APPMESH),
        ("appmesh:v1beta2", Observer.APPMESH),
        ("contour", Observer.CONTOUR),
        ("gloo", Observer.GLOO),
        ("nginx", Observer.NGINX),
        ("kubernetes", Observer.HTTP),
        ("gatewayapi:v1", Observer.HTTP),
        ("gatewayapi:v1beta1", Observer.HTTP),
        ("skipper", Observer.SKIPPER),
        ("traefik", Observer.TRAEFIK),
        ("osm", Observer.OSM),
        ("kuma", Observer.KUMA),
        ("apisix", Observer.APISIX),
        ("knative", Observer.KNATIVE),
        ("smi:v1alpha3", Observer.ISTIO),
    ],
)
def test_the_canary_provider_picks_its_observer(provider: str, observer: Observer) -> None:
    assert (
        select_observer(mesh_provider="istio", canary_provider=provider, target_kind=DEPLOYMENT)
        is observer
    )


def test_every_crd_provider_selects_an_observer() -> None:
    for provider in Provider:
        assert (
            select_observer(
                mesh_provider="istio", canary_provider=provider.value, target_kind=DEPLOYMENT
            )
            in Observer
        )


@pytest.mark.parametrize("canary_provider", [None, ""])
def test_without_a_canary_provider_the_global_one_decides(canary_provider: str | None) -> None:
    assert (
        select_observer(
            mesh_provider="nginx", canary_provider=canary_provider, target_kind=DEPLOYMENT
        )
        is Observer.NGINX
    )
    assert (
        select_observer(mesh_provider="", canary_provider=canary_provider, target_kind=DEPLOYMENT)
        is Observer.ISTIO
    )


def test_quirk_a_global_linkerd_overrides_any_canary_provider() -> None:
    assert (
        select_observer(mesh_provider="linkerd", canary_provider="nginx", target_kind=DEPLOYMENT)
        is Observer.LINKERD
    )
    assert (
        select_observer(
            mesh_provider="smi:linkerd", canary_provider="kubernetes", target_kind=DEPLOYMENT
        )
        is Observer.LINKERD
    )


def test_quirk_a_global_smi_linkerd_alone_reads_istio_metrics() -> None:
    # The override applies only when the canary names a provider; `smi:linkerd` matches nothing.
    assert (
        select_observer(mesh_provider="smi:linkerd", canary_provider=None, target_kind=DEPLOYMENT)
        is Observer.ISTIO
    )


def test_quirk_crossover_falls_to_istio_unless_the_canary_names_a_provider() -> None:
    assert (
        select_observer(mesh_provider="smi:crossover", canary_provider=None, target_kind=DEPLOYMENT)
        is Observer.ISTIO
    )
    assert (
        select_observer(
            mesh_provider="crossover", canary_provider="contour", target_kind=DEPLOYMENT
        )
        is Observer.CONTOUR
    )


@pytest.mark.parametrize(
    ("mesh", "provider", "observer"),
    [
        ("istio", "linkerd", Observer.ISTIO),
        ("linkerd", None, Observer.ISTIO),
        ("istio", "kubernetes", Observer.ISTIO),
        ("istio", "nginx", Observer.ISTIO),
        ("istio", "knative", Observer.ISTIO),
        ("kubernetes", None, Observer.ISTIO),
        ("istio", "appmesh", Observer.APPMESH),
        ("istio", "appmesh:v1beta2", Observer.APPMESH),
        ("istio", "gloo", Observer.GLOO),
        ("istio", "gatewayapi:v1", Observer.HTTP),
    ],
)
def test_quirk_service_targets_read_istio_unless_prefix_matched(
    mesh: str, provider: str | None, observer: Observer
) -> None:
    assert (
        select_observer(mesh_provider=mesh, canary_provider=provider, target_kind=SERVICE)
        is observer
    )


def test_a_knative_service_target_is_not_a_kubernetes_service() -> None:
    selected = select_observer(
        mesh_provider="istio",
        canary_provider="knative",
        target_kind=SERVICE,
        target_is_knative=True,
    )
    assert selected is Observer.KNATIVE


def test_unknown_providers_silently_read_istio_metrics() -> None:
    assert (
        select_observer(mesh_provider="envoy-gateway", canary_provider=None, target_kind=DEPLOYMENT)
        is Observer.ISTIO
    )
    assert (
        select_observer(mesh_provider="istio", canary_provider="Linkerd", target_kind="DaemonSet")
        is Observer.ISTIO
    )
