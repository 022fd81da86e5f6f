"""Table tests of the pure status computation in `ensign.localcluster.rollout_status`."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.localcluster import rollout_status as rs
from ensign.localcluster.rollout_status import Pods

T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:00:05Z"
TEMPLATE = {"metadata": {"labels": {"app": "podinfo"}}, "spec": {"containers": [{"name": "c"}]}}
HASH = rs.pod_template_hash(TEMPLATE)
RS = f"podinfo-{HASH}"


def deployment(*, generation: int = 1, replicas: int = 2, status: Any = None, **spec: Any) -> Any:
    obj: dict[str, Any] = {
        "metadata": {"name": "podinfo", "namespace": "default", "generation": generation},
        "spec": {"replicas": replicas, "template": TEMPLATE, **spec},
    }
    if status is not None:
        obj["status"] = status
    return obj


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}


def test_new_deployment_is_created_then_available() -> None:
    first = rs.deployment_status(deployment(), now=T0, pods=Pods(updated=2))
    assert {k: v for k, v in first.items() if k != "conditions"} == {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "unavailableReplicas": 2,
    }
    assert conditions(first) == {
        "Progressing": ("True", "NewReplicaSetCreated", f'Created new replica set "{RS}"'),
        "Available": (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        ),
    }
    ready = rs.deployment_status(deployment(status=first), now=T1, pods=Pods(2, 2))
    assert {k: v for k, v in ready.items() if k != "conditions"} == {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    assert [c["type"] for c in ready["conditions"]] == ["Available", "Progressing"]
    assert conditions(ready) == {
        "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        "Progressing": (
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{RS}" has successfully progressed.',
        ),
    }
    progressing = ready["conditions"][1]
    assert progressing["lastUpdateTime"] == T1
    assert progressing["lastTransitionTime"] == T0  # still True: the transition time stays


def test_settled_status_is_a_fixed_point() -> None:
    first = rs.deployment_status(deployment(), now=T0, pods=Pods(updated=2))
    ready = rs.deployment_status(deployment(status=first), now=T0, pods=Pods(2, 2))
    again = rs.deployment_status(deployment(status=ready), now=T1, pods=Pods(2, 2))
    assert again == ready


def test_template_change_keeps_old_pods_available() -> None:
    ready = rs.deployment_status(deployment(), now=T0, pods=Pods(2, 2))
    rolling = rs.deployment_status(
        deployment(generation=2, status=ready),
        now=T1,
        pods=Pods(old=2, old_ready=2),
        template_hash="newhash",
    )
    assert {k: v for k, v in rolling.items() if k != "conditions"} == {
        "observedGeneration": 2,
        "replicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }
    progressing = rolling["conditions"][-1]
    assert progressing["reason"] == "ReplicaSetUpdated"
    assert progressing["message"] == 'ReplicaSet "podinfo-newhash" is progressing.'
    assert (progressing["lastUpdateTime"], progressing["lastTransitionTime"]) == (T1, T0)
    again = rs.deployment_status(
        deployment(generation=2, status=rolling),
        now="2024-05-01T10:09:00Z",
        pods=Pods(old=2, old_ready=2),
        template_hash="newhash",
    )
    assert again == rolling


def test_timed_out_rollout() -> None:
    first = rs.deployment_status(deployment(replicas=1), now=T0, pods=Pods(updated=1))
    stuck = rs.deployment_status(
        deployment(replicas=1, status=first), now=T1, pods=Pods(updated=1), timed_out=True
    )
    progressing = stuck["conditions"][-1]
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False",
        "ProgressDeadlineExceeded",
        f'ReplicaSet "{RS}" has timed out progressing.',
    )
    assert progressing["lastTransitionTime"] == T1
    assert conditions(stuck)["Available"][1] == "MinimumReplicasUnavailable"


def test_scale_to_zero_omits_zero_counts_and_stays_available() -> None:
    ready = rs.deployment_status(deployment(), now=T0, pods=Pods(2, 2))
    zero = rs.deployment_status(
        deployment(generation=2, replicas=0, status=ready), now=T1, pods=Pods()
    )
    assert {k: v for k, v in zero.items() if k != "conditions"} == {"observedGeneration": 2}
    assert conditions(zero)["Available"][:2] == ("True", "MinimumReplicasAvailable")
    assert conditions(zero)["Progressing"][1] == "NewReplicaSetAvailable"


def test_scale_up_is_progress() -> None:
    zero = rs.deployment_status(deployment(replicas=0), now=T0, pods=Pods())
    up = rs.deployment_status(deployment(generation=2, status=zero), now=T1, pods=Pods(updated=2))
    assert up["unavailableReplicas"] == 2
    assert conditions(up)["Progressing"][1] == "ReplicaSetUpdated"
    assert conditions(up)["Available"][:2] == ("False", "MinimumReplicasUnavailable")


def test_found_new_replica_set_when_progressing_condition_is_missing() -> None:
    status = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "unavailableReplicas": 2,
    }
    out = rs.deployment_status(deployment(status=status), now=T0, pods=Pods(updated=2))
    assert conditions(out)["Progressing"] == (
        "True",
        "FoundNewReplicaSet",
        f'Found new replica set "{RS}"',
    )


@pytest.mark.parametrize(
    ("replicas", "ready", "available"),
    [(4, 3, "True"), (4, 2, "False"), (3, 2, "False"), (1, 0, "False"), (10, 8, "True")],
)
def test_available_uses_max_unavailable(replicas: int, ready: int, available: str) -> None:
    out = rs.deployment_status(
        deployment(replicas=replicas), now=T0, pods=Pods(updated=replicas, new_ready=ready)
    )
    assert conditions(out)["Available"][0] == available


@pytest.mark.parametrize(
    ("strategy", "replicas", "expected"),
    [
        ({}, 4, 1),
        ({}, 3, 0),
        ({}, 0, 0),
        ({"type": "Recreate"}, 4, 0),
        ({"rollingUpdate": {"maxUnavailable": 2, "maxSurge": 0}}, 4, 2),
        ({"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}, 4, 1),
        ({"rollingUpdate": {"maxUnavailable": "50%"}}, 5, 2),
        ({"rollingUpdate": {"maxUnavailable": 9}}, 3, 3),
    ],
)
def test_max_unavailable(strategy: dict[str, Any], replicas: int, expected: int) -> None:
    assert rs.max_unavailable({"strategy": strategy}, replicas) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 0.5),
        ("2.5", 2.5),
        ("3s", 3.0),
        ("never", None),
        ("Never", None),
        ("x", 0.5),
        ("-1", 0.5),
    ],
)
def test_ready_delay(value: str | None, expected: float | None) -> None:
    annotations = {} if value is None else {rs.READY_AFTER: value}
    assert rs.ready_delay({"metadata": {"annotations": annotations}}, 0.5) == expected


def test_pod_template_hash_is_stable_and_shaped_like_kubernetes() -> None:
    assert rs.pod_template_hash(TEMPLATE) == rs.pod_template_hash(dict(reversed(TEMPLATE.items())))
    assert rs.pod_template_hash(TEMPLATE) != rs.pod_template_hash({**TEMPLATE, "x": 1})
    assert set(HASH) <= set("456789bcdf")
    assert 1 <= len(HASH) <= 10


def test_progress_deadline() -> None:
    assert rs.progress_deadline({}) == 600
    assert rs.progress_deadline({"progressDeadlineSeconds": 1}) == 1
    assert rs.progress_deadline({"progressDeadlineSeconds": 2**31 - 1}) is None


def test_daemonset_status() -> None:
    ds = {"metadata": {"name": "agent", "generation": 3}, "status": {"conditions": []}}
    assert rs.daemonset_status(ds, desired=2, pods=Pods(updated=2)) == {
        "currentNumberScheduled": 2,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 2,
        "numberReady": 0,
        "observedGeneration": 3,
        "updatedNumberScheduled": 2,
        "numberUnavailable": 2,
        "conditions": [],
    }
    assert rs.daemonset_status({"metadata": {"generation": 1}}, desired=0, pods=Pods()) == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
        "observedGeneration": 1,
    }


def test_scheduled_nodes() -> None:
    def template(selector: dict[str, str]) -> dict[str, Any]:
        return {"spec": {"nodeSelector": selector}}

    assert rs.scheduled_nodes(template({}), 3) == 3
    assert rs.scheduled_nodes(template({"kubernetes.io/os": "linux"}), 3) == 3
    assert rs.scheduled_nodes(template({"kubernetes.io/hostname": "local-node-2"}), 3) == 1
    assert rs.scheduled_nodes(template({"flagger.app/scale-to-zero": "true"}), 3) == 0
