"""What each routing provider can do: the one capability table. Pure data.

The model's validation (`parse_spec`, and `runtime.observe` for canaries that rely on the
controller's default provider) and the engine both read this table, and every router
declares its capabilities from it, so "what a provider supports" is written once.

Flagger spreads the same knowledge over its routers and scheduler, and silently ignores a
feature a router lacks (`analysis.match` on Traefik, `mirror` on NGINX, ...). Ensign refuses
such a spec with an error that names the field (`capability_errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ensign.model.analysis import Analysis
from ensign.model.canary import Provider, ServiceSpec


class Capability(StrEnum):
    """Features a router may support; absent ones are rejected, never worked around."""

    TRAFFIC = "traffic"
    """The router moves live traffic (the kubernetes provider does not: its split is nominal)."""
    WEIGHTS = "weights"
    """Progressive weighted split between primary and canary (the canary strategy)."""
    BLUE_GREEN = "blue-green"
    """Iteration-based analysis followed by an all-at-once switch at promotion."""
    HEADER_MATCH = "header-match"
    """Request matching on headers, cookies or query parameters (A/B testing)."""
    MATCHED_WEIGHTS = "matched-weights"
    """A partial weight for the matching requests (A/B with `stepWeightPromotion`, or the
    canary strategy with `match`); NGINX can only send all or none of them."""
    MIRROR = "mirror"
    """Shadowing of live traffic to the canary during Blue/Green iterations."""
    CANARY_MIRROR = "canary-mirror"
    """A mirroring pre-stage before the first weight step of the canary strategy."""
    SESSION_AFFINITY = "session-affinity"
    """Cookie stickiness for clients already routed to the canary."""
    PRIMARY_COOKIE = "primary-cookie"
    """`sessionAffinity.primaryCookieName`: stickiness to the primary too."""
    TIMEOUTS = "timeouts"
    """`service.timeout` and `service.backendTimeout` on the route."""
    CORS = "cors"
    """`service.corsPolicy` on the route."""
    PARENT_STATUS = "parent-status"
    """Routes are checked against their parents' status before weights are trusted."""
    RECONCILE_FIRST = "reconcile-first"
    """The router's objects are reconciled before the primary workload is created (App Mesh:
    the virtual nodes must exist before the primary pods start)."""
    UNOWNED_OBJECTS = "unowned-objects"
    """The router writes objects without an owner reference to the Canary (Kuma's
    cluster-scoped TrafficRoute): the Canary carries the finalizer so they are cleaned up."""


C = Capability
_GATEWAY_V1: Final = frozenset(
    {
        C.TRAFFIC,
        C.WEIGHTS,
        C.BLUE_GREEN,
        C.HEADER_MATCH,
        C.MATCHED_WEIGHTS,
        C.MIRROR,
        C.SESSION_AFFINITY,
        C.PRIMARY_COOKIE,
        C.TIMEOUTS,
        C.CORS,
        C.PARENT_STATUS,
    }
)

_MESH: Final = frozenset({C.TRAFFIC, C.WEIGHTS, C.BLUE_GREEN})
_AB: Final = _MESH | {C.HEADER_MATCH}

CAPABILITIES: Final[Mapping[Provider, frozenset[Capability]]] = MappingProxyType(
    {
        Provider.KUBERNETES: frozenset({C.BLUE_GREEN}),
        Provider.GATEWAYAPI_V1: _GATEWAY_V1,
        # Flagger's v1beta1 router has no timeouts, CORS, primary cookie nor parent check.
        Provider.GATEWAYAPI_V1BETA1: _GATEWAY_V1
        - {C.TIMEOUTS, C.CORS, C.PRIMARY_COOKIE, C.PARENT_STATUS},
        Provider.NGINX: _AB,
        # Flagger's other routers (§3.8 of the behaviour notes); Ensign refuses them by name
        # until their routers land, but their specs are already checked against these rows.
        Provider.ISTIO: frozenset(Capability)
        - {C.PARENT_STATUS, C.RECONCILE_FIRST, C.UNOWNED_OBJECTS},
        Provider.APPMESH: _AB | {C.MATCHED_WEIGHTS, C.RECONCILE_FIRST},  # v1beta1: no timeouts
        Provider.APPMESH_V1BETA2: _AB | {C.MATCHED_WEIGHTS, C.TIMEOUTS, C.RECONCILE_FIRST},
        Provider.CONTOUR: _AB | {C.MATCHED_WEIGHTS, C.TIMEOUTS},
        Provider.GLOO: _AB | {C.MATCHED_WEIGHTS},
        Provider.LINKERD: _MESH,
        Provider.SMI_V1ALPHA1: _MESH,
        Provider.SMI_V1ALPHA2: _MESH,
        Provider.SMI_V1ALPHA3: _MESH,
        Provider.OSM: _MESH,
        Provider.SKIPPER: _MESH,
        Provider.TRAEFIK: _MESH,
        Provider.APISIX: _MESH,
        Provider.KUMA: _MESH | {C.UNOWNED_OBJECTS},
        Provider.KNATIVE: _MESH,
    }
)
"""Every provider Flagger accepts, with what it can do (whether Ensign has its router yet is
the router registry's business)."""


def base_provider(provider: Provider | str) -> Provider | None:
    """The `spec.provider` value a provider string stands for: itself, or for the suffixed
    forms Flagger accepts in `-mesh-provider` (`smi:v1alpha3:<mesh>`, `appmesh:v1beta2…`,
    `gloo…`, `gatewayapi:v1…`) the provider they select; None for an unknown string."""
    text = str(provider)
    try:
        return Provider(text)
    except ValueError:
        pass
    for prefix, chosen in _PREFIXES:
        if text.startswith(prefix):
            return chosen
    return None


_PREFIXES: Final = (
    ("smi:v1alpha1:", Provider.SMI_V1ALPHA1),
    ("smi:v1alpha2:", Provider.SMI_V1ALPHA2),
    ("smi:v1alpha3:", Provider.SMI_V1ALPHA3),
    ("appmesh:v1beta2", Provider.APPMESH_V1BETA2),
    ("gatewayapi:v1beta1", Provider.GATEWAYAPI_V1BETA1),
    ("gatewayapi:v1", Provider.GATEWAYAPI_V1),
    ("gloo", Provider.GLOO),
)


def capabilities_of(provider: Provider | str) -> frozenset[Capability]:
    """The provider's capabilities; empty for an unknown provider string."""
    chosen = base_provider(provider)
    return CAPABILITIES.get(chosen, frozenset()) if chosen is not None else frozenset()


def capability_errors(
    provider: Provider | str,
    analysis: Analysis | None,
    service: ServiceSpec | None,
    *,
    analysis_key: str = "analysis",
) -> tuple[tuple[str, str], ...]:
    """(field path under `spec`, message) for each feature the spec asks of `provider` that
    the provider cannot do. The kubernetes provider is left to its documented Blue/Green
    fallback (its ignored fields are warnings, see `parse_spec`)."""
    caps = capabilities_of(provider)
    if not caps or base_provider(provider) == Provider.KUBERNETES:
        return ()
    out: list[tuple[str, str]] = []

    def need(capability: Capability, path: str, what: str) -> None:
        if capability not in caps:
            out.append((path, f"{what} is not supported by provider {provider}"))

    if analysis is not None:
        a = analysis_key
        if analysis.match:
            need(C.HEADER_MATCH, f"{a}.match", "A/B testing")
            if C.HEADER_MATCH in caps and analysis.iterations <= 0:
                need(C.MATCHED_WEIGHTS, f"{a}.match", "a weighted split of the matching requests")
            if C.HEADER_MATCH in caps and analysis.step_weight_promotion > 0:
                need(
                    C.MATCHED_WEIGHTS,
                    f"{a}.stepWeightPromotion",
                    "a stepped promotion of the matching requests",
                )
        if analysis.mirror:
            if analysis.iterations > 0:
                need(C.MIRROR, f"{a}.mirror", "traffic mirroring")
            else:
                need(C.CANARY_MIRROR, f"{a}.mirror", "mirroring before the first canary step")
        if analysis.session_affinity is not None:
            need(C.SESSION_AFFINITY, f"{a}.sessionAffinity", "session affinity")
            if analysis.session_affinity.primary_cookie_name:
                need(
                    C.PRIMARY_COOKIE,
                    f"{a}.sessionAffinity.primaryCookieName",
                    "a primary session cookie",
                )
        if analysis.iterations <= 0 and (analysis.step_weight or analysis.step_weights):
            need(C.WEIGHTS, f"{a}.stepWeight", "progressive traffic shifting")
    if service is not None:
        if service.timeout:
            need(C.TIMEOUTS, "service.timeout", "a request timeout")
        if service.backend_timeout:
            need(C.TIMEOUTS, "service.backendTimeout", "a backend request timeout")
        if service.raw.get("corsPolicy"):
            need(C.CORS, "service.corsPolicy", "a CORS policy")
    return tuple(out)
