"""PATCH: merge, JSON, strategic merge (built-ins only) and server-side apply."""

from __future__ import annotations

import json

import pytest
from lightkube import ApiError
from lightkube.models.core_v1 import Container, EnvVar
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from tests.contract._support import (
    Kube,
    assert_api_error,
    assert_status_response,
    deployment,
    install_widgets,
    widget,
)


def _env(container: Container) -> list[tuple[str, str | None]]:
    return [(e.name, e.value) for e in container.env or []]


# ------------------------------------------------------------------ merge


async def test_merge_patch_null_deletes(kube: Kube) -> None:
    await kube.client.create(
        ConfigMap(
            metadata=ObjectMeta(name="m", labels={"x": "1", "y": "2"}),
            data={"a": "1", "b": "2", "c": "3"},
        )
    )
    patched = await kube.client.patch(
        ConfigMap,
        "m",
        {"metadata": {"labels": {"x": None}}, "data": {"a": None, "b": "B"}},
        patch_type=PatchType.MERGE,
    )
    assert patched.data == {"b": "B", "c": "3"}
    assert patched.metadata.labels == {"y": "2"}


async def test_merge_patch_replaces_lists_wholesale(kube: Kube) -> None:
    await kube.client.create(deployment("m", env={"A": "1", "B": "2"}))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "other:1"}]}}}}
    patched = await kube.client.patch(Deployment, "m", patch, patch_type=PatchType.MERGE)
    [container] = patched.spec.template.spec.containers
    assert container.image == "other:1"
    assert not container.env  # the whole list was replaced, env included


# ------------------------------------------------------------------- JSON


async def test_json_patch_operations(kube: Kube) -> None:
    await kube.client.create(ConfigMap(metadata=ObjectMeta(name="j"), data={"a": "1", "b": "2"}))
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "add", "path": "/metadata/labels", "value": {"k": "x"}},
    ]
    patched = await kube.client.patch(ConfigMap, "j", ops, patch_type=PatchType.JSON)
    assert patched.data == {"a": "10", "c": "3"}
    assert patched.metadata.labels == {"k": "x"}
    patched = await kube.client.patch(
        ConfigMap,
        "j",
        [
            {"op": "copy", "from": "/data/a", "path": "/data/d"},
            {"op": "move", "from": "/data/c", "path": "/data/e"},
        ],
        patch_type=PatchType.JSON,
    )
    assert patched.data == {"a": "10", "d": "10", "e": "3"}


async def test_json_patch_failing_test_op_is_422(kube: Kube) -> None:
    created = await kube.client.create(ConfigMap(metadata=ObjectMeta(name="j"), data={"a": "1"}))
    ops = [
        {"op": "test", "path": "/data/a", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "3"},
    ]
    with pytest.raises(ApiError) as info:
        await kube.client.patch(ConfigMap, "j", ops, patch_type=PatchType.JSON)
    assert_api_error(info.value, 422, "Invalid")
    # A precondition on the resourceVersion (how finalizer edits are made safe).
    guarded = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
        {"op": "add", "path": "/data/b", "value": "x"},
    ]
    with pytest.raises(ApiError) as info:
        await kube.client.patch(ConfigMap, "j", guarded, patch_type=PatchType.JSON)
    assert_api_error(info.value, 422)
    got = await kube.client.get(ConfigMap, "j")
    assert got.data == {"a": "1"}
    assert got.metadata.resourceVersion == created.metadata.resourceVersion


async def test_json_patch_removing_a_missing_path_is_422(kube: Kube) -> None:
    await kube.client.create(ConfigMap(metadata=ObjectMeta(name="j"), data={"a": "1"}))
    with pytest.raises(ApiError) as info:
        await kube.client.patch(
            ConfigMap, "j", [{"op": "remove", "path": "/data/zzz"}], patch_type=PatchType.JSON
        )
    assert_api_error(info.value, 422)


async def test_json_patch_with_an_object_body_is_400(kube: Kube) -> None:
    await kube.client.create(ConfigMap(metadata=ObjectMeta(name="j"), data={"a": "1"}))
    with pytest.raises(ApiError) as info:
        await kube.client.patch(ConfigMap, "j", {"data": {"a": "2"}}, patch_type=PatchType.JSON)
    assert_api_error(info.value, 400, "BadRequest")
    response = await kube.http.patch(
        kube.path("v1", "configmaps", "j"),
        content=json.dumps({"data": {"a": "2"}}),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert_status_response(response, 400, "BadRequest")


async def test_patch_with_an_unknown_content_type_is_415(kube: Kube) -> None:
    await kube.client.create(ConfigMap(metadata=ObjectMeta(name="j"), data={"a": "1"}))
    response = await kube.http.patch(
        kube.path("v1", "configmaps", "j"),
        content=json.dumps({"data": {"a": "2"}}),
        headers={"Content-Type": "application/json"},
    )
    assert_status_response(response, 415, "UnsupportedMediaType")


# -------------------------------------------------------------- strategic


async def test_strategic_merge_on_deployment_merges_containers_and_env_by_name(
    kube: Kube,
) -> None:
    await kube.client.create(deployment("s", image="app:1", env={"A": "1", "B": "2"}))
    patch = {
        "metadata": {"labels": {"extra": "yes"}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "app:2",
                            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                        }
                    ]
                }
            }
        },
    }
    patched = await kube.client.patch(Deployment, "s", patch)  # STRATEGIC is lightkube's default
    [app] = patched.spec.template.spec.containers
    assert app.image == "app:2"
    assert _env(app) == [("A", "1"), ("B", "20"), ("C", "3")]
    assert patched.metadata.labels == {"app": "s", "extra": "yes"}

    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "s:1"}]}}}}
    patched = await kube.client.patch(Deployment, "s", sidecar)
    # kube-apiserver's mergeSortedSlice puts patch items unknown to the live list first.
    assert [c.name for c in patched.spec.template.spec.containers] == ["side", "app"]
    app = next(c for c in patched.spec.template.spec.containers if c.name == "app")
    assert _env(app) == [("A", "1"), ("B", "20"), ("C", "3")]


async def test_strategic_merge_patch_delete_directive(kube: Kube) -> None:
    await kube.client.create(deployment("s", env={"A": "1", "B": "2"}))
    await kube.client.patch(
        Deployment,
        "s",
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "s:1"}]}}}},
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "side", "$patch": "delete"},
                        {"name": "app", "env": [{"name": "A", "$patch": "delete"}]},
                    ]
                }
            }
        }
    }
    patched = await kube.client.patch(Deployment, "s", patch)
    [app] = patched.spec.template.spec.containers
    assert app.name == "app"
    assert _env(app) == [("B", "2")]


async def test_strategic_merge_on_a_custom_resource_is_415(kube: Kube) -> None:
    Widget = await install_widgets(kube)
    await kube.client.create(widget(Widget, "w", size=1))
    with pytest.raises(ApiError) as info:
        await kube.client.patch(Widget, "w", {"spec": {"size": 2}})  # default: STRATEGIC
    assert_api_error(info.value, 415, "UnsupportedMediaType")
    response = await kube.http.patch(
        kube.path(Widget._api_info.resource.api_version, "widgets", "w"),
        content=json.dumps({"spec": {"size": 2}}),
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert_status_response(response, 415, "UnsupportedMediaType")
    # Merge patch is the way for custom resources.
    patched = await kube.client.patch(
        Widget, "w", {"spec": {"size": 2}}, patch_type=PatchType.MERGE
    )
    assert patched.spec["size"] == 2


# ------------------------------------------------------------------ apply


async def test_apply_creates_then_updates(kube: Kube) -> None:
    c = kube.client
    first = await c.apply(
        ConfigMap(metadata=ObjectMeta(name="applied"), data={"a": "1"}),
        field_manager="ensign-contract",
        force=True,
    )
    assert first.metadata.uid
    assert first.data == {"a": "1"}
    second = await c.apply(
        ConfigMap(metadata=ObjectMeta(name="applied", labels={"l": "v"}), data={"a": "2"}),
        field_manager="ensign-contract",
        force=True,
    )
    assert second.metadata.uid == first.metadata.uid
    assert second.data == {"a": "2"}
    assert second.metadata.labels == {"l": "v"}
    assert (await c.get(ConfigMap, "applied")).data == {"a": "2"}


async def test_apply_a_deployment_and_a_custom_resource(kube: Kube) -> None:
    c = kube.client
    dep = deployment("ssa")
    created = await c.apply(dep, field_manager="ensign-contract", force=True)
    assert created.metadata.generation == 1
    dep.spec.template.spec.containers[0] = Container(
        name="app", image="app:2", env=[EnvVar(name="X", value="1")]
    )
    updated = await c.apply(dep, field_manager="ensign-contract", force=True)
    assert updated.spec.template.spec.containers[0].image == "app:2"
    assert updated.metadata.generation == 2

    Widget = await install_widgets(kube)
    w = widget(Widget, "w", size=3, color="red")
    assert (await c.apply(w, field_manager="ensign-contract", force=True)).spec["size"] == 3
    w.spec["size"] = 4
    assert (await c.apply(w, field_manager="ensign-contract", force=True)).spec == {
        "size": 4,
        "color": "red",
    }


async def test_apply_without_field_manager_is_422(kube: Kube) -> None:
    response = await kube.http.patch(
        kube.path("v1", "configmaps", "nofm"),
        content='{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nofm"}}',
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert_status_response(response, 422, "Invalid")
