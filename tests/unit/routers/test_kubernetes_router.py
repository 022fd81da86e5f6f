"""The `kubernetes` provider router and the provider registry.

Matrix: capabilities (Blue/Green only), nominal routes by `status.iterations`, Protocol
conformance, registry lookup, and the `UnknownProviderError` message for unknown names and
for Flagger providers Ensign does not implement yet.
"""

from __future__ import annotations

import dataclasses

import pytest

from ensign.kube.kinds import Kind
from ensign.routers import (
    Capability,
    KubernetesRouter,
    Router,
    Routes,
    UnknownProviderError,
    known_providers,
    make_router,
)
from ensign.routers.protocol import RouterSettings, Split
from tests.unit.routers._support import podinfo_canary


def test_capabilities_are_blue_green_only() -> None:
    router: Router = KubernetesRouter()
    assert router.name == "kubernetes"
    assert router.capabilities == frozenset({Capability.BLUE_GREEN})
    for missing in (
        Capability.WEIGHTS,
        Capability.MIRROR,
        Capability.HEADER_MATCH,
        Capability.SESSION_AFFINITY,
    ):
        assert missing not in router.capabilities


@pytest.mark.parametrize(
    ("iterations", "expected"),
    [(0, (100, 0, False)), (-1, (100, 0, False)), (1, (0, 100, False)), (10, (0, 100, False))],
)
def test_nominal_routes(iterations: int, expected: tuple[int, int, bool]) -> None:
    routes = KubernetesRouter().routes(iterations)
    assert (routes.primary, routes.canary, routes.mirrored) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, Routes(primary=100, canary=0)),
        ({"iterations": 0}, Routes(primary=100, canary=0)),
        ({"iterations": 3}, Routes(primary=0, canary=100)),
        ({"iterations": "3"}, Routes(primary=100, canary=0)),
        ({"iterations": True}, Routes(primary=100, canary=0)),
    ],
)
def test_read_routes_uses_status_iterations(
    status: dict[str, object] | None, expected: Routes
) -> None:
    canary = podinfo_canary()
    raw = dict(canary.raw)
    if status is not None:
        raw["status"] = status
    canary = dataclasses.replace(canary, raw=raw)
    router = KubernetesRouter()
    nothing = _NoObjects()
    assert router.read_routes(canary, nothing) == expected
    assert router.render(canary, nothing, Split(routes=expected), canary_uid="u") == ()
    assert router.finalize(canary, nothing) == ()
    assert router.refs(canary) == () and router.kinds == ()


class _NoObjects:
    def get(self, kind: Kind, namespace: str, name: str) -> None:
        return None


@pytest.mark.parametrize(("primary", "canary"), [(50, 40), (101, -1), (-10, 110)])
def test_routes_must_sum_to_100(primary: int, canary: int) -> None:
    with pytest.raises(ValueError, match="weights"):
        Routes(primary=primary, canary=canary)


def test_registry_makes_kubernetes_router() -> None:
    assert known_providers() == (
        "apisix",
        "appmesh",
        "appmesh:v1beta2",
        "contour",
        "gatewayapi:v1",
        "gatewayapi:v1beta1",
        "gloo",
        "istio",
        "kubernetes",
        "kuma",
        "linkerd",
        "nginx",
        "osm",
        "skipper",
        "smi:v1alpha1",
        "smi:v1alpha2",
        "smi:v1alpha3",
        "traefik",
    )
    router = make_router("kubernetes")
    assert isinstance(router, KubernetesRouter)


def test_unknown_provider_is_an_error_not_istio() -> None:
    with pytest.raises(UnknownProviderError) as caught:
        make_router("kubernetis")
    error = caught.value
    assert error.provider == "kubernetis"
    assert error.known == (
        "apisix",
        "appmesh",
        "appmesh:v1beta2",
        "contour",
        "gatewayapi:v1",
        "gatewayapi:v1beta1",
        "gloo",
        "istio",
        "kubernetes",
        "kuma",
        "linkerd",
        "nginx",
        "osm",
        "skipper",
        "smi:v1alpha1",
        "smi:v1alpha2",
        "smi:v1alpha3",
        "traefik",
    )
    assert str(error) == (
        "provider 'kubernetis' is not a known routing provider; known providers:"
        " apisix, appmesh, appmesh:v1beta2, contour, gatewayapi:v1, gatewayapi:v1beta1, gloo,"
        " istio, kubernetes, kuma, linkerd, nginx, osm, skipper, smi:v1alpha1, smi:v1alpha2,"
        " smi:v1alpha3, traefik"
        " (Ensign never falls back to istio as Flagger does)"
    )
    assert isinstance(error, LookupError)


def test_flagger_provider_not_yet_implemented() -> None:
    with pytest.raises(UnknownProviderError, match="'knative' is a Flagger provider that Ensign"):
        make_router("knative")


def _kubernetes(settings: RouterSettings, provider: str) -> KubernetesRouter:
    return KubernetesRouter()


def test_registry_accepts_injected_factories() -> None:
    factories = {"kubernetes": _kubernetes, "custom": _kubernetes}
    assert known_providers(factories) == ("custom", "kubernetes")
    with pytest.raises(UnknownProviderError, match="known providers: custom, kubernetes"):
        make_router("nope", factories=factories)
