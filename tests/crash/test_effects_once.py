"""Side effects exactly once per decision across 409s, and no tick for the controller's own
writes.

Every status write of the canary is first answered 409 (the write is refused, as when
someone else changed the canary in between): the tick re-decides and writes again. The
receivers count what arrives: the Events in the cluster, the posts at the event webhook,
the post-rollout hook and the chat alerts. Before the outbox, each 409 repeated the
decision's Events, alerts and hooks.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from dataclasses import dataclass

from ensign.kube import kinds
from ensign.localcluster.errors import ApiError
from ensign.localcluster.faults import Faults
from ensign.routers.protocol import ReplaceObject
from ensign.testing import manifests as m
from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from tests.scenario.support import NEW_IMAGE, events

NS = "test"
NAME = "podinfo"


@dataclass(slots=True)
class ConflictFirst(Faults):
    """Answer 409 to every other status write of the canaries (the first of each pair)."""

    status_writes: int = 0
    conflicts: int = 0

    def before_request(
        self, *, verb: str, resource: str, namespace: str, name: str
    ) -> tuple[float, ApiError | None]:
        if verb == "patch" and resource == "canaries":
            self.status_writes += 1
            if self.status_writes % 2 == 1:
                self.conflicts += 1
                return 0.0, ApiError(409, "Conflict", "injected: the object has been modified")
        return Faults.before_request(
            self, verb=verb, resource=resource, namespace=namespace, name=name
        )


def _alert_texts(gate: GateServer) -> list[str]:
    return [
        str(a.get("text"))
        for call in gate.calls_to("chat")
        for a in call.body.get("attachments") or []
    ]


async def test_a_409_on_every_status_write_repeats_no_side_effect() -> None:
    gate = await GateServer().start()
    try:
        async with Harness(min_interval=0.1) as h:
            faults = ConflictFirst()
            h.cluster.faults = faults
            h.cluster.api.faults = faults
            canary = m.canary(
                interval="100ms",
                iterations=2,
                webhooks=[
                    m.hook("events", "event", gate.url("events")),
                    m.hook("post", "post-rollout", gate.url("post")),
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
                    "spec": {"type": "slack", "address": gate.url("chat")},
                },
                m.deployment(),
                canary,
            )
            await h.wait_phase(NS, NAME, "Initialized")
            h.set_image(NS, NAME, NEW_IMAGE)
            await h.wait_phase(NS, NAME, "Succeeded", timeout=20)
            await asyncio.sleep(0.3)  # anything repeated late would arrive now

            assert faults.conflicts >= 8  # every transition was refused once first
            recorded = events(h, NS)
            posted = [
                (c.body["metadata"]["eventType"], c.body["metadata"]["eventMessage"])
                for c in gate.calls_to("events")
            ]
            # Each Event once in the cluster, and forwarded once: none lost, none repeated.
            assert Counter(posted) == Counter(
                (e.type, e.message) for e in recorded for _ in range(e.count)
            )
            messages: Counter[str] = Counter()
            for e in recorded:  # an aggregated repeat (count 2) counts twice
                messages[e.message] += e.count
            for once in (
                "Initialization done! podinfo.test",
                "New revision detected! Scaling up podinfo.test",
                "Starting canary analysis for podinfo.test",
                "Advance podinfo.test canary iteration 1/2",
                "Advance podinfo.test canary iteration 2/2",
                "Copying podinfo.test template spec to podinfo-primary.test",
                "Post-rollout check post passed",
                "Promotion completed! Scaling down podinfo.test",
            ):
                assert messages[once] == 1, (once, messages)
            assert len(gate.calls_to("post")) == 1
            assert _alert_texts(gate) == [
                "New Deployment detected, initialization completed.",
                "New revision detected, progressing canary analysis.",
                "Canary analysis completed successfully, promotion finished.",
            ]
            assert (h.canary(NS, NAME).get("status") or {}).get("outbox") in (None, {})
    finally:
        await gate.stop()


async def test_the_controllers_own_write_wakes_nobody_a_real_change_does() -> None:
    async with Harness(min_interval=0.1) as h:  # idle canaries are not ticked on a timer
        await h.apply(m.namespace(NS), m.deployment(), m.canary(interval="1s"))
        await h.wait_phase(NS, NAME, "Initialized")
        await asyncio.sleep(0.5)
        controller = h.controller
        assert controller is not None
        executor = controller.reconciler.executor
        ticks = controller.reconciler.ticks

        # A write of the controller's own (through its executor, fed back to the cache and
        # then seen again on the watch) ...
        service = h.get("Service", NS, f"{NAME}-canary")
        assert service is not None
        mine = copy.deepcopy(service)
        mine["metadata"].setdefault("annotations", {})["test/own"] = "1"
        await executor.apply(ReplaceObject(kind=kinds.SERVICE, body=mine))
        await asyncio.sleep(0.5)
        assert controller.reconciler.ticks == ticks  # ... costs no tick
        assert controller.scheduler.own.recognised >= 1

        # Someone else's change to the same object still wakes the canary at once.
        def other(obj: dict[str, object]) -> dict[str, object]:
            new = copy.deepcopy(obj)
            new["metadata"]["annotations"]["test/other"] = "1"  # type: ignore[index]
            return new

        h.patch("Service", NS, f"{NAME}-canary", other)
        await h.wait_for(lambda: controller.reconciler.ticks > ticks, timeout=2, what="a tick")


async def test_a_new_controller_delivers_what_the_old_one_recorded_once() -> None:
    """A controller that died (or lost leadership) after the status write that recorded its
    side effects: the next one delivers them; an Event it had already created is not
    created twice."""
    gate = await GateServer().start()
    try:
        async with Harness(min_interval=0.1, start_controller=False) as h:
            canary = m.canary(webhooks=[m.hook("events", "event", gate.url("events"))])
            await h.apply(m.namespace(NS), m.deployment(), canary)
            left = {
                "aaaaaaaaaa": {
                    "seq": 1,
                    "effect": "event",
                    "message": "left behind",
                    "warning": False,
                },
                "bbbbbbbbbb": {"seq": 2, "effect": "event", "message": "created", "warning": True},
            }

            def recorded(obj: dict[str, object]) -> dict[str, object]:
                new = copy.deepcopy(obj)
                new["status"] = {"outbox": left}
                return new

            canaries = h.type("flagger.app", "v1beta1", "canaries")
            h.cluster.store.patch(canaries, NS, NAME, recorded, subresource="status")
            await h.apply(  # the old controller created the second Event, then died
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": f"{NAME}.bbbbbbbbbb", "namespace": NS},
                    "involvedObject": {"kind": "Canary", "name": NAME, "namespace": NS},
                    "reason": "Synced",
                    "message": "created",
                    "type": "Warning",
                    "count": 1,
                }
            )
            await h.start()
            await h.wait_phase(NS, NAME, "Initialized")
            recorded_events = {e.message: e.count for e in events(h, NS)}
            assert recorded_events["left behind"] == 1
            assert recorded_events["created"] == 1  # AlreadyExists: delivered, not repeated
            messages = [c.body["metadata"]["eventMessage"] for c in gate.calls_to("events")]
            assert messages.count("left behind") == 1
            assert messages.count("created") == 1  # its forwarding was not marked done
            assert not (h.canary(NS, NAME).get("status") or {}).get("outbox")
    finally:
        await gate.stop()
