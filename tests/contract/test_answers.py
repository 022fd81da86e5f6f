"""What the server answers, beyond the object: DELETE bodies, dry-run, create-by-apply, and a
list from the future.

DELETE (k8s.io/apiserver registry `Store.Delete`, kube-apiserver 1.36): while deletion is
pending (finalizers) the answer is the object, now carrying `deletionTimestamp`. An
immediate delete answers with the object only for the kinds whose registry sets
`ReturnDeletedObject` (pods, services, serviceaccounts); every other kind (ConfigMaps,
Secrets, Deployments, Leases...) answers `Status` Success with `details` naming the object
(name, group, kind as the plural, uid: what `kubectl delete --wait` needs).
"""

from __future__ import annotations

import time

from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Pod, ServiceAccount

from tests.contract._support import (
    PAUSE_IMAGE,
    Kube,
    assert_status_response,
    causes,
    deployment,
)

FINALIZER = "contract.ensign.dev/hold"


async def test_immediate_delete_of_a_configmap_answers_a_success_status(kube: Kube) -> None:
    created = await kube.client.create(ConfigMap(metadata=ObjectMeta(name="gone"), data={"a": "1"}))
    response = await kube.http.delete(kube.path("v1", "configmaps", "gone"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Success"
    assert body["details"] == {
        "name": "gone",
        "kind": "configmaps",
        "uid": created.metadata.uid,
    }

    await kube.client.create(deployment("web"))
    response = await kube.http.delete(kube.path("apps/v1", "deployments", "web"))
    details = response.json()["details"]
    assert (details["group"], details["kind"], details["name"]) == ("apps", "deployments", "web")


async def test_delete_answers_the_object_for_pods_and_serviceaccounts(kube: Kube) -> None:
    await kube.client.create(ServiceAccount(metadata=ObjectMeta(name="robot")))
    response = await kube.http.delete(kube.path("v1", "serviceaccounts", "robot"))
    assert response.status_code == 200, response.text
    assert (response.json()["kind"], response.json()["metadata"]["name"]) == (
        "ServiceAccount",
        "robot",
    )

    pod = Pod(
        metadata=ObjectMeta(name="p"),
        spec=PodSpec(
            terminationGracePeriodSeconds=0, containers=[Container(name="c", image=PAUSE_IMAGE)]
        ),
    )
    await kube.client.create(pod)
    response = await kube.http.delete(kube.path("v1", "pods", "p"))
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "Pod"


async def test_delete_held_by_a_finalizer_answers_the_object(kube: Kube) -> None:
    await kube.client.create(ConfigMap(metadata=ObjectMeta(name="held", finalizers=[FINALIZER])))
    response = await kube.http.delete(kube.path("v1", "configmaps", "held"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "ConfigMap"
    assert body["metadata"]["deletionTimestamp"]
    await kube.http.patch(
        kube.path("v1", "configmaps", "held"),
        json={"metadata": {"finalizers": None}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    await kube.gone(ConfigMap, "held")


CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"a": "1"}}


async def test_dry_run_create_has_no_resource_version_and_stores_nothing(kube: Kube) -> None:
    response = await kube.http.post(
        kube.path("v1", "configmaps"), params={"dryRun": "All"}, json=CM
    )
    assert response.status_code == 201, response.text
    meta = response.json()["metadata"]
    assert "resourceVersion" not in meta
    assert meta["uid"] and meta["creationTimestamp"]
    assert (await kube.http.get(kube.path("v1", "configmaps", "dry"))).status_code == 404


async def test_apply_create_answers_201_also_in_dry_run(kube: Kube) -> None:
    path = kube.path("v1", "configmaps", "dry")
    headers = {"Content-Type": "application/apply-patch+yaml"}
    params = {"fieldManager": "contract"}
    dry = await kube.http.patch(path, params={**params, "dryRun": "All"}, json=CM, headers=headers)
    assert dry.status_code == 201, dry.text
    assert "resourceVersion" not in dry.json()["metadata"]
    assert (await kube.http.get(path)).status_code == 404

    created = await kube.http.patch(path, params=params, json=CM, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["metadata"]["resourceVersion"]
    again = await kube.http.patch(path, params=params, json=CM, headers=headers)
    assert again.status_code == 200, again.text


async def test_dry_run_of_an_invalid_object_is_422(kube: Kube) -> None:
    bad = deployment("bad", replicas=-1).to_dict()
    response = await kube.http.post(
        kube.path("apps/v1", "deployments"), params={"dryRun": "All"}, json=bad
    )
    body = assert_status_response(response, 422, "Invalid", name="bad", kind="Deployment")
    assert causes(body) == {"spec.replicas": "FieldValueInvalid"}


async def test_list_at_a_future_resource_version_times_out_with_504(kube: Kube) -> None:
    """A real apiserver waits ~3 s for its watch cache to reach the version, then gives up;
    the local cluster's wait is a knob, shortened here."""
    if kube.is_local:
        kube.cluster.api.resource_version_wait = 0.2
    listing = await kube.http.get(kube.path("v1", "configmaps"))
    future = int(listing.json()["metadata"]["resourceVersion"]) + 1_000_000
    started = time.monotonic()
    response = await kube.http.get(
        kube.path("v1", "configmaps"), params={"resourceVersion": str(future)}
    )
    waited = time.monotonic() - started
    body = assert_status_response(response, 504, "Timeout")
    assert body["message"].startswith(f"Timeout: Too large resource version: {future}")
    assert body["details"]["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]
    assert waited >= (0.2 if kube.is_local else 1.0)
