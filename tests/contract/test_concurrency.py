"""Optimistic concurrency and object metadata: resourceVersion preconditions, generation,
uid/creationTimestamp, and no-op writes."""

from __future__ import annotations

import re
import uuid

import pytest
from lightkube import ApiError
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from tests.contract._support import (
    Kube,
    assert_api_error,
    assert_status_response,
    causes,
    crd_doc,
    deployment,
    install_widgets,
    widget,
)

RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_replace_with_stale_resource_version_is_409(kube: Kube) -> None:
    c = kube.client
    first = await c.create(ConfigMap(metadata=ObjectMeta(name="cas"), data={"v": "1"}))
    current = await c.get(ConfigMap, "cas")
    current.data = {"v": "2"}
    await c.replace(current)

    first.data = {"v": "stale"}
    with pytest.raises(ApiError) as info:
        await c.replace(first)
    assert_api_error(info.value, 409, "Conflict")

    body = first.to_dict()
    response = await kube.http.put(kube.path("v1", "configmaps", "cas"), json=body)
    status = assert_status_response(response, 409, "Conflict", name="cas", kind="configmaps")
    assert status["message"] == (
        'Operation cannot be fulfilled on configmaps "cas": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert (await c.get(ConfigMap, "cas")).data == {"v": "2"}


async def test_patch_with_stale_resource_version_is_409(kube: Kube) -> None:
    c = kube.client
    first = await c.create(ConfigMap(metadata=ObjectMeta(name="cas"), data={"v": "1"}))
    await c.patch(ConfigMap, "cas", {"data": {"v": "2"}}, patch_type=PatchType.MERGE)
    stale = {"metadata": {"resourceVersion": first.metadata.resourceVersion}, "data": {"v": "3"}}
    with pytest.raises(ApiError) as info:
        await c.patch(ConfigMap, "cas", stale, patch_type=PatchType.MERGE)
    assert_api_error(info.value, 409, "Conflict")
    assert (await c.get(ConfigMap, "cas")).data == {"v": "2"}


async def test_lease_compare_and_swap(kube: Kube) -> None:
    """Leader election replaces a Lease with its last-seen resourceVersion."""
    c = kube.client
    lease = await c.create(
        Lease(metadata=ObjectMeta(name="ensign-leader"), spec=LeaseSpec(holderIdentity="a"))
    )
    mine = await c.get(Lease, "ensign-leader")
    mine.spec.holderIdentity = "b"
    won = await c.replace(mine)
    assert won.spec.holderIdentity == "b"
    lease.spec.holderIdentity = "c"
    with pytest.raises(ApiError) as info:
        await c.replace(lease)
    assert_api_error(info.value, 409, "Conflict")
    assert (await c.get(Lease, "ensign-leader")).spec.holderIdentity == "b"


async def test_replace_without_resource_version_is_422_for_custom_resources(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    created = await kube.client.create(widget(Widget, "w", size=1))
    body = created.to_dict()
    del body["metadata"]["resourceVersion"]
    body["spec"]["size"] = 2
    response = await kube.http.put(
        kube.path(Widget._api_info.resource.api_version, "widgets", "w"), json=body
    )
    # The generic registry names the resource here: details.kind is the plural.
    status = assert_status_response(response, 422, "Invalid", name="w", kind="widgets")
    assert causes(status).get("metadata.resourceVersion") == "FieldValueInvalid", status
    assert (await kube.client.get(Widget, "w")).spec["size"] == 1


async def test_replace_without_resource_version_is_unconditional_for_configmaps(
    kube: Kube,
) -> None:
    """Built-in kinds such as ConfigMap, Deployment and Lease allow unconditional updates: a PUT
    without metadata.resourceVersion overwrites (kube-apiserver AllowUnconditionalUpdate)."""
    await kube.client.create(ConfigMap(metadata=ObjectMeta(name="plain"), data={"v": "1"}))
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "plain"},
        "data": {"v": "2"},
    }
    response = await kube.http.put(kube.path("v1", "configmaps", "plain"), json=body)
    assert response.status_code == 200, response.text
    assert (await kube.client.get(ConfigMap, "plain")).data == {"v": "2"}


async def test_generation_bumps_on_spec_and_annotation_changes_deployment(kube: Kube) -> None:
    """A Deployment's generation follows its spec and, unlike most kinds, its annotations
    (kube-apiserver 1.36: a label change leaves it, an annotation change bumps it)."""
    c = kube.client
    created = await c.create(deployment("gen"))
    assert created.metadata.generation == 1

    await c.patch(Deployment, "gen", {"metadata": {"labels": {"extra": "x"}}})
    assert (await c.get(Deployment, "gen")).metadata.generation == 1
    await c.patch(Deployment, "gen", {"metadata": {"annotations": {"note": "y"}}})
    assert (await c.get(Deployment, "gen")).metadata.generation == 2

    after_status = await c.patch(
        Deployment.Status, "gen", {"status": {"observedGeneration": 2}}, patch_type=PatchType.MERGE
    )
    assert after_status.metadata.generation == 2

    bumped = await c.patch(Deployment, "gen", {"spec": {"replicas": 2}})
    assert bumped.metadata.generation == 3
    bumped = await c.patch(
        Deployment,
        "gen",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}},
    )
    assert bumped.metadata.generation == 4
    # Writing the same spec again is not a change.
    same = await c.patch(Deployment, "gen", {"spec": {"replicas": 2}})
    assert same.metadata.generation == 4


async def test_generation_of_a_custom_resource_with_status_subresource(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    c = kube.client
    created = await c.create(widget(Widget, "w", size=1))
    assert created.metadata.generation == 1
    await c.patch(Widget, "w", {"metadata": {"labels": {"a": "b"}}}, patch_type=PatchType.MERGE)
    status = await c.patch(
        Widget.Status, "w", {"status": {"phase": "Progressing"}}, patch_type=PatchType.MERGE
    )
    assert status.metadata.generation == 1
    spec = await c.patch(Widget, "w", {"spec": {"size": 2}}, patch_type=PatchType.MERGE)
    assert spec.metadata.generation == 2


async def test_generation_of_a_custom_resource_without_status_subresource(kube: Kube) -> None:
    """Without the status subresource every non-metadata change bumps generation."""
    from lightkube.generic_resource import create_namespaced_resource

    group = f"c{uuid.uuid4().hex[:8]}.contract.ensign.dev"
    doc = crd_doc(group, "Plain", "plains", status=False)
    await kube.install_crd(doc)
    Plain = create_namespaced_resource(group, "v1", "Plain", "plains")
    c = kube.client
    await c.create(
        Plain.from_dict(
            {"apiVersion": f"{group}/v1", "kind": "Plain", "metadata": {"name": "p"}, "spec": {}}
        )
    )
    patched = await c.patch(Plain, "p", {"status": {"x": 1}}, patch_type=PatchType.MERGE)
    assert patched.status == {"x": 1}
    assert patched.metadata.generation == 2
    patched = await c.patch(
        Plain, "p", {"metadata": {"annotations": {"a": "b"}}}, patch_type=PatchType.MERGE
    )
    assert patched.metadata.generation == 2


async def test_server_sets_uid_and_creation_timestamp(kube: Kube) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "meta",
            "uid": "not-mine",
            "creationTimestamp": "2000-01-01T00:00:00Z",
        },
    }
    response = await kube.http.post(kube.path("v1", "configmaps"), json=body)
    assert response.status_code == 201, response.text
    meta = response.json()["metadata"]
    uuid.UUID(meta["uid"])
    assert meta["uid"] != "not-mine"
    assert RFC3339_SECONDS.match(meta["creationTimestamp"]), meta["creationTimestamp"]
    assert meta["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert meta["resourceVersion"]

    got = await kube.client.get(ConfigMap, "meta")
    assert got.metadata.uid == meta["uid"]
    assert got.metadata.creationTimestamp is not None

    # uid and creationTimestamp cannot be changed afterwards.
    patched = await kube.client.patch(
        ConfigMap,
        "meta",
        {"metadata": {"creationTimestamp": "2001-01-01T00:00:00Z", "labels": {"x": "y"}}},
        patch_type=PatchType.MERGE,
    )
    assert patched.metadata.creationTimestamp == got.metadata.creationTimestamp


async def test_create_with_a_resource_version_is_rejected(kube: Kube) -> None:
    """Copying a read object into a create must drop metadata.resourceVersion: kube-apiserver
    answers 500 "resourceVersion should not be set on objects to be created"."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "copied", "resourceVersion": "12345"},
    }
    response = await kube.http.post(kube.path("v1", "configmaps"), json=body)
    assert response.status_code == 500, response.text
    assert response.headers["Content-Type"] == "application/json"
    status = response.json()
    assert status["kind"] == "Status"
    assert status["code"] == 500
    assert status["message"] == "resourceVersion should not be set on objects to be created"
    with pytest.raises(ApiError) as info:
        await kube.client.create(
            ConfigMap(metadata=ObjectMeta(name="copied", resourceVersion="12345"))
        )
    assert_api_error(info.value, 500)
    response = await kube.http.get(kube.path("v1", "configmaps", "copied"))
    assert response.status_code == 404


async def test_no_op_updates_keep_the_resource_version(kube: Kube) -> None:
    c = kube.client
    created = await c.create(
        ConfigMap(metadata=ObjectMeta(name="noop", labels={"a": "b"}), data={"k": "v"})
    )
    rv = created.metadata.resourceVersion
    same = await c.replace(created)
    assert same.metadata.resourceVersion == rv
    merged = await c.patch(ConfigMap, "noop", {"data": {"k": "v"}}, patch_type=PatchType.MERGE)
    assert merged.metadata.resourceVersion == rv
    strategic = await c.patch(ConfigMap, "noop", {"metadata": {"labels": {"a": "b"}}})
    assert strategic.metadata.resourceVersion == rv
    jsonp = await c.patch(
        ConfigMap,
        "noop",
        [{"op": "replace", "path": "/data/k", "value": "v"}],
        patch_type=PatchType.JSON,
    )
    assert jsonp.metadata.resourceVersion == rv
    assert (await c.get(ConfigMap, "noop")).metadata.resourceVersion == rv

    changed = await c.patch(ConfigMap, "noop", {"data": {"k": "w"}}, patch_type=PatchType.MERGE)
    assert changed.metadata.resourceVersion != rv
