"""create/get/list/replace/delete/deletecollection, error Status bodies, label and field
selectors, and lists across namespaces."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from lightkube import ApiError
from lightkube import operators as op
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Namespace

from tests.contract._support import Kube, assert_api_error, assert_status_response


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, labels=labels), data=data or None)


async def test_create_get_list_replace_delete(kube: Kube) -> None:
    c = kube.client
    created = await c.create(cm("settings", a="1"))
    assert created.metadata.name == "settings"
    assert created.metadata.namespace == kube.namespace
    assert created.metadata.resourceVersion
    got = await c.get(ConfigMap, "settings")
    assert got.data == {"a": "1"}
    assert got.metadata.resourceVersion == created.metadata.resourceVersion

    names = [o.metadata.name async for o in c.list(ConfigMap)]
    assert "settings" in names

    got.data = {"a": "2", "b": "3"}
    replaced = await c.replace(got)
    assert replaced.data == {"a": "2", "b": "3"}
    assert replaced.metadata.resourceVersion != created.metadata.resourceVersion
    assert (await c.get(ConfigMap, "settings")).data == {"a": "2", "b": "3"}

    await c.delete(ConfigMap, "settings")
    with pytest.raises(ApiError) as info:
        await c.get(ConfigMap, "settings")
    assert_api_error(info.value, 404, "NotFound")


async def test_create_answers_201_with_the_object(kube: Kube) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "raw"},
        "data": {"k": "v"},
    }
    response = await kube.http.post(kube.path("v1", "configmaps"), json=body)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    out = response.json()
    assert out["kind"] == "ConfigMap"
    assert out["apiVersion"] == "v1"
    assert out["data"] == {"k": "v"}


async def test_not_found_status_body(kube: Kube) -> None:
    response = await kube.http.get(kube.path("v1", "configmaps", "missing"))
    body = assert_status_response(response, 404, "NotFound", name="missing", kind="configmaps")
    assert body["message"] == 'configmaps "missing" not found'

    response = await kube.http.get(kube.path("apps/v1", "deployments", "missing"))
    body = assert_status_response(
        response, 404, "NotFound", name="missing", kind="deployments", group="apps"
    )
    assert body["message"] == 'deployments.apps "missing" not found'

    for call in (
        kube.client.get(Deployment, "missing"),
        kube.client.delete(ConfigMap, "missing"),
        kube.client.patch(ConfigMap, "missing", {"data": {"a": "b"}}),
    ):
        with pytest.raises(ApiError) as info:
            await call
        status = assert_api_error(info.value, 404, "NotFound")
        assert status.details.name == "missing"


async def test_already_exists_status_body(kube: Kube) -> None:
    await kube.client.create(cm("dup", a="1"))
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}}
    response = await kube.http.post(kube.path("v1", "configmaps"), json=body)
    status = assert_status_response(response, 409, "AlreadyExists", name="dup", kind="configmaps")
    assert status["message"] == 'configmaps "dup" already exists'
    with pytest.raises(ApiError) as info:
        await kube.client.create(cm("dup", a="2"))
    assert_api_error(info.value, 409, "AlreadyExists")
    assert (await kube.client.get(ConfigMap, "dup")).data == {"a": "1"}


async def test_deletecollection(kube: Kube) -> None:
    c = kube.client
    for i in range(3):
        await c.create(Lease(metadata=ObjectMeta(name=f"lease-{i}")))
    await c.deletecollection(Lease)
    assert [o async for o in c.list(Lease)] == []

    token = secrets.token_hex(3)
    for name, labels in (("x1", {"batch": token}), ("x2", {"batch": token}), ("keep", None)):
        await c.create(cm(name, labels))
    response = await kube.http.delete(
        kube.path("v1", "configmaps"), params={"labelSelector": f"batch={token}"}
    )
    assert response.status_code == 200, response.text
    remaining = {o.metadata.name async for o in c.list(ConfigMap)}
    assert "keep" in remaining
    assert not {"x1", "x2"} & remaining


# ---------------------------------------------------------------- selectors


@pytest.fixture
async def labelled(kube: Kube) -> str:
    """Four ConfigMaps a..d sharing a unique `suite` label; returns that label's value."""
    suite = secrets.token_hex(4)
    labels: dict[str, dict[str, str]] = {
        "a": {"app": "web", "tier": "front", "track": "stable"},
        "b": {"app": "web", "tier": "back"},
        "c": {"app": "db", "track": "canary"},
        "d": {},
    }
    for name, extra in labels.items():
        await kube.client.create(cm(name, {"suite": suite, **extra}))
    return suite


async def _names(kube: Kube, **kwargs: Any) -> set[str]:
    return {o.metadata.name async for o in kube.client.list(ConfigMap, **kwargs)}


async def _raw_names(kube: Kube, path: str, **params: str) -> set[str]:
    response = await kube.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return {i["metadata"]["name"] for i in response.json()["items"]}


async def test_label_selector_equality(kube: Kube, labelled: str) -> None:
    assert await _names(kube, labels={"suite": labelled, "app": "web"}) == {"a", "b"}
    assert await _names(kube, labels={"suite": labelled, "app": op.not_equal("web")}) == {"c", "d"}
    assert await _names(kube, labels={"suite": labelled, "app": "nope"}) == set()
    path = kube.path("v1", "configmaps")
    assert await _raw_names(kube, path, labelSelector=f"suite={labelled},app==db") == {"c"}


async def test_label_selector_set_based(kube: Kube, labelled: str) -> None:
    s = {"suite": labelled}
    assert await _names(kube, labels={**s, "app": op.in_(["web", "db"])}) == {"a", "b", "c"}
    assert await _names(kube, labels={**s, "app": op.not_in(["web"])}) == {"c", "d"}
    assert await _names(kube, labels={**s, "track": op.not_exists()}) == {"b", "d"}
    assert await _names(kube, labels={**s, "track": op.exists()}) == {"a", "c"}
    path = kube.path("v1", "configmaps")
    selector = f"suite={labelled},tier in (front, back),track notin (canary)"
    assert await _raw_names(kube, path, labelSelector=selector) == {"a", "b"}
    assert await _raw_names(kube, path, labelSelector=f"suite={labelled},app=web,!track") == {"b"}


async def test_malformed_label_selector_is_400(kube: Kube) -> None:
    response = await kube.http.get(
        kube.path("v1", "configmaps"), params={"labelSelector": "app in (web"}
    )
    assert_status_response(response, 400, "BadRequest")


async def test_field_selectors(kube: Kube, labelled: str) -> None:
    s = {"suite": labelled}
    assert await _names(kube, labels=s, fields={"metadata.name": "c"}) == {"c"}
    assert await _names(kube, labels=s, fields={"metadata.name": op.not_equal("c")}) == {
        "a",
        "b",
        "d",
    }
    assert await _names(kube, labels=s, fields={"metadata.namespace": kube.namespace}) == {
        "a",
        "b",
        "c",
        "d",
    }
    assert await _names(kube, labels=s, fields={"metadata.namespace": "elsewhere"}) == set()


async def test_unknown_field_selector_is_400(kube: Kube) -> None:
    response = await kube.http.get(
        kube.path("v1", "configmaps"), params={"fieldSelector": "data.a=1"}
    )
    assert_status_response(response, 400, "BadRequest")


async def test_paginated_list(kube: Kube, labelled: str) -> None:
    names = {
        o.metadata.name
        async for o in kube.client.list(ConfigMap, labels={"suite": labelled}, chunk_size=3)
    }
    assert names == {"a", "b", "c", "d"}
    response = await kube.http.get(
        kube.path("v1", "configmaps"), params={"labelSelector": f"suite={labelled}", "limit": "3"}
    )
    body = response.json()
    assert len(body["items"]) == 3
    assert body["metadata"]["continue"]
    assert body["metadata"]["resourceVersion"]


async def test_list_across_all_namespaces(kube: Kube) -> None:
    other = f"{kube.namespace}-b"
    await kube.client.create(Namespace(metadata=ObjectMeta(name=other)))
    kube.defer(lambda: kube.client.delete(Namespace, other))
    suite = secrets.token_hex(4)
    await kube.client.create(cm("here", {"suite": suite}))
    await kube.client.create(cm("there", {"suite": suite}), namespace=other)

    found = {
        (o.metadata.namespace, o.metadata.name)
        async for o in kube.client.list(ConfigMap, namespace="*", labels={"suite": suite})
    }
    assert found == {(kube.namespace, "here"), (other, "there")}

    only_other = {
        o.metadata.name
        async for o in kube.client.list(
            ConfigMap, namespace="*", labels={"suite": suite}, fields={"metadata.namespace": other}
        )
    }
    assert only_other == {"there"}

    raw = await _raw_names(kube, "/api/v1/configmaps", labelSelector=f"suite={suite}")
    assert raw == {"here", "there"}
    # A namespaced list only sees its own namespace.
    assert await _names(kube, labels={"suite": suite}) == {"here"}
