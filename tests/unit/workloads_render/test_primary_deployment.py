"""Primary Deployment creation and promotion (§2.8.1)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ensign.workloads.primary import promote_deployment, render_primary_deployment
from tests.unit.workloads_render import podinfo

TRACKED = {("configmap", "podinfo-config-env"), ("secret", "podinfo-secret-vol")}


def render(target: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "canary": podinfo.canary(),
        "label": "app",
        "value": "podinfo",
        "tracked": TRACKED,
        "include_label_prefixes": [""],
        "revision": "rev-1",
        **overrides,
    }
    return render_primary_deployment(target or podinfo.deployment(), **kwargs)


def test_render_primary_deployment_whole_object() -> None:
    primary = render()
    template = primary["spec"]["template"]
    assert primary["apiVersion"] == "apps/v1" and primary["kind"] == "Deployment"
    assert primary["metadata"] == {
        "name": "podinfo-primary",
        "namespace": "test",
        "labels": {"app": "podinfo-primary"},
        "annotations": {
            "deployment.kubernetes.io/revision": "2",
            "app.kubernetes.io/managed-by": "flux",
        },
        "ownerReferences": [podinfo.owner_ref()],
    }
    assert {k: v for k, v in primary["spec"].items() if k != "template"} == {
        "replicas": 3,
        "progressDeadlineSeconds": 60,
        "minReadySeconds": 5,
        "revisionHistoryLimit": 5,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        "selector": {"matchLabels": {"app": "podinfo-primary"}},
    }
    assert template["metadata"] == {
        "labels": {"app": "podinfo-primary", "version": "6.0.0"},
        "annotations": {"prometheus.io/scrape": "true", "flagger-id": "rev-1"},
    }
    container = template["spec"]["containers"][0]
    assert (
        container["env"][1]["valueFrom"]["configMapKeyRef"]["name"] == "podinfo-config-env-primary"
    )
    assert template["spec"]["volumes"][1]["secret"]["secretName"] == "podinfo-secret-vol-primary"
    # untracked references are shared with the target
    assert container["envFrom"][0]["configMapRef"]["name"] == "podinfo-config-all-env"


def test_primary_selector_is_only_the_selector_label() -> None:
    dep = podinfo.deployment()
    dep["spec"]["selector"]["matchLabels"]["version"] = "6.0.0"
    assert render(dep)["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}


def test_primary_uses_selector_value_not_name() -> None:
    dep = podinfo.deployment()
    dep["spec"]["selector"]["matchLabels"] = {"app": "web"}
    dep["spec"]["template"]["metadata"]["labels"]["app"] = "web"
    primary = render(dep, value="web")
    assert primary["metadata"]["name"] == "podinfo-primary"
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "web-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "web-primary"


@pytest.mark.parametrize(
    ("prefixes", "labels"),
    [
        ([""], {"app": "podinfo-primary"}),
        ([], {"app": "podinfo-primary"}),
        (["*"], {"app": "podinfo-primary", "app.kubernetes.io/name": "podinfo", "team": "blue"}),
        (["app.kubernetes.io"], {"app": "podinfo-primary", "app.kubernetes.io/name": "podinfo"}),
        (["", "team"], {"app": "podinfo-primary", "team": "blue"}),
    ],
)
def test_include_label_prefix_filtering_on_metadata(
    prefixes: list[str], labels: dict[str, str]
) -> None:
    primary = render(include_label_prefixes=prefixes)
    assert primary["metadata"]["labels"] == labels
    # template labels are always copied in full (minus toolkit keys)
    assert primary["spec"]["template"]["metadata"]["labels"] == {
        "app": "podinfo-primary",
        "version": "6.0.0",
    }


@pytest.mark.parametrize(("replicas", "expected"), [(3, 3), (1, 1), (0, 1), (None, 1)])
def test_primary_replicas(replicas: int | None, expected: int) -> None:
    assert render(podinfo.deployment(replicas=replicas))["spec"]["replicas"] == expected


def test_optional_deployment_fields_absent_stay_absent() -> None:
    dep = podinfo.deployment()
    for key in ("progressDeadlineSeconds", "minReadySeconds", "revisionHistoryLimit", "strategy"):
        del dep["spec"][key]
    assert set(render(dep)["spec"]) == {"replicas", "selector", "template"}


def test_flagger_id_is_deterministic() -> None:
    first, second = render(), render()
    assert first == second
    assert first["spec"]["template"]["metadata"]["annotations"]["flagger-id"] == "rev-1"
    assert (
        render(revision="rev-2")["spec"]["template"]["metadata"]["annotations"]["flagger-id"]
        == "rev-2"
    )


def test_target_flagger_id_is_replaced() -> None:
    dep = podinfo.deployment()
    dep["spec"]["template"]["metadata"]["annotations"]["flagger-id"] = "stale"
    assert render(dep)["spec"]["template"]["metadata"]["annotations"]["flagger-id"] == "rev-1"


def _affinity_target() -> dict[str, Any]:
    dep = podinfo.deployment()
    selector = {
        "matchLabels": {"app": "podinfo", "version": "podinfo"},
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": ["other", "podinfo", "podinfo"]},
            {"key": "tier", "operator": "In", "values": ["podinfo"]},
        ],
    }
    dep["spec"]["template"]["spec"]["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": copy.deepcopy(selector),
        }
    ]
    dep["spec"]["template"]["spec"]["affinity"] = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "host",
                        "labelSelector": copy.deepcopy(selector),
                    },
                }
            ],
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "host", "labelSelector": copy.deepcopy(selector)}
            ],
        },
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "host", "labelSelector": copy.deepcopy(selector)}
            ]
        },
    }
    return dep


def test_affinity_and_topology_selectors_point_at_the_primary() -> None:
    dep = _affinity_target()
    before = copy.deepcopy(dep)
    spec = render(dep)["spec"]["template"]["spec"]
    assert dep == before
    rewritten = {
        "matchLabels": {"app": "podinfo-primary", "version": "podinfo"},
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": ["other", "podinfo-primary", "podinfo"]},
            {"key": "tier", "operator": "In", "values": ["podinfo"]},
        ],
    }
    anti = spec["affinity"]["podAntiAffinity"]
    assert spec["topologySpreadConstraints"][0]["labelSelector"] == rewritten
    assert (
        anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"][
            "labelSelector"
        ]
        == rewritten
    )
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"] == rewritten
    podaffinity = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        0
    ]
    assert (
        podaffinity["labelSelector"]
        == before["spec"]["template"]["spec"]["affinity"]["podAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ][0]["labelSelector"]
    )


def test_affinity_rewrite_uses_configured_selector_labels() -> None:
    spec = render(_affinity_target(), selector_labels=("tier",))["spec"]["template"]["spec"]
    selector = spec["topologySpreadConstraints"][0]["labelSelector"]
    assert selector["matchLabels"] == {"app": "podinfo", "version": "podinfo"}
    assert selector["matchExpressions"][1]["values"] == ["podinfo-primary"]


def _existing_primary() -> dict[str, Any]:
    primary = render(revision="rev-0")
    primary["metadata"].update(uid="primary-uid", resourceVersion="4242", generation=7)
    primary["metadata"]["annotations"]["old"] = "annotation"
    primary["status"] = {"replicas": 3}
    return primary


def promote(primary: dict[str, Any], target: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "label": "app",
        "value": "podinfo",
        "tracked": TRACKED,
        "include_label_prefixes": [""],
        "revision": "rev-2",
        "has_autoscaler": False,
        **overrides,
    }
    return promote_deployment(primary, target, **kwargs)


def test_promote_deployment_copies_target_and_keeps_identity() -> None:
    primary = _existing_primary()
    target = podinfo.deployment(replicas=5)
    target["spec"]["minReadySeconds"] = 9
    target["spec"]["strategy"] = {"type": "Recreate"}
    target["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "ghcr.io/stefanprodan/podinfo:6.0.1"
    )
    frozen = copy.deepcopy((primary, target))
    out = promote(primary, target)
    assert (primary, target) == frozen
    meta = out["metadata"]
    assert (meta["name"], meta["uid"], meta["resourceVersion"]) == (
        "podinfo-primary",
        "primary-uid",
        "4242",
    )
    assert meta["ownerReferences"] == [podinfo.owner_ref()]
    assert meta["labels"] == {"app": "podinfo-primary"}
    # annotations are replaced by the prefix-filtered target ones (default: none)
    assert meta["annotations"] == {}
    spec = out["spec"]
    assert spec["replicas"] == 5 and spec["minReadySeconds"] == 9
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    template = spec["template"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "flagger-id": "rev-2",
    }
    assert template["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.0.1"
    assert template["spec"]["volumes"][1]["secret"]["secretName"] == "podinfo-secret-vol-primary"


def test_promote_with_autoscaler_keeps_primary_replicas() -> None:
    out = promote(_existing_primary(), podinfo.deployment(replicas=5), has_autoscaler=True)
    assert out["spec"]["replicas"] == 3


def test_promote_with_star_prefix_copies_all_metadata() -> None:
    out = promote(_existing_primary(), podinfo.deployment(), include_label_prefixes=["*"])
    assert out["metadata"]["labels"] == {
        "app": "podinfo-primary",
        "app.kubernetes.io/name": "podinfo",
        "team": "blue",
    }
    assert out["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "2",
        "app.kubernetes.io/managed-by": "flux",
    }


def test_promote_is_idempotent_for_the_same_revision() -> None:
    once = promote(_existing_primary(), podinfo.deployment())
    twice = promote(once, podinfo.deployment())
    assert once == twice


def test_promote_clears_fields_the_target_no_longer_sets() -> None:
    target = podinfo.deployment(replicas=None)
    del target["spec"]["revisionHistoryLimit"]
    out = promote(_existing_primary(), target)
    assert "replicas" not in out["spec"] and "revisionHistoryLimit" not in out["spec"]
