"""The local cluster's simulated KEDA operator (localcluster/keda.py): replicas and status."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.localcluster.keda import desired_replicas, paused_replicas, scaled_object_status

JSON = dict[str, Any]


@pytest.mark.parametrize(
    ("spec", "current", "paused", "expected"),
    [
        ({"minReplicaCount": 2, "maxReplicaCount": 5}, 0, None, 2),  # back up to min
        ({"minReplicaCount": 2, "maxReplicaCount": 5}, 0, 0, 0),  # paused at zero
        ({"minReplicaCount": 2, "maxReplicaCount": 5}, 4, 1, 1),
        ({"minReplicaCount": 2, "maxReplicaCount": 5}, 9, None, 5),
        ({"minReplicaCount": 2, "maxReplicaCount": 5}, 3, None, 3),
        ({}, 0, None, 0),  # KEDA's defaults: min 0, max 100
        ({}, 150, None, 100),
    ],
)
def test_desired_replicas(spec: JSON, current: int, paused: int | None, expected: int) -> None:
    assert desired_replicas(spec, current=current, paused=paused) == expected


@pytest.mark.parametrize(("raw", "count"), [("0", 0), ("3", 3), (None, None), ("x", None)])
def test_paused_replicas(raw: str | None, count: int | None) -> None:
    annotations = {} if raw is None else {"autoscaling.keda.sh/paused-replicas": raw}
    assert paused_replicas({"metadata": {"annotations": annotations}}) == count


def _so(**spec: Any) -> JSON:
    return {
        "metadata": {"name": "podinfo-so", "namespace": "test"},
        "spec": {"scaleTargetRef": {"name": "podinfo"}, **spec},
    }


def test_status_of_a_paused_scaled_object() -> None:
    target = {"spec": {"replicas": 2}}
    status = scaled_object_status(_so(), target=target, paused=0)
    assert status["scaleTargetKind"] == "apps/v1.Deployment"
    assert status["hpaName"] == "keda-hpa-podinfo-so"
    assert status["originalReplicaCount"] == 2
    assert status["pausedReplicaCount"] == 0
    states = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert states == {
        "Ready": ("True", "ScaledObjectReady"),
        "Active": ("False", "ScalerNotActive"),
        "Fallback": ("False", "NoFallbackFound"),
        "Paused": ("True", "ScaledObjectPaused"),
    }


def test_status_names_the_advanced_hpa_and_a_missing_target() -> None:
    so = _so(advanced={"horizontalPodAutoscalerConfig": {"name": "custom"}})
    status = scaled_object_status(so, target=None, paused=None)
    assert status["hpaName"] == "custom"
    assert "pausedReplicaCount" not in status and "originalReplicaCount" not in status
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ScaledObjectCheckFailed")
    assert "Deployment podinfo not found" in ready["message"]
