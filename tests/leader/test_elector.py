"""`LeaderElector` against the local cluster: acquire, renew, release, contention, limits."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from ensign.kube.client import LightkubeApi
from ensign.runtime.leader import LeaderElector
from ensign.testing.harness import Harness
from tests.leader._support import LEASE, RENEW, RETRY, Wire, lease

MICRO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with Harness(start_controller=False) as harness:
        yield harness


class Candidate:
    def __init__(self, h: Harness, identity: str) -> None:
        self.client = LightkubeApi.from_dict(h.cluster.kubeconfig(), timeout=5.0)
        self.wire = Wire(self.client)
        self.elector = LeaderElector(
            self.wire,
            namespace="kube-system",
            name="ensign-leader-election",
            identity=identity,
            lease_duration=LEASE,
            renew_deadline=RENEW,
            retry_period=RETRY,
        )
        self.started = 0
        self.stopped = 0
        self.task = asyncio.create_task(self.elector.run(self._start, self._stop))

    async def _start(self) -> None:
        self.started += 1

    async def _stop(self) -> None:
        self.stopped += 1

    async def close(self, *, release: bool = True) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        if release:
            await self.elector.release()
        await self.client.close()


async def test_acquire_renew_release(h: Harness) -> None:
    a = Candidate(h, "a_1")
    try:
        await asyncio.wait_for(a.elector.is_leader.wait(), 2)
        first = lease(h)["spec"]
        assert first["holderIdentity"] == "a_1"
        assert first["leaseDurationSeconds"] == 2
        assert first["leaseTransitions"] == 0
        assert MICRO.fullmatch(first["acquireTime"]) and MICRO.fullmatch(first["renewTime"])
        await asyncio.sleep(RETRY * 2.5)
        renewed = lease(h)["spec"]
        assert renewed["acquireTime"] == first["acquireTime"]
        assert renewed["renewTime"] > first["renewTime"]
        assert a.started == 1 and a.stopped == 0
    finally:
        await a.close()
    after = lease(h)["spec"]
    assert after["holderIdentity"] == "" and after["leaseDurationSeconds"] == 1
    assert not a.elector.is_leader.is_set()

    # a released lease is taken on the next attempt, not a lease duration later
    b = Candidate(h, "b_2")
    try:
        await asyncio.wait_for(b.elector.is_leader.wait(), RETRY * 3)
        assert lease(h)["spec"]["leaseTransitions"] == 1
    finally:
        await b.close()


async def test_two_candidates_one_leader(h: Harness) -> None:
    a, b = Candidate(h, "a_1"), Candidate(h, "b_2")
    try:
        await asyncio.sleep(LEASE * 0.75)
        leaders = [c for c in (a, b) if c.elector.is_leader.is_set()]
        assert len(leaders) == 1
        follower = b if leaders[0] is a else a
        assert follower.elector.leader == leaders[0].elector.identity
        # the follower wrote nothing but, perhaps, the create that lost the race
        assert all(w.verb == "create" for w in follower.wire.writes(leases=True))
    finally:
        await a.close()
        await b.close()


async def test_partitioned_leader_steps_down_within_the_renew_deadline(h: Harness) -> None:
    a = Candidate(h, "a_1")
    try:
        await asyncio.wait_for(a.elector.is_leader.wait(), 2)
        loop = asyncio.get_running_loop()
        cut = loop.time()
        a.wire.partition()
        while a.elector.is_leader.is_set():
            await asyncio.sleep(0.01)
        assert loop.time() - cut <= RENEW + 0.1
        assert a.stopped == 1 and a.elector.losses == 1
        # healed before anyone took over: it wins its own lease back
        a.wire.heal()
        await asyncio.wait_for(a.elector.is_leader.wait(), RETRY * 3)
        assert a.started == 2
    finally:
        await a.close()


async def test_a_hanging_renewal_is_cut_off_at_the_deadline(h: Harness) -> None:
    a = Candidate(h, "a_1")
    try:
        await asyncio.wait_for(a.elector.is_leader.wait(), 2)
        loop = asyncio.get_running_loop()
        cut = loop.time()
        a.wire.kill()  # every request hangs
        while a.elector.is_leader.is_set():
            await asyncio.sleep(0.01)
        assert loop.time() - cut <= RENEW + 0.1
    finally:
        await a.close()  # the release hangs too, bounded by the renew deadline


def test_timings_are_checked() -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        LeaderElector(
            None,  # type: ignore[arg-type]
            namespace="x",
            name="y",
            identity="z",
            lease_duration=10,
            renew_deadline=10,
            retry_period=2,
        )
    with pytest.raises(ValueError, match="identity"):
        LeaderElector(None, namespace="x", name="y", identity="")  # type: ignore[arg-type]
