"""Primary KEDA ScaledObject, query rewrite, promotion sync and pause (§2.10); the plug-in
registry that chooses an autoscaler by `autoscalerRef.kind`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.kube import kinds
from ensign.model.canary import AutoscalerKind, AutoscalerRef, ScalerReplicas
from ensign.workloads import autoscalers
from ensign.workloads.scaledobjects import (
    PAUSED_REPLICAS,
    pause_patch,
    primary_queries,
    render_primary_scaled_object,
    scaled_object_update,
)
from tests.unit.workloads_render import podinfo

JSON = dict[str, Any]


def source() -> JSON:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "podinfo-so",
            "namespace": "test",
            "resourceVersion": "7",
            "labels": {"app": "podinfo", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {"team": "web", PAUSED_REPLICAS: "0"},
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "podinfo",
                "envSourceContainerName": "podinfod",
            },
            "pollingInterval": 10,
            "cooldownPeriod": 60,
            "idleReplicaCount": 0,
            "minReplicaCount": 1,
            "maxReplicaCount": 5,
            "advanced": {
                "restoreToOriginalReplicaCount": True,
                "horizontalPodAutoscalerConfig": {
                    "name": "podinfo-hpa",
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
                },
            },
            "fallback": {"failureThreshold": 3, "replicas": 2},
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "requests",
                    "metadata": {"query": 'sum(rate(http_requests_total{app="podinfo"}[1m]))'},
                    "authenticationRef": {"name": "prom-auth"},
                }
            ],
        },
    }


def ref(**fields: Any) -> AutoscalerRef:
    return AutoscalerRef(
        api_version="keda.sh/v1alpha1",
        kind=AutoscalerKind.SCALED_OBJECT,
        name="podinfo-so",
        **fields,
    )


def render(so: JSON | None = None, **fields: Any) -> JSON:
    return render_primary_scaled_object(
        so if so is not None else source(),
        canary=podinfo.canary(),
        target_name="podinfo",
        primary_name="podinfo-primary",
        ref=ref(**fields),
    )


def test_render_primary_scaled_object() -> None:
    original = source()
    before = copy.deepcopy(original)
    primary = render(original)
    assert original == before
    assert primary == {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "podinfo-so-primary",
            "namespace": "test",
            "labels": {"app": "podinfo"},  # toolkit key dropped
            "annotations": {"team": "web"},  # KEDA's pause is the target's own state
            "ownerReferences": [podinfo.owner_ref()],
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "podinfo-primary",
                "envSourceContainerName": "podinfod",
            },
            "pollingInterval": 10,
            "cooldownPeriod": 60,
            "idleReplicaCount": 0,
            "minReplicaCount": 1,
            "maxReplicaCount": 5,
            "advanced": {
                "restoreToOriginalReplicaCount": True,
                "horizontalPodAutoscalerConfig": {
                    "name": "podinfo-hpa-primary",
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
                },
            },
            "fallback": {"failureThreshold": 3, "replicas": 2},
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "requests",
                    "metadata": {
                        "query": 'sum(rate(http_requests_total{app="podinfo-primary"}[1m]))'
                    },
                    "authenticationRef": {"name": "prom-auth"},
                }
            ],
        },
    }


def test_minimal_source_copies_only_what_is_set() -> None:
    so = {
        "metadata": {"name": "so", "namespace": "test"},
        "spec": {"scaleTargetRef": {"name": "podinfo"}, "triggers": [{"type": "cpu"}]},
    }
    primary = render(so)
    assert primary["metadata"] == {
        "name": "so-primary",
        "namespace": "test",
        "labels": {},
        "ownerReferences": [podinfo.owner_ref()],
    }
    assert primary["spec"] == {
        "scaleTargetRef": {"name": "podinfo-primary"},
        "triggers": [{"type": "cpu"}],
    }


def test_advanced_without_hpa_name_is_copied_as_is() -> None:
    so = source()
    so["spec"]["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": {"x": 1}}}
    assert render(so)["spec"]["advanced"] == {
        "horizontalPodAutoscalerConfig": {"behavior": {"x": 1}}
    }


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (None, (1, 5)),
        (ScalerReplicas(), (1, 5)),
        (ScalerReplicas(min_replicas=2), (2, 5)),
        (ScalerReplicas(max_replicas=9), (1, 9)),
        (ScalerReplicas(min_replicas=3, max_replicas=6), (3, 6)),
    ],
)
def test_primary_scaler_replicas(
    override: ScalerReplicas | None, expected: tuple[int, int]
) -> None:
    spec = render(primary_scaler_replicas=override)["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == expected


@pytest.mark.parametrize(
    ("query", "rewritten"),
    [
        ('up{app="podinfo"}', 'up{app="podinfo-primary"}'),
        ('up{app="podinfo-canary"}', 'up{app="podinfo-primary"}'),
        ('up{app="podinfo-primary"}', 'up{app="podinfo-primary"}'),  # idempotent
        (
            'a{x="podinfo"} / b{y="podinfo-canary"}',
            'a{x="podinfo-primary"} / b{y="podinfo-primary"}',
        ),
        ('up{job="other"}', 'up{job="other"}'),
    ],
)
def test_default_query_rewrite(query: str, rewritten: str) -> None:
    triggers = [{"type": "prometheus", "name": "t", "metadata": {"query": query, "threshold": "5"}}]
    out = primary_queries(triggers, target="podinfo", queries={})
    assert out == [
        {"type": "prometheus", "name": "t", "metadata": {"query": rewritten, "threshold": "5"}}
    ]
    assert triggers[0]["metadata"]["query"] == query  # the source is not mutated


def test_primary_scaler_queries_replace_named_triggers_only() -> None:
    triggers = [
        {"type": "prometheus", "name": "requests", "metadata": {"query": 'up{app="podinfo"}'}},
        {"type": "prometheus", "name": "other", "metadata": {"query": 'up{app="podinfo"}'}},
        {"type": "prometheus", "metadata": {"query": 'up{app="podinfo"}'}},
        {"type": "cpu", "name": "cpu", "metadata": {"value": "60"}},
    ]
    out = primary_queries(triggers, target="podinfo", queries={"requests": "sum(up)", "cpu": "q"})
    assert [t["metadata"] for t in out] == [
        {"query": "sum(up)"},
        {"query": 'up{app="podinfo"}'},  # no rewrite when primaryScalerQueries is set
        {"query": 'up{app="podinfo"}'},
        {"value": "60", "query": "q"},  # a named trigger gets the query, as in Flagger
    ]


def _live(desired: JSON) -> JSON:
    live = copy.deepcopy(desired)
    live["metadata"].update(resourceVersion="3", uid="u1", annotations={"team": "web", "x": "1"})
    live["spec"]["fallback"] = {"failureThreshold": 3, "replicas": 2, "behavior": None}
    live["status"] = {"hpaName": "keda-hpa-podinfo-so-primary"}
    return live


def test_promotion_update_none_when_specs_agree() -> None:
    desired = render()
    assert scaled_object_update(_live(desired), desired, include_label_prefixes=["app"]) is None


def test_promotion_update_replaces_spec_and_filters_own_metadata() -> None:
    desired = render()
    live = _live(desired)
    changed = copy.deepcopy(desired)
    changed["spec"]["maxReplicaCount"] = 9
    out = scaled_object_update(live, changed, include_label_prefixes=["app", "te"])
    assert out is not None
    assert out["spec"] == changed["spec"]
    assert out["metadata"]["labels"] == {"app": "podinfo"}
    assert out["metadata"]["annotations"] == {"team": "web"}  # "x" is not included
    assert out["metadata"]["resourceVersion"] == "3"  # a replace with the live version


@pytest.mark.parametrize(
    ("annotations", "paused", "patch"),
    [
        ({}, True, {"metadata": {"annotations": {PAUSED_REPLICAS: "0"}}}),
        ({PAUSED_REPLICAS: "2"}, True, {"metadata": {"annotations": {PAUSED_REPLICAS: "0"}}}),
        ({PAUSED_REPLICAS: "0"}, True, None),
        ({PAUSED_REPLICAS: "0"}, False, {"metadata": {"annotations": {PAUSED_REPLICAS: None}}}),
        ({"team": "web"}, False, None),
    ],
)
def test_pause_patch(annotations: dict[str, str], paused: bool, patch: JSON | None) -> None:
    so = {"metadata": {"name": "so", "annotations": annotations}}
    assert pause_patch(so, paused=paused) == patch


def test_registry_chooses_the_plugin_by_kind() -> None:
    hpa_ref = AutoscalerRef(api_version="autoscaling/v2", kind=AutoscalerKind.HPA, name="podinfo")
    assert autoscalers.autoscaler_for(hpa_ref).kind == kinds.HPA
    assert autoscalers.autoscaler_for(ref()).kind == kinds.SCALEDOBJECT
    assert set(autoscalers.AUTOSCALERS) == set(AutoscalerKind)
    assert autoscalers.optional_kinds(None) == ()
    assert autoscalers.optional_kinds(hpa_ref) == ()
    assert autoscalers.optional_kinds(ref()) == (kinds.SCALEDOBJECT,)
    assert kinds.SCALEDOBJECT in kinds.ALL  # RBAC comes from the kinds table
    hpa = autoscalers.autoscaler_for(hpa_ref)
    assert hpa.pause_patch(podinfo.hpa(), paused=True) is None  # pausing an HPA is a no-op
    plugin = autoscalers.autoscaler_for(ref())
    primary = plugin.render_primary(
        source(),
        canary=podinfo.canary(),
        ref=ref(),
        target_name="podinfo",
        primary_name="podinfo-primary",
    )
    assert primary == render()
    assert plugin.pause_patch(source(), paused=False) == {
        "metadata": {"annotations": {PAUSED_REPLICAS: None}}
    }
