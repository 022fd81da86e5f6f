"""Kubernetes Events on the Canary, as Flagger records them (reason `Synced`). Does I/O.

A repeat of one of a canary's recent events bumps that Event's count instead of creating a
new object, as client-go's correlator does. A failed event write is logged and
never fails the tick.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ensign.engine.status import rfc3339
from ensign.kube import kinds
from ensign.kube.api import JSON, Conflict, KubeApi, KubeError
from ensign.model import Canary

log = logging.getLogger(__name__)
COMPONENT = "ensign"
REASON = "Synced"
RECENT_PER_CANARY = 32


@dataclass(slots=True)
class EventRecorder:
    api: KubeApi
    clock: Callable[[], datetime]
    forward: Callable[[Canary, JSON, str, bool], Any] | None = None
    # Recent events per canary: "type:message" → (Event name, count), for aggregation; bounded.
    _recent: dict[tuple[str, str], dict[str, tuple[str, int]]] = field(default_factory=dict)
    recorded: int = 0

    async def record_once(
        self, canary: Canary, body: JSON, *, name: str, message: str, warning: bool
    ) -> bool:
        """Create the Event `name` (an outbox entry's); one that already exists was created
        before a crash or by the previous leader: delivered. Not forwarded (the outbox does).
        False when the API server did not take it (the outbox keeps it for the next tick)."""
        meta = body.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        kind = "Warning" if warning else "Normal"
        (log.warning if warning else log.info)("%s.%s: %s", canary.name, ns, message)
        self.recorded += 1
        event = _event(meta, ns, kind, message, rfc3339(self.clock()), name=name)
        try:
            try:
                await self.api.create(kinds.EVENT, event)
            except Conflict:  # AlreadyExists, or a conflict of another kind: look
                await self.api.get(kinds.EVENT, name, namespace=ns)
                log.debug("event %s/%s was created before", ns, name)
        except KubeError as exc:  # NotFound after a 409 included
            if exc.code and 400 <= exc.code < 500 and exc.code not in (404, 409, 429):
                # refused for good (RBAC, validation): logged and dropped, as before; a
                # retry would only pile entries up in the status
                log.warning("could not record event on %s.%s: %s", canary.name, ns, exc)
                return True
            log.warning("could not record event on %s.%s (will retry): %s", canary.name, ns, exc)
            return False
        return True

    async def record(self, canary: Canary, body: JSON, *, message: str, warning: bool) -> None:
        """Record an Event outside any decision (a refused write, a refusal to act), then
        forward it to the event webhooks: only once the API server has it, so a receiver
        never hears of an Event the cluster does not show. A write whose answer was lost
        (a timeout) is looked up before it counts as failed."""
        meta = body.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        kind = "Warning" if warning else "Normal"
        (log.warning if warning else log.info)("%s.%s: %s", canary.name, ns, message)
        self.recorded += 1
        now = rfc3339(self.clock())
        recent = self._recent.setdefault((ns, canary.name), {})
        signature = f"{kind}:{message}"
        try:
            seen = recent.get(signature)
            if seen is not None:
                name, count = seen
                try:
                    await self.api.patch(
                        kinds.EVENT, name, {"count": count + 1, "lastTimestamp": now}, namespace=ns
                    )
                except KubeError:
                    if not await self._landed(name, ns, count + 1):
                        raise
                recent[signature] = (name, count + 1)
            else:
                event = _event(meta, ns, kind, message, now)
                name = str(event["metadata"]["name"])
                try:
                    await self.api.create(kinds.EVENT, event)
                except KubeError:
                    if not await self._landed(name, ns, 1):
                        raise
                recent[signature] = (name, 1)
                while len(recent) > RECENT_PER_CANARY:
                    del recent[next(iter(recent))]
        except KubeError as exc:
            recent.pop(signature, None)
            log.warning("could not record event on %s.%s: %s", canary.name, ns, exc)
            return
        if self.forward is not None:
            await self.forward(canary, body, message, warning)

    async def _landed(self, name: str, ns: str, count: int) -> bool:
        """Whether the Event `name` has (at least) `count` after a write that failed."""
        try:
            got = await self.api.get(kinds.EVENT, name, namespace=ns)
        except KubeError:
            return False
        return int(got.get("count") or 1) >= count


def _event(meta: JSON, ns: str, kind: str, message: str, now: str, *, name: str = "") -> JSON:
    if not name:
        digest = hashlib.sha256(f"{meta.get('uid')}{message}{now}".encode()).hexdigest()[:10]
        name = f"{meta.get('name')}.{digest}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": meta.get("name"),
            "namespace": ns,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": REASON,
        "message": message,
        "type": kind,
        "source": {"component": COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": COMPONENT,
    }
