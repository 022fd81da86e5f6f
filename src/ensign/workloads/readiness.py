"""Rollout readiness of Deployments and DaemonSets (§2.9). Pure.

A check returns `Ready`, `Waiting(message)` (retry on the next tick) or `Stuck(message)`
(non-retriable: the caller rolls back or fails the promotion). Messages are Flagger's,
verbatim. The clock is the `now` parameter; timestamps are RFC 3339 strings as in the API.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ensign.workloads.meta import child, items

WAITING = "waiting for rollout to finish: "
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time.Time: any deadline has passed


@dataclass(frozen=True, slots=True)
class Ready:
    """The workload has rolled out."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """Still rolling out; check again later."""

    message: str


@dataclass(frozen=True, slots=True)
class Stuck:
    """Not ready and not expected to become ready (progress deadline exceeded)."""

    message: str


Readiness = Ready | Waiting | Stuck


def _f32(value: float) -> float:
    """`value` rounded to an IEEE-754 single (Go's float32 arithmetic)."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def threshold_count(count: int, threshold: int) -> int:
    """`int32(float32(count) * (float32(threshold) / float32(100)))`, truncated as in Go."""
    return int(_f32(_f32(count) * _f32(_f32(threshold) / _f32(100))))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _time(value: Any) -> datetime:
    """Parse an RFC 3339 timestamp; missing or invalid → Go's zero time."""
    if not isinstance(value, str) or not value:
        return _ZERO_TIME
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return _ZERO_TIME
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in items(status.get("conditions")) if c.get("type") == kind), None)


def _deadline_passed(since: datetime, *, deadline_seconds: int, now: datetime) -> bool:
    """Go's `since.Add(deadline).Before(now)`: strictly after the deadline."""
    return since + timedelta(seconds=deadline_seconds) < _aware(now)


def _stalled(status: Mapping[str, Any], *, deadline_seconds: int, now: datetime) -> bool:
    """Available=False/MinimumReplicasUnavailable for longer than the deadline (needs Progressing)."""
    if _condition(status, "Progressing") is None:
        return False
    available = _condition(status, "Available")
    if available is None or available.get("status") != "False":
        return False
    if available.get("reason") != "MinimumReplicasUnavailable":
        return False
    return _deadline_passed(
        _time(available.get("lastUpdateTime")), deadline_seconds=deadline_seconds, now=now
    )


def _deployment_wait(dep: Mapping[str, Any], *, threshold: int) -> str | None:
    """The first unmet rollout condition as Flagger words it, or `None` when rolled out."""
    status = child(dep, "status")
    updated, replicas = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    desired = child(dep, "spec").get("replicas")
    needed = threshold_count(updated, threshold)
    if desired is not None and updated < _int(desired):
        return f"{WAITING}{updated} out of {_int(desired)} new replicas have been updated"
    if replicas > updated:
        return f"{WAITING}{replicas - updated} old replicas are pending termination"
    if available < needed:
        return (
            f"{WAITING}{available} of {needed} (readyThreshold {threshold}%) "
            "updated replicas are available"
        )
    return None


def deployment_readiness(
    dep: Mapping[str, Any], *, threshold: int, deadline_seconds: int, now: datetime
) -> Readiness:
    """Flagger's `isDeploymentReady` with a ready threshold in percent.

    Order: observed generation behind → Waiting; Progressing reason
    ProgressDeadlineExceeded → Stuck; then replicas not updated, old replicas pending
    termination, too few available — Waiting, or Stuck when Available has been
    False/MinimumReplicasUnavailable for longer than `deadline_seconds`. A Deployment
    scaled to 0 is ready.
    """
    status = child(dep, "status")
    generation = _int(child(dep, "metadata").get("generation"))
    if generation > _int(status.get("observedGeneration")):
        return Waiting(f"{WAITING}observed deployment generation less than desired generation")
    progressing = _condition(status, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        name = child(dep, "metadata").get("name", "")
        return Stuck(f'deployment "{name}" exceeded its progress deadline')
    message = _deployment_wait(dep, threshold=threshold)
    if message is None:
        return Ready()
    if _stalled(status, deadline_seconds=deadline_seconds, now=now):
        return Stuck(message)
    return Waiting(message)


def daemonset_readiness(
    ds: Mapping[str, Any],
    *,
    threshold: int,
    deadline_seconds: int,
    now: datetime,
    last_transition: datetime | None,
) -> Readiness:
    """Flagger's `isDaemonSetReady`; the deadline runs from the Canary's last status write.

    `last_transition` is the Canary's `status.lastTransitionTime` (`None` counts as long
    ago, like Go's zero time, so a not-ready DaemonSet is then Stuck).
    """
    status = child(ds, "status")
    if _int(child(ds, "metadata").get("generation")) > _int(status.get("observedGeneration")):
        return Waiting(f"{WAITING}observed daemonset generation less than desired generation")
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    needed = threshold_count(desired, threshold)
    if updated >= desired and available >= needed:
        return Ready()
    since = _aware(last_transition) if last_transition is not None else _ZERO_TIME
    if _deadline_passed(since, deadline_seconds=deadline_seconds, now=now):
        return Stuck(f"exceeded its progressDeadlineSeconds: {deadline_seconds}")
    if updated < desired:
        return Waiting(f"{WAITING}{updated} out of {desired} new pods have been updated")
    return Waiting(
        f"{WAITING}{available} of {needed} (readyThreshold {threshold}%) updated pods are available"
    )


def _prefixed(readiness: Readiness, prefix: str) -> Readiness:
    if isinstance(readiness, Waiting):
        return Waiting(prefix + readiness.message)
    if isinstance(readiness, Stuck):
        return Stuck(prefix + readiness.message)
    return readiness


def _check(
    obj: Mapping[str, Any],
    *,
    kind: str,
    threshold: int,
    deadline_seconds: int,
    now: datetime,
    last_transition: datetime | None,
) -> Readiness:
    if kind == "DaemonSet":
        return daemonset_readiness(
            obj,
            threshold=threshold,
            deadline_seconds=deadline_seconds,
            now=now,
            last_transition=last_transition,
        )
    return deployment_readiness(
        obj, threshold=threshold, deadline_seconds=deadline_seconds, now=now
    )


def primary_readiness(
    primary: Mapping[str, Any],
    *,
    threshold: int,
    deadline_seconds: int,
    now: datetime,
    last_transition: datetime | None = None,
    kind: str | None = None,
) -> Readiness:
    """Readiness of the primary with Flagger's prefix.

    Deployment: `<primary>.<ns> not ready: …`; DaemonSet (`kind`, default the object's):
    `primary daemonset <primary>.<ns> not ready: …`. `threshold` is primaryReadyThreshold.
    """
    meta = child(primary, "metadata")
    where = f"{meta.get('name', '')}.{meta.get('namespace', '')}"
    kind = kind or str(primary.get("kind") or "Deployment")
    prefix = "primary daemonset " if kind == "DaemonSet" else ""
    result = _check(
        primary,
        kind=kind,
        threshold=threshold,
        deadline_seconds=deadline_seconds,
        now=now,
        last_transition=last_transition,
    )
    return _prefixed(result, f"{prefix}{where} not ready: ")


def canary_readiness(
    target: Mapping[str, Any],
    *,
    threshold: int,
    deadline_seconds: int,
    now: datetime,
    last_transition: datetime | None = None,
    kind: str | None = None,
) -> Readiness:
    """Readiness of the target with Flagger's prefix.

    Deployment: `canary deployment <t>.<ns> not ready: …`; DaemonSet (`kind`, default the object's; Flagger's
    wording kept): `canary damonset <t>.<ns> not ready with retryable <bool>: …`.
    """
    meta = child(target, "metadata")
    where = f"{meta.get('name', '')}.{meta.get('namespace', '')}"
    kind = kind or str(target.get("kind") or "Deployment")
    result = _check(
        target,
        kind=kind,
        threshold=threshold,
        deadline_seconds=deadline_seconds,
        now=now,
        last_transition=last_transition,
    )
    if kind == "DaemonSet":
        retryable = "false" if isinstance(result, Stuck) else "true"
        return _prefixed(result, f"canary damonset {where} not ready with retryable {retryable}: ")
    return _prefixed(result, f"canary deployment {where} not ready: ")
