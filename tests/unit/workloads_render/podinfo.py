"""Realistic podinfo objects (Deployment, DaemonSet, configs, HPA, Canary) for the tests.

Every builder returns a fresh dict, so tests may freeze or compare them freely.
"""

from __future__ import annotations

from typing import Any

NS = "test"
CANARY_UID = "7f0c5e4a-4f39-4b8f-9a57-6f5f1d0a2c11"


def canary() -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": NS, "uid": CANARY_UID},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "autoscalerRef": {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "name": "podinfo",
            },
        },
    }


def owner_ref() -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "uid": CANARY_UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_spec() -> dict[str, Any]:
    """podinfo's pod spec with every kind of config reference Flagger tracks."""
    return {
        "containers": [
            {
                "name": "podinfod",
                "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                "command": ["./podinfo", "--port=9898"],
                "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"}],
                "env": [
                    {"name": "PODINFO_UI_COLOR", "value": "#34577c"},
                    {
                        "name": "PODINFO_UI_MESSAGE",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "podinfo-config-env", "key": "message"}
                        },
                    },
                    {
                        "name": "PODINFO_API_KEY",
                        "valueFrom": {
                            "secretKeyRef": {"name": "podinfo-secret-env", "key": "apiKey"}
                        },
                    },
                ],
                "envFrom": [
                    {"configMapRef": {"name": "podinfo-config-all-env"}},
                    {"secretRef": {"name": "podinfo-secret-all-env"}},
                ],
                "volumeMounts": [{"name": "configs", "mountPath": "/etc/podinfo/configs"}],
            }
        ],
        "initContainers": [
            {
                "name": "init",
                "image": "busybox:1.36",
                "envFrom": [{"configMapRef": {"name": "podinfo-config-init-env"}}],
                "env": [
                    {
                        "name": "TOKEN",
                        "valueFrom": {
                            "secretKeyRef": {"name": "podinfo-secret-init-env", "key": "t"}
                        },
                    }
                ],
            }
        ],
        "volumes": [
            {"name": "configs", "configMap": {"name": "podinfo-config-vol", "defaultMode": 420}},
            {"name": "secrets", "secret": {"secretName": "podinfo-secret-vol"}},
            {
                "name": "projected",
                "projected": {
                    "sources": [
                        {
                            "configMap": {
                                "name": "podinfo-config-projected",
                                "items": [{"key": "a", "path": "a"}],
                            }
                        },
                        {"secret": {"name": "podinfo-secret-projected"}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}
                                ]
                            }
                        },
                    ]
                },
            },
            {
                "name": "optional",
                "configMap": {"name": "podinfo-config-optional", "optional": True},
            },
            {"name": "registry", "secret": {"secretName": "podinfo-registry"}},
        ],
    }


def deployment(*, replicas: int | None = 3) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "minReadySeconds": 5,
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": 60,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        "selector": {"matchLabels": {"app": "podinfo"}},
        "template": {
            "metadata": {
                "labels": {"app": "podinfo", "version": "6.0.0"},
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "kustomize.toolkit.fluxcd.io/checksum": "abc",
                },
            },
            "spec": pod_spec(),
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": NS,
            "uid": "d1f5a0f2-0000-4000-8000-000000000001",
            "resourceVersion": "1001",
            "generation": 2,
            "labels": {
                "app": "podinfo",
                "app.kubernetes.io/name": "podinfo",
                "team": "blue",
                "kustomize.toolkit.fluxcd.io/name": "apps",
            },
            "annotations": {
                "deployment.kubernetes.io/revision": "2",
                "kustomize.toolkit.fluxcd.io/checksum": "abc",
                "app.kubernetes.io/managed-by": "flux",
            },
        },
        "spec": spec,
    }


def daemonset() -> dict[str, Any]:
    dep = deployment()
    spec = dep["spec"]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {**dep["metadata"], "name": "podinfo-ds"},
        "spec": {
            "minReadySeconds": 3,
            "revisionHistoryLimit": 4,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": {"name": "podinfo-ds"}},
            "template": {
                "metadata": {"labels": {"name": "podinfo-ds"}, "annotations": {}},
                "spec": {**spec["template"]["spec"], "nodeSelector": {"disk": "ssd"}},
            },
        },
    }


def configmap(name: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS, **meta},
    }
    if data is not None:
        obj["data"] = data
    return obj


def secret(
    name: str, data: dict[str, str], *, type_: str | None = "Opaque", **meta: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NS, **meta},
        "data": data,
    }
    if type_ is not None:
        obj["type"] = type_
    return obj


def hpa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "podinfo",
            "namespace": NS,
            "labels": {"app": "podinfo", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {"note": "x"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 99},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }
