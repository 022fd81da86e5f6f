"""Safety invariants of a rollout, checked over the local cluster's store. Pure (no I/O).

Three properties must hold after every change to the cluster, including while the
controller is down or has just been killed in the middle of a tick:

1. **The apex Service serves.** Once a canary's apex Service (`spec.service.name`, else the
   target's name) exists, its selector matches the pod labels of at least one Deployment
   (or DaemonSet) of the namespace with `status.readyReplicas >= 1` (DaemonSets:
   `numberReady`).
2. **The primary is never scaled to zero.** `<target>-primary` never has `spec.replicas: 0`.
3. **Completed webhook stages are not called again** (`check_hook_calls`). A *stage* is one
   question a gating hook (confirm-rollout or confirm-promotion) answers for one revision:
   the hook type, the URL path, the payload's `checksum` and the `status.iterations` the
   controller acted on (`gate_call`; Blue/Green asks confirm-promotion twice per run, to
   switch and to promote). The stage *completes* when the canary's persisted status shows
   the gate was passed (`PASSED_PHASES`, with the same checksum). Rules:

   * no call, successful or not, reaches a stage that had completed when the call arrived;
   * a stage answers "yes" at most once per controller incarnation;
   * **at-least-once redelivery of an in-flight call.** A controller killed after a gate said
     "yes" but before the status recording the passage was written cannot know it asked:
     the decision lived only in memory. Its successor asks again. That repeated successful
     call is allowed, once per restart, and only as the first call the new incarnation
     makes to that stage ("right after the restart"). Webhook receivers must therefore be
     idempotent for a (name, namespace, phase, checksum) payload, exactly as with Flagger,
     whose gates are also re-asked after a restart. Any other repeat is a violation.

The store checks take a `Store` and return human-readable violations (an empty list when
everything holds); `StoreMonitor` runs them on every store change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ensign.engine.phases import Phase
from ensign.engine.status import parse_status
from ensign.localcluster.kinds import ResourceType
from ensign.localcluster.store import Store, Subscription, WatchEvent
from ensign.workloads.revision import webhook_checksum

JSON = dict[str, Any]

WORKLOAD_PLURALS = ("deployments", "daemonsets")
WATCHED_KEYS = (
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("", "services"),
    ("flagger.app", "canaries"),
)

# Phases in which the persisted status proves a gate of this type was passed.
PASSED_PHASES: Mapping[str, frozenset[str]] = {
    "confirm-rollout": frozenset(
        {
            Phase.PROGRESSING,
            Phase.WAITING_PROMOTION,
            Phase.PROMOTING,
            Phase.FINALISING,
            Phase.SUCCEEDED,
        }
    ),
    "confirm-promotion": frozenset({Phase.PROMOTING, Phase.FINALISING, Phase.SUCCEEDED}),
}


# ------------------------------------------------------------------ store reads


def _type(store: Store, group: str, version: str, plural: str) -> ResourceType | None:
    return store.find_type(group, version, plural)


def _get(store: Store, rt: ResourceType | None, namespace: str, name: str) -> JSON | None:
    if rt is None:
        return None
    try:
        return store.get(rt, namespace, name)
    except Exception:  # the store answers a missing object with an ApiError
        return None


def _list(store: Store, rt: ResourceType | None, namespace: str) -> list[JSON]:
    if rt is None:
        return []
    items, _, _ = store.list(rt, namespace)
    return items


def canaries(store: Store) -> list[JSON]:
    return _list(store, _type(store, "flagger.app", "v1beta1", "canaries"), "")


def target_name(canary: Mapping[str, Any]) -> str:
    return str(((canary.get("spec") or {}).get("targetRef") or {}).get("name") or "")


def apex_name(canary: Mapping[str, Any]) -> str:
    service = (canary.get("spec") or {}).get("service") or {}
    return str(service.get("name") or target_name(canary))


def related_names(canary: Mapping[str, Any]) -> set[str]:
    """Names of the objects whose changes can affect a canary's invariants."""
    target, apex = target_name(canary), apex_name(canary)
    own = str((canary.get("metadata") or {}).get("name") or "")
    return {own, target, f"{target}-primary", apex, f"{apex}-primary", f"{apex}-canary"}


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _ready(workload: Mapping[str, Any]) -> int:
    status = workload.get("status") or {}
    value = status.get("readyReplicas", status.get("numberReady", 0))
    return int(value or 0)


# ---------------------------------------------------------------- store checks


def check_apex_serves(store: Store, namespace: str, apex: str) -> list[str]:
    """Invariant 1 for one apex Service."""
    service = _get(store, _type(store, "", "v1", "services"), namespace, apex)
    if service is None:
        return []
    selector = (service.get("spec") or {}).get("selector") or {}
    selected: list[str] = []
    for plural in WORKLOAD_PLURALS:
        for workload in _list(store, _type(store, "apps", "v1", plural), namespace):
            labels = (
                ((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}
            ).get("labels") or {}
            if not _selects(selector, labels):
                continue
            ready = _ready(workload)
            if ready >= 1:
                return []
            selected.append(f"{workload['metadata']['name']} ({ready} ready)")
    found = ", ".join(selected) if selected else "no workload"
    return [f"apex service {namespace}/{apex} selector {selector} selects {found}"]


def check_primary_not_zero(store: Store, namespace: str, primary: str) -> list[str]:
    """Invariant 2 for one primary Deployment."""
    deployment = _get(store, _type(store, "apps", "v1", "deployments"), namespace, primary)
    if deployment is None:
        return []
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    if replicas == 0:
        return [f"primary {namespace}/{primary} is scaled to zero"]
    return []


def check_canary(store: Store, canary: Mapping[str, Any]) -> list[str]:
    """Invariants 1 and 2 for one canary."""
    meta = canary.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    target = target_name(canary)
    out = check_apex_serves(store, namespace, apex_name(canary))
    if target:
        out += check_primary_not_zero(store, namespace, f"{target}-primary")
    return out


def check_store(store: Store, *, only: Iterable[tuple[str, str]] | None = None) -> list[str]:
    """Invariants 1 and 2 for every canary of the store (or those keyed in `only`)."""
    wanted = set(only) if only is not None else None
    out: list[str] = []
    for canary in canaries(store):
        meta = canary.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if wanted is None or key in wanted:
            out += check_canary(store, canary)
    return out


@dataclass(slots=True)
class Violation:
    rv: int  # the store's resourceVersion when it was seen
    message: str


@dataclass(slots=True)
class StoreMonitor:
    """Checks the store invariants after every change to a watched kind.

    Store listeners run synchronously inside the write, so no intermediate state escapes.
    Only the canaries the changed object concerns are checked (`related_names`; the apex
    of a canary selects its own primary or target), `check_store` is the full sweep.
    `checks` counts how many times the invariants ran.
    """

    store: Store
    violations: list[Violation] = field(default_factory=list)
    checks: int = 0
    _subscriptions: list[Subscription] = field(default_factory=list)

    def start(self) -> StoreMonitor:
        for key in WATCHED_KEYS:
            self._subscriptions.append(self.store.subscribe(key, self._on_event))
        return self

    def stop(self) -> None:
        for sub in self._subscriptions:
            self.store.unsubscribe(sub)
        self._subscriptions.clear()

    def _on_event(self, event: WatchEvent) -> None:
        name = str((event.obj.get("metadata") or {}).get("name") or "")
        self.check(namespace=event.namespace, name=name)

    def check(self, *, namespace: str | None = None, name: str | None = None) -> list[str]:
        """Check the canaries of `namespace` (all when None) that `name` concerns (its own
        name, its target, primary or generated Services; all when None)."""
        self.checks += 1
        found: list[str] = []
        for canary in canaries(self.store):
            ns = str((canary.get("metadata") or {}).get("namespace") or "")
            if namespace is not None and ns != namespace:
                continue
            if name is not None and name not in related_names(canary):
                continue
            found += check_canary(self.store, canary)
        for message in found:
            self.violations.append(Violation(self.store.resource_version, message))
        return found

    def messages(self) -> list[str]:
        return [f"rv {v.rv}: {v.message}" for v in self.violations]


# ------------------------------------------------------------------- webhooks


@dataclass(frozen=True, slots=True)
class HookCall:
    """One call a gate received, with what was true when it arrived."""

    stage: str  # see `gate_call`
    ok: bool  # the gate answered 2xx
    incarnation: int  # the controller that made it: 0, then +1 per restart
    completed: bool  # the persisted status already showed the stage as passed


def stage_completed(canary: Mapping[str, Any] | None, hook_type: str, checksum: str) -> bool:
    """Whether `canary`'s stored status proves the `hook_type` gate for `checksum` passed."""
    if canary is None:
        return False
    status = parse_status(canary.get("status"))
    if str(status.phase) not in PASSED_PHASES.get(hook_type, frozenset()):
        return False
    current = webhook_checksum(
        tracked_configs=status.tracked_configs, last_applied=status.last_applied_spec
    )
    return current == checksum


def gate_call(
    canary: Mapping[str, Any] | None,
    *,
    hook_type: str,
    path: str,
    body: Mapping[str, Any],
    ok: bool,
    incarnation: int,
) -> HookCall:
    """Describe a gate call at the moment it arrives, from the canary as stored then.

    The stage is the hook type, path and payload checksum plus the `status.iterations` the
    controller acted on: Blue/Green asks confirm-promotion on two successive ticks (after
    the last iteration, to switch to the canary, then to promote), which are two stages.
    Only the controller writes the status and its cache holds its own writes, so the stored
    status is the one the calling tick read.
    """
    checksum = str(body.get("checksum", ""))
    iterations = parse_status((canary or {}).get("status")).iterations
    return HookCall(
        stage=f"{hook_type} /{path.lstrip('/')}@{checksum}#{iterations}",
        ok=ok,
        incarnation=incarnation,
        completed=stage_completed(canary, hook_type, checksum),
    )


def check_hook_calls(calls: Sequence[HookCall]) -> list[str]:
    """The webhook rule of the module docstring over the calls, in arrival order."""
    out: list[str] = []
    last_ok: dict[str, int] = {}  # stage → incarnation of its latest successful call
    called_in: set[tuple[str, int]] = set()  # (stage, incarnation) that made any call
    for index, call in enumerate(calls):
        first_in_incarnation = (call.stage, call.incarnation) not in called_in
        called_in.add((call.stage, call.incarnation))
        where = f"call {index} ({call.stage}, incarnation {call.incarnation})"
        if call.completed:
            out.append(f"{where}: the stage had already completed")
            continue
        if not call.ok:
            continue
        previous = last_ok.get(call.stage)
        last_ok[call.stage] = call.incarnation
        if previous is None:
            continue
        if previous == call.incarnation:
            out.append(f"{where}: a second successful call by the same controller")
        elif not first_in_incarnation:
            out.append(f"{where}: repeated success that is not a redelivery right after restart")
    return out


def redeliveries(calls: Sequence[HookCall]) -> int:
    """How many successful calls repeated an earlier success (allowed redeliveries included)."""
    seen: set[str] = set()
    count = 0
    for call in calls:
        if call.ok and not call.completed:
            count += call.stage in seen
            seen.add(call.stage)
    return count
