"""KEDA's ScaledObject CRD (bundle `keda`): served, the primary copy Ensign writes accepted
unchanged, a user's ScaledObject with every field Flagger copies kept, pruning and the
validation users trip over.

On a real cluster the tests use the CRD already installed there (KEDA), and install ours
only when there is none; refusals and pruning are checked against our schema only.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

from ensign.localcluster.crd_bundles import bundle_crds
from ensign.model.canary import AutoscalerKind, AutoscalerRef
from ensign.workloads.scaledobjects import render_primary_scaled_object
from tests.contract._support import Kube, assert_status_response, causes

OURS = "our schema; KEDA's upstream bundle may differ"
API_VERSION = "keda.sh/v1alpha1"
PLURAL = "scaledobjects"


@pytest.fixture
async def keda(kube: Kube) -> AsyncIterator[Kube]:
    for doc in bundle_crds("keda"):
        if not kube.is_local:
            try:
                await kube.client.get(CustomResourceDefinition, doc["metadata"]["name"])
                continue  # installed upstream: test against it, never modify it
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        await kube.install_crd(doc)
    yield kube


def user_so(name: str = "podinfo-so") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ScaledObject",
        "metadata": {"name": name, "annotations": {"autoscaling.keda.sh/paused-replicas": "0"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
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
                    "metricType": "AverageValue",
                    "metadata": {"serverAddress": "http://prom:9090", "query": "sum(up)"},
                    "authenticationRef": {"name": "prom-auth"},
                }
            ],
        },
    }


async def post(kube: Kube, doc: dict[str, Any]) -> Any:
    return await kube.http.post(kube.path(API_VERSION, PLURAL), json=doc)


async def test_user_scaled_object_and_primary_copy_are_kept(keda: Kube) -> None:
    source = user_so()
    response = await post(keda, source)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == source["spec"]
    ref = AutoscalerRef(
        api_version=API_VERSION, kind=AutoscalerKind.SCALED_OBJECT, name="podinfo-so"
    )
    primary = render_primary_scaled_object(
        response.json(),
        canary={"metadata": {"name": "podinfo", "uid": "u"}},
        target_name="podinfo",
        primary_name="podinfo-primary",
        ref=ref,
    )
    primary["metadata"].pop("ownerReferences")  # the Canary does not exist here
    primary["metadata"].pop("namespace")
    response = await post(keda, primary)
    assert response.status_code == 201, response.text
    assert response.json()["spec"] == primary["spec"]
    assert response.json()["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"


@pytest.mark.local_only(OURS)
async def test_unknown_fields_are_pruned(keda: Kube) -> None:
    doc = user_so()
    doc["spec"]["colour"] = "blue"
    doc["spec"]["triggers"][0]["colour"] = "blue"
    response = await post(keda, doc)
    assert response.status_code == 201, response.text
    body = response.json()
    assert "colour" not in body["spec"] and "colour" not in body["spec"]["triggers"][0]


@pytest.mark.local_only(OURS)
@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("scaleTargetRef", "name"), None, "spec.scaleTargetRef.name"),
        (("triggers",), None, "spec.triggers"),
        (("triggers",), [], "spec.triggers"),
        (("minReplicaCount",), -1, "spec.minReplicaCount"),
        (("fallback", "replicas"), None, "spec.fallback.replicas"),
        (("triggers", 0, "type"), None, "spec.triggers[0].type"),
        (("triggers", 0, "metadata"), {"query": 1}, "spec.triggers[0].metadata.query"),
        (("triggers", 0, "metricType"), "Average", "spec.triggers[0].metricType"),
    ],
)
async def test_refusals(keda: Kube, path: tuple[Any, ...], value: Any, field: str) -> None:
    doc = copy.deepcopy(user_so())
    parent: Any = doc["spec"]
    for step in path[:-1]:
        parent = parent[step]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    response = await post(keda, doc)
    body = assert_status_response(
        response, 422, "Invalid", name="podinfo-so", kind="ScaledObject", group="keda.sh"
    )
    found = causes(body)
    assert any(field in f for f in found) or field in str(body["message"]), (found, body)
