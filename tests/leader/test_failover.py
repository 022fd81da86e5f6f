"""Two controllers on one cluster running the seed scenario (blue/green behind a gate).

Only the holder of the Lease writes; a killed leader is replaced within one lease duration
and the rollout ends as an uninterrupted one does; a partitioned leader stops writing
within the renew deadline and stays a standby once the partition heals.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ensign.testing.gate import GateServer
from ensign.testing.harness import Harness
from tests.crash._seed import NAME, NEW_IMAGE, OLD_IMAGE, final_state
from tests.leader._support import LEASE, NS, RENEW, RETRY, Replica, holder, workload

GATE = "promote"
TIMEOUT = 10.0
READY_DELAY = 0.08  # only end states are compared here, not the sequence of writes


@pytest.fixture
async def gate() -> AsyncIterator[GateServer]:
    server = await GateServer().start()
    server.close(GATE)
    yield server
    await server.stop()


async def _pair(h: Harness) -> tuple[Replica, Replica]:
    """`a` starts first and leads; `b` starts once `a` leads and stands by."""
    a = await Replica(h, "a_1").start()
    assert a.leading
    b = await Replica(h, "b_2").start()
    assert not b.leading
    return a, b


async def _to_waiting_promotion(h: Harness, gate: GateServer) -> None:
    deployment, canary = workload(NAME, webhooks=[_hook(gate)])
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = OLD_IMAGE
    await h.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    await h.apply(deployment, canary)
    await h.wait_phase(NS, NAME, "Initialized", timeout=TIMEOUT)
    h.set_image(NS, NAME, NEW_IMAGE)
    await h.wait_phase(NS, NAME, "WaitingPromotion", timeout=TIMEOUT)


def _hook(gate: GateServer) -> dict[str, Any]:
    return {"name": "gate", "type": "confirm-promotion", "url": gate.url(GATE)}


async def _baseline(gate: GateServer) -> dict[str, Any]:
    """The end state of the same scenario, uninterrupted, with one (leading) controller."""
    async with Harness(start_controller=False, ready_delay=READY_DELAY) as h:
        solo = await Replica(h, "solo_0").start()
        try:
            await _to_waiting_promotion(h, gate)
            gate.open(GATE)
            await h.wait_phase(NS, NAME, "Succeeded", timeout=TIMEOUT)
            await asyncio.sleep(0.3)
            return final_state(h)  # type: ignore[arg-type]
        finally:
            await solo.stop()
            gate.close(GATE)


async def test_only_the_leader_ever_writes(gate: GateServer) -> None:
    async with Harness(start_controller=False, ready_delay=READY_DELAY) as h:
        a, b = await _pair(h)
        try:
            await _to_waiting_promotion(h, gate)
            gate.open(GATE)
            await h.wait_phase(NS, NAME, "Succeeded", timeout=TIMEOUT)
            await asyncio.sleep(LEASE)  # a lease duration of renewals: b must not move
            assert holder(h) == "a_1"
            assert a.leading and not b.leading
            assert b.controller.caches.synced  # warm: it sees what a does
            assert b.controller.caches["Canary"].get(NS, NAME) is not None
            assert b.controller.scheduler.loops == {}
            assert len(a.wire.writes()) > 10
            assert b.wire.writes(leases=True) == []  # not even the Lease
        finally:
            await b.stop()
            await a.stop()


async def test_killed_leader_is_replaced_and_the_rollout_ends_the_same(
    gate: GateServer,
) -> None:
    expected = await _baseline(gate)
    loop = asyncio.get_running_loop()
    async with Harness(start_controller=False, ready_delay=READY_DELAY) as h:
        a, b = await _pair(h)
        try:
            await _to_waiting_promotion(h, gate)
            a.wire.kill()  # SIGKILL: no release, no more renewals, nothing reaches the cluster
            killed = loop.time()
            gate.open(GATE)  # the promotion is now up to the standby
            await h.wait_for(lambda: b.led_at is not None, timeout=LEASE + 2, what="takeover")
            assert b.led_at is not None
            # the lease was last renewed at most a retry period before the kill
            assert b.led_at - killed <= LEASE + 2 * RETRY + 0.3
            await h.wait_phase(NS, NAME, "Succeeded", timeout=TIMEOUT)
            await asyncio.sleep(0.3)
            assert holder(h) == "b_2"
            assert a.wire.writes(since=killed, leases=True) == []
            assert b.wire.writes() and all(w.at >= b.led_at for w in b.wire.writes())
            assert final_state(h) == expected  # type: ignore[arg-type]
        finally:
            await b.stop()
            await a.stop()


async def test_partitioned_leader_stops_writing_and_the_standby_finishes(
    gate: GateServer,
) -> None:
    loop = asyncio.get_running_loop()
    async with Harness(start_controller=False, ready_delay=READY_DELAY) as h:
        a, b = await _pair(h)
        try:
            await _to_waiting_promotion(h, gate)
            a.wire.partition()
            cut = loop.time()
            await h.wait_for(lambda: not a.leading, timeout=RENEW + 0.5, what="a steps down")
            assert loop.time() - cut <= RENEW + 0.1
            assert a.controller.scheduler.loops == {}  # stopped acting at once
            gate.open(GATE)
            await h.wait_for(lambda: b.leading, timeout=LEASE + 2, what="takeover")
            await h.wait_phase(NS, NAME, "Succeeded", timeout=TIMEOUT)
            a.wire.heal()  # back on the network: b holds a valid lease, a stays a standby
            await asyncio.sleep(RETRY * 4)
            assert not a.leading and b.leading and holder(h) == "b_2"
            assert a.wire.writes(since=cut, leases=True) == []
            assert a.controller.elector is not None
            assert a.controller.elector.leader == "b_2"
        finally:
            await b.stop()
            await a.stop()


async def test_clean_shutdown_hands_over_at_once() -> None:
    async with Harness(start_controller=False) as h:
        a, b = await _pair(h)
        try:
            await a.stop()  # releases the lease after stopping its loops
            loop = asyncio.get_running_loop()
            released = loop.time()
            await h.wait_for(lambda: b.leading, timeout=RETRY * 3, what="handover")
            assert loop.time() - released < RETRY * 1.5
        finally:
            await b.stop()
