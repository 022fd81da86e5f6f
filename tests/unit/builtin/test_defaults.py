"""Defaulting of built-in kinds: the shapes a real apiserver returns."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ensign.localcluster.builtin import (
    allocate_cluster_ip,
    apply_defaults,
    image_pull_policy,
    preserve_allocated,
)

CONTAINER_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}
POD_SPEC_DEFAULTS = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
    "securityContext": {},
}


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def test_minimal_deployment_gets_every_default() -> None:
    obj = _deployment()
    apply_defaults("apps", "deployments", obj)
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    pod = spec["template"]["spec"]
    assert {k: pod[k] for k in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    assert "enableServiceLinks" not in pod  # Pods only, not templates
    assert pod["containers"][0] == {
        "name": "web",
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        **CONTAINER_DEFAULTS,
    }


def test_deployment_defaults_keep_client_values() -> None:
    obj = _deployment()
    obj["spec"].update(replicas=0, strategy={"type": "Recreate"})
    obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 5
    apply_defaults("apps", "deployments", obj)
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["strategy"] == {"type": "Recreate"}
    assert obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 5


def test_partial_rolling_update_is_completed() -> None:
    obj = _deployment()
    obj["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1}}
    apply_defaults("apps", "deployments", obj)
    assert obj["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"},
    }


def test_daemonset_and_replicaset_defaults() -> None:
    ds: dict[str, Any] = {
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "busybox"}]}}}
    }
    apply_defaults("apps", "daemonsets", ds)
    assert ds["spec"]["revisionHistoryLimit"] == 10
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert ds["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    rs: dict[str, Any] = {"spec": {"template": {"spec": {"containers": []}}}}
    apply_defaults("apps", "replicasets", rs)
    assert rs["spec"]["replicas"] == 1
    assert rs["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_pod_defaults_include_service_links_and_probes() -> None:
    pod: dict[str, Any] = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "app",
                    "readinessProbe": {"httpGet": {"port": 8080}},
                    "env": [
                        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                    ],
                }
            ],
            "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
        }
    }
    apply_defaults("", "pods", pod)
    spec = pod["spec"]
    assert spec["enableServiceLinks"] is True
    ctr = spec["containers"][0]
    assert ctr["readinessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert ctr["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert spec["volumes"][0]["configMap"]["defaultMode"] == 420


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("ghcr.io/x/app@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_service_defaults() -> None:
    svc: dict[str, Any] = {
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}],
        }
    }
    apply_defaults("", "services", svc)
    assert svc["spec"] == {
        "selector": {"app": "web"},
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 443, "targetPort": "https", "protocol": "TCP"},
        ],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }


def test_service_cluster_ip_fields_are_synced_and_headless_stays_none() -> None:
    svc: dict[str, Any] = {
        "spec": {"clusterIP": "None", "selector": {"app": "x"}, "ports": [{"port": 80}]}
    }
    apply_defaults("", "services", svc)
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["clusterIPs"] == ["None"]
    other: dict[str, Any] = {"spec": {"clusterIPs": ["10.96.0.7"], "ports": [{"port": 80}]}}
    apply_defaults("", "services", other)
    assert other["spec"]["clusterIP"] == "10.96.0.7"


def test_load_balancer_and_external_name_services() -> None:
    lb: dict[str, Any] = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    apply_defaults("", "services", lb)
    assert lb["spec"]["externalTrafficPolicy"] == "Cluster"
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    ext: dict[str, Any] = {"spec": {"type": "ExternalName", "externalName": "example.com"}}
    apply_defaults("", "services", ext)
    assert ext["spec"] == {
        "type": "ExternalName",
        "externalName": "example.com",
        "sessionAffinity": "None",
    }


def test_other_kinds() -> None:
    ns: dict[str, Any] = {"metadata": {"name": "team"}}
    apply_defaults("", "namespaces", ns)
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    secret: dict[str, Any] = {"data": {}}
    apply_defaults("", "secrets", secret)
    assert secret["type"] == "Opaque"
    hpa: dict[str, Any] = {
        "spec": {"maxReplicas": 3, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}
    }
    apply_defaults("autoscaling", "horizontalpodautoscalers", hpa)
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert "behavior" not in hpa["spec"]
    lease: dict[str, Any] = {"spec": {"holderIdentity": "x"}}
    apply_defaults("coordination.k8s.io", "leases", lease)
    assert lease == {"spec": {"holderIdentity": "x"}}


def test_hpa_behavior_is_completed_when_given() -> None:
    hpa: dict[str, Any] = {
        "spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}
    }
    apply_defaults("autoscaling", "horizontalpodautoscalers", hpa)
    behavior = hpa["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert behavior["scaleDown"]["selectPolicy"] == "Max"
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert len(behavior["scaleUp"]["policies"]) == 2


def test_unknown_kind_is_left_alone() -> None:
    obj: dict[str, Any] = {"spec": {"x": 1}}
    apply_defaults("example.com", "widgets", obj)
    assert obj == {"spec": {"x": 1}}


def test_allocate_cluster_ip_is_lowest_free() -> None:
    assert allocate_cluster_ip(set()) == "10.96.0.1"
    assert allocate_cluster_ip({"10.96.0.1", "10.96.0.2"}) == "10.96.0.3"


def test_preserve_allocated_keeps_cluster_ip_and_node_ports() -> None:
    old: dict[str, Any] = {
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.9",
            "clusterIPs": ["10.96.0.9"],
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}],
        }
    }
    new: dict[str, Any] = {"spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    preserve_allocated("", "services", new, old)
    apply_defaults("", "services", new)
    assert new["spec"]["clusterIP"] == "10.96.0.9"
    assert new["spec"]["clusterIPs"] == ["10.96.0.9"]
    assert new["spec"]["ports"][0]["nodePort"] == 30080


# --- idempotence ------------------------------------------------------------------------------

_names = st.text(alphabet="abcdefgh-", min_size=1, max_size=8)
_images = st.sampled_from(["nginx", "nginx:latest", "nginx:1.2", "repo:5000/x", "x@sha256:abc"])
_ports = st.lists(st.fixed_dictionaries({"containerPort": st.integers(1, 65535)}), max_size=2)
_containers = st.lists(
    st.fixed_dictionaries({"name": _names, "image": _images}, optional={"ports": _ports}),
    min_size=1,
    max_size=3,
)
_pod_spec = st.fixed_dictionaries(
    {"containers": _containers},
    optional={
        "restartPolicy": st.sampled_from(["Always", "Never"]),
        "dnsPolicy": st.just("Default"),
    },
)
_template = st.fixed_dictionaries({"spec": _pod_spec})
_SHAPES: dict[tuple[str, str], st.SearchStrategy[dict[str, Any]]] = {
    ("apps", "deployments"): st.fixed_dictionaries(
        {
            "spec": st.fixed_dictionaries(
                {"template": _template}, optional={"replicas": st.integers(0, 5)}
            )
        }
    ),
    ("apps", "daemonsets"): st.fixed_dictionaries(
        {"spec": st.fixed_dictionaries({"template": _template})}
    ),
    ("", "pods"): st.fixed_dictionaries({"spec": _pod_spec}),
    ("", "services"): st.fixed_dictionaries(
        {
            "spec": st.fixed_dictionaries(
                {
                    "ports": st.lists(
                        st.fixed_dictionaries({"port": st.integers(1, 65535)}), max_size=3
                    )
                },
                optional={
                    "type": st.sampled_from(
                        ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
                    ),
                    "clusterIP": st.sampled_from(["None", "10.96.0.5"]),
                },
            )
        }
    ),
    ("autoscaling", "horizontalpodautoscalers"): st.fixed_dictionaries(
        {
            "spec": st.fixed_dictionaries(
                {"maxReplicas": st.integers(1, 9)}, optional={"behavior": st.just({})}
            )
        }
    ),
}


@given(data=st.data(), kind=st.sampled_from(sorted(_SHAPES)))
def test_defaulting_twice_equals_once(data: st.DataObject, kind: tuple[str, str]) -> None:
    obj = data.draw(_SHAPES[kind])
    apply_defaults(*kind, obj)
    once = copy.deepcopy(obj)
    apply_defaults(*kind, obj)
    assert obj == once
