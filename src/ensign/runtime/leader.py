"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics. Does I/O.

The Lease spec is client-go's record: `holderIdentity`, `leaseDurationSeconds`, `acquireTime`
and `renewTime` (RFC 3339 with microseconds) and `leaseTransitions`. Every change is a
compare-and-swap: `replace` carrying the resourceVersion that was read, so of two candidates
writing the same version one gets 409 and loses the round.

- **Acquire** when the lease is absent (create it), free (empty holder) or expired. Like
  client-go, a candidate judges expiry by its own loop clock: the lease is expired when the
  record has not changed for `leaseDurationSeconds` since this candidate first saw it, so
  clocks that disagree between machines do not matter. `renewTime` is informative.
- **Renew** every `retry_period`. If no renewal has succeeded for `renew_deadline` (counted
  from the start of the last successful attempt; a hanging request is cut off at that
  point), or the lease turns out to be held by someone else, leadership is lost at once.
  `renew_deadline < lease_duration`, so the leader stops before anyone may take over.
- **Release** on a clean shutdown (client-go's ReleaseOnCancel): holder emptied,
  `leaseDurationSeconds: 1`, so a standby takes over on its next retry instead of waiting
  a whole lease duration.

`LeaderElector.run` campaigns, leads, and after a loss campaigns again, until cancelled.
Loop time drives every timer; the injectable wall clock only writes the timestamps.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ensign.kube import kinds
from ensign.kube.api import JSON, KubeApi, NotFound

log = logging.getLogger(__name__)
Callback = Callable[[], Awaitable[None]]
JITTER = 0.2  # retries wait retry_period * [1, 1.2) (client-go: up to * 2.2)


# ------------------------------------------------------------------ pure helpers


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The part of a Lease that leader election reads and writes."""

    holder: str = ""
    duration: int = 0  # leaseDurationSeconds
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0


def micro_time(moment: datetime) -> str:
    """Kubernetes MicroTime: RFC 3339 in UTC with exactly six fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_of(lease: JSON | None) -> LeaseRecord:
    spec = (lease or {}).get("spec") or {}
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=str(spec.get("acquireTime") or ""),
        renew_time=str(spec.get("renewTime") or ""),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def spec_of(record: LeaseRecord) -> JSON:
    spec: JSON = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration,
        "leaseTransitions": record.transitions,
    }
    if record.acquire_time:
        spec["acquireTime"] = record.acquire_time
    if record.renew_time:
        spec["renewTime"] = record.renew_time
    return spec


def is_mine(record: LeaseRecord, identity: str) -> bool:
    return bool(identity) and record.holder == identity


def is_expired(record: LeaseRecord, *, observed_at: float, now: float) -> bool:
    """Free (no holder), or unchanged for a whole lease duration since it was observed."""
    return not record.holder or observed_at + record.duration <= now


def can_take(record: LeaseRecord, identity: str, *, observed_at: float, now: float) -> bool:
    return is_mine(record, identity) or is_expired(record, observed_at=observed_at, now=now)


def claimed(record: LeaseRecord | None, identity: str, *, duration: int, now: str) -> LeaseRecord:
    """The record after `identity` acquires or renews: a renewal keeps acquireTime and the
    transition count, a takeover (even of a released lease) counts one more transition."""
    if record is not None and is_mine(record, identity):
        return replace(record, duration=duration, renew_time=now)
    transitions = 0 if record is None else record.transitions + 1
    return LeaseRecord(identity, duration, now, now, transitions)


def released(record: LeaseRecord, *, now: str) -> LeaseRecord:
    """What client-go writes when it gives a lease up: no holder, a 1 s duration."""
    return LeaseRecord("", 1, now, now, record.transitions)


def lease_seconds(duration: float) -> int:
    """leaseDurationSeconds is an integer ≥ 1; round a fractional duration up."""
    return max(1, int(-(-duration // 1)))


# ---------------------------------------------------------------------- elector


def system_clock() -> datetime:
    return datetime.now(UTC)


class LeaderElector:
    """One candidate for the Lease `namespace/name`. `is_leader` is set while it leads."""

    def __init__(
        self,
        api: KubeApi,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 60.0,
        renew_deadline: float = 15.0,
        retry_period: float = 5.0,
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration "
                f"(got {retry_period:g}, {renew_deadline:g}, {lease_duration:g})"
            )
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        self.is_leader = asyncio.Event()
        self.campaigned = asyncio.Event()  # set once the first attempt has been decided
        self.leader = ""  # the holder last seen
        self.terms = 0  # how many times this candidate became leader
        self.losses = 0  # ... and lost it
        self._lease: JSON | None = None  # the Lease as last read or written
        self._observed = LeaseRecord()
        self._observed_at = 0.0  # loop time when the record last changed, as seen here
        self._acquired_at = 0.0  # loop time when the last successful attempt started

    @property
    def lease_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def run(self, on_started_leading: Callback, on_stopped_leading: Callback) -> None:
        """Campaign, lead until the lease is lost, and campaign again; until cancelled.

        `on_stopped_leading` runs when the lease is lost, not when `run` is cancelled: the
        caller stops its work, then calls `release()`."""
        log.info("Starting leader election id: %s lease: %s", self.identity, self.lease_name)
        while True:
            await self._acquire()
            self.terms += 1
            self.is_leader.set()
            log.info("Acting as elected leader (%s, lease %s)", self.identity, self.lease_name)
            try:
                try:
                    await on_started_leading()
                finally:
                    self.campaigned.set()
                await self._hold()
            finally:
                self.is_leader.clear()
            self.losses += 1
            log.warning("Leadership lost (%s, lease %s)", self.identity, self.lease_name)
            await on_stopped_leading()

    async def release(self) -> bool:
        """Give the lease up if this candidate holds it; True when the release was written.

        Bounded by the renew deadline: a shutdown never hangs on an unreachable apiserver."""
        if self._lease is None or not is_mine(record_of(self._lease), self.identity):
            return False
        body = self._body(released(record_of(self._lease), now=micro_time(self.clock())))
        try:
            async with asyncio.timeout(self.renew_deadline):
                self._lease = await self.api.replace(kinds.LEASE, body)
        except Exception as exc:
            log.warning("could not release lease %s: %s", self.lease_name, exc)
            return False
        log.info("released lease %s", self.lease_name)
        return True

    # ---------------------------------------------------------------- internals

    async def _acquire(self) -> None:
        while True:
            if await self._attempt(self.renew_deadline) is True:
                return
            self.campaigned.set()
            await asyncio.sleep(self.retry_period * (1 + JITTER * random.random()))

    async def _hold(self) -> None:
        """Renew every retry period; return as soon as leadership is lost."""
        loop = asyncio.get_running_loop()
        last = self._acquired_at
        while True:
            await asyncio.sleep(self.retry_period)
            while True:
                started = loop.time()
                remaining = last + self.renew_deadline - started
                if remaining <= 0:
                    log.warning("lease %s not renewed for %gs", self.lease_name, started - last)
                    return
                outcome = await self._attempt(remaining)
                if outcome is True:
                    last = started
                    break
                if outcome is None:  # someone else holds it: we know we lost
                    return
                left = last + self.renew_deadline - loop.time()
                await asyncio.sleep(min(self.retry_period, max(left, 0.0)))

    async def _attempt(self, limit: float) -> bool | None:
        """One round of client-go's tryAcquireOrRenew: True when this candidate now holds
        the lease, None when another holder's valid lease stands, False on errors."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(limit):
                held = await self._try()
        except TimeoutError:
            log.warning("lease %s: request timed out", self.lease_name)
            return False
        except Exception as exc:  # conflicts, transport errors: this round is lost
            log.warning("lease %s: %s: %s", self.lease_name, type(exc).__name__, exc)
            return False
        if held:
            self._acquired_at = started
        return held

    async def _try(self) -> bool | None:
        now = micro_time(self.clock())
        duration = lease_seconds(self.lease_duration)
        try:
            lease = await self.api.get(kinds.LEASE, self.name, namespace=self.namespace)
        except NotFound:
            body = {
                "apiVersion": kinds.LEASE.api_version,
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": spec_of(claimed(None, self.identity, duration=duration, now=now)),
            }
            self._observe(await self.api.create(kinds.LEASE, body))
            return True
        self._observe(lease)
        record = self._observed
        loop_now = asyncio.get_running_loop().time()
        if not can_take(record, self.identity, observed_at=self._observed_at, now=loop_now):
            return None
        self._lease = lease
        new = claimed(record, self.identity, duration=duration, now=now)
        self._observe(await self.api.replace(kinds.LEASE, self._body(new)))
        return True

    def _observe(self, lease: JSON) -> None:
        """Note the Lease as read or written; the expiry clock restarts when it changed (at
        the time it arrived here, the conservative end for a standby)."""
        self._lease = lease
        record = record_of(lease)
        if record != self._observed:
            self._observed = record
            self._observed_at = asyncio.get_running_loop().time()
        if record.holder != self.leader:
            if record.holder and record.holder != self.identity:
                log.info("Another instance has been elected as leader: %s", record.holder)
            self.leader = record.holder

    def _body(self, record: LeaseRecord) -> JSON:
        """The last read Lease with `record` as its spec (its resourceVersion makes the
        replace a compare-and-swap)."""
        lease: dict[str, Any] = dict(self._lease or {})
        lease["spec"] = {**(lease.get("spec") or {}), **spec_of(record)}
        return lease
