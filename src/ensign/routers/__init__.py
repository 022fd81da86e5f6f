"""Router plug-ins: per-provider traffic routing, plus the generated Services all share. Pure.

- `protocol`: the `Router` contract, `Capability` and the `Routes` value;
- `services`: rendering and reconciling the apex, `-primary` and `-canary` Services
  (reconciling lives in `service_sync`, shared metadata conventions in `metadata`);
- `kubernetes`: the `kubernetes` provider (Blue/Green, no routing objects);
- `registry`: provider string → router, with `UnknownProviderError` instead of a fallback.

Nothing here does I/O; the controller shell fetches and applies the bodies.
"""

from ensign.engine.weights import Routes
from ensign.routers.kubernetes import KubernetesRouter
from ensign.routers.protocol import Capability, Router
from ensign.routers.registry import UnknownProviderError, known_providers, make_router
from ensign.routers.services import (
    Create,
    GeneratedServices,
    ServiceChange,
    Unchanged,
    Update,
    desired_services,
    reconcile_service,
    revert_apex,
    unmanaged_metadata,
)

__all__ = [
    "Capability",
    "Create",
    "GeneratedServices",
    "KubernetesRouter",
    "Router",
    "Routes",
    "ServiceChange",
    "Unchanged",
    "UnknownProviderError",
    "Update",
    "desired_services",
    "known_providers",
    "make_router",
    "reconcile_service",
    "revert_apex",
    "unmanaged_metadata",
]
