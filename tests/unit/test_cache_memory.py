"""What the watch caches keep of an object, and how they read it from the API server.

Slimming (`ensign.runtime.slimming`) drops what no reader uses and interns strings; every
reader of a cached Deployment, Service and Canary must get the same answer from the slim
object as from the full one. The client reads lists in pages and asks watches for
bookmarks, checked against a real HTTP server that plays the API server.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiohttp import web

from ensign.kube import kinds
from ensign.kube.api import KubeApi
from ensign.kube.client import LIST_PAGE, LightkubeApi
from ensign.model import parse_canary
from ensign.routers.service_sync import Update, reconcile_service, revert_apex
from ensign.routers.services import desired_services
from ensign.runtime.cache import Informer
from ensign.runtime.slimming import LAST_APPLIED, pack, slim, unpack
from ensign.workloads import primary as primary_workload
from ensign.workloads import readiness
from ensign.workloads.revision import revision_hash
from ensign.workloads.selector import selector_label

JSON = dict[str, Any]
NS = "shop"
NOW = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)
MANAGED = [
    {
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": "2026-11-26T12:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {}},
    }
]


def deployment(name: str, *, uid: str = "d-uid", image: str = "ghcr.io/podinfo:6.7.1") -> JSON:
    """A Deployment as a real API server returns it (managedFields, status, defaults)."""
    text = json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": NS,
                "uid": uid,
                "resourceVersion": "1201",
                "generation": 2,
                "creationTimestamp": "2026-11-26T12:00:00Z",
                "labels": {"app": name, "team": "checkout"},
                "annotations": {
                    "deployment.kubernetes.io/revision": "2",
                    LAST_APPLIED: '{"kind":"Deployment"}',
                },
                "managedFields": MANAGED,
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": {"a": "b"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "podinfod",
                                "image": image,
                                "ports": [{"name": "http", "containerPort": 9898}],
                                "env": [{"name": "CONFIG", "value": "x" * 300}],
                            }
                        ],
                        "nodeSelector": {"disk": "ssd"},
                    },
                },
                "strategy": {"type": "RollingUpdate"},
                "progressDeadlineSeconds": 600,
                "revisionHistoryLimit": 10,
            },
            "status": {
                "observedGeneration": 2,
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
                "conditions": [
                    {
                        "type": "Progressing",
                        "status": "True",
                        "reason": "NewReplicaSetAvailable",
                        "lastUpdateTime": "2026-11-26T12:00:02Z",
                    }
                ],
            },
        }
    )
    decoded: JSON = json.loads(text)  # decoded on its own, as every response is
    return decoded


def service(name: str, *, canary_uid: str) -> JSON:
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": NS,
                "uid": f"{name}-uid",
                "resourceVersion": "1300",
                "labels": {"app": name},
                "annotations": {LAST_APPLIED: json.dumps({"spec": {"selector": {"app": "web"}}})},
                "ownerReferences": [
                    {
                        "apiVersion": "flagger.app/v1beta1",
                        "kind": "Canary",
                        "name": "web",
                        "uid": canary_uid,
                        "controller": True,
                    }
                ],
                "managedFields": MANAGED,
            },
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": "web-primary"},
                "ports": [{"name": "http", "port": 80, "targetPort": 9898, "protocol": "TCP"}],
                "clusterIP": "10.96.0.7",
                "clusterIPs": ["10.96.0.7"],
                "sessionAffinity": "None",
            },
            "status": {"loadBalancer": {}},
        }
    )
    decoded: JSON = json.loads(text)
    return decoded


def canary_body() -> JSON:
    text = json.dumps(
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "metadata": {
                "name": "web",
                "namespace": NS,
                "uid": "c-uid",
                "resourceVersion": "1400",
                "annotations": {LAST_APPLIED: "{" + '"spec":{}' * 40 + "}", "keep": "me"},
                "managedFields": MANAGED,
            },
            "spec": {
                "provider": "kubernetes",
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "service": {"port": 80, "targetPort": 9898},
                "analysis": {"interval": "1m", "threshold": 5, "iterations": 10},
            },
            "status": {"phase": "Succeeded", "lastAppliedSpec": "abc", "failedChecks": 0},
        }
    )
    decoded: JSON = json.loads(text)
    return decoded


def without(obj: JSON, *paths: str | tuple[str, ...]) -> JSON:
    """A deep copy of `obj` with `paths` (dotted, or tuples of keys) removed."""
    out = copy.deepcopy(obj)
    for path in paths:
        *parents, last = path.split(".") if isinstance(path, str) else path
        node = out
        for part in parents:
            node = node[part]
        node.pop(last, None)
    return out


def deep_size(objects: list[JSON]) -> int:
    seen: set[int] = set()
    total, stack = 0, list[Any](objects)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list):
            stack += obj
    return total


# ------------------------------------------------------------------ slimming


def test_slim_drops_managed_fields_service_status_and_canary_last_applied_only() -> None:
    full_dep, full_svc, full_canary = (
        deployment("web"),
        service("web", canary_uid="c"),
        canary_body(),
    )
    before = copy.deepcopy([full_dep, full_svc, full_canary])

    assert slim("Deployment", full_dep) == without(before[0], "metadata.managedFields")
    assert slim("Service", full_svc) == without(before[1], "metadata.managedFields", "status")
    assert slim("Canary", full_canary) == without(
        before[2], "metadata.managedFields", ("metadata", "annotations", LAST_APPLIED)
    )
    # Unknown kinds lose only managedFields.
    assert slim("ConfigMap", {"metadata": {"name": "c", "managedFields": []}, "data": {}}) == {
        "metadata": {"name": "c"},
        "data": {},
    }
    # The caller's objects keep every field.
    assert [full_dep, full_svc, full_canary] == before


def test_packed_objects_are_a_fraction_of_the_decoded_ones_and_read_back_equal() -> None:
    full = [deployment(f"web-{i}", uid=f"u{i}") for i in range(100)]
    packed = [pack("Deployment", copy.deepcopy(d)) for d in full]
    # What a cache holds: the bytes, a fraction of the decoded dicts' memory.
    assert sum(sys.getsizeof(blob) for _, blob in packed) < 0.35 * deep_size(full)
    # Each read is a fresh copy, equal to the slim object.
    for original, (thin, blob) in zip(full, packed, strict=True):
        first, second = unpack(blob), unpack(blob)
        assert first == thin == without(original, "metadata.managedFields")
        assert first is not second and first["spec"] is not second["spec"]


async def test_a_reader_changing_what_it_read_leaves_the_cache_alone() -> None:
    informer = Informer(cast(KubeApi, None), kinds.DEPLOYMENT)
    informer.store(deployment("web"))
    got = informer.get(NS, "web")
    assert got is not None
    got["spec"]["replicas"] = 99
    got["metadata"]["labels"]["team"] = "changed"
    again = informer.get(NS, "web")
    assert again is not None
    assert again["spec"]["replicas"] != 99 and again["metadata"]["labels"]["team"] != "changed"
    assert len(informer) == 1 and informer.cached() == [(NS, "web")]


def test_readers_of_a_slim_deployment_get_what_the_full_one_gives() -> None:
    full_target, full_primary = deployment("web"), deployment("web-primary", image="old:1")
    target = slim("Deployment", copy.deepcopy(full_target))
    primary = slim("Deployment", copy.deepcopy(full_primary))
    canary = canary_body()

    assert revision_hash(target, kind="Deployment") == revision_hash(full_target, kind="Deployment")
    assert selector_label(target) == selector_label(full_target)
    for check in (readiness.canary_readiness, readiness.primary_readiness):
        assert check(target, threshold=100, deadline_seconds=600, now=NOW) == check(
            full_target, threshold=100, deadline_seconds=600, now=NOW
        )
    common: JSON = {
        "label": "app",
        "value": "web",
        "tracked": set(),
        "include_label_prefixes": ("*",),
        "revision": "r1",
    }
    assert primary_workload.render_primary_deployment(
        target, canary=canary, **common
    ) == primary_workload.render_primary_deployment(full_target, canary=canary, **common)
    # Promotion copies the primary as cached: the slim one gives the same update, less the
    # managedFields a PUT may omit.
    promoted = primary_workload.promote_deployment(primary, target, has_autoscaler=False, **common)
    promoted_full = primary_workload.promote_deployment(
        full_primary, full_target, has_autoscaler=False, **common
    )
    assert promoted == without(promoted_full, "metadata.managedFields")
    assert promoted["spec"]["template"]["spec"] == full_target["spec"]["template"]["spec"]


def test_readers_of_a_slim_service_and_canary_get_what_the_full_ones_give() -> None:
    full_canary = canary_body()
    body = slim("Canary", copy.deepcopy(full_canary))
    parsed, parsed_full = parse_canary(body), parse_canary(full_canary)
    assert (parsed.name, parsed.namespace, parsed.spec) == (
        parsed_full.name,
        parsed_full.namespace,
        parsed_full.spec,
    )
    assert parsed.raw == without(
        full_canary, "metadata.managedFields", ("metadata", "annotations", LAST_APPLIED)
    )
    assert body["status"] == full_canary["status"]
    assert body["metadata"]["annotations"] == {"keep": "me"}

    full_svc = service("web-primary", canary_uid="c-uid")
    svc = slim("Service", copy.deepcopy(full_svc))
    wanted = desired_services(
        parse_canary(full_canary),
        canary_uid="c-uid",
        label="app",
        value="web",
        target_pod_spec=None,
    ).primary
    args: JSON = {"canary_uid": "c-uid", "unmanaged_labels": (), "unmanaged_annotations": ()}
    change = reconcile_service(svc, wanted, **args)
    change_full = reconcile_service(full_svc, wanted, **args)
    assert isinstance(change, Update) and isinstance(change_full, Update)
    assert change.body == without(dict(change_full.body), "metadata.managedFields")
    assert change.body["spec"]["clusterIP"] == "10.96.0.7"
    # The apex hand-back still finds kubectl's last-applied selector on a slim Service.
    user_svc = without(full_svc, "metadata.ownerReferences")
    reverted = revert_apex(slim("Service", copy.deepcopy(user_svc)), label="app", value="x")
    reverted_full = revert_apex(user_svc, label="app", value="x")
    assert reverted is not None and reverted_full is not None
    assert reverted["spec"]["selector"] == {"app": "web"}
    assert reverted == without(reverted_full, "metadata.managedFields")


# ------------------------------------------------- the informer over a real HTTP server


class FakeApiServer:
    """Services in one namespace over HTTP: paged lists, and watches that record their
    parameters (the first sends an event then a bookmark and closes; later ones hang)."""

    def __init__(self, count: int) -> None:
        self.items = [service(f"svc-{i:04d}", canary_uid="c-uid") for i in range(count)]
        self.lists: list[dict[str, str]] = []
        self.watches: list[dict[str, str]] = []
        self.resumed = asyncio.Event()
        self.closing = asyncio.Event()
        self.informer: Informer | None = None
        self.cached_at_request: list[int] = []  # the informer's object count at each list

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        if query.get("watch") == "true":
            return await self._watch(request, query)
        self.lists.append(query)
        self.cached_at_request.append(len(self.informer) if self.informer is not None else -1)
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or len(self.items))
        page = self.items[start : start + limit]
        more = start + limit < len(self.items)
        meta = {"resourceVersion": "2000", **({"continue": str(start + limit)} if more else {})}
        return web.json_response({"kind": "ServiceList", "metadata": meta, "items": page})

    async def _watch(self, request: web.Request, query: dict[str, str]) -> web.StreamResponse:
        self.watches.append(query)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        if len(self.watches) > 1:
            self.resumed.set()
            await self.closing.wait()  # until the test is done
            return response
        changed = service("svc-0000", canary_uid="c-uid")
        changed["metadata"]["resourceVersion"] = "2001"
        changed["spec"]["selector"] = {"app": "web-canary"}
        bookmark = {"kind": "Service", "apiVersion": "v1", "metadata": {"resourceVersion": "2500"}}
        for event in (
            {"type": "MODIFIED", "object": changed},
            {"type": "BOOKMARK", "object": bookmark},
        ):
            await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
        return response


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeApiServer, LightkubeApi]]:
    fake = FakeApiServer(LIST_PAGE + 3)
    app = web.Application()
    app.router.add_get(f"/api/v1/namespaces/{NS}/services", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api = LightkubeApi.from_dict(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": NS}}],
            "current-context": "c",
        }
    )
    try:
        yield fake, api
    finally:
        fake.closing.set()
        await api.close()
        await runner.cleanup()


async def test_the_informer_lists_in_pages_and_resumes_from_a_bookmark(
    server: tuple[FakeApiServer, LightkubeApi],
) -> None:
    fake, api = server
    informer = Informer(api, kinds.SERVICE, namespace=NS)
    fake.informer = informer
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(fake.resumed.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # Two pages of at most LIST_PAGE objects, the second asked for with the continue token.
    assert [q.get("limit") for q in fake.lists] == [str(LIST_PAGE)] * 2
    assert [q.get("continue") for q in fake.lists] == [None, str(LIST_PAGE)]
    assert api.requests["list"] == 2
    # The first page was in the cache before the second was asked for: a relist never
    # holds a second copy of the whole collection.
    assert fake.cached_at_request == [0, LIST_PAGE]
    assert len(informer) == LIST_PAGE + 3 and informer.relists == 1
    # The watch asked for bookmarks, and the next one resumed from the bookmark's version,
    # not from the last object event's (which the server may have compacted away).
    assert fake.watches[0]["allowWatchBookmarks"] == "true"
    assert fake.watches[0]["resourceVersion"] == "2000"
    assert fake.watches[1]["resourceVersion"] == "2500"
    # Listed and watched objects are stored slim.
    changed = informer.get(NS, "svc-0000")
    assert changed is not None and changed["spec"]["selector"] == {"app": "web-canary"}
    for obj in (
        changed,
        informer.get(NS, f"svc-{LIST_PAGE + 2:04d}"),
        informer.get(NS, "svc-0002"),
    ):
        assert obj is not None
        assert "managedFields" not in obj["metadata"] and "status" not in obj
        assert obj["metadata"]["annotations"][LAST_APPLIED]


def test_observe_stores_a_write_slim_and_leaves_the_callers_object_whole() -> None:
    informer = Informer(None, kinds.SERVICE)  # type: ignore[arg-type]  # observe needs no API
    written = service("web", canary_uid="c-uid")
    informer.observe(written)
    cached = informer.get(NS, "web")
    assert cached is not None and "managedFields" not in cached["metadata"]
    assert "status" not in cached
    assert written["metadata"]["managedFields"] == MANAGED and written["status"]
    older = service("web", canary_uid="c-uid")
    older["metadata"]["resourceVersion"] = "1299"
    informer.observe(older)
    assert informer.get(NS, "web") == cached  # an older write never replaces a newer one
    assert cached["metadata"]["resourceVersion"] != "1299"


async def test_a_relist_keeps_a_write_newer_than_its_snapshot() -> None:
    """A list is read in pages while ticks write: what the controller wrote after the
    snapshot must not be rolled back, nor an object it created deleted."""

    class Listing:
        def __init__(self, informer: Informer) -> None:
            self.informer = informer

        async def list(self, kind: Any, **_: Any) -> tuple[list[JSON], str]:
            newer = deployment("web")
            newer["metadata"]["resourceVersion"] = "3001"
            self.informer.observe(newer)  # written while the list was being read
            created = deployment("made-during-list")
            created["metadata"]["resourceVersion"] = "3002"
            self.informer.observe(created)
            return [deployment("web"), deployment("other")], "3000"

    informer = Informer(None, kinds.DEPLOYMENT)  # type: ignore[arg-type]
    informer.api = Listing(informer)  # type: ignore[assignment]
    changes: list[tuple[str | None, str | None]] = []
    informer.listeners.append(
        lambda _k, old, new: changes.append(
            (old and old["metadata"]["name"], new and new["metadata"]["name"])
        )
    )
    await informer._relist()
    web_cached = informer.get(NS, "web")
    assert web_cached is not None and web_cached["metadata"]["resourceVersion"] == "3001"
    assert informer.get(NS, "made-during-list") is not None
    assert informer.get(NS, "other") is not None
    assert changes == [(None, "web"), (None, "made-during-list"), (None, "other")]


def _client_ssl_context(api: LightkubeApi) -> Any:
    """The TLS context lightkube's httpx client was built with."""
    return api.client._client._client._transport._pool._ssl_context  # type: ignore[attr-defined]


def _kubeconfig(server: str, **cluster: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }


async def test_plain_http_kubeconfig_loads_no_ca_bundle() -> None:
    """A CA-less plain-HTTP kubeconfig (the local cluster's) builds no verifying TLS
    context: lightkube's default loads the whole system CA bundle (about 3 MiB) for it."""
    api = LightkubeApi.from_dict(_kubeconfig("http://127.0.0.1:1"))
    try:
        ctx = _client_ssl_context(api)
        assert ctx.cert_store_stats()["x509_ca"] == 0
    finally:
        await api.close()


async def test_https_kubeconfig_keeps_verification() -> None:
    api = LightkubeApi.from_dict(_kubeconfig("https://127.0.0.1:1"))
    try:
        ctx = _client_ssl_context(api)
        assert ctx.verify_mode.name == "CERT_REQUIRED" and ctx.check_hostname
        assert ctx.cert_store_stats()["x509_ca"] > 0
    finally:
        await api.close()
