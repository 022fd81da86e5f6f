"""Shared builders for the router tests: podinfo Canaries as each provider sees them, and the
user's Ingress."""

from __future__ import annotations

from typing import Any

from ensign.model import Canary, parse_canary

UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"


def podinfo_canary(
    service: dict[str, Any] | None = None, *, provider: str = "kubernetes"
) -> Canary:
    """The tutorial's `podinfo` canary in namespace `test`, with no `uid`; `service` replaces
    `spec.service`."""
    analysis = {"interval": "1m", "threshold": 5, "iterations": 10}
    return routed_canary(provider, analysis=analysis, service=service, uid=None)


def routed_canary(
    provider: str | None,
    *,
    analysis: dict[str, Any],
    service: dict[str, Any] | None = None,
    uid: str | None = UID,
    **spec: Any,
) -> Canary:
    """A podinfo canary in namespace `test`, with a `uid` as the routers' renders see it.
    `provider=None` leaves `spec.provider` out (the controller's default provider applies);
    `spec` adds fields such as `ingressRef` or `upstreamRef`."""
    body: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": service if service is not None else {"port": 80, "targetPort": 9898},
        "analysis": analysis,
        **spec,
    }
    if provider is not None:
        body = {"provider": provider, **body}
    metadata = {"name": "podinfo", "namespace": "test"} | ({"uid": uid} if uid else {})
    return parse_canary(
        {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": metadata, "spec": body}
    )


def steps_or_ab(ab: list[dict[str, Any]] | None, **steps: Any) -> dict[str, Any]:
    """`analysis`: A/B (10 iterations over the `match` list) when `ab` is given, else a
    progressive canary with these step fields (stepWeight 10 when none is given)."""
    analysis: dict[str, Any] = {"interval": "1m", "threshold": 5}
    return analysis | ({"iterations": 10, "match": ab} if ab else (steps or {"stepWeight": 10}))


def ingress_canary(
    provider: str, *, ingress: str | None = "podinfo", match: list[dict[str, Any]] | None = None
) -> Canary:
    """A canary routed through the Ingress `ingress`. `ingress=None` leaves out the provider
    and `ingressRef` both: the provider is the controller's default, unchecked by the parser."""
    analysis = steps_or_ab(match, maxWeight=50, stepWeight=10)
    if ingress is None:
        return routed_canary(None, analysis=analysis)
    ref = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": ingress}
    return routed_canary(provider, analysis=analysis, ingressRef=ref)


def user_ingress(backend: str = "podinfo") -> dict[str, Any]:
    """The user's Ingress `podinfo`: host app.example.com, prefix `/` to Service `backend`."""
    path = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": backend, "port": {"number": 80}}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"rules": [{"host": "app.example.com", "http": {"paths": [path]}}]},
    }
