"""Tick slots: a bounded number of concurrent ticks; resuming, then urgent waiters first. Does I/O (asyncio).

A tick holds a slot while it computes and writes. Slow I/O inside a tick (a webhook that may
take 10 s per attempt, a metric query) runs `outside_slot()`: the slot is handed to the next
waiting canary for the duration and taken back afterwards, ahead of every other waiter, so a
few slow gates never delay the detection and the steps of every other canary.

Taking a slot back comes before urgent waiters too: a tick that stepped out is half done and
holds what it read (its canary, workloads, decision) until it ends. Behind a queue of urgent
new revisions (thousands when a wave of image changes arrives), such ticks would pile up
mid-way, every one holding its reads: the controller's memory peak, and the arenas it leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class _Lease:
    """The slot a task holds, and whether it holds it right now."""

    slots: Slots
    held: bool = True


_current: ContextVar[_Lease | None] = ContextVar("ensign_tick_slot", default=None)


class Slots:
    """A bounded number of concurrent ticks; ticks taking their slot back are served first,
    then urgent waiters, then the others."""

    def __init__(self, size: int) -> None:
        self.free = size
        self.resuming: deque[asyncio.Future[None]] = deque()
        self.urgent: deque[asyncio.Future[None]] = deque()
        self.normal: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(urgent=urgent)
        lease = _Lease(self)
        token = _current.set(lease)
        try:
            yield
        finally:
            _current.reset(token)
            if lease.held:
                self._release()

    async def _acquire(self, *, urgent: bool, resuming: bool = False) -> None:
        if self.free > 0 and not self.resuming and not self.urgent and not self.normal:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self.resuming if resuming else self.urgent if urgent else self.normal
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we were cancelled
            raise

    def _release(self) -> None:
        for queue in (self.resuming, self.urgent, self.normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.free += 1


@contextlib.asynccontextmanager
async def outside_slot() -> AsyncIterator[None]:
    """Run the body without the current task's tick slot (nothing when it holds none): the
    slot goes to the next waiter and is taken back, ahead of every other waiter, afterwards."""
    lease = _current.get()
    if lease is None or not lease.held:
        yield
        return
    lease.held = False
    lease.slots._release()
    try:
        yield
    finally:
        await lease.slots._acquire(urgent=True, resuming=True)
        lease.held = True
