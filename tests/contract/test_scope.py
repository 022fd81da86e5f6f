"""Cluster-scoped versus namespaced kinds: paths, the namespace field, and mismatches."""

from __future__ import annotations

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import ConfigMap, Namespace

from tests.contract._support import Kube, assert_status_response, install_widgets, widget


async def test_namespaces_are_cluster_scoped(kube: Kube) -> None:
    ns = await kube.client.get(Namespace, kube.namespace)
    assert ns.metadata.namespace is None
    assert ns.status.phase == "Active"
    names = {n.metadata.name async for n in kube.client.list(Namespace)}
    assert kube.namespace in names
    response = await kube.http.get(f"/api/v1/namespaces/{kube.namespace}")
    assert response.status_code == 200
    assert "namespace" not in response.json()["metadata"]


async def test_crds_are_cluster_scoped(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    name = f"widgets.{Widget._api_info.resource.group}"
    crd = await kube.client.get(CustomResourceDefinition, name)
    assert crd.metadata.namespace is None
    assert crd.spec.scope == "Namespaced"
    # A cluster-scoped kind has no namespaced path.
    response = await kube.http.get(
        kube.path("apiextensions.k8s.io/v1", "customresourcedefinitions", name)
    )
    assert response.status_code == 404


async def test_namespaced_object_takes_the_namespace_of_the_url(kube: Kube) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n1"}}
    response = await kube.http.post(kube.path("v1", "configmaps"), json=body)
    assert response.status_code == 201
    assert response.json()["metadata"]["namespace"] == kube.namespace

    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "n2", "namespace": f"{kube.namespace}-other"},
    }
    response = await kube.http.post(kube.path("v1", "configmaps"), json=body)
    body = assert_status_response(response, 400, "BadRequest")
    assert "does not match the namespace" in body["message"]


async def test_namespaced_kinds_cannot_be_created_cluster_wide(kube: Kube) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nowhere"}}
    response = await kube.http.post("/api/v1/configmaps", json=body)
    assert response.status_code in (404, 405), response.text


async def test_cluster_scoped_custom_resource(kube: Kube) -> None:
    Widget = await install_widgets(kube, scope="Cluster")
    api_version = Widget._api_info.resource.api_version
    body = {
        "apiVersion": api_version,
        "kind": "Widget",
        "metadata": {"name": "global-w", "namespace": "ignored-for-cluster-scope"},
        "spec": {"size": 1},
    }
    response = await kube.http.post(kube.path(api_version, "widgets", namespace=None), json=body)
    assert response.status_code == 201, response.text
    assert "namespace" not in response.json()["metadata"]

    got = await kube.client.get(Widget, "global-w")
    assert got.metadata.namespace is None
    assert [w.metadata.name async for w in kube.client.list(Widget)] == ["global-w"]
    await kube.client.create(widget(Widget, "second", size=2))
    # There is no namespaced path for a cluster-scoped kind.
    response = await kube.http.get(kube.path(api_version, "widgets", "global-w"))
    assert response.status_code == 404


async def test_same_name_in_two_namespaces(kube: Kube) -> None:
    other = f"{kube.namespace}-twin"
    await kube.client.create(Namespace(metadata=ObjectMeta(name=other)))
    kube.defer(lambda: kube.client.delete(Namespace, other))
    a = await kube.client.create(ConfigMap(metadata=ObjectMeta(name="twin"), data={"n": "1"}))
    b = await kube.client.create(
        ConfigMap(metadata=ObjectMeta(name="twin"), data={"n": "2"}), namespace=other
    )
    assert a.metadata.uid != b.metadata.uid
    assert (await kube.client.get(ConfigMap, "twin", namespace=other)).data == {"n": "2"}
    assert (await kube.client.get(ConfigMap, "twin")).data == {"n": "1"}
