"""Tick slots: bounded concurrency, urgent waiters first, no slot lost to cancellation."""

from __future__ import annotations

import asyncio

from ensign.runtime.scheduler import Slots
from ensign.runtime.slots import outside_slot


async def test_urgent_waiters_are_served_before_earlier_normal_ones() -> None:
    slots = Slots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, *, urgent: bool = False, wait: bool = False) -> None:
        async with slots.hold(urgent=urgent):
            order.append(name)
            if wait:
                await release.wait()

    first = asyncio.create_task(hold("first", wait=True))
    await asyncio.sleep(0)
    others = [asyncio.create_task(hold(f"normal-{i}")) for i in range(3)]
    await asyncio.sleep(0)
    urgent = asyncio.create_task(hold("urgent", urgent=True))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, urgent, *others)
    assert order == ["first", "urgent", "normal-0", "normal-1", "normal-2"]
    assert slots.free == 1


async def test_a_cancelled_waiter_does_not_lose_a_slot() -> None:
    slots = Slots(1)
    release = asyncio.Event()

    async def holder() -> None:
        async with slots.hold():
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await task
    await asyncio.gather(waiter, return_exceptions=True)
    assert slots.free == 1
    async with slots.hold():
        assert slots.free == 0


async def test_slow_io_outside_the_slot_lets_other_ticks_run() -> None:
    """A tick waiting on a slow gate hands its slot over; another canary's tick runs to the
    end meanwhile; the first takes a slot back (ahead of normal waiters) to finish."""
    slots = Slots(1)
    gate = asyncio.Event()
    order: list[str] = []

    async def slow_tick() -> None:
        async with slots.hold():
            order.append("slow: decide")
            async with outside_slot():
                await gate.wait()  # a webhook answering after 10 s
            order.append("slow: finish")

    async def quick_tick() -> None:
        async with slots.hold():
            order.append("quick")

    slow = asyncio.create_task(slow_tick())
    await asyncio.sleep(0)
    quick = asyncio.create_task(quick_tick())
    await asyncio.wait_for(quick, 1.0)  # not blocked behind the gate
    assert order == ["slow: decide", "quick"]
    gate.set()
    await slow
    assert order[-1] == "slow: finish"
    assert slots.free == 1


async def test_outside_slot_without_a_slot_and_cancelled_while_taking_it_back() -> None:
    slots = Slots(1)
    async with outside_slot():  # no slot held: nothing to hand over
        pass
    assert slots.free == 1
    release = asyncio.Event()
    entered = asyncio.Event()

    async def outside_then_blocked() -> None:
        async with slots.hold(), outside_slot():
            entered.set()
            await release.wait()

    async def holder() -> None:
        async with slots.hold():
            release.set()
            await asyncio.sleep(0.05)  # the first task now waits to take its slot back

    first = asyncio.create_task(outside_then_blocked())
    await entered.wait()
    second = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    assert slots.free == 1  # no slot lost or doubled


async def test_a_tick_taking_its_slot_back_goes_before_queued_urgent_waiters() -> None:
    """A wave of new revisions queues thousands of urgent ticks. A tick that stepped out
    of its slot (a delivery, a gate) must get it back before them: otherwise every tick
    steps out and queues behind the rest, and all of them are alive mid-way at once,
    each holding what it read (the controller's memory peak at scale)."""
    slots = Slots(2)
    mid_way = 0
    most_mid_way = 0
    finished: list[int] = []

    async def tick(i: int) -> None:
        nonlocal mid_way, most_mid_way
        async with slots.hold(urgent=True):
            mid_way += 1
            most_mid_way = max(most_mid_way, mid_way)
            async with outside_slot():
                await asyncio.sleep(0)  # a delivery with nothing slow to do
            await asyncio.sleep(0)
            mid_way -= 1
            finished.append(i)

    go = asyncio.Event()

    async def busy() -> None:  # the slots are taken while the wave queues
        async with slots.hold():
            await go.wait()

    blockers = [asyncio.create_task(busy()) for _ in range(2)]
    await asyncio.sleep(0)
    wave = [asyncio.create_task(tick(i)) for i in range(200)]
    await asyncio.sleep(0)
    assert len(slots.urgent) == 200
    go.set()
    await asyncio.gather(*blockers, *wave)
    assert sorted(finished) == list(range(200))
    # With the slots (2) plus the ones stepping out at the same moment, never the whole wave.
    assert most_mid_way <= 6, most_mid_way
    assert slots.free == 2
