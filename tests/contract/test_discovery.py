"""Discovery: /version, /api, /apis and the group/version resource lists Ensign relies on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract._support import Kube

# group/version -> {resource: (kind, namespaced)}; subresources listed separately below.
EXPECTED: dict[str, dict[str, tuple[str, bool]]] = {
    "v1": {
        "namespaces": ("Namespace", False),
        "services": ("Service", True),
        "configmaps": ("ConfigMap", True),
        "secrets": ("Secret", True),
        "events": ("Event", True),
        "pods": ("Pod", True),
    },
    "apps/v1": {
        "deployments": ("Deployment", True),
        "daemonsets": ("DaemonSet", True),
        "replicasets": ("ReplicaSet", True),
    },
    "autoscaling/v2": {"horizontalpodautoscalers": ("HorizontalPodAutoscaler", True)},
    "networking.k8s.io/v1": {"ingresses": ("Ingress", True)},
    "coordination.k8s.io/v1": {"leases": ("Lease", True)},
    "apiextensions.k8s.io/v1": {
        "customresourcedefinitions": ("CustomResourceDefinition", False),
    },
}

SUBRESOURCES: dict[str, list[str]] = {
    "v1": ["namespaces/status", "services/status", "pods/status"],
    "apps/v1": [
        "deployments/status",
        "deployments/scale",
        "daemonsets/status",
        "replicasets/status",
        "replicasets/scale",
    ],
    "autoscaling/v2": ["horizontalpodautoscalers/status"],
    "networking.k8s.io/v1": ["ingresses/status"],
    "apiextensions.k8s.io/v1": ["customresourcedefinitions/status"],
}

FULL_VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}


async def _json(kube: Kube, path: str) -> Any:
    response = await kube.http.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text)
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    return response.json()


async def test_version(kube: Kube) -> None:
    body = await _json(kube, "/version")
    assert body["major"].isdigit()
    assert body["minor"].rstrip("+").isdigit()
    assert body["gitVersion"].startswith("v")
    # Some clients (kr8s) ask for a trailing slash.
    assert (await _json(kube, "/version/"))["gitVersion"] == body["gitVersion"]


async def test_core_api_versions(kube: Kube) -> None:
    body = await _json(kube, "/api")
    assert body["kind"] == "APIVersions"
    assert "v1" in body["versions"]


async def test_group_list(kube: Kube) -> None:
    body = await _json(kube, "/apis")
    assert body["kind"] == "APIGroupList"
    groups = {g["name"]: g for g in body["groups"]}
    for group_version in EXPECTED:
        if "/" not in group_version:
            continue
        group = group_version.split("/")[0]
        assert group in groups, f"{group} missing from /apis"
        versions = {v["groupVersion"] for v in groups[group]["versions"]}
        assert group_version in versions
        preferred = groups[group]["preferredVersion"]["groupVersion"]
        assert preferred in versions


async def test_single_group(kube: Kube) -> None:
    body = await _json(kube, "/apis/apps")
    assert body["kind"] == "APIGroup"
    assert body["name"] == "apps"
    assert {"groupVersion": "apps/v1", "version": "v1"} in body["versions"]


@pytest.mark.parametrize("group_version", sorted(EXPECTED))
async def test_resource_lists(kube: Kube, group_version: str) -> None:
    prefix = "/api" if group_version == "v1" else "/apis"
    body = await _json(kube, f"{prefix}/{group_version}")
    assert body["kind"] == "APIResourceList"
    assert body["groupVersion"] == group_version
    by_name = {r["name"]: r for r in body["resources"]}
    for plural, (kind, namespaced) in EXPECTED[group_version].items():
        entry = by_name.get(plural)
        assert entry is not None, f"{plural} missing from {group_version}"
        assert entry["kind"] == kind
        assert entry["namespaced"] is namespaced
        # Namespaces are deleted one by one: no deletecollection (kube-apiserver 1.36).
        wanted = FULL_VERBS - {"deletecollection"} if plural == "namespaces" else FULL_VERBS
        assert set(entry["verbs"]) >= wanted, (plural, entry["verbs"])
        if plural == "namespaces":
            assert "deletecollection" not in entry["verbs"]
    for sub in SUBRESOURCES.get(group_version, []):
        entry = by_name.get(sub)
        assert entry is not None, f"{sub} missing from {group_version}"
        assert {"get", "patch", "update"} <= set(entry["verbs"])
        if sub.endswith("/scale"):
            assert entry["kind"] == "Scale"
            assert entry.get("group") == "autoscaling"
            assert entry.get("version") == "v1"
        else:
            main = by_name[sub.split("/")[0]]
            assert entry["kind"] == main["kind"]


async def test_deployment_short_name(kube: Kube) -> None:
    body = await _json(kube, "/apis/apps/v1")
    deployments = next(r for r in body["resources"] if r["name"] == "deployments")
    assert "deploy" in deployments.get("shortNames", [])


async def test_unknown_group_version_is_404(kube: Kube) -> None:
    response = await kube.http.get("/apis/nonexistent.contract.ensign.dev/v1")
    assert response.status_code == 404
