"""Builders for the objects of the seed scenario (podinfo). Pure."""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]


def namespace(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(
    name: str = "podinfo",
    namespace: str = "test",
    *,
    image: str = "ghcr.io/stefanprodan/podinfo:6.7.0",
    replicas: int = 2,
    annotations: dict[str, str] | None = None,
    env_from_configmap: str | None = None,
) -> JSON:
    container: JSON = {
        "name": "podinfod",
        "image": image,
        "ports": [{"name": "http", "containerPort": 9898, "protocol": "TCP"}],
    }
    if env_from_configmap:
        container["envFrom"] = [{"configMapRef": {"name": env_from_configmap}}]
    template_meta: JSON = {"labels": {"app": name}}
    if annotations:
        template_meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": template_meta, "spec": {"containers": [container]}},
        },
    }


def canary(
    name: str = "podinfo",
    namespace: str = "test",
    *,
    interval: str = "1s",
    iterations: int = 2,
    threshold: int = 2,
    webhooks: list[JSON] | None = None,
    progress_deadline: int = 60,
    skip_analysis: bool = False,
) -> JSON:
    analysis: JSON = {"interval": interval, "threshold": threshold, "iterations": iterations}
    if webhooks:
        analysis["webhooks"] = webhooks
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "progressDeadlineSeconds": progress_deadline,
            "skipAnalysis": skip_analysis,
            "service": {"port": 80, "targetPort": 9898},
            "analysis": analysis,
        },
    }


def hook(name: str, hook_type: str, url: str, **extra: Any) -> JSON:
    return {"name": name, "type": hook_type, "url": url, **extra}


def configmap(name: str, namespace: str = "test", *, data: dict[str, str] | None = None) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data or {}),
    }


def with_spec(obj: JSON, **fields: Any) -> JSON:
    """A deep copy of a Canary with `spec` fields set (a value of None removes the field)."""
    new = copy.deepcopy(obj)
    _update(new["spec"], fields)
    return new


def with_analysis(obj: JSON, **fields: Any) -> JSON:
    """A deep copy of a Canary with `spec.analysis` fields set (None removes the field)."""
    new = copy.deepcopy(obj)
    _update(new["spec"].setdefault("analysis", {}), fields)
    return new


def _update(target: JSON, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)


def ingress(
    name: str = "podinfo",
    namespace: str = "test",
    *,
    service: str = "podinfo",
    host: str = "app.example.com",
) -> JSON:
    """The user's Ingress in front of the apex Service (the NGINX tutorial's shape)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def routed(obj: JSON, provider: str, *, host: str = "app.example.com") -> JSON:
    """The canary with a traffic-moving provider: NGINX (an `ingressRef`) or Gateway API (a
    `gatewayRefs` entry and a host)."""
    out = with_spec(obj, provider=provider)
    if provider == "nginx":
        name = out["metadata"]["name"]
        out["spec"]["ingressRef"] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "name": name,
        }
    elif provider.startswith("gatewayapi"):
        out["spec"]["service"]["hosts"] = [host]
        out["spec"]["service"]["gatewayRefs"] = [{"name": "gateway", "namespace": "gateways"}]
    return out


def annotated(obj: JSON, annotations: dict[str, str]) -> JSON:
    """A deep copy of `obj` with `annotations` added to its metadata."""
    new = copy.deepcopy(obj)
    new["metadata"]["annotations"] = {**(new["metadata"].get("annotations") or {}), **annotations}
    return new
