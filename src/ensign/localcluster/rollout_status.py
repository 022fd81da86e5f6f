"""Deployment and DaemonSet status as kube-controller-manager computes it. Pure.

The workload simulator (`workloads.py`) decides how many pods exist and how many are ready
(`Pods`); this module turns that into the `status` the real controllers would write:
counts with zero values omitted (Go's `omitempty`), and for Deployments the `Available` and
`Progressing` conditions with the deployment controller's reasons, messages and timestamp
rules (`SetDeploymentCondition`: a condition whose status and reason are unchanged is left
alone; `lastTransitionTime` only moves when the status flips).

It also holds the small helpers both sides need: the pod-template-hash, the ready-after
annotation and the simulated nodes a DaemonSet schedules onto.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

READY_AFTER = "localcluster.ensign.dev/ready-after"
NO_DEADLINE = 2**31 - 1  # progressDeadlineSeconds of MaxInt32 means "never time out"
DEFAULT_PROGRESS_DEADLINE = 600

AVAILABLE = "Available"
PROGRESSING = "Progressing"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.SafeEncodeString


@dataclass(frozen=True, slots=True)
class Pods:
    """The simulated pods of one workload.

    `updated`/`new_ready`: pods of the current template that exist / are ready.
    `old`/`old_ready`: pods of earlier templates still serving during a rolling update.
    """

    updated: int = 0
    new_ready: int = 0
    old: int = 0
    old_ready: int = 0

    @property
    def total(self) -> int:
        return self.updated + self.old

    @property
    def ready(self) -> int:
        return self.new_ready + self.old_ready

    def settled(self, desired: int) -> bool:
        """All `desired` pods run the current template and are ready; nothing old is left."""
        return self.updated == desired and self.new_ready == desired and self.old == 0


# ------------------------------------------------------------------------------ helpers


def pod_template_hash(template: JSON | None) -> str:
    """A stable short hash of a pod template, spelled like the real pod-template-hash label."""
    raw = json.dumps(template or {}, sort_keys=True, separators=(",", ":")).encode()
    number = int.from_bytes(hashlib.blake2b(raw, digest_size=4).digest(), "big")
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in str(number))


def ready_delay(template: JSON | None, default: float | None) -> float | None:
    """Seconds until new pods of `template` are ready; None for "never" (a broken image, or
    pods that wait for an explicit release)."""
    annotations = ((template or {}).get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(READY_AFTER)
    if raw is None:
        return default
    text = str(raw).strip().lower()
    if text == "never":
        return None
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        return default
    return value if math.isfinite(value) and value >= 0 else default


def desired_replicas(spec: JSON) -> int:
    replicas = spec.get("replicas")
    return replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 1


def node_labels(index: int) -> dict[str, str]:
    """The labels of simulated node `index` (1-based)."""
    return {"kubernetes.io/hostname": f"local-node-{index}", "kubernetes.io/os": "linux"}


def scheduled_nodes(template: JSON | None, node_count: int) -> int:
    """How many of the simulated nodes match the pod template's nodeSelector."""
    selector = ((template or {}).get("spec") or {}).get("nodeSelector") or {}
    count = 0
    for index in range(1, node_count + 1):
        labels = node_labels(index)
        if all(labels.get(k) == v for k, v in selector.items()):
            count += 1
    return count


def progress_deadline(spec: JSON) -> int | None:
    """spec.progressDeadlineSeconds, or None when the deployment never times out."""
    value = spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
    if not isinstance(value, int) or isinstance(value, bool) or value >= NO_DEADLINE:
        return None
    return max(value, 0)


def max_unavailable(spec: JSON, replicas: int) -> int:
    """deploymentutil.MaxUnavailable: the rolling update's unavailability budget."""
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or replicas == 0:
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return min(unavailable, replicas)


def max_surge(spec: JSON, replicas: int) -> int:
    """deploymentutil.MaxSurge: how many pods above `replicas` a rolling update may add."""
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    return _scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)


def random_suffix() -> str:
    """The 5 characters a generateName gets (apimachinery rand.String's alphabet)."""
    return "".join(secrets.choice(_SAFE_ALPHABET) for _ in range(5))


def _scaled(value: object, total: int, *, round_up: bool) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return 0
    try:
        percent = int(text[:-1])
    except ValueError:
        return 0
    return -(-percent * total // 100) if round_up else percent * total // 100


# --------------------------------------------------------------------------- conditions


def condition(kind: str, status: str, reason: str, message: str, now: str) -> JSON:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def set_condition(conditions: list[JSON], new: JSON) -> list[JSON]:
    """deploymentutil.SetDeploymentCondition: a new list, the changed condition moved last."""
    current = _find(conditions, new["type"])
    if current is not None and (current.get("status"), current.get("reason")) == (
        new["status"],
        new["reason"],
    ):
        return conditions
    if current is not None and current.get("status") == new["status"]:
        new = {
            **new,
            "lastTransitionTime": current.get("lastTransitionTime", new["lastUpdateTime"]),
        }
    return [c for c in conditions if c.get("type") != new["type"]] + [new]


def _find(conditions: list[JSON], kind: str) -> JSON | None:
    return next((c for c in conditions if c.get("type") == kind), None)


# --------------------------------------------------------------------------- Deployments

_AVAILABILITY = {
    True: (AVAILABLE, "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
    False: (
        AVAILABLE,
        "False",
        "MinimumReplicasUnavailable",
        "Deployment does not have minimum availability.",
    ),
}


def deployment_status(
    obj: JSON,
    *,
    now: str,
    pods: Pods,
    timed_out: bool = False,
    template_hash: str | None = None,
) -> JSON:
    """The status the deployment controller writes for `obj` when its pods look like `pods`.

    `now` is an RFC 3339 timestamp; `timed_out` says spec.progressDeadlineSeconds has passed
    since the rollout last made progress; `template_hash` defaults to the hash of the template.
    """
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    old: JSON = obj.get("status") or {}
    desired = desired_replicas(spec)
    rs = f"{meta.get('name', '')}-{template_hash or pod_template_hash(spec.get('template'))}"
    status = _deployment_counts(meta.get("generation"), pods)
    conditions: list[JSON] = list(old.get("conditions") or [])
    first_sync = "observedGeneration" not in old
    if first_sync:
        created = (PROGRESSING, "True", "NewReplicaSetCreated", f'Created new replica set "{rs}"')
        conditions = set_condition(conditions, condition(*created, now))
    enough = pods.ready >= desired - max_unavailable(spec, desired)
    conditions = set_condition(conditions, condition(*_AVAILABILITY[enough], now))
    if pods.settled(desired):
        done = f'ReplicaSet "{rs}" has successfully progressed.'
        conditions = set_condition(
            conditions, condition(PROGRESSING, "True", "NewReplicaSetAvailable", done, now)
        )
    elif not first_sync:
        conditions = _rollout_progress(conditions, old, status, rs=rs, now=now, timed_out=timed_out)
    if conditions:
        status["conditions"] = conditions
    if "collisionCount" in old:
        status["collisionCount"] = old["collisionCount"]
    return status


def _deployment_counts(generation: object, pods: Pods) -> JSON:
    status: JSON = {}
    if generation:
        status["observedGeneration"] = generation
    ready = pods.ready
    counts = (
        ("replicas", pods.total),
        ("updatedReplicas", pods.updated),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
        ("unavailableReplicas", max(pods.total - ready, 0)),
    )
    status.update((key, value) for key, value in counts if value)
    return status


def _rollout_progress(
    conditions: list[JSON], old: JSON, new: JSON, *, rs: str, now: str, timed_out: bool
) -> list[JSON]:
    """The Progressing condition of an unfinished rollout (syncRolloutStatus)."""
    current = _find(conditions, PROGRESSING)
    updating = f'ReplicaSet "{rs}" is progressing.'
    new_generation = old.get("observedGeneration") != new.get("observedGeneration")
    if _progressed(old, new) or (
        new_generation and not timed_out and (current or {}).get("message") != updating
    ):
        refreshed = condition(PROGRESSING, "True", "ReplicaSetUpdated", updating, now)
        if current is not None and current.get("status") == "True":
            refreshed["lastTransitionTime"] = current.get("lastTransitionTime", now)
        return [c for c in conditions if c.get("type") != PROGRESSING] + [refreshed]
    if timed_out:
        stuck = condition(
            PROGRESSING,
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs}" has timed out progressing.',
            now,
        )
        return set_condition(conditions, stuck)
    if current is None:
        found = condition(
            PROGRESSING, "True", "FoundNewReplicaSet", f'Found new replica set "{rs}"', now
        )
        return set_condition(conditions, found)
    return conditions


def _progressed(old: JSON, new: JSON) -> bool:
    """deploymentutil.DeploymentProgressing: more updated/ready/available, fewer old pods."""

    def get(status: JSON, key: str) -> int:
        value = status.get(key, 0)
        return value if isinstance(value, int) else 0

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new, "replicas") - get(new, "updatedReplicas")
    return (
        get(new, "updatedReplicas") > get(old, "updatedReplicas")
        or new_old < old_old
        or get(new, "readyReplicas") > get(old, "readyReplicas")
        or get(new, "availableReplicas") > get(old, "availableReplicas")
    )


# --------------------------------------------------------------------------- DaemonSets


def daemonset_status(obj: JSON, *, desired: int, pods: Pods) -> JSON:
    """The status the daemonset controller writes when `desired` nodes should run a pod."""
    meta = obj.get("metadata") or {}
    old: JSON = obj.get("status") or {}
    ready = pods.ready
    status: JSON = {
        "currentNumberScheduled": min(pods.total, desired),
        "numberMisscheduled": 0,
        "desiredNumberScheduled": desired,
        "numberReady": ready,
    }
    if meta.get("generation"):
        status["observedGeneration"] = meta["generation"]
    optional = (
        ("updatedNumberScheduled", pods.updated),
        ("numberAvailable", ready),
        ("numberUnavailable", max(desired - ready, 0)),
    )
    status.update((key, value) for key, value in optional if value)
    for kept in ("collisionCount", "conditions"):
        if kept in old:
            status[kept] = old[kept]
    return status
