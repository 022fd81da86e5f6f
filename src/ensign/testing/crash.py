"""Kill the controller right after its N-th API write, then restart it. Does I/O.

`CrashingApi` wraps a real `KubeApi` and numbers the controller's writes (create, replace,
patch, patch_status, delete) in the order they are issued. Write N is sent and completes on
the server (a write the server refuses counts too); then the calling task freezes (it
awaits an event that never fires), the `crashed` event is set, and every later write, from
any task, freezes *before* it is sent. Nothing the
frozen controller does after write N can reach the cluster, so stopping it (which cancels
the frozen tasks) is indistinguishable from a SIGKILL delivered the moment write N was
acknowledged: the controller never even saw the answer.

Freezing rather than raising keeps the runtime's own error handling out of the picture: a
dedicated exception would be caught by the tick and logged as a failed tick, and a retry
could slip in another write before the harness reacts.

`CrashHarness` is a `Harness` whose controller talks through a `CrashingApi`; only the
first incarnation crashes, every restarted controller gets a plain (but still counting)
wrapper::

    async with CrashHarness(crash_after=7) as h:
        supervisor = asyncio.create_task(h.restart_after_crash())
        ...drive the scenario...

Reads and watches pass through untouched.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from ensign.kube.api import JSON, KubeApi
from ensign.kube.client import LightkubeApi
from ensign.kube.kinds import Kind
from ensign.localcluster.errors import ApiError
from ensign.localcluster.faults import Faults
from ensign.localcluster.store import Store, Subscription, WatchEvent
from ensign.localcluster.workloads import WorkloadSimulator
from ensign.runtime.app import Controller, Settings
from ensign.testing.gate import Call, GateServer
from ensign.testing.harness import Harness

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Write:
    """One write the controller issued: its number (1-based, across incarnations), the
    incarnation (0 for the first controller) and what it wrote."""

    number: int
    incarnation: int
    verb: str
    kind: str
    namespace: str
    name: str
    ok: bool = True

    def describe(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        failed = "" if self.ok else " (failed)"
        return f"#{self.number} {self.verb} {self.kind} {where}{failed}"


class CrashingApi:
    """A `KubeApi` that lets write number `crash_after` complete and then freezes.

    `writes` is shared with the caller (pass the same list to every incarnation to number
    writes across restarts). `crash_after=None` only counts.
    """

    def __init__(
        self,
        inner: KubeApi,
        *,
        crash_after: int | None = None,
        writes: list[Write] | None = None,
        incarnation: int = 0,
    ) -> None:
        self.inner = inner
        self.crash_after = crash_after
        self.writes: list[Write] = writes if writes is not None else []
        self.incarnation = incarnation
        self.issued = 0  # writes this incarnation started (sent or frozen)
        self.crashed = asyncio.Event()
        self.frozen = 0  # tasks currently frozen
        self._never = asyncio.Event()  # never set: frozen tasks wait here until cancelled

    @property
    def own_writes(self) -> int:
        return sum(1 for w in self.writes if w.incarnation == self.incarnation)

    async def _freeze(self) -> None:
        self.frozen += 1
        try:
            await self._never.wait()
        finally:
            self.frozen -= 1

    async def _write(
        self,
        verb: str,
        kind: Kind,
        namespace: str | None,
        name: str,
        call: Callable[[], Awaitable[T]],
    ) -> T:
        if self.crashed.is_set():
            await self._freeze()
        self.issued += 1
        position = self.issued
        if self.crash_after is not None and position > self.crash_after:
            await self._freeze()  # a concurrent write issued after write N: never sent
        error: Exception | None = None
        try:
            result = await call()
        except Exception as exc:  # a failed write still counts: the crash follows it
            error = exc
        self.writes.append(
            Write(
                number=len(self.writes) + 1,
                incarnation=self.incarnation,
                verb=verb,
                kind=kind.kind,
                namespace=namespace or "",
                name=name,
                ok=error is None,
            )
        )
        if self.crash_after is not None and position == self.crash_after:
            self.crashed.set()
            await self._freeze()
        if error is not None:
            raise error
        return result

    # ------------------------------------------------------------- reads

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> JSON:
        return await self.inner.get(kind, name, namespace=namespace)

    async def list(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> tuple[list[JSON], str]:
        return await self.inner.list(kind, namespace=namespace, labels=labels)

    def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        resource_version: str,
        timeout_seconds: int = 300,
        labels: str | None = None,
    ) -> AsyncIterator[tuple[str, JSON]]:
        return self.inner.watch(
            kind,
            namespace=namespace,
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
            labels=labels,
        )

    # ------------------------------------------------------------ writes

    async def create(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        meta = obj.get("metadata") or {}
        return await self._write(
            "create",
            kind,
            meta.get("namespace"),
            str(meta.get("name") or meta.get("generateName") or ""),
            lambda: self.inner.create(kind, obj),
        )

    async def replace(self, kind: Kind, obj: Mapping[str, Any]) -> JSON:
        meta = obj.get("metadata") or {}
        return await self._write(
            "replace",
            kind,
            meta.get("namespace"),
            str(meta.get("name") or ""),
            lambda: self.inner.replace(kind, obj),
        )

    async def patch(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        return await self._write(
            "patch",
            kind,
            namespace,
            name,
            lambda: self.inner.patch(kind, name, patch, namespace=namespace),
        )

    async def patch_status(
        self, kind: Kind, name: str, patch: Mapping[str, Any], *, namespace: str | None = None
    ) -> JSON:
        return await self._write(
            "patch_status",
            kind,
            namespace,
            name,
            lambda: self.inner.patch_status(kind, name, patch, namespace=namespace),
        )

    async def delete(self, kind: Kind, name: str, *, namespace: str | None = None) -> None:
        await self._write(
            "delete",
            kind,
            namespace,
            name,
            lambda: self.inner.delete(kind, name, namespace=namespace),
        )


class CrashHarness(Harness):
    """A `Harness` whose first controller crashes right after write `crash_after`.

    Every incarnation's writes are numbered in one list, `writes`; `restarts` counts the
    restarts `restart_after_crash` performed and `on_restart` callbacks run right after the
    crashed controller is stopped (before the new one starts). `client_timeout` is the
    lightkube client's timeout (watches have no read timeout).
    """

    def __init__(
        self,
        *,
        crash_after: int | None = None,
        ready_delay: float | None = 0.05,
        min_interval: float = 0.1,
        start_controller: bool = True,
        client_timeout: float = 10.0,
        concurrency: int = 16,
        gateway_api: bool = False,
        istio: bool = False,
    ) -> None:
        super().__init__(
            ready_delay=ready_delay,
            min_interval=min_interval,
            start_controller=start_controller,
            gateway_api=gateway_api,
            istio=istio,
        )
        self.crash_after = crash_after
        self.client_timeout = client_timeout
        self.concurrency = concurrency
        self.writes: list[Write] = []
        self.incarnation = -1
        self.restarts = 0
        self.crashing: CrashingApi | None = None
        self.on_restart: list[Callable[[], None]] = []

    async def __aenter__(self) -> CrashHarness:
        await super().__aenter__()
        return self

    async def start(self) -> Controller:
        """Start (or restart) the controller; only the first incarnation may crash."""
        self.incarnation += 1
        self.api = LightkubeApi.from_dict(self.cluster.kubeconfig(), timeout=self.client_timeout)
        self.crashing = CrashingApi(
            self.api,
            crash_after=self.crash_after if self.incarnation == 0 else None,
            writes=self.writes,
            incarnation=self.incarnation,
        )
        self.controller = Controller(
            self.crashing,
            Settings(
                serve_http=False,
                min_interval=self.min_interval,
                watch_timeout=60,
                concurrency=self.concurrency,
                leader_election=False,  # one controller; tests/leader/ covers the election
            ),
        )
        await self.controller.start()
        return self.controller

    async def restart_after_crash(self) -> Write | None:
        """Wait for the crash, stop the frozen controller, start a fresh one.

        Returns the last write the crashed controller made (write `crash_after`).
        """
        crashing = self.crashing
        assert crashing is not None, "start the harness first"
        await crashing.crashed.wait()
        await self.stop()
        self.restarts += 1
        for callback in self.on_restart:
            callback()
        await self.start()
        return next((w for w in reversed(self.writes) if w.incarnation == 0), None)

    async def first_tick_done(self, timeout: float = 10.0) -> None:
        """Wait until the running controller has ended a tick: a run must not be judged
        settled before a restarted controller has even looked (a loaded machine can take
        longer to start one than the quiet window a settle waits for)."""
        controller = self.controller
        assert controller is not None, "start the harness first"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while controller.reconciler.ticks_done == 0:
            if loop.time() > deadline:
                raise TimeoutError("the controller never ended a tick")
            await asyncio.sleep(0.01)


# "<name>.<namespace> not ready: ..." in a hold's Event ("canary deployment podinfo.test not
# ready: waiting for rollout to finish: ...", "podinfo-primary.test not ready: ...").
_HOLD = re.compile(r"([a-z0-9][-a-z0-9]*)\.([a-z0-9][-a-z0-9]*) not ready: ")


@dataclass
class ReadyOnHold:
    """Finishes each rollout once the controller has recorded that it saw it unfinished.

    With a simulator whose pods wait for `release` (`ready_delay=None`), a run is the same
    on every machine: each rollout is seen unready exactly once, whatever the load, where a
    wall-clock ready delay can elapse before the controller's next look on a busy machine
    (one hold, one Event and one status write fewer, and every later write number shifted).
    The signal is the hold's Event entering `status.outbox`: the decision is committed, so a
    controller killed right after still delivers it, and one killed before makes it again.
    `released` lists what was released, in order.
    """

    store: Store
    simulator: WorkloadSimulator
    released: list[tuple[str, str]] = field(default_factory=list)
    _subscription: Subscription | None = None

    def start(self) -> ReadyOnHold:
        self._subscription = self.store.subscribe(("flagger.app", "canaries"), self._on_event)
        return self

    def stop(self) -> None:
        if self._subscription is not None:
            self.store.unsubscribe(self._subscription)
            self._subscription = None

    def _on_event(self, event: WatchEvent) -> None:
        outbox = (event.obj.get("status") or {}).get("outbox") or {}
        for entry in outbox.values():
            if not entry or entry.get("effect") != "event":
                continue
            found = _HOLD.search(str(entry.get("message") or ""))
            if found is None:
                continue
            name, namespace = found.group(1), found.group(2)
            for kind in ("Deployment", "DaemonSet"):
                if self.simulator.release(namespace, name, kind=kind):
                    self.released.append((namespace, name))


@dataclass(slots=True)
class RecordingGate(GateServer):
    """A `GateServer` that also keeps each call's HTTP answer (`codes[i]` for `calls[i]`)
    and runs `on_call(call, code)` callbacks synchronously as the call arrives, so a test
    can note what the cluster looked like at that very moment."""

    codes: list[int] = field(default_factory=list)
    on_call: list[Callable[[Call, int], None]] = field(default_factory=list)

    async def start(self) -> RecordingGate:
        await GateServer.start(self)
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        response = await GateServer._handle(self, request)
        call = self.calls[-1]  # appended by the parent with no await since
        self.codes.append(response.status)
        for callback in self.on_call:
            callback(call, response.status)
        return response


TIMEOUT = -1  # `RandomFaults.outcomes` entry: delay the request past the client's timeout
MUTATING = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(slots=True)
class RandomFaults(Faults):
    """`Faults` that also fail a random `rate` of requests, reproducibly (seeded).

    Each unlucky request draws one of `outcomes`: an HTTP code (409 only for mutating
    verbs; a read or a watch draws again among the others) or `TIMEOUT`, which holds the
    request `timeout_delay` seconds before serving it, so a client with a shorter timeout
    gives up not knowing whether a write was applied (the local cluster reads the body only
    after the delay, so in practice it sees the client gone and drops the write).
    Timeouts are never applied to watches (their client has no read timeout). The
    explicit rules of `Faults` (`fail_next`, `add_latency`) still apply first.
    `counts` tallies what was injected, by outcome.
    """

    rate: float = 0.05
    outcomes: tuple[int, ...] = (500, 409, TIMEOUT)
    timeout_delay: float = 1.5
    seed: int = 0
    enabled: bool = True
    counts: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def before_request(
        self, *, verb: str, resource: str, namespace: str, name: str
    ) -> tuple[float, ApiError | None]:
        delay, error = Faults.before_request(
            self, verb=verb, resource=resource, namespace=namespace, name=name
        )
        self.requests += 1
        if error is not None or not self.enabled or self._rng.random() >= self.rate:
            return delay, error
        choices = [
            o
            for o in self.outcomes
            if (o != 409 or verb in MUTATING) and (o != TIMEOUT or verb != "watch")
        ]
        if not choices:
            return delay, None
        outcome = self._rng.choice(choices)
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if outcome == TIMEOUT:
            return delay + self.timeout_delay, None
        reason = {409: "Conflict", 504: "Timeout"}.get(outcome, "InternalError")
        return delay, ApiError(outcome, reason, f"injected random fault ({verb} {resource})")
