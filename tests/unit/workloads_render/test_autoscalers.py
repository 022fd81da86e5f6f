"""Primary HorizontalPodAutoscaler (§2.10)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.model.canary import ScalerReplicas
from ensign.workloads.autoscalers import hpa_needs_update, render_primary_hpa, update_primary_hpa
from tests.unit.workloads_render import podinfo


def test_render_primary_hpa() -> None:
    source = podinfo.hpa()
    before = copy.deepcopy(source)
    primary = render_primary_hpa(source, canary=podinfo.canary(), primary_name="podinfo-primary")
    assert source == before
    assert primary == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "podinfo-primary",
            "namespace": "test",
            "labels": {"app": "podinfo"},
            "ownerReferences": [podinfo.owner_ref()],
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "podinfo-primary",
            },
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": source["spec"]["metrics"],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (None, (2, 4)),
        (ScalerReplicas(), (2, 4)),
        (ScalerReplicas(min_replicas=1), (1, 4)),
        (ScalerReplicas(max_replicas=10), (2, 10)),
        (ScalerReplicas(min_replicas=3, max_replicas=6), (3, 6)),
    ],
)
def test_primary_scaler_replicas_override(
    override: ScalerReplicas | None, expected: tuple[int, int]
) -> None:
    spec = render_primary_hpa(
        podinfo.hpa(),
        canary=podinfo.canary(),
        primary_name="podinfo-primary",
        scaler_replicas=override,
    )["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == expected


def _live_primary() -> dict[str, Any]:
    """The primary HPA as read back after creation plus a sync with metadata copied."""
    source = podinfo.hpa()
    desired = render_primary_hpa(source, canary=podinfo.canary(), primary_name="podinfo-primary")
    live = copy.deepcopy(desired)
    live["metadata"].update(
        labels=dict(source["metadata"]["labels"]), annotations={"note": "x"}, uid="h"
    )
    return live


def test_hpa_in_sync_needs_no_update() -> None:
    source = podinfo.hpa()
    desired = render_primary_hpa(source, canary=podinfo.canary(), primary_name="podinfo-primary")
    assert not hpa_needs_update(_live_primary(), desired, source_hpa=source)


@pytest.mark.parametrize(
    ("edit"),
    [
        lambda h: h["spec"].update(maxReplicas=8),
        lambda h: h["spec"].update(minReplicas=3),
        lambda h: h["spec"]["metrics"][0]["resource"]["target"].update(averageUtilization=50),
        lambda h: h["spec"].pop("behavior"),
        lambda h: h["metadata"]["labels"].update(team="blue"),
        lambda h: h["metadata"].update(annotations={}),
    ],
)
def test_hpa_changes_need_update(edit: object) -> None:
    source = podinfo.hpa()
    assert callable(edit)
    edit(source)
    desired = render_primary_hpa(source, canary=podinfo.canary(), primary_name="podinfo-primary")
    assert hpa_needs_update(_live_primary(), desired, source_hpa=source)


def test_min_replicas_unset_equals_one() -> None:
    source = podinfo.hpa()
    source["spec"]["minReplicas"] = 1
    desired = render_primary_hpa(source, canary=podinfo.canary(), primary_name="podinfo-primary")
    live = _live_primary()
    live["spec"].pop("minReplicas")
    assert not hpa_needs_update(live, desired, source_hpa=source)


def test_update_primary_hpa() -> None:
    source = podinfo.hpa()
    source["spec"]["maxReplicas"] = 8
    del source["spec"]["behavior"]
    desired = render_primary_hpa(source, canary=podinfo.canary(), primary_name="podinfo-primary")
    live = _live_primary()
    frozen = copy.deepcopy(live)
    out = update_primary_hpa(live, desired, source_hpa=source, include_label_prefixes=["app"])
    assert live == frozen
    assert out["spec"]["maxReplicas"] == 8 and "behavior" not in out["spec"]
    assert out["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert out["metadata"]["uid"] == "h"
    assert out["metadata"]["labels"] == {"app": "podinfo"}
    assert out["metadata"]["annotations"] == {}
