"""The crash kit itself: `CrashingApi` freezes at the right write, the invariant checks fire."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from ensign.crds import load_crds
from ensign.kube import kinds
from ensign.kube.api import JSON, Conflict
from ensign.kube.kinds import Kind
from ensign.localcluster.store import Store
from ensign.testing import manifests as m
from ensign.testing.crash import CrashingApi
from ensign.testing.invariants import HookCall, StoreMonitor, check_hook_calls, check_store


class FakeApi:
    """Records the writes that reach it; `fail` makes the next write raise Conflict."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.fail = False

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON:
        return {}

    async def list(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> tuple[list[JSON], str]:
        return [], "1"

    async def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        resource_version: str,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[tuple[str, JSON]]:
        if False:
            yield "", {}

    async def _write(self, what: str) -> JSON:
        await asyncio.sleep(0)
        if self.fail:
            self.fail = False
            raise Conflict("injected")
        self.received.append(what)
        return {"metadata": {"name": what}}

    async def create(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        return await self._write(f"create {obj['metadata']['name']}")

    async def replace(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        return await self._write(f"replace {obj['metadata']['name']}")

    async def patch(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        return await self._write(f"patch {name}")

    async def patch_status(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        return await self._write(f"patch_status {name}")

    async def delete(self, kind: Kind, name: str, *, namespace: str | None = None) -> None:
        await self._write(f"delete {name}")


async def test_crashing_api_completes_write_n_then_freezes_every_write() -> None:
    fake = FakeApi()
    api = CrashingApi(fake, crash_after=2)
    await api.create(kinds.SERVICE, {"metadata": {"name": "a"}})
    await api.get(kinds.SERVICE, "a")  # reads never count
    second = asyncio.create_task(api.patch(kinds.SERVICE, "b", {}))
    await asyncio.wait_for(api.crashed.wait(), 1)
    third = asyncio.create_task(api.delete(kinds.SERVICE, "c"))
    await asyncio.sleep(0.05)
    assert fake.received == ["create a", "patch b"]  # write 2 landed, write 3 was never sent
    assert not second.done() and not third.done()  # both frozen until cancelled
    assert api.frozen == 2
    assert [w.describe() for w in api.writes] == ["#1 create Service a", "#2 patch Service b"]
    for task in (second, third):
        task.cancel()
    await asyncio.gather(second, third, return_exceptions=True)
    assert api.frozen == 0


async def test_a_failed_write_counts_and_the_crash_follows_it() -> None:
    fake = FakeApi()
    api = CrashingApi(fake, crash_after=1)
    fake.fail = True
    task = asyncio.create_task(api.patch_status(kinds.CANARY, "x", {}))
    await asyncio.wait_for(api.crashed.wait(), 1)
    assert [w.ok for w in api.writes] == [False]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_without_a_position_it_only_counts() -> None:
    api = CrashingApi(FakeApi())
    for name in "abc":
        await api.replace(kinds.DEPLOYMENT, {"metadata": {"name": name}})
    assert len(api.writes) == 3 and not api.crashed.is_set()


def _store() -> Store:
    store = Store()
    crd_type = store.type_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    for crd in load_crds():
        store.create(crd_type, "", copy.deepcopy(crd))
    store.create(store.type_for("", "v1", "namespaces"), "", m.namespace("test"))
    store.create(store.type_for("flagger.app", "v1beta1", "canaries"), "test", m.canary())
    return store


def _service(selector: dict[str, str]) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"selector": selector, "ports": [{"port": 80}]},
    }


def _set_ready(store: Store, name: str, ready: int) -> None:
    def change(obj: JSON) -> JSON:
        new = copy.deepcopy(obj)
        new["status"] = {"readyReplicas": ready, "replicas": ready}
        return new

    store.patch(
        store.type_for("apps", "v1", "deployments"), "test", name, change, subresource="status"
    )


def test_apex_selecting_an_unready_deployment_is_a_violation() -> None:
    store = _store()
    monitor = StoreMonitor(store).start()
    deployments = store.type_for("apps", "v1", "deployments")
    store.create(deployments, "test", m.deployment("podinfo-primary"))
    assert check_store(store) == []  # no apex yet
    store.create(store.type_for("", "v1", "services"), "test", _service({"app": "podinfo-primary"}))
    assert monitor.violations, "the apex selects a deployment with no ready replica"
    assert "podinfo-primary (0 ready)" in monitor.violations[-1].message
    _set_ready(store, "podinfo-primary", 2)
    assert check_store(store) == []
    monitor.stop()


def test_apex_selecting_nothing_and_primary_at_zero_are_violations() -> None:
    store = _store()
    deployments = store.type_for("apps", "v1", "deployments")
    primary = m.deployment("podinfo-primary", replicas=0)
    store.create(deployments, "test", primary)
    store.create(store.type_for("", "v1", "services"), "test", _service({"app": "nothing"}))
    problems = check_store(store)
    assert any("selects no workload" in p for p in problems)
    assert any("scaled to zero" in p for p in problems)


def _call(stage: str, ok: bool, incarnation: int, completed: bool = False) -> HookCall:
    return HookCall(stage=stage, ok=ok, incarnation=incarnation, completed=completed)


def test_hook_rule_allows_one_redelivery_right_after_a_restart() -> None:
    calls = [_call("s", False, 0), _call("s", True, 0), _call("s", True, 1), _call("t", True, 1)]
    assert check_hook_calls(calls) == []


def test_hook_rule_rejects_repeats_and_calls_after_completion() -> None:
    assert check_hook_calls([_call("s", True, 0), _call("s", True, 0)])  # same controller
    assert check_hook_calls([_call("s", True, 0), _call("s", False, 1), _call("s", True, 1)])
    assert check_hook_calls([_call("s", True, 0), _call("s", False, 1, completed=True)])
