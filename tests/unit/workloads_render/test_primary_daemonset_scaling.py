"""Primary DaemonSet (§2.8.2), scaling patches and ScaleFromZero (§2.8.1)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.model.canary import AutoscalerKind, AutoscalerRef
from ensign.workloads.errors import WorkloadError
from ensign.workloads.primary import (
    daemonset_scale_from_zero_patch,
    daemonset_scale_to_zero_patch,
    finalize_replicas,
    promote_daemonset,
    render_primary_daemonset,
    scale_from_zero_replicas,
    scale_patch,
)
from tests.unit.workloads_render import podinfo

TRACKED = {("configmap", "podinfo-config-vol")}
SCALE_KEY = "flagger.app/scale-to-zero"


def kwargs(**overrides: Any) -> dict[str, Any]:
    return {
        "label": "name",
        "value": "podinfo-ds",
        "tracked": TRACKED,
        "include_label_prefixes": [""],
        "revision": "rev-1",
        **overrides,
    }


def test_render_primary_daemonset() -> None:
    ds = podinfo.daemonset()
    ds["spec"]["template"]["spec"]["nodeSelector"][SCALE_KEY] = "true"
    before = copy.deepcopy(ds)
    primary = render_primary_daemonset(ds, canary=podinfo.canary(), **kwargs())
    assert ds == before
    assert primary["kind"] == "DaemonSet"
    assert primary["metadata"]["name"] == "podinfo-ds-primary"
    assert primary["metadata"]["labels"] == {"name": "podinfo-ds-primary"}
    assert primary["metadata"]["ownerReferences"] == [podinfo.owner_ref()]
    spec = primary["spec"]
    assert {k: v for k, v in spec.items() if k != "template"} == {
        "minReadySeconds": 3,
        "revisionHistoryLimit": 4,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "selector": {"matchLabels": {"name": "podinfo-ds-primary"}},
    }
    assert spec["template"]["metadata"] == {
        "labels": {"name": "podinfo-ds-primary"},
        "annotations": {"flagger-id": "rev-1"},
    }
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["volumes"][0]["configMap"]["name"] == "podinfo-config-vol-primary"


def test_daemonset_has_no_affinity_rewrite() -> None:
    ds = podinfo.daemonset()
    selector = {"matchLabels": {"name": "podinfo-ds"}}
    ds["spec"]["template"]["spec"]["topologySpreadConstraints"] = [{"labelSelector": selector}]
    primary = render_primary_daemonset(ds, canary=podinfo.canary(), **kwargs())
    assert primary["spec"]["template"]["spec"]["topologySpreadConstraints"] == [
        {"labelSelector": selector}
    ]


@pytest.mark.parametrize("strategy", [None, "RollingUpdate"])
def test_daemonset_rolling_update_accepted(strategy: str | None) -> None:
    ds = podinfo.daemonset()
    ds["spec"]["updateStrategy"] = {"type": strategy} if strategy else {}
    render_primary_daemonset(ds, canary=podinfo.canary(), **kwargs())


def test_daemonset_on_delete_rejected_with_flaggers_message() -> None:
    ds = podinfo.daemonset()
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    message = "daemonset podinfo-ds.test must have RollingUpdate strategy but have OnDelete"
    with pytest.raises(WorkloadError) as raised:
        render_primary_daemonset(ds, canary=podinfo.canary(), **kwargs())
    assert str(raised.value) == message
    with pytest.raises(WorkloadError, match=message):
        promote_daemonset({}, ds, **kwargs())


def test_promote_daemonset_strips_scale_to_zero_and_keeps_identity() -> None:
    primary = render_primary_daemonset(podinfo.daemonset(), canary=podinfo.canary(), **kwargs())
    primary["metadata"].update(uid="p-uid", resourceVersion="9")
    target = podinfo.daemonset()
    target["spec"]["template"]["spec"]["nodeSelector"] = {SCALE_KEY: "true"}
    target["spec"]["minReadySeconds"] = 10
    out = promote_daemonset(primary, target, **kwargs(revision="rev-2"))
    assert (out["metadata"]["uid"], out["metadata"]["resourceVersion"]) == ("p-uid", "9")
    assert out["spec"]["minReadySeconds"] == 10
    assert "nodeSelector" not in out["spec"]["template"]["spec"]
    assert out["spec"]["template"]["metadata"]["annotations"]["flagger-id"] == "rev-2"
    assert target["spec"]["template"]["spec"]["nodeSelector"] == {SCALE_KEY: "true"}


def test_scale_patches() -> None:
    assert scale_patch("Deployment", 0) == {"spec": {"replicas": 0}}
    assert scale_patch("Deployment", 3) == {"spec": {"replicas": 3}}
    to_zero = {"spec": {"template": {"spec": {"nodeSelector": {SCALE_KEY: "true"}}}}}
    from_zero = {"spec": {"template": {"spec": {"nodeSelector": {SCALE_KEY: None}}}}}
    assert daemonset_scale_to_zero_patch() == to_zero == scale_patch("DaemonSet", 0)
    assert daemonset_scale_from_zero_patch() == from_zero == scale_patch("DaemonSet", 1)


HPA_REF = AutoscalerRef(api_version="autoscaling/v2", kind=AutoscalerKind.HPA, name="podinfo")
SO_REF = AutoscalerRef(
    api_version="keda.sh/v1alpha1", kind=AutoscalerKind.SCALED_OBJECT, name="podinfo"
)


def _with(path: str, value: Any) -> dict[str, Any]:
    return {"spec": {path: value}}


@pytest.mark.parametrize(
    ("target", "primary", "ref", "autoscaler", "expected"),
    [
        (2, 5, None, None, 2),  # target's own replicas win
        (0, 5, None, None, 5),  # else the primary's without autoscaler
        (0, 0, None, None, 1),
        (0, None, None, None, 1),
        (None, 4, None, None, 4),
        (0, 5, HPA_REF, _with("minReplicas", 3), 3),  # HPA min > 1
        (0, 5, HPA_REF, _with("minReplicas", 1), 1),
        (0, 5, HPA_REF, None, 1),  # HPA missing
        (0, 5, SO_REF, _with("minReplicaCount", 4), 4),
        (0, 5, SO_REF, _with("minReplicas", 4), 1),
    ],
)
def test_scale_from_zero_replicas(
    target: int | None,
    primary: int | None,
    ref: AutoscalerRef | None,
    autoscaler: dict[str, Any] | None,
    expected: int,
) -> None:
    primary_obj = None if primary is None else podinfo.deployment(replicas=primary)
    got = scale_from_zero_replicas(
        target=podinfo.deployment(replicas=target),
        primary=primary_obj,
        autoscaler_ref=ref,
        autoscaler=autoscaler,
    )
    assert got == expected


def test_finalize_replicas() -> None:
    assert finalize_replicas(podinfo.deployment(replicas=4)) == 4
    assert finalize_replicas(podinfo.deployment(replicas=None)) == 1
