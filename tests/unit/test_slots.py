"""Tick slots: bounded concurrency, urgent waiters first, no slot lost to cancellation."""

from __future__ import annotations

import asyncio

from ensign.runtime.scheduler import Slots


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
