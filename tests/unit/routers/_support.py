"""Shared builders for the router tests: a podinfo Canary with a chosen `spec.service`."""

from __future__ import annotations

from typing import Any

from ensign.model import Canary, parse_canary

UID = "5f1c0e2a-7d2b-4c55-9b1e-0d6a4c1f9e01"


def podinfo_canary(
    service: dict[str, Any] | None = None, *, provider: str = "kubernetes"
) -> Canary:
    """The tutorial's `podinfo` canary in namespace `test`; `service` replaces `spec.service`."""
    body: dict[str, Any] = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": service if service is not None else {"port": 80, "targetPort": 9898},
            "analysis": {"interval": "1m", "threshold": 5, "iterations": 10},
        },
    }
    return parse_canary(body)
