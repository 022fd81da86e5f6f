"""Several controllers on one local cluster, each behind its own `Wire`.

`Wire` is the `KubeApi` between one controller and the cluster. It records every write that
reaches the cluster (with the loop time it was sent) and can cut the controller off:
`partition()` makes every request fail with Unavailable (reads, writes, open watches), as a
network partition would; `kill()` freezes every request for good, so nothing the controller
does afterwards reaches the cluster, like a SIGKILL (its lease is never released).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ensign.kube.api import JSON, KubeApi, Unavailable
from ensign.kube.client import LightkubeApi
from ensign.kube.kinds import Kind
from ensign.runtime.app import Controller, Settings
from ensign.testing import manifests as m
from ensign.testing.harness import Harness

T = TypeVar("T")

# Short, Flagger-shaped timings: lease 2 s, renew deadline 1 s, retry 0.2 s.
LEASE = 2.0
RENEW = 1.0
RETRY = 0.2
NS = "test"


@dataclass(frozen=True, slots=True)
class Sent:
    at: float
    verb: str
    kind: str
    namespace: str
    name: str


class Wire:
    def __init__(self, inner: KubeApi) -> None:
        self.inner = inner
        self.mode = "ok"  # ok | partitioned | dead
        self.sent: list[Sent] = []
        self._never = asyncio.Event()

    def partition(self) -> None:
        self.mode = "partitioned"

    def heal(self) -> None:
        self.mode = "ok"

    def kill(self) -> None:
        self.mode = "dead"

    def writes(self, *, since: float = 0.0, leases: bool = False) -> list[Sent]:
        return [w for w in self.sent if w.at >= since and (leases or w.kind != "Lease")]

    async def _pass(self) -> None:
        if self.mode == "partitioned":
            raise Unavailable("network partition (test)")
        if self.mode == "dead":
            await self._never.wait()

    async def _write(
        self,
        verb: str,
        kind: Kind,
        namespace: str | None,
        name: str,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        await self._pass()
        loop = asyncio.get_running_loop()
        self.sent.append(Sent(loop.time(), verb, kind.kind, namespace or "", name))
        return await call()

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON:
        await self._pass()
        return await self.inner.get(kind, name, namespace=namespace)

    async def list(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> tuple[list[JSON], str]:
        await self._pass()
        return await self.inner.list(kind, namespace=namespace, labels=labels)

    async def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        resource_version: str,
        timeout_seconds: int = 300,
        labels: str | None = None,
    ) -> AsyncIterator[tuple[str, JSON]]:
        await self._pass()
        stream = self.inner.watch(
            kind,
            namespace=namespace,
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
            labels=labels,
        )
        async for event in stream:
            await self._pass()
            yield event

    async def create(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        meta = obj.get("metadata") or {}
        return await self._write(
            "create", kind, meta.get("namespace"), str(meta.get("name") or ""),
            lambda: self.inner.create(kind, obj),
        )  # fmt: skip

    async def replace(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        meta = obj.get("metadata") or {}
        return await self._write(
            "replace", kind, meta.get("namespace"), str(meta.get("name") or ""),
            lambda: self.inner.replace(kind, obj),
        )  # fmt: skip

    async def patch(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        return await self._write(
            "patch", kind, namespace, name,
            lambda: self.inner.patch(kind, name, patch, namespace=namespace),
        )  # fmt: skip

    async def patch_status(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        return await self._write(
            "patch_status", kind, namespace, name,
            lambda: self.inner.patch_status(kind, name, patch, namespace=namespace),
        )  # fmt: skip

    async def delete(self, kind: Kind, name: str, *, namespace: str | None = None) -> None:
        await self._write(
            "delete", kind, namespace, name,
            lambda: self.inner.delete(kind, name, namespace=namespace),
        )  # fmt: skip


class Replica:
    """One controller process: its client, its wire, its controller."""

    def __init__(self, h: Harness, identity: str, **settings: Any) -> None:
        self.identity = identity
        self.client = LightkubeApi.from_dict(h.cluster.kubeconfig(), timeout=5.0)
        self.wire = Wire(self.client)
        options: dict[str, Any] = {
            "serve_http": False,
            "min_interval": h.min_interval,
            "watch_timeout": 60,
            "identity": identity,
            "lease_duration": LEASE,
            "renew_deadline": RENEW,
            "retry_period": RETRY,
        }
        options.update(settings)
        self.controller = Controller(self.wire, Settings(**options))
        self.led_at: float | None = None  # loop time it first became leader
        self._watch: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> Replica:
        await self.controller.start()
        self._watch = asyncio.create_task(self._note_leadership())
        return self

    async def _note_leadership(self) -> None:
        elector = self.controller.elector
        assert elector is not None
        await elector.is_leader.wait()
        self.led_at = asyncio.get_running_loop().time()

    @property
    def leading(self) -> bool:
        return self.controller.is_leader

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._watch is not None:
            self._watch.cancel()
        await self.controller.stop()
        await self.client.close()


def lease(h: Harness, name: str = "ensign-leader-election", namespace: str = "kube-system") -> JSON:
    obj = h.cluster.store.get(h.type("coordination.k8s.io", "v1", "leases"), namespace, name)
    return dict(obj)


def holder(h: Harness, name: str = "ensign-leader-election") -> str:
    try:
        return str(lease(h, name)["spec"].get("holderIdentity") or "")
    except Exception:
        return ""


def workload(name: str, *, labels: dict[str, str] | None = None, interval: str = "100ms",
             webhooks: list[JSON] | None = None) -> tuple[JSON, JSON]:  # fmt: skip
    """A Deployment and its Canary (labelled `labels`)."""
    canary = m.canary(name, NS, interval=interval, webhooks=webhooks)
    if labels:
        canary["metadata"]["labels"] = dict(labels)
    return m.deployment(name, NS), canary
