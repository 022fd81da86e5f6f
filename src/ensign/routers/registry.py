"""Provider name → router factory. Pure.

Flagger silently falls back to the Istio router for a provider string it does not know
(`pkg/router/factory.go`), so a typo deploys Istio objects into a cluster without Istio.
Ensign refuses instead: an unknown name raises `UnknownProviderError`, whose message lists
the providers this build knows.

Each factory imports its router module when first called, so the controller only loads the
routers its canaries use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final, TypeAlias

from ensign.model.canary import Provider
from ensign.model.capabilities import base_provider
from ensign.routers.protocol import Router, RouterSettings

RouterFactory: TypeAlias = Callable[[RouterSettings, str], Router]
"""Makes a router from the settings and the provider string (which may carry a suffix)."""


def _kubernetes(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.kubernetes import KubernetesRouter

    return KubernetesRouter()


def _gatewayapi_v1(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.gatewayapi import GatewayApiRouter

    return GatewayApiRouter.v1()


def _gatewayapi_v1beta1(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.gatewayapi import GatewayApiRouter

    return GatewayApiRouter.v1beta1()


def _nginx(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.nginx import NginxRouter

    return NginxRouter(annotations_prefix=settings.ingress_annotations_prefix)


def _istio(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.istio import IstioRouter

    return IstioRouter()


def _smi(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.smi import SmiRouter

    return SmiRouter.for_provider(provider)


def _contour(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.contour import ContourRouter

    return ContourRouter(ingress_class=settings.ingress_class)


def _gloo(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.gloo import GlooRouter

    return GlooRouter()


def _traefik(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.traefik import TraefikRouter

    return TraefikRouter()


def _skipper(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.skipper import SkipperRouter

    return SkipperRouter()


def _apisix(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.apisix import ApisixRouter

    return ApisixRouter()


def _kuma(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.kuma import KumaRouter

    return KumaRouter()


def _appmesh(settings: RouterSettings, provider: str) -> Router:
    from ensign.routers.appmesh import AppMeshRouter

    return AppMeshRouter.for_provider(provider)


DEFAULT_FACTORIES: Final[Mapping[str, RouterFactory]] = MappingProxyType(
    {
        Provider.KUBERNETES.value: _kubernetes,
        Provider.GATEWAYAPI_V1.value: _gatewayapi_v1,
        Provider.GATEWAYAPI_V1BETA1.value: _gatewayapi_v1beta1,
        Provider.NGINX.value: _nginx,
        Provider.ISTIO.value: _istio,
        Provider.CONTOUR.value: _contour,
        Provider.GLOO.value: _gloo,
        Provider.LINKERD.value: _smi,
        Provider.SMI_V1ALPHA1.value: _smi,
        Provider.SMI_V1ALPHA2.value: _smi,
        Provider.SMI_V1ALPHA3.value: _smi,
        Provider.OSM.value: _smi,
        Provider.TRAEFIK.value: _traefik,
        Provider.SKIPPER.value: _skipper,
        Provider.APISIX.value: _apisix,
        Provider.KUMA.value: _kuma,
        Provider.APPMESH.value: _appmesh,
        Provider.APPMESH_V1BETA2.value: _appmesh,
    }
)
"""The routers shipped with this build, by provider string."""


class UnknownProviderError(LookupError):
    """A provider string with no router; `known` lists the ones available, sorted."""

    def __init__(self, provider: str, *, known: Iterable[str]) -> None:
        self.provider = provider
        self.known: tuple[str, ...] = tuple(sorted(known))
        super().__init__(_message(provider, self.known))


def _message(provider: str, known: tuple[str, ...]) -> str:
    flagger_names = {member.value for member in Provider}
    why = (
        "is a Flagger provider that Ensign does not implement yet"
        if provider in flagger_names
        else "is not a known routing provider"
    )
    listed = ", ".join(known) if known else "(none)"
    return (
        f"provider {provider!r} {why}; known providers: {listed}"
        " (Ensign never falls back to istio as Flagger does)"
    )


def known_providers(factories: Mapping[str, RouterFactory] = DEFAULT_FACTORIES) -> tuple[str, ...]:
    """Provider strings with a router, sorted."""
    return tuple(sorted(factories))


def make_router(
    provider: str,
    *,
    settings: RouterSettings | None = None,
    factories: Mapping[str, RouterFactory] = DEFAULT_FACTORIES,
) -> Router:
    """A router for `provider`; raises `UnknownProviderError` when there is none. A suffixed
    `-mesh-provider` value (`smi:v1alpha3:istio`, `gloo:...`) selects its base provider's
    router, which receives the whole string."""
    text = str(provider)
    factory = factories.get(text)
    if factory is None:
        base = base_provider(text)
        factory = factories.get(base.value) if base is not None else None
    if factory is None:
        raise UnknownProviderError(text, known=factories)
    return factory(settings or RouterSettings(), text)
