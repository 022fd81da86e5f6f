"""Watches: resuming from a resourceVersion, synthetic ADDED, server-side timeouts, bookmarks,
410 Gone after compaction, selector transitions, and resuming after a dropped stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from tests.contract._support import Kube, assert_api_error


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, labels=labels), data=data or None)


async def list_version(kube: Kube, **kwargs: Any) -> str:
    listing = kube.client.list(ConfigMap, **kwargs)
    async for _ in listing:
        pass
    return str(listing.resourceVersion)


async def collect(
    stream: AsyncIterator[tuple[str, Any]], count: int, *, within: float = 5.0
) -> list[tuple[str, Any]]:
    """The next `count` events of a lightkube watch (closing the stream afterwards)."""
    out: list[tuple[str, Any]] = []
    async with contextlib.aclosing(stream) as events, asyncio.timeout(within):
        async for event in events:
            out.append(event)
            if len(out) == count:
                break
    return out


async def raw_lines(
    kube: Kube, params: dict[str, str], *, limit: float = 10.0, stop_after: int = 0
) -> tuple[list[dict[str, Any]], float]:
    """Read a raw watch stream to its end (or `stop_after` lines): the decoded lines and the
    seconds it stayed open."""
    started = time.monotonic()
    lines: list[dict[str, Any]] = []
    async with (
        asyncio.timeout(limit),
        kube.http.stream(
            "GET",
            kube.path("v1", "configmaps"),
            params={"watch": "true", **params},
            timeout=httpx2.Timeout(limit, read=None),
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["Content-Type"].split(";")[0] == "application/json"
        async for line in response.aiter_lines():
            if line.strip():
                lines.append(json.loads(line))
                if len(lines) == stop_after:
                    break
    return lines, time.monotonic() - started


def names(events: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    return [(kind, obj.metadata.name) for kind, obj in events]


# --------------------------------------------------------------------- tests


async def test_watch_from_list_version_delivers_changes_in_order(kube: Kube) -> None:
    c = kube.client
    mine = {"suite": secrets.token_hex(4)}  # isolates this test on a shared real namespace
    await c.create(cm("w", mine, v="1"))
    await c.create(cm("other", mine, v="1"))
    rv = await list_version(kube)
    await c.patch(ConfigMap, "w", {"data": {"v": "2"}}, patch_type=PatchType.MERGE)
    await c.patch(ConfigMap, "other", {"data": {"v": "2"}}, patch_type=PatchType.MERGE)
    await c.patch(ConfigMap, "w", {"data": {"v": "3"}}, patch_type=PatchType.MERGE)
    await c.delete(ConfigMap, "w")

    events = await collect(c.watch(ConfigMap, resource_version=rv, labels=mine), 4)
    assert [(k, o.metadata.name, o.data["v"]) for k, o in events] == [
        ("MODIFIED", "w", "2"),
        ("MODIFIED", "other", "2"),
        ("MODIFIED", "w", "3"),
        ("DELETED", "w", "3"),
    ]
    versions = [o.metadata.resourceVersion for _, o in events]
    assert len(set(versions)) == 4
    assert rv not in versions

    # A name-scoped watch (fieldSelector) sees only that object.
    only = await collect(c.watch(ConfigMap, resource_version=rv, fields={"metadata.name": "w"}), 3)
    assert names(only) == [("MODIFIED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


async def test_resuming_from_an_event_version_loses_nothing(kube: Kube) -> None:
    """A client resumes from the resourceVersion of the last event it saw (lightkube does this
    after every stream end), so each event must carry its own version."""
    c = kube.client
    mine = {"suite": secrets.token_hex(4)}
    await c.create(cm("r", mine, v="1"))
    rv = await list_version(kube)
    for v in ("2", "3", "4"):
        await c.patch(ConfigMap, "r", {"data": {"v": v}}, patch_type=PatchType.MERGE)
    [(_, first)] = await collect(c.watch(ConfigMap, resource_version=rv, labels=mine), 1)
    assert first.data["v"] == "2"
    rest = await collect(
        c.watch(ConfigMap, resource_version=first.metadata.resourceVersion, labels=mine),
        2,
        within=kube.timeout(1, 10),
    )
    assert [o.data["v"] for _, o in rest] == ["3", "4"]


async def test_watch_without_version_starts_with_synthetic_added(kube: Kube) -> None:
    c = kube.client
    mine = {"suite": secrets.token_hex(4)}
    await c.create(cm("a", mine))
    await c.create(cm("b", mine))
    stream = c.watch(ConfigMap, labels=mine)
    async with contextlib.aclosing(stream) as events, asyncio.timeout(5):
        first = [await anext(events), await anext(events)]
        assert sorted(names(first)) == [("ADDED", "a"), ("ADDED", "b")]
        await c.create(cm("c", mine))
        assert names([await anext(events)]) == [("ADDED", "c")]
    # resourceVersion "0" behaves the same (any version is fine, then ADDED for each object).
    selector = f"suite={mine['suite']}"
    lines, _ = await raw_lines(
        kube, {"resourceVersion": "0", "labelSelector": selector}, stop_after=3
    )
    data = [
        (ln["type"], ln["object"]["metadata"]["name"]) for ln in lines if ln["type"] != "BOOKMARK"
    ]
    assert sorted(data) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]


async def test_server_side_timeout_ends_the_stream(kube: Kube) -> None:
    rv = await list_version(kube)
    lines, elapsed = await raw_lines(
        kube, {"resourceVersion": rv, "timeoutSeconds": "1", "labelSelector": "nothing=here"}
    )
    assert lines == []  # no events, and no bookmarks unless asked for
    assert 0.9 <= elapsed < 5, elapsed


async def test_bookmark_at_the_end_of_the_timeout(kube: Kube) -> None:
    rv = await list_version(kube)
    seconds = "1" if kube.is_local else "3"
    selector = f"suite={secrets.token_hex(4)}"

    async def change() -> str:
        await asyncio.sleep(0.2)
        created = await kube.client.create(cm("bm", dict([selector.split("=")]), v="1"))
        return str(created.metadata.resourceVersion)

    writer = asyncio.create_task(change())
    lines, _ = await raw_lines(
        kube,
        {
            "resourceVersion": rv,
            "timeoutSeconds": seconds,
            "allowWatchBookmarks": "true",
            "labelSelector": selector,
        },
    )
    created_rv = await writer
    kinds = [ln["type"] for ln in lines]
    assert kinds[0] == "ADDED", kinds
    assert lines[0]["object"]["kind"] == "ConfigMap"
    assert lines[0]["object"]["apiVersion"] == "v1"
    assert kinds[-1] == "BOOKMARK", kinds
    bookmark = lines[-1]["object"]
    assert bookmark["kind"] == "ConfigMap"
    assert bookmark["apiVersion"] == "v1"
    assert bookmark["metadata"]["resourceVersion"]
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(created_rv)


@pytest.mark.local_only("needs LocalCluster.compact() to force 410 Gone")
async def test_watch_from_a_compacted_version_is_410(kube: Kube) -> None:
    c = kube.client
    await c.create(cm("old", v="0"))
    rv = await list_version(kube)
    for i in range(3):
        await c.patch(ConfigMap, "old", {"data": {"v": str(i + 1)}}, patch_type=PatchType.MERGE)
    kube.cluster.compact()

    with pytest.raises(ApiError) as info:
        await collect(c.watch(ConfigMap, resource_version=rv), 1)
    assert_api_error(info.value, 410, "Expired")

    lines, _ = await raw_lines(kube, {"resourceVersion": rv, "timeoutSeconds": "1"})
    assert len(lines) == 1
    assert lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"

    # The cure: relist, then watch from the new list's version.
    fresh = await list_version(kube)
    await c.patch(ConfigMap, "old", {"data": {"v": "after"}}, patch_type=PatchType.MERGE)
    [(kind, obj)] = await collect(c.watch(ConfigMap, resource_version=fresh), 1)
    assert (kind, obj.data["v"]) == ("MODIFIED", "after")


@pytest.mark.local_only("shrinks the LocalCluster's event history to force 410 Expired")
async def test_watch_older_than_the_history_is_one_410_error_and_no_replay(kube: Kube) -> None:
    """A real apiserver answers a watch from a version its watch cache (and etcd) no longer
    holds with a single ERROR event, 410 Expired "too old resource version", and ends the
    stream: nothing is replayed."""
    c = kube.client
    await c.create(cm("hist", v="0"))
    rv = await list_version(kube)
    kube.cluster.store.history_limit = 2
    for i in range(5):
        await c.patch(ConfigMap, "hist", {"data": {"v": str(i + 1)}}, patch_type=PatchType.MERGE)
    lines, open_for = await raw_lines(kube, {"resourceVersion": rv, "timeoutSeconds": "5"})
    assert [line["type"] for line in lines] == ["ERROR"]
    status = lines[0]["object"]
    assert (status["code"], status["reason"]) == (410, "Expired")
    assert status["message"].startswith(f"too old resource version: {rv} (")
    assert open_for < 4  # ended at once, not at timeoutSeconds


async def test_label_selector_watch_sees_objects_enter_and_leave(kube: Kube) -> None:
    c = kube.client
    on, off = {"sel": f"on-{secrets.token_hex(3)}"}, {"sel": "off"}
    rv = await list_version(kube)
    await c.create(cm("x", off))
    await c.patch(ConfigMap, "x", {"metadata": {"labels": on}}, patch_type=PatchType.MERGE)
    await c.patch(ConfigMap, "x", {"data": {"k": "v"}}, patch_type=PatchType.MERGE)
    left = await c.patch(ConfigMap, "x", {"metadata": {"labels": off}}, patch_type=PatchType.MERGE)
    await c.patch(ConfigMap, "x", {"data": {"k": "w"}}, patch_type=PatchType.MERGE)
    await c.delete(ConfigMap, "x")
    await c.create(cm("sentinel", on))

    events = await collect(c.watch(ConfigMap, resource_version=rv, labels=on), 4)
    assert names(events) == [
        ("ADDED", "x"),
        ("MODIFIED", "x"),
        ("DELETED", "x"),
        ("ADDED", "sentinel"),
    ]
    # Like kube-apiserver's cacheWatcher: the DELETED event carries the previous object content
    # (still matching the selector) with the resourceVersion of the change that made it leave.
    gone = events[2][1]
    assert gone.metadata.labels == on
    assert gone.data == {"k": "v"}
    assert gone.metadata.resourceVersion == left.metadata.resourceVersion


async def test_watch_across_all_namespaces(kube: Kube) -> None:
    rv = await list_version(kube, namespace="*")
    await kube.client.create(cm("anywhere"))
    stream = kube.client.watch(
        ConfigMap, namespace="*", resource_version=rv, fields={"metadata.name": "anywhere"}
    )
    [(kind, obj)] = await collect(stream, 1)
    assert (kind, obj.metadata.namespace) == ("ADDED", kube.namespace)


@pytest.mark.local_only("needs LocalCluster.drop_watches()")
async def test_dropped_watch_ends_the_stream_and_resumes_without_loss(kube: Kube) -> None:
    c = kube.client
    rv = await list_version(kube)
    seen: list[dict[str, Any]] = []
    got_first = asyncio.Event()

    async def reader() -> None:
        async with kube.http.stream(
            "GET",
            kube.path("v1", "configmaps"),
            params={"watch": "true", "resourceVersion": rv},
            timeout=httpx2.Timeout(10, read=None),
        ) as response:
            async for line in response.aiter_lines():
                if line.strip():
                    seen.append(json.loads(line))
                    got_first.set()

    task = asyncio.create_task(reader())
    await c.create(cm("d1"))
    async with asyncio.timeout(5):
        await got_first.wait()
    kube.cluster.drop_watches()
    async with asyncio.timeout(5):
        await task  # the stream ended cleanly (no exception)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [("ADDED", "d1")]
    last = seen[-1]["object"]["metadata"]["resourceVersion"]

    # Changes made while disconnected are delivered once on resume from the last version.
    await c.create(cm("d2"))
    await c.delete(ConfigMap, "d1")
    events = await collect(c.watch(ConfigMap, resource_version=last), 2)
    assert names(events) == [("ADDED", "d2"), ("DELETED", "d1")]


@pytest.mark.local_only("needs LocalCluster.drop_watches()")
async def test_lightkube_watch_survives_a_dropped_stream(kube: Kube) -> None:
    c = kube.client
    rv = await list_version(kube)
    stream = c.watch(ConfigMap, resource_version=rv)
    async with contextlib.aclosing(stream) as events, asyncio.timeout(5):
        await c.create(cm("s1"))
        assert names([await anext(events)]) == [("ADDED", "s1")]
        kube.cluster.drop_watches()
        await asyncio.sleep(0.05)
        await c.create(cm("s2"))
        await c.patch(ConfigMap, "s1", {"data": {"a": "b"}}, patch_type=PatchType.MERGE)
        more = [await anext(events), await anext(events)]
        assert names(more) == [("ADDED", "s2"), ("MODIFIED", "s1")]
