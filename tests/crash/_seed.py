"""The seed scenario (blue/green, kubernetes provider, confirm-promotion gate closed then
opened) as a function that can crash the controller after any of its writes.

`run_seed(crash_after=N)` kills the first controller right after its N-th write, starts a
fresh one, drives the scenario to completion at the same logical points as the uninterrupted
run, and returns what happened: the writes, the final state, and every invariant violation
seen on the way (store invariants after every store change, webhook rule over the gate calls,
ERROR log records).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ensign.testing import manifests as m
from ensign.testing.crash import CrashHarness, ReadyOnHold, RecordingGate, Write
from ensign.testing.gate import Call
from ensign.testing.invariants import HookCall, StoreMonitor, check_hook_calls, gate_call
from ensign.workloads.revision import revision_hash

NS = "test"
NAME = "podinfo"
OLD_IMAGE = "ghcr.io/stefanprodan/podinfo:6.7.0"
NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.8.0"
GATE = "promote"
EVENTS = "events"  # the canary's event webhook, on the same recording server
CHAT = "chat"  # a Slack-type AlertProvider's address, on the same recording server
# New pods get ready only once the controller has recorded a "not ready" hold for their
# rollout (`ReadyOnHold`): every rollout is seen unfinished exactly once, whatever the load,
# so write N is the same write on every run. A wall-clock delay (80 ms here before) was
# sometimes over before the controller looked on a loaded CI machine: one hold fewer in the
# uninterrupted run, and every later position compared against the wrong write.
READY_DELAY = None
INTERVAL = "100ms"
SETTLE = 0.2  # no write and no store change for this long: the run is over
STEP_TIMEOUT = 10.0


class ErrorRecords(logging.Handler):
    """Collects ERROR (and worse) records of the `ensign` loggers."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, *, exclude: tuple[str, ...] = ()) -> list[str]:
        """The records as text, leaving out loggers under any of the `exclude` prefixes."""
        out = []
        for r in self.records:
            if r.name.startswith(exclude):
                continue
            text = f"{r.name}: {r.getMessage()}"
            if r.exc_info and r.exc_info[1] is not None:
                text += f" ({type(r.exc_info[1]).__name__}: {r.exc_info[1]})"
            out.append(text)
        return out


@contextlib.contextmanager
def capture_errors() -> Any:
    handler = ErrorRecords()
    logger = logging.getLogger("ensign")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@dataclass
class SeedRun:
    crash_after: int | None
    writes: list[Write] = field(default_factory=list)
    crash_write: Write | None = None
    restarts: int = 0
    final: dict[str, Any] = field(default_factory=dict)
    store_violations: list[str] = field(default_factory=list)
    hook_violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    steps: int = 0  # how many times the store invariants ran
    gate_calls: list[HookCall] = field(default_factory=list)
    # Deliveries at the real receivers: event webhook posts (type, message) and alert texts.
    event_posts: list[tuple[str, str]] = field(default_factory=list)
    alert_posts: list[str] = field(default_factory=list)
    # The Events in the cluster at the end: (type, message, count), sorted.
    events: list[tuple[str, str, int]] = field(default_factory=list)
    event_names: set[str] = field(default_factory=set)
    # Every Event a decision recorded in status.outbox, over the canary's whole history:
    # the name its delivery must create → its message.
    committed: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        return (
            [f"store: {v}" for v in self.store_violations]
            + [f"webhook: {v}" for v in self.hook_violations]
            + [f"log: {e}" for e in self.errors]
        )


def final_state(h: CrashHarness) -> dict[str, Any]:
    canary = h.canary(NS, NAME)
    status = canary.get("status") or {}
    primary = h.get("Deployment", NS, f"{NAME}-primary") or {}
    target = h.get("Deployment", NS, NAME) or {}

    def image(d: dict[str, Any]) -> str:
        containers = (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or [{}]
        return str(containers[0].get("image"))

    def selector(name: str) -> Any:
        svc = h.get("Service", NS, name)
        return None if svc is None else (svc.get("spec") or {}).get("selector")

    return {
        "outbox": status.get("outbox") or {},  # side effects not delivered: none at the end
        "phase": status.get("phase"),
        "lastAppliedSpec": status.get("lastAppliedSpec"),
        "lastPromotedSpec": status.get("lastPromotedSpec"),
        "canaryWeight": status.get("canaryWeight"),
        "iterations": status.get("iterations"),
        "failedChecks": status.get("failedChecks"),
        "trackedConfigs": status.get("trackedConfigs"),
        "conditions": sorted(
            (c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
            for c in status.get("conditions") or []
        ),
        "primary.image": image(primary),
        "primary.replicas": (primary.get("spec") or {}).get("replicas"),
        "primary.readyReplicas": (primary.get("status") or {}).get("readyReplicas"),
        "primary.template": (primary.get("spec") or {}).get("template", {}).get("spec"),
        "canary.image": image(target),
        "canary.replicas": (target.get("spec") or {}).get("replicas"),
        "canary.revision": revision_hash(target, kind="Deployment") if target else None,
        "service.apex": selector(NAME),
        "service.primary": selector(f"{NAME}-primary"),
        "service.canary": selector(f"{NAME}-canary"),
    }


async def _settle(h: CrashHarness, *, quiet: float = SETTLE, timeout: float = STEP_TIMEOUT) -> None:
    """Wait until neither the controller nor the cluster changed anything for `quiet` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    marker = (len(h.writes), h.cluster.store.resource_version)
    since = loop.time()
    while loop.time() - since < quiet:
        if loop.time() > deadline:
            raise TimeoutError("the cluster never settled")
        await asyncio.sleep(0.02)
        now = (len(h.writes), h.cluster.store.resource_version)
        if now != marker:
            marker, since = now, loop.time()


async def run_seed(crash_after: int | None = None) -> SeedRun:
    result = SeedRun(crash_after=crash_after)
    gate = await RecordingGate().start()
    try:
        with capture_errors() as errors:
            async with CrashHarness(
                crash_after=crash_after, ready_delay=READY_DELAY, min_interval=0.1
            ) as h:
                monitor = StoreMonitor(h.cluster.store).start()
                holds = ReadyOnHold(h.cluster.store, h.cluster.workloads).start()

                def on_call(call: Call, code: int) -> None:
                    if call.path == EVENTS:
                        meta = call.body.get("metadata") or {}
                        posted = (str(meta.get("eventType")), str(meta.get("eventMessage")))
                        result.event_posts.append(posted)
                        return
                    if call.path == CHAT:
                        for attachment in call.body.get("attachments") or []:
                            result.alert_posts.append(str(attachment.get("text")))
                        return
                    result.gate_calls.append(
                        gate_call(
                            h.get("Canary", NS, NAME),
                            hook_type="confirm-promotion",
                            path=call.path,
                            body=call.body,
                            ok=200 <= code < 300,
                            incarnation=h.incarnation,
                        )
                    )

                gate.on_call.append(on_call)
                supervisor = (
                    asyncio.create_task(h.restart_after_crash())
                    if crash_after is not None
                    else None
                )
                try:
                    await _drive(h, gate)
                    if supervisor is not None:
                        # the crash may come after Succeeded (a late write position)
                        result.crash_write = await asyncio.wait_for(supervisor, STEP_TIMEOUT)
                        await h.first_tick_done(STEP_TIMEOUT)
                        await h.wait_phase(NS, NAME, "Succeeded", timeout=STEP_TIMEOUT)
                    await _settle(h)
                finally:
                    if supervisor is not None and not supervisor.done():
                        supervisor.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await supervisor
                    monitor.stop()
                    holds.stop()
                result.final = final_state(h)
                events, _, _ = h.cluster.store.list(h.type("", "v1", "events"), NS)
                result.events = sorted(
                    (str(e.get("type")), str(e.get("message")), int(e.get("count") or 1))
                    for e in events
                )
                result.event_names = {str(e["metadata"]["name"]) for e in events}
                for change in h.cluster.store.history_since(("flagger.app", "canaries"), 0):
                    box = (change.obj.get("status") or {}).get("outbox") or {}
                    for ident, entry in box.items():
                        if entry and entry.get("effect") == "event":
                            result.committed[f"{NAME}.{ident}"] = str(entry.get("message"))
                result.writes = list(h.writes)
                result.restarts = h.restarts
                result.steps = monitor.checks
                result.store_violations = monitor.messages()
            result.hook_violations = check_hook_calls(result.gate_calls)
            result.errors = errors.messages()
    finally:
        await gate.stop()
    return result


async def _drive(h: CrashHarness, gate: RecordingGate) -> None:
    gate.close(GATE)
    canary = m.canary(
        NAME,
        NS,
        interval=INTERVAL,
        webhooks=[
            m.hook("gate", "confirm-promotion", gate.url(GATE)),
            m.hook("events", "event", gate.url(EVENTS)),
        ],
    )
    canary["spec"]["analysis"]["alerts"] = [
        {"name": "chat", "severity": "info", "providerRef": {"name": "chat"}}
    ]
    await h.apply(
        m.namespace(NS),
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "AlertProvider",
            "metadata": {"name": "chat", "namespace": NS},
            "spec": {"type": "slack", "channel": "deploys", "address": gate.url(CHAT)},
        },
        m.deployment(NAME, NS, image=OLD_IMAGE),
        canary,
    )
    h.cluster.workloads.release(NS, NAME)  # the user's own rollout: no hold of Ensign's
    await h.wait_phase(NS, NAME, "Initialized", timeout=STEP_TIMEOUT)
    await _settle(h)
    h.set_image(NS, NAME, NEW_IMAGE)
    # no settling here: the status write that enters WaitingPromotion is the tick's last,
    # and later ticks with the gate closed write nothing
    await h.wait_phase(NS, NAME, "WaitingPromotion", timeout=STEP_TIMEOUT)
    gate.open(GATE)
    await h.wait_phase(NS, NAME, "Succeeded", timeout=STEP_TIMEOUT)
