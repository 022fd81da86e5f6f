"""The contract every router plug-in offers to the controller. Pure.

A router is the per-provider knowledge of how traffic is split between the primary and the
canary. It does four things, in the spirit of Flagger's Reconcile / SetRoutes / GetRoutes /
Finalize, and no I/O:

- `refs`: the objects the shell must read for it (the router's own objects and the user's
  objects it copies, such as the Ingress named by `ingressRef`);
- `read_routes`: the split in force, read back from those objects. It is the single source
  for the engine's stepping and for `status.canaryWeight`;
- `render`: the changes that put a `Split` in force. Reconciling on every tick is `render`
  at the split read back this tick, so a reconcile never undoes a traffic shift and a spec
  change never resets the weights (Flagger's quirk); it returns no change when the live
  objects already match;
- `finalize`: what to restore or delete when the canary goes away.

It also declares the kinds it reads and writes (`kinds`: watch caches and RBAC come from
them) and its capabilities (from the one table in `ensign.model.capabilities`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ensign.engine.affinity import NO_COOKIES, AffinityCookies
from ensign.engine.weights import ALL_PRIMARY, Routes
from ensign.kube.kinds import Kind
from ensign.model.canary import Canary
from ensign.model.capabilities import Capability

__all__ = [
    "AffinityCookies",
    "Capability",
    "CreateObject",
    "DeleteObject",
    "ObjectChange",
    "ObjectRef",
    "ObjectView",
    "ReplaceObject",
    "RouteError",
    "Router",
    "RouterSettings",
    "Split",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectRef:
    """An object a router reads. `namespace` is "" for a cluster-scoped kind."""

    kind: Kind
    namespace: str
    name: str


class ObjectView(Protocol):
    """Read access to the watch caches (the objects named by `refs`, and any other object of
    the router's kinds). Returns None for an object that does not exist."""

    def get(self, kind: Kind, namespace: str, name: str) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Split:
    """A traffic split to put in force.

    `cookies` are `AffinityCookies` (`<name>=<value>` strings; the engine derives them and
    keeps them in the status).
    `routes`: the weights and whether the canary is mirrored (`analysis.mirrorWeight` is read
    from the canary by the router). `matched_only`: the A/B scope: when the canary has
    `analysis.match`, True sends `routes` to the matching requests only (the others go to the
    primary); False applies `routes` to all traffic. `cookies`: the session-affinity cookies.
    """

    routes: Routes = ALL_PRIMARY
    matched_only: bool = True
    cookies: AffinityCookies = NO_COOKIES


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterSettings:
    """Controller flags that change what routers write."""

    ingress_annotations_prefix: str = "nginx.ingress.kubernetes.io"
    ingress_class: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateObject:
    """Create `body` (it has no resourceVersion)."""

    kind: Kind
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceObject:
    """Replace the live object with `body`, which carries the live `resourceVersion` (a
    conflict means the object changed since it was read: the tick starts over)."""

    kind: Kind
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteObject:
    kind: Kind
    namespace: str
    name: str


ObjectChange = CreateObject | ReplaceObject | DeleteObject


class RouteError(Exception):
    """The split in force cannot be read or rendered (the object is malformed, its parent has
    not accepted it, a referenced object is missing). The message says why, in Flagger's
    words where Flagger has them; the tick holds with it."""


class Router(Protocol):
    """A provider's routing plug-in. Every method is pure."""

    @property
    def name(self) -> str:
        """The provider string that selects this router, e.g. `gatewayapi:v1`."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the router can do (its row of `ensign.model.capabilities.CAPABILITIES`)."""
        ...

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The kinds this router reads or writes; the controller watches them while a canary
        uses the router, and the RBAC rules cover them."""
        ...

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The objects `read_routes`, `render` and `finalize` look at."""
        ...

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """The split in force; None when the router's objects do not exist yet. Raises
        `RouteError` when they exist but cannot be trusted."""
        ...

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """The writes that make the live objects match `split` and the canary's spec; empty
        when they already do. Raises `RouteError` when the spec cannot be rendered (for
        example the Ingress named by `ingressRef` does not exist)."""
        ...

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """What to restore or delete when the canary is deleted (owned objects are garbage
        collected by Kubernetes and need nothing here)."""
        ...
