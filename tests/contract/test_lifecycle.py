"""Deletion semantics: ownerReference garbage collection, orphaning, finalizers, namespace
deletion, and creating into a missing namespace."""

from __future__ import annotations

import pytest
from lightkube import ApiError
from lightkube.models.core_v1 import ServicePort, ServiceSpec
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace, Service
from lightkube.types import CascadeType, PatchType

from tests.contract._support import Kube, assert_api_error, assert_status_response, deployment

FINALIZER = "contract.ensign.dev/hold"


def owned_by(owner: Deployment | ConfigMap, kind: str, api_version: str) -> list[OwnerReference]:
    return [
        OwnerReference(
            apiVersion=api_version,
            kind=kind,
            name=owner.metadata.name,
            uid=owner.metadata.uid,
            controller=True,
            blockOwnerDeletion=True,
        )
    ]


async def test_deleting_an_owner_collects_its_dependents(kube: Kube) -> None:
    c = kube.client
    owner = await c.create(deployment("owner"))
    refs = owned_by(owner, "Deployment", "apps/v1")
    await c.create(ConfigMap(metadata=ObjectMeta(name="dep-cm", ownerReferences=refs)))
    await c.create(
        Service(
            metadata=ObjectMeta(name="dep-svc", ownerReferences=refs),
            spec=ServiceSpec(ports=[ServicePort(port=80)], selector={"app": "owner"}),
        )
    )
    await c.create(ConfigMap(metadata=ObjectMeta(name="bystander")))

    await c.delete(Deployment, "owner")  # Background propagation by default
    timeout = kube.timeout(5, 60)
    await kube.gone(ConfigMap, "dep-cm", within=timeout)
    await kube.gone(Service, "dep-svc", within=timeout)
    assert (await c.get(ConfigMap, "bystander")).metadata.name == "bystander"


async def _two_owners(kube: Kube) -> None:
    c = kube.client
    a = await c.create(ConfigMap(metadata=ObjectMeta(name="owner-a")))
    b = await c.create(ConfigMap(metadata=ObjectMeta(name="owner-b")))
    refs = [
        OwnerReference(apiVersion="v1", kind="ConfigMap", name=o.metadata.name, uid=o.metadata.uid)
        for o in (a, b)
    ]
    await c.create(ConfigMap(metadata=ObjectMeta(name="shared", ownerReferences=refs)))


async def test_dependent_with_two_owners_survives_until_both_are_gone(kube: Kube) -> None:
    c = kube.client
    await _two_owners(kube)
    await c.delete(ConfigMap, "owner-a")
    await kube.gone(ConfigMap, "owner-a")
    assert (await c.get(ConfigMap, "shared")).metadata.deletionTimestamp is None
    await c.delete(ConfigMap, "owner-b")
    await kube.gone(ConfigMap, "shared", within=kube.timeout(5, 60))


async def test_garbage_collector_strips_references_to_deleted_owners(kube: Kube) -> None:
    """When a dependent still has a live owner, the GC removes the dangling reference."""
    c = kube.client
    await _two_owners(kube)
    await c.delete(ConfigMap, "owner-a")

    async def reference_dropped() -> bool:
        got = await c.get(ConfigMap, "shared")
        return [r.name for r in got.metadata.ownerReferences or []] == ["owner-b"]

    await kube.eventually(reference_dropped, within=kube.timeout(2, 60), what="owner-a ref gone")


async def test_orphan_propagation_keeps_dependents_and_strips_the_reference(kube: Kube) -> None:
    c = kube.client
    owner = await c.create(ConfigMap(metadata=ObjectMeta(name="parent")))
    await c.create(
        ConfigMap(
            metadata=ObjectMeta(name="child", ownerReferences=owned_by(owner, "ConfigMap", "v1"))
        )
    )
    await c.delete(ConfigMap, "parent", cascade=CascadeType.ORPHAN)
    await kube.gone(ConfigMap, "parent", within=kube.timeout(5, 60))

    async def stripped() -> bool:
        child = await c.get(ConfigMap, "child")
        return not child.metadata.ownerReferences

    await kube.eventually(stripped, within=kube.timeout(5, 60), what="ownerReference stripped")
    # ...and it stays (nothing collects it later).
    child = await c.get(ConfigMap, "child")
    assert child.metadata.deletionTimestamp is None


async def test_finalizer_holds_deletion_until_removed(kube: Kube) -> None:
    c = kube.client
    await c.create(ConfigMap(metadata=ObjectMeta(name="held", finalizers=[FINALIZER])))
    response = await kube.http.delete(kube.path("v1", "configmaps", "held"))
    assert response.status_code in (200, 202), response.text
    body = response.json()
    assert body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["finalizers"] == [FINALIZER]

    got = await c.get(ConfigMap, "held")
    assert got.metadata.deletionTimestamp is not None
    assert got.metadata.finalizers == [FINALIZER]
    # A second delete changes nothing; writes are still allowed while terminating.
    await c.delete(ConfigMap, "held")
    patched = await c.patch(ConfigMap, "held", {"data": {"k": "v"}}, patch_type=PatchType.MERGE)
    assert patched.metadata.deletionTimestamp == got.metadata.deletionTimestamp
    # No new finalizers may be added to an object being deleted.
    with pytest.raises(ApiError) as info:
        await c.patch(
            ConfigMap,
            "held",
            {"metadata": {"finalizers": [FINALIZER, "contract.ensign.dev/other"]}},
            patch_type=PatchType.MERGE,
        )
    assert_api_error(info.value, 422, "Invalid")

    await c.patch(ConfigMap, "held", {"metadata": {"finalizers": None}}, patch_type=PatchType.MERGE)
    await kube.gone(ConfigMap, "held", within=kube.timeout(2, 10))


async def test_deleting_a_namespace_removes_its_content(kube: Kube) -> None:
    c = kube.client
    ns = f"{kube.namespace}-gone"
    await c.create(Namespace(metadata=ObjectMeta(name=ns)))
    kube.defer(lambda: c.delete(Namespace, ns))
    await c.create(ConfigMap(metadata=ObjectMeta(name="inside")), namespace=ns)
    await c.create(deployment("inside"), namespace=ns)

    await c.delete(Namespace, ns)
    timeout = kube.timeout(5, 120)
    await kube.gone(Namespace, ns, within=timeout)
    for res in (ConfigMap, Deployment):
        with pytest.raises(ApiError) as info:
            await c.get(res, "inside", namespace=ns)
        assert_api_error(info.value, 404)
    assert not [
        o async for o in c.list(ConfigMap, namespace="*", fields={"metadata.namespace": ns})
    ]


async def test_terminating_namespace_refuses_new_content(kube: Kube) -> None:
    c = kube.client
    ns = f"{kube.namespace}-term"
    await c.create(Namespace(metadata=ObjectMeta(name=ns)))
    kube.defer(lambda: c.delete(Namespace, ns))
    # A finalizer on the content keeps the namespace in Terminating.
    await c.create(
        ConfigMap(metadata=ObjectMeta(name="held", finalizers=[FINALIZER])), namespace=ns
    )
    kube.defer(
        lambda: c.patch(
            ConfigMap,
            "held",
            {"metadata": {"finalizers": None}},
            namespace=ns,
            patch_type=PatchType.MERGE,
        )
    )
    await c.delete(Namespace, ns)
    got = await c.get(Namespace, ns)
    assert got.metadata.deletionTimestamp is not None
    assert got.status.phase == "Terminating"

    async def refused() -> bool:
        try:
            await c.create(ConfigMap(metadata=ObjectMeta(name="late")), namespace=ns)
        except ApiError as exc:
            status = assert_api_error(exc, 403, "Forbidden")
            assert status.message == (
                f'configmaps "late" is forbidden: unable to create new content in namespace '
                f"{ns} because it is being terminated"
            )
            assert status.details.causes[0].reason == "NamespaceTerminating"
            assert status.details.causes[0].field == "metadata.namespace"
            assert status.details.causes[0].message == f"namespace {ns} is being terminated"
            return True
        await c.delete(ConfigMap, "late", namespace=ns)
        return False

    await kube.eventually(refused, within=kube.timeout(2, 30), what="creation refused")
    await c.patch(
        ConfigMap,
        "held",
        {"metadata": {"finalizers": None}},
        namespace=ns,
        patch_type=PatchType.MERGE,
    )
    await kube.gone(Namespace, ns, within=kube.timeout(5, 120))


async def test_namespaces_carry_the_metadata_name_label(kube: Kube) -> None:
    c = kube.client
    ns = f"{kube.namespace}-lbl"
    created = await c.create(Namespace(metadata=ObjectMeta(name=ns, labels={"team": "a"})))
    kube.defer(lambda: c.delete(Namespace, ns))
    assert created.metadata.labels == {"team": "a", "kubernetes.io/metadata.name": ns}
    # It cannot be changed or dropped: the server sets it again on every write.
    patched = await c.patch(
        Namespace,
        ns,
        {"metadata": {"labels": {"kubernetes.io/metadata.name": "other"}}},
        patch_type=PatchType.MERGE,
    )
    assert patched.metadata.labels["kubernetes.io/metadata.name"] == ns
    default = await c.get(Namespace, "default")
    assert default.metadata.labels["kubernetes.io/metadata.name"] == "default"


async def test_creating_in_a_missing_namespace_is_404(kube: Kube) -> None:
    missing = f"{kube.namespace}-missing"
    response = await kube.http.post(
        kube.path("v1", "configmaps", namespace=missing),
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    )
    body = assert_status_response(response, 404, "NotFound", name=missing, kind="namespaces")
    assert body["message"] == f'namespaces "{missing}" not found'
    with pytest.raises(ApiError) as info:
        await kube.client.create(ConfigMap(metadata=ObjectMeta(name="x")), namespace=missing)
    assert_api_error(info.value, 404, "NotFound")
