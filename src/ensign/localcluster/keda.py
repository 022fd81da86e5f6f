"""`KedaSimulator`: the KEDA operator of the local cluster (ScaledObject status and scaling).

When the KEDA CRD is installed (`crd_bundles`, bundle `keda`, at any time: the simulator
listens before the CRD exists), it acts on every ScaledObject as KEDA's operator does, minus
the metrics (no trigger is ever active):

* **paused** (annotation ``autoscaling.keda.sh/paused-replicas: "N"``): the target Deployment
  is scaled to N and left alone; status ``pausedReplicaCount: N``, condition Paused=True;
* **not paused**: the target's replicas are kept within ``[minReplicaCount (0),
  maxReplicaCount (100)]`` — in particular a target scaled to zero is scaled back up to a
  non-zero ``minReplicaCount``, which is why Flagger pauses the target's ScaledObject
  whenever it scales the target to zero; condition Paused=False.

Status, written through the status subresource: ``scaleTargetKind``, ``scaleTargetGVKR``,
``originalReplicaCount`` (the target's replicas when first seen), ``hpaName`` (the advanced
HPA name, else ``keda-hpa-<name>``) and the conditions Ready (False with reason
``ScaledObjectCheckFailed`` while the target Deployment does not exist), Active (False,
``ScalerNotActive``) and Paused. Flagger itself reads none of it; tests and ``kubectl get so``
do. Only Deployment targets are scaled; ``restoreToOriginalReplicaCount`` on deletion is not
simulated.

Work per store event is O(1): events mark ScaledObjects, one `call_soon` flush reconciles
each marked one once, skipping writes that change nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ensign.localcluster.errors import ApiError
from ensign.localcluster.kinds import ResourceType
from ensign.localcluster.store import StorageKey, Store, Subscription, WatchEvent

_log = logging.getLogger(__name__)

JSON = dict[str, Any]
GROUP = "keda.sh"
SCALEDOBJECTS: StorageKey = (GROUP, "scaledobjects")
DEPLOYMENTS: StorageKey = ("apps", "deployments")
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
DEFAULT_MAX = 100
Key = tuple[str, str]  # (namespace, name)


class KedaSimulator:
    """Scales ScaledObject targets and writes their status like KEDA's operator."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dirty: dict[Key, None] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._subscriptions: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._target_of: dict[Key, Key] = {}  # ScaledObject -> its target Deployment
        self._scalers_of: dict[Key, set[Key]] = {}  # Deployment -> its ScaledObjects

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Subscribe to the store and pick up existing ScaledObjects; needs a running loop."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._subscriptions.append(self.store.subscribe(SCALEDOBJECTS, self._on_scaled_object))
        self._subscriptions.append(self.store.subscribe(DEPLOYMENTS, self._on_deployment))
        st = self._type()
        if st is not None:
            for obj in self.store.list(st, None)[0]:
                self._track(_key(obj), obj)

    def stop(self) -> None:
        for sub in self._subscriptions:
            self.store.unsubscribe(sub)
        self._subscriptions.clear()
        self._dirty.clear()
        self._target_of.clear()
        self._scalers_of.clear()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._loop = None

    # ---------------------------------------------------------------- events

    def _on_scaled_object(self, event: WatchEvent) -> None:
        try:
            key = _key(event.obj)
            if event.type == "DELETED":
                self._forget(key)
            else:
                self._track(key, event.obj)
        except Exception:
            _log.exception("keda simulator: failed to handle a ScaledObject %s event", event.type)

    def _on_deployment(self, event: WatchEvent) -> None:
        try:
            old = ((event.old or {}).get("spec") or {}).get("replicas")
            new = (event.obj.get("spec") or {}).get("replicas")
            if event.type == "MODIFIED" and old == new:
                return
            for scaler in self._scalers_of.get(_key(event.obj), ()):
                self._mark(scaler)
        except Exception:
            _log.exception("keda simulator: failed to handle a Deployment %s event", event.type)

    def _track(self, key: Key, obj: JSON) -> None:
        ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        target = (key[0], str(ref.get("name") or ""))
        if self._target_of.get(key) != target:
            self._unindex(key)
            self._target_of[key] = target
            self._scalers_of.setdefault(target, set()).add(key)
        self._mark(key)

    def _forget(self, key: Key) -> None:
        self._unindex(key)
        self._dirty.pop(key, None)

    def _unindex(self, key: Key) -> None:
        target = self._target_of.pop(key, None)
        if target is not None:
            scalers = self._scalers_of.get(target)
            if scalers is not None:
                scalers.discard(key)
                if not scalers:
                    del self._scalers_of[target]

    def _mark(self, key: Key) -> None:
        self._dirty[key] = None
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        batch, self._dirty = self._dirty, {}
        for key in batch:
            try:
                self._reconcile(key)
            except Exception:
                _log.exception("keda simulator: reconciling ScaledObject %s/%s failed", *key)

    # ------------------------------------------------------------- reconcile

    def _type(self) -> ResourceType | None:
        return self.store.find_type(GROUP, "v1alpha1", "scaledobjects")

    def _reconcile(self, key: Key) -> None:
        st = self._type()
        dt = self.store.find_type("apps", "v1", "deployments")
        if st is None or dt is None:
            self._forget(key)
            return
        try:
            so = self.store.get(st, *key)
        except ApiError:
            self._forget(key)
            return
        spec = so.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        kind = str(ref.get("kind") or "Deployment")
        target: JSON | None = None
        if kind == "Deployment":
            try:
                target = self.store.get(dt, key[0], str(ref.get("name") or ""))
            except ApiError:
                target = None
        paused = paused_replicas(so)
        if target is not None:
            current = int((target.get("spec") or {}).get("replicas", 1))
            wanted = desired_replicas(spec, current=current, paused=paused)
            if wanted != current:
                self.store.patch(dt, key[0], target["metadata"]["name"], _replicas(wanted))
        status = scaled_object_status(so, target=target, paused=paused)
        if status != so.get("status"):
            body = dict(so, status=status)
            self.store.replace(st, key[0], key[1], body, subresource="status")


def paused_replicas(so: JSON) -> int | None:
    """KEDA's `paused-replicas` annotation as a count; None when absent or not a count."""
    raw = ((so.get("metadata") or {}).get("annotations") or {}).get(PAUSED_REPLICAS)
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if value >= 0 else None


def desired_replicas(spec: JSON, *, current: int, paused: int | None) -> int:
    """The replicas KEDA leaves the target at: the paused count, else `current` clamped to
    [minReplicaCount, maxReplicaCount] (no trigger is ever active here)."""
    if paused is not None:
        return paused
    low = int(spec.get("minReplicaCount") or 0)
    high = int(spec.get("maxReplicaCount") or DEFAULT_MAX)
    return max(low, min(current, high))


def scaled_object_status(so: JSON, *, target: JSON | None, paused: int | None) -> JSON:
    spec = so.get("spec") or {}
    old = dict(so.get("status") or {})
    ref = spec.get("scaleTargetRef") or {}
    api_version = str(ref.get("apiVersion") or "apps/v1")
    kind = str(ref.get("kind") or "Deployment")
    group, _, version = api_version.rpartition("/")
    hpa = ((spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}).get("name")
    status: JSON = {
        "scaleTargetKind": f"{api_version}.{kind}",
        "scaleTargetGVKR": {
            "group": group,
            "version": version,
            "kind": kind,
            "resource": f"{kind.lower()}s",
        },
        "hpaName": str(hpa or f"keda-hpa-{so['metadata']['name']}"),
    }
    original = old.get("originalReplicaCount")
    if original is None and target is not None:
        original = int((target.get("spec") or {}).get("replicas", 1))
    if original is not None:
        status["originalReplicaCount"] = original
    if paused is not None:
        status["pausedReplicaCount"] = paused
    if target is None:
        name = ref.get("name")
        ready = _condition(
            "Ready",
            "False",
            "ScaledObjectCheckFailed",
            f"ScaledObject doesn't have correct scaleTargetRef specification: {kind} "
            f"{name} not found",
        )
    else:
        ready = _condition(
            "Ready", "True", "ScaledObjectReady", "ScaledObject is defined correctly"
        )
    status["conditions"] = [
        ready,
        _condition("Active", "False", "ScalerNotActive", "Scaling is not performed"),
        _condition("Fallback", "False", "NoFallbackFound", "No fallbacks are active"),
        _condition(
            "Paused",
            "True" if paused is not None else "False",
            "ScaledObjectPaused" if paused is not None else "ScaledObjectUnpaused",
            "ScaledObject is paused" if paused is not None else "ScaledObject is not paused",
        ),
    ]
    return status


def _condition(kind: str, status: str, reason: str, message: str) -> JSON:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def _replicas(count: int) -> Any:
    def patcher(obj: JSON) -> JSON:
        spec = dict(obj.get("spec") or {})
        spec["replicas"] = count
        return dict(obj, spec=spec)

    return patcher


def _key(obj: JSON) -> Key:
    meta = obj["metadata"]
    return (str(meta.get("namespace", "")), str(meta["name"]))
