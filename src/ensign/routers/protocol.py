"""The contract every router plug-in offers to the engine. Pure.

A router is the per-provider knowledge of how traffic is split between the primary and the
canary. Routers here only *read* and *render*: `read_routes` turns objects the shell fetched
into a `Routes` value, `render_routes` turns a desired `Routes` into object bodies for the
shell to apply. No router performs I/O.

Unlike Flagger (where a `NopRouter` fakes weights and generic code branches on the provider
name), a router states what it can do in `capabilities`, and the engine reads those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

from ensign.engine.weights import Routes
from ensign.model.canary import Canary


class Capability(StrEnum):
    """Features a router may support; absent ones must be rejected or worked around upstream."""

    WEIGHTS = "weights"
    """Progressive weighted split between primary and canary (the canary strategy)."""
    MIRROR = "mirror"
    """Shadowing of live traffic to the canary."""
    HEADER_MATCH = "header-match"
    """Request matching on headers, cookies or query parameters (A/B testing)."""
    SESSION_AFFINITY = "session-affinity"
    """Cookie stickiness for clients already routed to the canary."""
    BLUE_GREEN = "blue-green"
    """Iteration-based analysis followed by an all-at-once switch at promotion."""


class Router(Protocol):
    """A provider's routing plug-in: a name, its capabilities, and pure read/render methods."""

    @property
    def name(self) -> str:
        """The provider string that selects this router, e.g. `kubernetes`."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the router can do; the engine never assumes a capability that is absent."""
        ...

    def read_routes(self, canary: Canary, *, observed: Sequence[Mapping[str, Any]]) -> Routes:
        """The split currently in force, from the router objects the shell fetched."""
        ...

    def render_routes(self, canary: Canary, *, routes: Routes) -> tuple[Mapping[str, Any], ...]:
        """Bodies of the router objects that put `routes` in force (empty when none exist)."""
        ...
