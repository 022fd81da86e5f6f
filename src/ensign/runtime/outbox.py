"""Side effects exactly once per decision: an outbox in the Canary status. Does I/O.

A decision's side effects (its Events, the event webhooks they are forwarded to, post-rollout
hooks, alerts) are not performed while the tick executes. When the decision writes the
status (a transition), they are recorded as pending entries of `status.outbox` in that very
write, under its resourceVersion precondition; a 409 there records nothing and delivers
nothing, and the re-decided tick records its own. Only after the write succeeded does the
`Courier` deliver what the status holds, and then it removes the delivered entries with a
second status write (the done-mark). A restarted controller, or a new leader, finds the
entries still pending and delivers them.

Each entry's id is derived from the canary's uid, the resourceVersion the decision was made
from, the transition and the effect's position, so a decision replayed from the same state
gets the same ids. Kubernetes Events are named after their entry (`<canary>.<id>`): a create
answered 409 AlreadyExists was delivered before. Webhooks and chat services are external and
have no such check: a crash between a post and the done-mark repeats that post (at least
once, never lost). Decisions that write no status (holds repeating every tick) are delivered
at once, as before, and may repeat like the hold itself.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ensign.alerting.dispatch import AlertSender
from ensign.engine.actions import Action, AlertKind, RecordEvent, RunHooks, SendAlert
from ensign.kube import kinds
from ensign.kube.api import JSON, Conflict, KubeApi, KubeError, NotFound
from ensign.model import Canary, HookType
from ensign.runtime.cache import Caches
from ensign.runtime.events import EventRecorder
from ensign.runtime.hooks import HookRunner
from ensign.runtime.own_writes import OwnWrites
from ensign.runtime.slots import outside_slot
from ensign.workloads.revision import webhook_checksum

log = logging.getLogger(__name__)

FIELD = "outbox"
"""The status field (a map of entry id → entry; Ensign's, ignored by Flagger)."""
MAX_ROUNDS = 8  # a round ends after post-rollout hooks: their result Events come next
Key = tuple[str, str]

EFFECTS = (RecordEvent, RunHooks, SendAlert)


def is_effect(action: Action) -> bool:
    """Whether an action reaches outside the cluster's desired state (an Event, a hook,
    an alert): those are delivered once per decision, through the outbox."""
    return isinstance(action, EFFECTS)


def entry_id(*parts: object) -> str:
    """A short, deterministic id (10 hex digits, valid in an Event name)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:10]


def pending(status: Mapping[str, Any] | None) -> list[tuple[str, JSON]]:
    """The pending entries of a status, oldest first."""
    box = (status or {}).get(FIELD)
    if not isinstance(box, Mapping):
        return []
    entries = [(str(k), dict(v)) for k, v in box.items() if isinstance(v, Mapping)]
    return sorted(
        entries, key=lambda kv: (int(kv[1].get("seq") or 0), int(kv[1].get("sub") or 0), kv[0])
    )


def entries_for(
    effects: tuple[Action, ...],
    *,
    body: JSON,
    new_phase: str,
    target_kind: str,
) -> dict[str, JSON]:
    """The outbox entries of a decision's effects, made from the body it was decided on.

    Payload fields are the ones Flagger sends: the phase and checksum of the canary as the
    decision saw it (an event webhook's `phase` is the phase before the transition)."""
    meta = body.get("metadata") or {}
    status = body.get("status") if isinstance(body.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    old_phase = str(status.get("phase") or "")
    checksum = webhook_checksum(
        tracked_configs=status.get("trackedConfigs"), last_applied=status.get("lastAppliedSpec")
    )
    first = 1 + max((int(e.get("seq") or 0) for _, e in pending(status)), default=0)
    decision = (meta.get("uid"), meta.get("resourceVersion"), old_phase, new_phase)
    out: dict[str, JSON] = {}
    for index, action in enumerate(effects):
        entry: JSON = {"seq": first + index}
        match action:
            case RecordEvent(warning=warning, message=message):
                entry |= {"effect": "event", "message": message, "warning": warning}
                entry |= {"phase": old_phase, "checksum": checksum}
            case RunHooks(hook_type=hook_type, phase=phase):
                entry |= {"effect": "hooks", "hookType": str(hook_type), "phase": phase}
                entry |= {"checksum": checksum}
            case SendAlert(kind=kind, detail=detail):
                entry |= {"effect": "alert", "alert": str(kind), "detail": detail}
                entry |= {"targetKind": target_kind}
            case _:
                continue
        out[entry_id(*decision, index, entry.get("effect"))] = entry
    return out


@dataclass(slots=True)
class Courier:
    """Delivers a canary's pending outbox entries and marks them done."""

    api: KubeApi
    caches: Caches
    events: EventRecorder
    hooks: HookRunner
    alerts: AlertSender | None = None
    own: OwnWrites = field(default_factory=OwnWrites)  # the executor's: no wake-up for ours
    # Entries this process delivered whose done-mark has not been written yet.
    _delivered: dict[Key, set[str]] = field(default_factory=dict)
    # Entries a delivery produced (post-rollout results) not yet written to the outbox.
    _follow_ups: dict[Key, dict[str, JSON]] = field(default_factory=dict)
    deliveries: int = 0  # entries delivered (for tests and metrics)

    def forget(self, key: Key) -> None:
        self._delivered.pop(key, None)
        self._follow_ups.pop(key, None)

    async def deliver(self, canary: Canary, key: Key) -> bool:
        """Deliver what the cached canary's status holds, then mark it done. False when
        entries are left (an Event or a done-mark the API server refused): retry soon."""
        for _ in range(MAX_ROUNDS):
            body = self.caches["Canary"].get(*key)
            if body is None:
                return True
            entries = pending(body.get("status"))
            if not entries:
                self._delivered.pop(key, None)
                return True
            # A round ends with the first post-rollout hooks: the Events of their results
            # are recorded (in the done-mark) right after them, before what follows.
            cut = next((n for n, (_, e) in enumerate(entries) if e.get("effect") == "hooks"), -1)
            batch = entries if cut < 0 else entries[: cut + 1]
            done = self._delivered.setdefault(key, set())
            todo = [(i, e) for i, e in batch if i not in done]
            produced, failed = await self._deliver(canary, body, todo)
            done.update(i for i, _ in todo if i not in failed)
            follow_ups = self._follow_ups.setdefault(key, {})
            follow_ups.update(produced)
            finished = [i for i, _ in batch if i not in failed]
            marked = not (finished or follow_ups) or await self._mark_done(
                body, finished, follow_ups
            )
            if marked:
                self._follow_ups.pop(key, None)
            if not marked or failed:
                return False
            if batch is entries and not produced:
                return True
        return False

    async def _deliver(
        self, canary: Canary, body: JSON, todo: list[tuple[str, JSON]]
    ) -> tuple[dict[str, JSON], set[str]]:
        """Deliver `todo`; returns the follow-up entries and the ids not delivered (an Event
        the API server did not take: kept pending, with its forwarding, for the next tick)."""
        # Events first: a crash between them and the external posts repeats no post.
        failed: set[str] = set()
        for ident, entry in todo:
            if entry.get("effect") == "event" and not await self._event(canary, body, ident, entry):
                failed.add(ident)
        todo = [(i, e) for i, e in todo if i not in failed]
        follow_ups: dict[str, JSON] = {}
        async with outside_slot():  # slow receivers never hold a tick slot
            for ident, entry in todo:
                self.deliveries += 1
                effect = entry.get("effect")
                if effect == "event":
                    await self.hooks.forward(
                        canary,
                        str(entry.get("message") or ""),
                        warning=bool(entry.get("warning")),
                        phase=str(entry.get("phase") or ""),
                        checksum=str(entry.get("checksum") or ""),
                    )
                elif effect == "hooks":
                    results = await self.hooks.post_rollout(
                        canary,
                        hook_type=HookType(str(entry.get("hookType"))),
                        phase=str(entry.get("phase") or ""),
                        checksum=str(entry.get("checksum") or ""),
                    )
                    for sub, (name, message, warning) in enumerate(results, start=1):
                        follow_ups[entry_id(ident, name)] = {
                            "seq": int(entry.get("seq") or 0),
                            "sub": sub,
                            "effect": "event",
                            "message": message,
                            "warning": warning,
                            "phase": entry.get("phase") or "",
                            "checksum": entry.get("checksum") or "",
                        }
                elif effect == "alert" and self.alerts is not None:
                    await self.alerts.send(
                        AlertKind(str(entry.get("alert"))),
                        canary,
                        target_kind=str(entry.get("targetKind") or canary.spec.target_ref.kind),
                        detail=str(entry.get("detail") or ""),
                    )
        return follow_ups, failed

    async def _event(self, canary: Canary, body: JSON, ident: str, entry: JSON) -> bool:
        return await self.events.record_once(
            canary,
            body,
            name=f"{canary.name}.{ident}",
            message=str(entry.get("message") or ""),
            warning=bool(entry.get("warning")),
        )

    async def _mark_done(self, body: JSON, done: list[str], follow_ups: dict[str, JSON]) -> bool:
        """Remove the delivered entries (and add follow-ups) in one merge patch that touches
        only these keys, so it never conflicts with a tick. When nothing is left, the field
        goes, under the resourceVersion read (a 409 there: remove the keys instead)."""
        meta = body["metadata"]
        key = (str(meta.get("namespace") or ""), str(meta["name"]))
        box: dict[str, Any] = {i: None for i in done}
        box.update(follow_ups)
        everything = {i for i, _ in pending(body.get("status"))} <= set(done)
        patches: list[JSON] = [{"status": {FIELD: box}}]
        if everything and not follow_ups:
            rv = meta.get("resourceVersion")
            patches.insert(0, {"metadata": {"resourceVersion": rv}, "status": {FIELD: None}})
        try:
            for patch in patches:
                try:
                    written = await self.api.patch_status(
                        kinds.CANARY, meta["name"], patch, namespace=meta.get("namespace")
                    )
                    break
                except Conflict:
                    if patch is patches[-1]:
                        raise
        except NotFound:
            self._delivered.pop(key, None)
            return True
        except KubeError as exc:  # kept in `_delivered`: marked, not delivered, next time
            log.warning("could not mark the outbox of %s/%s done: %s", key[0], key[1], exc)
            return False
        self.own.record("Canary", written)
        with self.own.feeding_back():
            self.caches["Canary"].observe(written)
        remaining = self._delivered.get(key)
        if remaining is not None:
            remaining.difference_update(done)
        return True
