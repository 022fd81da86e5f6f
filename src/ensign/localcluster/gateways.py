"""`GatewaySimulator`: the Gateway API controller of the local cluster (HTTPRoute status).

When the Gateway API CRDs are installed (`gatewayapi.install_gateway_api`, at any time: the
simulator listens before the CRDs exist), it writes, through the status subresource, one
`status.parents[]` entry per `spec.parentRefs[]` entry of every HTTPRoute, as a gateway
implementation does::

    status:
      parents:
        - parentRef: {group: gateway.networking.k8s.io, kind: Gateway, name: gw}   # as given
          controllerName: localcluster.ensign.dev/gateway-controller
          conditions:
            - {type: Accepted, status: "True", reason: Accepted, observedGeneration: 3, ...}
            - {type: ResolvedRefs, status: "True", reason: ResolvedRefs, observedGeneration: 3, ...}

Every parentRef is accepted, whether it names a Gateway (existing or not) or, for GAMMA, a
Service. Entries written by other controllers (another `controllerName`) are kept.

Knobs, per route:

* annotation ``localcluster.ensign.dev/accepted: "false"``: Accepted is False with reason
  ``NotAllowedByListeners`` (the route is not attached);
* a ``backendRefs[]`` entry (or a RequestMirror filter backend) naming a core Service that does
  not exist makes ResolvedRefs False with reason ``BackendNotFound``; creating the Service
  flips it back.

Work per store event is O(1) (plus the routes naming a created or deleted Service): the
listener records the route and one `call_soon` flush writes each marked route at most once,
skipping writes that change nothing. A condition keeps its `lastTransitionTime` while its
status stays the same; timestamps come from `store.clock`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ensign.localcluster.errors import ApiError
from ensign.localcluster.kinds import ResourceType
from ensign.localcluster.store import StorageKey, Store, Subscription, WatchEvent, rfc3339

_log = logging.getLogger(__name__)

JSON = dict[str, Any]
GROUP = "gateway.networking.k8s.io"
HTTPROUTES: StorageKey = (GROUP, "httproutes")
SERVICES: StorageKey = ("", "services")
CONTROLLER_NAME = "localcluster.ensign.dev/gateway-controller"
ACCEPTED_ANNOTATION = "localcluster.ensign.dev/accepted"
RouteKey = tuple[str, str]  # (namespace, name)
ServiceKey = tuple[str, str]  # (namespace, name)
_WRITE_ATTEMPTS = 3


class GatewaySimulator:
    """Writes HTTPRoute `status.parents` like a Gateway API implementation."""

    def __init__(self, store: Store, *, controller_name: str = CONTROLLER_NAME) -> None:
        self.store = store
        self.controller_name = controller_name
        self._dirty: dict[RouteKey, None] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._subscriptions: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing: RouteKey | None = None
        # Which Services each route names, and the reverse, to re-check routes on Service events.
        self._backends: dict[RouteKey, frozenset[ServiceKey]] = {}
        self._routes_of: dict[ServiceKey, set[RouteKey]] = {}

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Subscribe to the store and pick up existing routes; needs a running loop."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._subscriptions.append(self.store.subscribe(HTTPROUTES, self._on_route))
        self._subscriptions.append(self.store.subscribe(SERVICES, self._on_service))
        rt = self._route_type()
        if rt is not None:
            for obj in self.store.list(rt, None)[0]:
                self._track(_key(obj), obj)

    def stop(self) -> None:
        """Unsubscribe and drop every pending write."""
        for sub in self._subscriptions:
            self.store.unsubscribe(sub)
        self._subscriptions.clear()
        self._dirty.clear()
        self._backends.clear()
        self._routes_of.clear()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._loop = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    async def idle(self) -> None:
        """Return once no status write is pending (for tests)."""
        while True:
            if self._flush_handle is None and not self._dirty:
                return
            await asyncio.sleep(0)

    # ---------------------------------------------------------------- events

    def _on_route(self, event: WatchEvent) -> None:
        """Store listener: O(1) bookkeeping, never raises, never writes."""
        try:
            key = _key(event.obj)
            if event.type == "DELETED":
                self._forget(key)
            elif key != self._writing:
                self._track(key, event.obj)
        except Exception:
            _log.exception("gateway simulator: failed to handle %s event", event.type)

    def _on_service(self, event: WatchEvent) -> None:
        """A Service appeared or went away: re-check the routes that name it."""
        try:
            if event.type == "MODIFIED":
                return
            for route in self._routes_of.get(_key(event.obj), ()):
                self._mark(route)
        except Exception:
            _log.exception("gateway simulator: failed to handle a Service %s event", event.type)

    def _track(self, key: RouteKey, obj: JSON) -> None:
        backends = frozenset(_service_backends(obj))
        if self._backends.get(key) != backends:
            self._unindex(key)
            self._backends[key] = backends
            for service in backends:
                self._routes_of.setdefault(service, set()).add(key)
        self._mark(key)

    def _forget(self, key: RouteKey) -> None:
        self._unindex(key)
        self._dirty.pop(key, None)

    def _unindex(self, key: RouteKey) -> None:
        for service in self._backends.pop(key, ()):
            routes = self._routes_of.get(service)
            if routes is not None:
                routes.discard(key)
                if not routes:
                    del self._routes_of[service]

    # ---------------------------------------------------------------- writes

    def _mark(self, key: RouteKey) -> None:
        self._dirty[key] = None
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write the status of every route marked since the last flush, once each."""
        self._flush_handle = None
        batch, self._dirty = self._dirty, {}
        for key in batch:
            try:
                self._write_status(key)
            except Exception:
                _log.exception("gateway simulator: status write for %s/%s failed", *key)

    def _route_type(self) -> ResourceType | None:
        return self.store.find_type(GROUP, "v1", "httproutes") or self.store.find_type(
            GROUP, "v1beta1", "httproutes"
        )

    def _write_status(self, key: RouteKey) -> None:
        rt = self._route_type()
        if rt is None:
            self._forget(key)  # the CRD is gone, and its objects with it
            return
        for _ in range(_WRITE_ATTEMPTS):
            try:
                current = self.store.get(rt, *key)
            except ApiError:
                self._forget(key)
                return
            status = self.route_status(current)
            if status == current.get("status") or (status is None and not current.get("status")):
                return
            body = dict(current, metadata=dict(current["metadata"]))
            if status is None:
                body.pop("status", None)
            else:
                body["status"] = status
            self._writing = key
            try:
                self.store.replace(rt, key[0], key[1], body, subresource="status")
                return
            except ApiError as exc:
                if exc.code != 409:
                    raise
            finally:
                self._writing = None

    # ---------------------------------------------------------------- status

    def route_status(self, route: JSON) -> JSON | None:
        """The status this controller wants on `route` (None: no status at all)."""
        meta = route.get("metadata") or {}
        spec = route.get("spec") or {}
        old_status = route.get("status") or {}
        old_parents = [p for p in old_status.get("parents") or [] if isinstance(p, dict)]
        others = [p for p in old_parents if p.get("controllerName") != self.controller_name]
        ours_before = [p for p in old_parents if p.get("controllerName") == self.controller_name]
        generation = meta.get("generation")
        now = rfc3339(self.store.clock())
        accepted = _accepted(meta)
        resolved = self._resolved_refs(route)
        parents: list[JSON] = []
        for ref in spec.get("parentRefs") or []:
            if not isinstance(ref, dict):
                continue
            previous = next((p for p in ours_before if p.get("parentRef") == ref), None)
            wanted = (
                ("Accepted", *accepted),
                ("ResolvedRefs", *resolved),
            )
            conditions = [
                _condition(kind, state, reason, message, generation, now, previous)
                for kind, state, reason, message in wanted
            ]
            parents.append(
                {"parentRef": ref, "controllerName": self.controller_name, "conditions": conditions}
            )
        if not parents and not ours_before:
            return route.get("status")  # nothing of ours to write or to take back
        out = dict(old_status)
        out["parents"] = others + parents
        return out

    def _resolved_refs(self, route: JSON) -> tuple[str, str, str]:
        services_type = self.store.find_type("", "v1", "services")
        missing = []
        for service in sorted(_service_backends(route)):
            if services_type is None:
                break
            try:
                self.store.get(services_type, *service)
            except ApiError:
                missing.append(service)
        if missing:
            names = ", ".join(f"{ns}/{name}" for ns, name in missing)
            return ("False", "BackendNotFound", f"Service(s) not found: {names}")
        return ("True", "ResolvedRefs", "Resolved all the Object references for the Route")


def _key(obj: JSON) -> RouteKey:
    meta = obj["metadata"]
    return (str(meta.get("namespace", "")), str(meta["name"]))


def _accepted(meta: JSON) -> tuple[str, str, str]:
    annotations = meta.get("annotations") or {}
    if str(annotations.get(ACCEPTED_ANNOTATION, "")).strip().lower() == "false":
        return (
            "False",
            "NotAllowedByListeners",
            f"The route is not allowed by any listener of its parents "
            f"({ACCEPTED_ANNOTATION}: false)",
        )
    return ("True", "Accepted", "Route is accepted")


def _condition(
    kind: str,
    status: str,
    reason: str,
    message: str,
    generation: object,
    now: str,
    previous: JSON | None,
) -> JSON:
    before = next(
        (
            c
            for c in (previous or {}).get("conditions") or []
            if isinstance(c, dict) and c.get("type") == kind
        ),
        None,
    )
    since = now
    if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
        since = str(before["lastTransitionTime"])
    out: JSON = {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }
    if isinstance(generation, int):
        out["observedGeneration"] = generation
    return out


def _service_backends(route: JSON) -> set[ServiceKey]:
    """The core Services a route sends traffic (or mirrored traffic) to."""
    namespace = str((route.get("metadata") or {}).get("namespace", ""))
    out: set[ServiceKey] = set()
    for rule in (route.get("spec") or {}).get("rules") or []:
        if not isinstance(rule, dict):
            continue
        refs: list[Any] = list(rule.get("backendRefs") or [])
        filters: list[Any] = list(rule.get("filters") or [])
        for ref in list(refs):
            if isinstance(ref, dict):
                filters.extend(ref.get("filters") or [])
        for f in filters:
            if isinstance(f, dict) and isinstance(f.get("requestMirror"), dict):
                refs.append(f["requestMirror"].get("backendRef"))
        for ref in refs:
            if not isinstance(ref, dict) or not ref.get("name"):
                continue
            if ref.get("group", "") not in ("", "core") or ref.get("kind", "Service") != "Service":
                continue
            out.add((str(ref.get("namespace") or namespace), str(ref["name"])))
    return out
