"""`WorkloadSimulator`: the deployment and daemonset controllers and the kubelet of the local cluster.

It watches apps/v1 Deployments and DaemonSets in the `Store` and writes their `status`
through the status subresource, in the sequence a real cluster shows (the status itself is
computed by `rollout_status`):

1. A new generation is observed at once: `observedGeneration` is bumped. A Deployment that
   replaces running pods (a template change) shows `updatedReplicas` 0 while its old ready
   pods stay counted as ready and available (a rolling update) and Progressing=True
   `ReplicaSetUpdated`; a new Deployment shows all pods unready and `NewReplicaSetCreated`;
   a scale-up counts the new pods as updated but not ready.
2. After the ready delay the new pods are ready: every replica is updated, ready and
   available, Available=True `MinimumReplicasAvailable`, Progressing=True
   `NewReplicaSetAvailable` (`ReplicaSet "<name>-<pod-template-hash>" has successfully
   progressed.`).
3. If the pods are not ready within `spec.progressDeadlineSeconds` (default 600),
   Progressing becomes False `ProgressDeadlineExceeded`.

Scaling to zero settles at once (zero counts omitted, Available stays True). DaemonSets run on
`node_count` simulated nodes labelled `kubernetes.io/os=linux` and
`kubernetes.io/hostname=local-node-N`; a pod-template nodeSelector matching none of them (as
Flagger's `flagger.app/scale-to-zero: "true"`) means zero desired pods.

The ready delay is `default_ready_delay` seconds unless the pod template carries the
annotation::

    spec:
      template:
        metadata:
          annotations:
            localcluster.ensign.dev/ready-after: "2.5"    # seconds, or "never"

`"never"` simulates a broken image: the new pods never become ready, so the rollout times out.

With `default_ready_delay=None` new pods wait, with no timer, until `release(namespace, name)`
says they are ready: a test can then make a rollout finish at a chosen logical point (after the
controller recorded that it saw it unfinished, say) instead of after a wall-clock delay that a
loaded machine may stretch past the controller's next look.

Work per store event is O(1): a listener records the change and a single `call_soon` flush
writes at most one status per object per loop iteration, skipping writes that change nothing.
Delays use `loop.call_later` (loop time); timestamps come from `store.clock`.
"""

from __future__ import annotations

import asyncio
import logging

from ensign.localcluster import rollout_status as rs
from ensign.localcluster.errors import ApiError
from ensign.localcluster.kinds import ResourceType
from ensign.localcluster.rollout_status import JSON, Pods
from ensign.localcluster.store import StorageKey, Store, Subscription, WatchEvent, rfc3339
from ensign.localcluster.workload_objects import REVISION, WorkloadObjects

_log = logging.getLogger(__name__)

DEPLOYMENTS: StorageKey = ("apps", "deployments")
DAEMONSETS: StorageKey = ("apps", "daemonsets")
NODES: StorageKey = ("", "nodes")
PODS: StorageKey = ("", "pods")
Key = tuple[StorageKey, str, str]  # (storage key, namespace, name)
_WRITE_ATTEMPTS = 3


class _Workload:
    """What the simulator remembers about one Deployment or DaemonSet."""

    __slots__ = (
        "deadline_timer",
        "desired",
        "generation",
        "pods",
        "ready_timer",
        "template_hash",
        "timed_out",
    )

    def __init__(self) -> None:
        self.generation: object = None
        self.template_hash = ""
        self.desired = 0
        self.pods = Pods()
        self.timed_out = False
        self.ready_timer: asyncio.TimerHandle | None = None
        self.deadline_timer: asyncio.TimerHandle | None = None

    def cancel_ready(self) -> None:
        if self.ready_timer is not None:
            self.ready_timer.cancel()
            self.ready_timer = None

    def cancel_deadline(self) -> None:
        if self.deadline_timer is not None:
            self.deadline_timer.cancel()
            self.deadline_timer = None


class WorkloadSimulator:
    """Progresses Deployment and DaemonSet status like kube-controller-manager and kubelets."""

    def __init__(
        self, store: Store, *, default_ready_delay: float | None = 0.0, node_count: int = 1
    ) -> None:
        self.store = store
        self.default_ready_delay = default_ready_delay
        self.node_count = node_count
        self._types: dict[StorageKey, ResourceType] = {
            DEPLOYMENTS: store.type_for("apps", "v1", "deployments"),
            DAEMONSETS: store.type_for("apps", "v1", "daemonsets"),
        }
        self._states: dict[Key, _Workload] = {}
        self._dirty: dict[Key, None] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._subscriptions: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing: Key | None = None
        self.objects = WorkloadObjects(store, node_count=node_count)

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Subscribe to the store and pick up existing workloads; needs a running loop."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.objects.ensure_nodes()
        self._subscriptions.append(self.store.subscribe(NODES, self._on_node_event))
        self._subscriptions.append(self.store.subscribe(PODS, self._on_pod_event))
        for storage_key, rt in self._types.items():
            self._subscriptions.append(self.store.subscribe(storage_key, self._on_event))
            for obj in self.store.list(rt, None)[0]:
                meta = obj["metadata"]
                self._track((storage_key, meta.get("namespace", ""), meta["name"]), obj)

    def stop(self) -> None:
        """Unsubscribe and cancel every timer and pending write."""
        for sub in self._subscriptions:
            self.store.unsubscribe(sub)
        self._subscriptions.clear()
        for state in self._states.values():
            state.cancel_ready()
            state.cancel_deadline()
        self._states.clear()
        self._dirty.clear()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._loop = None

    async def idle(self, within: float = 0.0) -> None:
        """Return once no status write is pending and no timer is due within `within` seconds.

        For tests: `await sim.idle(1.0)` lets everything due in the next second happen.
        """
        loop = asyncio.get_running_loop()
        horizon = loop.time() + within
        while True:
            if self._flush_handle is not None or self._dirty:
                await asyncio.sleep(0)
                continue
            due = [
                timer.when()
                for state in self._states.values()
                for timer in (state.ready_timer, state.deadline_timer)
                if timer is not None and timer.when() <= horizon
            ]
            if not due:
                return
            await asyncio.sleep(max(min(due) - loop.time(), 0.0))

    def release(self, namespace: str, name: str, *, kind: str = "Deployment") -> bool:
        """Make the pending new pods of a workload ready now, timer or not.

        Returns whether any pod was waiting. A rollout that starts later waits again.
        """
        key: Key = (DAEMONSETS if kind == "DaemonSet" else DEPLOYMENTS, namespace, name)
        state = self._states.get(key)
        if state is None or state.pods.settled(state.desired):
            return False
        state.cancel_ready()
        self._pods_ready(key)
        return True

    # ---------------------------------------------------------------- events

    def _on_event(self, event: WatchEvent) -> None:
        """Store listener: O(1) bookkeeping, never raises, never writes."""
        try:
            key: Key = (event.storage_key, event.namespace, event.obj["metadata"]["name"])
            if event.type == "DELETED":
                self._forget(key)
                return
            state = self._states.get(key)
            if state is None:
                self._track(key, event.obj)
            elif event.obj["metadata"].get("generation") != state.generation:
                self._observe(key, state, event.obj)
            elif key != self._writing and (
                event.old is None or _status_changed(event.obj, event.old)
            ):
                self._mark(key)  # someone else rewrote the status: the controller restores it
        except Exception:
            _log.exception("workload simulator: failed to handle %s event", event.type)

    def _on_node_event(self, event: WatchEvent) -> None:
        """A node came, went or changed: every DaemonSet's desired count may change."""
        for key, state in list(self._states.items()):
            if key[0] == DAEMONSETS:
                state.generation = None  # re-observe at the next flush
                self._mark(key)

    def _on_pod_event(self, event: WatchEvent) -> None:
        """Readiness follows the pods: a pod of ours deleted (the ReplicaSet replaces it) or
        marked unready by someone else counts as unready until the ready delay has passed
        again (never, with ready-after "never")."""
        try:
            if self.objects.writing or event.type == "ADDED":
                return
            if event.type == "MODIFIED" and (
                _pod_ready(event.obj) or not _pod_ready(event.old or {})
            ):
                return
            meta = event.obj["metadata"]
            lost = self.objects.pod_lost(
                meta.get("namespace", ""), meta["name"], deleted=event.type == "DELETED"
            )
            if lost is None:
                return
            kind, name, current = lost
            key: Key = (DAEMONSETS if kind == "DaemonSet" else DEPLOYMENTS, event.namespace, name)
            state = self._states.get(key)
            if state is None:
                return
            p = state.pods
            state.pods = (
                Pods(p.updated, max(p.new_ready - 1, 0), p.old, p.old_ready)
                if current
                else Pods(p.updated, p.new_ready, p.old, max(p.old_ready - 1, 0))
            )
            rt = self._types[key[0]]
            if self.store.exists(rt, key[1], key[2]):
                spec = self.store.get(rt, key[1], key[2]).get("spec") or {}
                self._arm(key, state, spec, restart=False)
            self._mark(key)
        except Exception:
            _log.exception("workload simulator: failed to handle a pod %s event", event.type)

    def _track(self, key: Key, obj: JSON) -> None:
        state = _Workload()
        self._states[key] = state
        status = obj.get("status") or {}
        spec = obj.get("spec") or {}
        if status.get("observedGeneration") == obj["metadata"].get("generation"):
            # Adopting a workload whose status is current: trust its ready pods.
            desired = self._desired(key, spec)
            ready = status.get("readyReplicas", status.get("numberReady", 0))
            updated = status.get("updatedReplicas", status.get("updatedNumberScheduled", 0))
            if ready == updated == desired:
                state.template_hash = rs.pod_template_hash(spec.get("template"))
                state.desired = desired
                state.pods = Pods(desired, desired)
        self._observe(key, state, obj)

    def _forget(self, key: Key) -> None:
        kind = "DaemonSet" if key[0] == DAEMONSETS else "Deployment"
        self.objects.forget(kind, key[1], key[2])
        state = self._states.pop(key, None)
        if state is not None:
            state.cancel_ready()
            state.cancel_deadline()
        self._dirty.pop(key, None)

    def _observe(self, key: Key, state: _Workload, obj: JSON) -> None:
        """A new generation: work out which pods now exist and (re)arm the timers."""
        spec = obj.get("spec") or {}
        template = spec.get("template") or {}
        state.generation = obj["metadata"].get("generation")
        desired = self._desired(key, spec)
        template_hash = rs.pod_template_hash(template)
        rollout = template_hash != state.template_hash
        pods = _rolled(state.pods, desired) if rollout else _scaled(state.pods, desired)
        changed = rollout or pods != state.pods or desired != state.desired
        state.template_hash, state.pods, state.desired = template_hash, pods, desired
        if changed:
            self._arm(key, state, spec, restart=rollout)
        self._mark(key)

    def _desired(self, key: Key, spec: JSON) -> int:
        if key[0] == DAEMONSETS:
            return len(self.objects.schedulable_nodes(spec.get("template")))
        return max(rs.desired_replicas(spec), 0)

    def _arm(self, key: Key, state: _Workload, spec: JSON, *, restart: bool) -> None:
        """Start waiting for the new pods: a ready timer and (Deployments) a deadline timer."""
        state.timed_out = False
        state.cancel_deadline()
        if state.pods.settled(state.desired):
            state.cancel_ready()
            return
        loop = self._loop
        assert loop is not None
        if restart:
            state.cancel_ready()
        delay = rs.ready_delay(spec.get("template"), self.default_ready_delay)
        if state.ready_timer is None and delay is not None:
            state.ready_timer = loop.call_later(delay, self._pods_ready, key)
        deadline = rs.progress_deadline(spec) if key[0] == DEPLOYMENTS else None
        if deadline is not None:
            state.deadline_timer = loop.call_later(deadline, self._deadline_passed, key)

    def _pods_ready(self, key: Key) -> None:
        state = self._states.get(key)
        if state is None:
            return
        state.ready_timer = None
        state.cancel_deadline()
        state.timed_out = False
        state.pods = Pods(state.desired, state.desired)
        self._mark(key)

    def _deadline_passed(self, key: Key) -> None:
        state = self._states.get(key)
        if state is None:
            return
        state.deadline_timer = None
        state.timed_out = True
        self._mark(key)

    # ---------------------------------------------------------------- writes

    def _mark(self, key: Key) -> None:
        self._dirty[key] = None
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write the status of every object marked since the last flush, once each."""
        self._flush_handle = None
        batch, self._dirty = self._dirty, {}
        for key in batch:
            try:
                self._write_status(key)
                self._sync_objects(key)
            except Exception:
                _log.exception("workload simulator: status write for %s/%s failed", key[1], key[2])

    def _write_status(self, key: Key) -> None:
        rt = self._types[key[0]]
        for _ in range(_WRITE_ATTEMPTS):
            state = self._states.get(key)
            if state is None:
                return
            try:
                current = self.store.get(rt, key[1], key[2])
            except ApiError:
                self._forget(key)
                return
            if current["metadata"].get("generation") != state.generation:
                self._observe(key, state, current)
                return  # written by the flush that _observe scheduled
            status = self._status(key, state, current)
            metadata = current["metadata"]
            if key[0] == DEPLOYMENTS:  # the newest ReplicaSet's revision, written via /status
                revision = str(self.objects.revision(key[1], key[2], state.template_hash))
                annotations = metadata.get("annotations") or {}
                if annotations.get(REVISION) != revision:
                    metadata = dict(metadata, annotations=dict(annotations, **{REVISION: revision}))
            if status == current.get("status") and metadata is current["metadata"]:
                return
            body = dict(current, metadata=dict(metadata), status=status)
            self._writing = key
            try:
                self.store.replace(rt, key[1], key[2], body, subresource="status")
                return
            except ApiError as exc:
                if exc.code != 409:
                    raise
            finally:
                self._writing = None

    def _sync_objects(self, key: Key) -> None:
        """Bring the ReplicaSets and Pods in line with the simulated pods."""
        state = self._states.get(key)
        rt = self._types[key[0]]
        if state is None or not self.store.exists(rt, key[1], key[2]):
            return
        current = self.store.get(rt, key[1], key[2])
        if current["metadata"].get("deletionTimestamp"):
            return
        if key[0] == DAEMONSETS:
            template = (current.get("spec") or {}).get("template")
            self.objects.sync_daemonset(
                current, state.pods, self.objects.schedulable_nodes(template)
            )
        else:
            self.objects.sync_deployment(current, state.pods, state.template_hash)

    def _status(self, key: Key, state: _Workload, obj: JSON) -> JSON:
        if key[0] == DAEMONSETS:
            return rs.daemonset_status(obj, desired=state.desired, pods=state.pods)
        return rs.deployment_status(
            obj,
            now=rfc3339(self.store.clock()),
            pods=state.pods,
            timed_out=state.timed_out,
            template_hash=state.template_hash,
        )


def _rolled(pods: Pods, desired: int) -> Pods:
    """A new template: running pods become old ones; new pods wait for readiness."""
    old = min(pods.total, desired)
    if old == 0:
        return Pods(updated=desired)
    return Pods(old=old, old_ready=min(pods.ready, old))


def _scaled(pods: Pods, desired: int) -> Pods:
    """Same template, new replica count: scale-ups add unready pods, scale-downs remove pods."""
    if pods.old:
        old = min(pods.old, desired)
        return Pods(old=old, old_ready=min(pods.old_ready, old))
    return Pods(updated=desired, new_ready=min(pods.new_ready, desired))


def _pod_ready(pod: JSON) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _status_changed(new: JSON, old: JSON) -> bool:
    before, after = old.get("status"), new.get("status")
    return before is not after and before != after
