"""The `kubernetes` provider: Blue/Green over plain ClusterIP Services. Pure.

This provider writes no routing object. The apex Service always selects the primary pods
(see `services.py`), analysis traffic is generated against `<apex>-canary`, and promotion
is a rolling update of the primary (§3.3 of the behaviour notes). So the router supports
no weights, mirroring, header matching or session affinity: only Blue/Green.

The "weights" it reports are nominal, as in Flagger's `NopRouter`: 0/100 while a run is
counting iterations, 100/0 otherwise. They tell the engine which phase of a Blue/Green run
it is in; traffic never actually moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ensign.engine.weights import Routes
from ensign.model.canary import Canary, Provider
from ensign.routers.protocol import Capability

KUBERNETES_CAPABILITIES: Final = frozenset({Capability.BLUE_GREEN})


def status_iterations(canary: Canary) -> int:
    """`status.iterations` of the Canary body, 0 when absent or malformed."""
    status = canary.raw.get("status")
    iterations = status.get("iterations") if isinstance(status, Mapping) else None
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        return 0
    return iterations


@dataclass(frozen=True, slots=True, kw_only=True)
class KubernetesRouter:
    """Router for `provider: kubernetes`; owns no objects besides the generated Services."""

    name: str = Provider.KUBERNETES.value
    capabilities: frozenset[Capability] = KUBERNETES_CAPABILITIES

    def routes(self, status_iterations: int) -> Routes:
        """Nominal split: all to the canary once iterations have started, else all to primary."""
        if status_iterations > 0:
            return Routes(primary=0, canary=100)
        return Routes(primary=100, canary=0)

    def read_routes(self, canary: Canary, *, observed: Sequence[Mapping[str, Any]] = ()) -> Routes:
        """Derived from `status.iterations`; `observed` is ignored (there is nothing to read)."""
        return self.routes(status_iterations(canary))

    def render_routes(self, canary: Canary, *, routes: Routes) -> tuple[Mapping[str, Any], ...]:
        """No routing objects: setting routes is a no-op for this provider."""
        return ()
