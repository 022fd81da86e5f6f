"""Rollout readiness (§2.9): every branch, messages verbatim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ensign.workloads.readiness import (
    Readiness,
    Ready,
    Stuck,
    Waiting,
    canary_readiness,
    daemonset_readiness,
    deployment_readiness,
    primary_readiness,
    threshold_count,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
DEADLINE = 600


def ts(seconds_ago: int) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def dep(
    *,
    name: str = "podinfo",
    generation: int = 2,
    observed: int = 2,
    replicas: int | None = 3,
    status_replicas: int = 3,
    updated: int = 3,
    available: int = 3,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec = {} if replicas is None else {"replicas": replicas}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "test", "generation": generation},
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "replicas": status_replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


PROGRESSING = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}


def unavailable(seconds_ago: int) -> dict[str, Any]:
    return {
        "type": "Available",
        "status": "False",
        "reason": "MinimumReplicasUnavailable",
        "lastUpdateTime": ts(seconds_ago),
    }


W = "waiting for rollout to finish: "


@pytest.mark.parametrize(
    ("obj", "threshold", "expected"),
    [
        (dep(), 100, Ready()),
        (
            dep(generation=3, observed=2),
            100,
            Waiting(f"{W}observed deployment generation less than desired generation"),
        ),
        (
            dep(
                conditions=[
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ]
            ),
            100,
            Stuck('deployment "podinfo" exceeded its progress deadline'),
        ),
        (
            dep(updated=1, available=1),
            100,
            Waiting(f"{W}1 out of 3 new replicas have been updated"),
        ),
        (dep(status_replicas=5), 100, Waiting(f"{W}2 old replicas are pending termination")),
        (
            dep(available=2),
            100,
            Waiting(f"{W}2 of 3 (readyThreshold 100%) updated replicas are available"),
        ),
        (dep(available=2), 66, Ready()),  # int(3 * 0.66) = 1
        (
            dep(available=1),
            67,
            Waiting(f"{W}1 of 2 (readyThreshold 67%) updated replicas are available"),
        ),
        (
            dep(replicas=0, status_replicas=0, updated=0, available=0),
            100,
            Ready(),
        ),  # scaled to zero
        (
            dep(replicas=0, status_replicas=2, updated=0, available=2),
            100,
            Waiting(f"{W}2 old replicas are pending termination"),
        ),
        (dep(replicas=None, updated=1, status_replicas=1, available=1), 100, Ready()),
        # stalled longer than the deadline: the same message, but non-retriable
        (
            dep(available=2, conditions=[PROGRESSING, unavailable(DEADLINE + 1)]),
            100,
            Stuck(f"{W}2 of 3 (readyThreshold 100%) updated replicas are available"),
        ),
        (
            dep(updated=1, conditions=[PROGRESSING, unavailable(DEADLINE + 1)]),
            100,
            Stuck(f"{W}1 out of 3 new replicas have been updated"),
        ),
        # exactly at the deadline is still retriable (Go's strict Before)
        (
            dep(available=2, conditions=[PROGRESSING, unavailable(DEADLINE)]),
            100,
            Waiting(f"{W}2 of 3 (readyThreshold 100%) updated replicas are available"),
        ),
        # the stall rule needs a Progressing condition
        (
            dep(available=2, conditions=[unavailable(DEADLINE + 1)]),
            100,
            Waiting(f"{W}2 of 3 (readyThreshold 100%) updated replicas are available"),
        ),
        # a stalled but otherwise rolled-out deployment is ready
        (dep(conditions=[PROGRESSING, unavailable(DEADLINE + 1)]), 100, Ready()),
    ],
)
def test_deployment_readiness(obj: dict[str, Any], threshold: int, expected: Readiness) -> None:
    assert (
        deployment_readiness(obj, threshold=threshold, deadline_seconds=DEADLINE, now=NOW)
        == expected
    )


@pytest.mark.parametrize(
    ("count", "threshold", "expected"),
    [
        (3, 100, 3),
        (3, 66, 1),
        (3, 67, 2),
        (10, 33, 3),
        (100, 29, 29),
        (75, 84, 62),
        (0, 100, 0),
        (7, 0, 0),
    ],
)
def test_threshold_count_uses_float32_truncation(count: int, threshold: int, expected: int) -> None:
    # Go computes in float32: 100 * 0.29 rounds to 29.0 (float64 gives 28.999… → 28) and
    # 75 * 0.84 to 62.999996 → 62 (float64 gives 63.0).
    assert threshold_count(count, threshold) == expected


def test_primary_and_canary_deployment_prefixes() -> None:
    waiting = dep(name="podinfo-primary", available=2)
    assert primary_readiness(waiting, threshold=100, deadline_seconds=DEADLINE, now=NOW) == Waiting(
        f"podinfo-primary.test not ready: {W}2 of 3 (readyThreshold 100%) updated replicas are available"
    )
    stuck = dep(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}])
    assert canary_readiness(stuck, threshold=100, deadline_seconds=DEADLINE, now=NOW) == Stuck(
        'canary deployment podinfo.test not ready: deployment "podinfo" exceeded its progress deadline'
    )
    assert canary_readiness(dep(), threshold=100, deadline_seconds=DEADLINE, now=NOW) == Ready()


def ds(
    *,
    generation: int = 1,
    observed: int = 1,
    desired: int = 3,
    updated: int = 3,
    available: int = 3,
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "podinfo-ds", "namespace": "test", "generation": generation},
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
        },
    }


RECENT = NOW - timedelta(seconds=30)
OLD = NOW - timedelta(seconds=DEADLINE + 1)


@pytest.mark.parametrize(
    ("obj", "threshold", "since", "expected"),
    [
        (ds(), 100, RECENT, Ready()),
        (ds(), 100, OLD, Ready()),
        (
            ds(generation=2),
            100,
            OLD,
            Waiting(f"{W}observed daemonset generation less than desired generation"),
        ),
        (ds(updated=1), 100, RECENT, Waiting(f"{W}1 out of 3 new pods have been updated")),
        (
            ds(available=1),
            100,
            RECENT,
            Waiting(f"{W}1 of 3 (readyThreshold 100%) updated pods are available"),
        ),
        (ds(available=1), 50, RECENT, Ready()),
        (ds(updated=1), 100, OLD, Stuck("exceeded its progressDeadlineSeconds: 600")),
        (ds(available=0), 100, None, Stuck("exceeded its progressDeadlineSeconds: 600")),
        (ds(desired=0, updated=0, available=0), 100, None, Ready()),
    ],
)
def test_daemonset_readiness(
    obj: dict[str, Any], threshold: int, since: datetime | None, expected: Readiness
) -> None:
    got = daemonset_readiness(
        obj, threshold=threshold, deadline_seconds=DEADLINE, now=NOW, last_transition=since
    )
    assert got == expected


def test_daemonset_prefixes() -> None:
    primary = ds(updated=1)
    primary["metadata"]["name"] = "podinfo-ds-primary"
    assert primary_readiness(
        primary, threshold=100, deadline_seconds=DEADLINE, now=NOW, last_transition=RECENT
    ) == Waiting(
        f"primary daemonset podinfo-ds-primary.test not ready: {W}1 out of 3 new pods have been updated"
    )
    assert canary_readiness(
        ds(updated=1), threshold=100, deadline_seconds=DEADLINE, now=NOW, last_transition=OLD
    ) == Stuck(
        "canary damonset podinfo-ds.test not ready with retryable false: exceeded its progressDeadlineSeconds: 600"
    )
    unnamed_kind = ds(updated=1)
    del unnamed_kind["kind"]
    assert canary_readiness(
        unnamed_kind,
        threshold=100,
        deadline_seconds=DEADLINE,
        now=NOW,
        last_transition=RECENT,
        kind="DaemonSet",
    ) == Waiting(
        f"canary damonset podinfo-ds.test not ready with retryable true: {W}1 out of 3 new pods have been updated"
    )


def test_naive_now_is_utc() -> None:
    obj = dep(available=2, conditions=[PROGRESSING, unavailable(DEADLINE + 1)])
    naive = NOW.replace(tzinfo=None)
    assert isinstance(
        deployment_readiness(obj, threshold=100, deadline_seconds=DEADLINE, now=naive), Stuck
    )
