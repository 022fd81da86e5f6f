"""Fault injection on the local cluster, as the client sees it: failed requests answer a Status
exactly like a real server's errors, they are consumed one at a time, latency delays calls,
and watches can be made to fail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import httpx2
import pytest
from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType, on_error_retry

from tests.contract._support import Kube, assert_api_error, assert_status_response, deployment

pytestmark = pytest.mark.local_only("fault injection is a LocalCluster feature")


async def test_fail_next_patch_fails_exactly_one_patch(kube: Kube) -> None:
    c = kube.client
    await c.create(deployment("f"))
    kube.cluster.faults.fail_next("patch", "deployments", code=500)
    # Other verbs and resources are unaffected.
    await c.get(Deployment, "f")
    await c.create(ConfigMap(metadata=ObjectMeta(name="bystander")))
    await c.patch(ConfigMap, "bystander", {"data": {"a": "b"}})

    with pytest.raises(ApiError) as info:
        await c.patch(Deployment, "f", {"spec": {"replicas": 2}})
    status = assert_api_error(info.value, 500, "InternalError")
    assert status.message
    patched = await c.patch(Deployment, "f", {"spec": {"replicas": 2}})
    assert patched.spec.replicas == 2
    assert patched.metadata.generation == 2  # the failed patch changed nothing


async def test_injected_error_is_a_real_status_body(kube: Kube) -> None:
    await kube.client.create(deployment("f"))
    kube.cluster.faults.fail_next("patch", "deployments", code=500)
    response = await kube.http.patch(
        kube.path("apps/v1", "deployments", "f"),
        content=json.dumps({"spec": {"replicas": 3}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_status_response(response, 500, "InternalError")
    assert (await kube.client.get(Deployment, "f")).spec.replicas == 1


async def test_fail_next_count_namespace_and_name(kube: Kube) -> None:
    c = kube.client
    for name in ("a", "b"):
        await c.create(ConfigMap(metadata=ObjectMeta(name=name)))
    kube.cluster.faults.fail_next(
        "get", "configmaps", code=503, count=2, namespace=kube.namespace, name="a"
    )
    await c.get(ConfigMap, "b")
    for _ in range(2):
        with pytest.raises(ApiError) as info:
            await c.get(ConfigMap, "a")
        assert_api_error(info.value, 503, "ServiceUnavailable")
    await c.get(ConfigMap, "a")


async def test_throttling_fault_carries_retry_after(kube: Kube) -> None:
    kube.cluster.faults.fail_next("list", "configmaps", code=429)
    response = await kube.http.get(kube.path("v1", "configmaps"))
    assert_status_response(response, 429, "TooManyRequests")
    assert response.headers.get("Retry-After") == "1"


async def test_conflict_fault_on_update(kube: Kube) -> None:
    c = kube.client
    created = await c.create(ConfigMap(metadata=ObjectMeta(name="cas"), data={"v": "1"}))
    kube.cluster.faults.fail_next("update", "configmaps", code=409)
    created.data = {"v": "2"}
    with pytest.raises(ApiError) as info:
        await c.replace(created)
    assert_api_error(info.value, 409, "Conflict")
    assert (await c.replace(created)).data == {"v": "2"}


async def test_latency(kube: Kube) -> None:
    c = kube.client
    await c.create(ConfigMap(metadata=ObjectMeta(name="slow")))
    kube.cluster.faults.add_latency("get", "configmaps", 0.2)
    started = time.monotonic()
    await c.get(ConfigMap, "slow")
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    _ = [o async for o in c.list(ConfigMap)]
    assert time.monotonic() - started < 0.2


async def test_fail_next_watch(kube: Kube) -> None:
    c = kube.client
    kube.cluster.faults.fail_next("watch", "configmaps", code=500)
    # lightkube's watch raises the plain HTTPStatusError for an HTTP error at the start.
    with pytest.raises(httpx2.HTTPStatusError) as info:
        async with asyncio.timeout(5):
            async for _ in c.watch(ConfigMap):
                break
    assert info.value.response.status_code == 500

    kube.cluster.faults.fail_next("watch", "configmaps", code=500)
    response = await kube.http.get(kube.path("v1", "configmaps"), params={"watch": "true"})
    assert_status_response(response, 500, "InternalError")

    # With on_error_retry lightkube retries and the watch goes on.
    kube.cluster.faults.fail_next("watch", "configmaps", code=500, count=2)
    stream = c.watch(ConfigMap, on_error=on_error_retry)
    async with contextlib.aclosing(stream) as events, asyncio.timeout(5):
        await c.create(ConfigMap(metadata=ObjectMeta(name="after-retry")))
        kind, obj = await anext(events)
        assert (kind, obj.metadata.name) == ("ADDED", "after-retry")


async def test_retry_after_410_replays_current_state(kube: Kube) -> None:
    """lightkube's on_error_retry drops the version on 410 and restarts with ADDED events."""
    c = kube.client
    await c.create(ConfigMap(metadata=ObjectMeta(name="r"), data={"v": "0"}))
    listing = c.list(ConfigMap)
    async for _ in listing:
        pass
    rv = listing.resourceVersion
    await c.patch(ConfigMap, "r", {"data": {"v": "1"}}, patch_type=PatchType.MERGE)
    kube.cluster.compact()
    stream = c.watch(ConfigMap, resource_version=rv, on_error=on_error_retry)
    async with contextlib.aclosing(stream) as events, asyncio.timeout(5):
        kind, obj = await anext(events)
    assert (kind, obj.metadata.name, obj.data["v"]) == ("ADDED", "r", "1")
