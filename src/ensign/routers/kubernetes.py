"""The `kubernetes` provider: Blue/Green over plain ClusterIP Services. Pure.

This provider writes no routing object. The apex Service always selects the primary pods
(see `services.py`), analysis traffic is generated against `<apex>-canary`, and promotion
is a rolling update of the primary (§3.3 of the behaviour notes). So the router supports
no weights, mirroring, header matching or session affinity: only Blue/Green.

The "weights" it reports are nominal, as in Flagger's `NopRouter`: 0/100 while a run is
counting iterations, 100/0 otherwise. They tell the engine which phase of a Blue/Green run
it is in; traffic never actually moves (the capability table has no `traffic` for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ensign.engine.weights import Routes
from ensign.kube.kinds import Kind
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.protocol import Capability, ObjectChange, ObjectRef, ObjectView, Split

KUBERNETES_CAPABILITIES: Final = CAPABILITIES[Provider.KUBERNETES]


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
    kinds: tuple[Kind, ...] = ()

    def routes(self, status_iterations: int) -> Routes:
        """Nominal split: all to the canary once iterations have started, else all to primary."""
        if status_iterations > 0:
            return Routes(primary=0, canary=100)
        return Routes(primary=100, canary=0)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        return ()

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes:
        """Derived from `status.iterations`: there is nothing to read."""
        return self.routes(status_iterations(canary))

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """No routing objects: setting routes is a no-op for this provider."""
        return ()

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        return ()
