"""Watch caches of the router kinds, kept only while a canary uses them. Does I/O.

A router declares the kinds it reads and writes (`Router.kinds`). The first canary that
needs a kind starts its list+watch cache; the cache stops when the last such canary goes
(deleted, or moved to another provider). So a cluster without Gateway API pays nothing for
it, and an idle canary still costs no API request: its router objects are read from the
cache like everything else.

A kind whose CRD is not installed answers 404 to the list. That canary then holds with
`Ready=False` naming the missing CRD; no other canary is disturbed. The informer keeps
retrying (with backoff, at most every 10 s) and, once the CRD appears and the first list
succeeds, every canary waiting for it is woken: no controller restart is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ensign.kube.api import KubeApi, NotFound
from ensign.kube.kinds import Kind, cache_key
from ensign.runtime.cache import Caches, Informer

log = logging.getLogger(__name__)
Key = tuple[str, str]
FIRST_SYNC_WAIT = 2.0  # seconds a tick waits for a new router cache's first list


class CacheView:
    """`ObjectView` (routers/protocol.py) over the caches: reads never call the API."""

    def __init__(self, caches: Caches) -> None:
        self.caches = caches

    def get(self, kind: Kind, namespace: str, name: str) -> Mapping[str, Any] | None:
        informer = self.caches.get(cache_key(kind))
        if informer is None:
            return None
        return informer.get(namespace if kind.namespaced else "", name)


class RouterWatches:
    """Reference-counted optional informers for router kinds."""

    def __init__(
        self,
        api: KubeApi,
        caches: Caches,
        *,
        namespace: str | None = None,
        watch_timeout: int = 300,
        first_sync_wait: float = FIRST_SYNC_WAIT,
    ) -> None:
        self.api = api
        self.caches = caches
        self.namespace = namespace
        self.watch_timeout = watch_timeout
        self.first_sync_wait = first_sync_wait
        self.users: dict[str, set[Key]] = {}
        self.by_canary: dict[Key, tuple[Kind, ...]] = {}
        self.wake: Callable[[Key], None] | None = None  # set by the controller (scheduler)
        self._waiters: dict[str, asyncio.Task[None]] = {}
        self.view = CacheView(caches)

    async def acquire(self, key: Key, wanted: tuple[Kind, ...]) -> dict[Kind, str]:
        """Make sure the caches of `wanted` run for canary `key`; for each kind that is not
        synced, why not (a missing CRD is named). Kinds the canary used before and no longer
        needs are released."""
        for kind in self.by_canary.get(key, ()):
            if kind not in wanted:
                await self._release(key, kind)
        self.by_canary[key] = wanted
        if not wanted:
            self.by_canary.pop(key, None)
        problems: dict[Kind, str] = {}
        for kind in wanted:
            informer = self._informer(key, kind)
            if not informer.synced.is_set():
                await self._first_sync(informer)
            if not informer.synced.is_set():
                problems[kind] = _explain(kind, informer)
        return problems

    def forget(self, key: Key) -> None:
        """Canary `key` is gone: release its kinds (the removal runs in the background)."""
        kinds = self.by_canary.pop(key, ())
        if kinds:
            asyncio.get_running_loop().create_task(self._release_all(key, kinds))

    async def stop(self) -> None:
        for task in self._waiters.values():
            task.cancel()
        self._waiters.clear()

    # --------------------------------------------------------------- internals

    def _informer(self, key: Key, kind: Kind) -> Informer:
        ck = cache_key(kind)
        self.users.setdefault(ck, set()).add(key)
        informer = self.caches.get(ck)
        if informer is None:
            log.info("watching %s (first canary using it: %s/%s)", ck, *key)
            informer = self.caches.add(
                ck,
                Informer(
                    self.api, kind, namespace=self.namespace, watch_timeout=self.watch_timeout
                ),
            )
            self._waiters[ck] = asyncio.get_running_loop().create_task(
                self._wake_when_synced(ck, informer), name=f"router-cache-{ck}"
            )
        return informer

    async def _first_sync(self, informer: Informer) -> None:
        """Wait briefly for a new cache's first list, or its first error (a 404 is quick)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.first_sync_wait):
                await informer.tried.wait()

    async def _wake_when_synced(self, ck: str, informer: Informer) -> None:
        """The canaries waiting for a cache (a CRD installed later) tick once it syncs."""
        await informer.synced.wait()
        for key in sorted(self.users.get(ck, ())):
            if self.wake is not None:
                self.wake(key)

    async def _release_all(self, key: Key, kinds: tuple[Kind, ...]) -> None:
        for kind in kinds:
            await self._release(key, kind)

    async def _release(self, key: Key, kind: Kind) -> None:
        ck = cache_key(kind)
        users = self.users.get(ck)
        if users is None:
            return
        users.discard(key)
        if users:
            return
        del self.users[ck]
        waiter = self._waiters.pop(ck, None)
        if waiter is not None:
            waiter.cancel()
        log.info("no canary uses %s any more; its watch stops", ck)
        await self.caches.remove(ck)


def _explain(kind: Kind, informer: Informer) -> str:
    crd = f"{kind.plural}.{kind.group}"
    if isinstance(informer.last_error, NotFound):
        return (
            f"the {kind.kind} CRD ({crd}, version {kind.version}) is not installed;"
            " the canary proceeds once it is"
        )
    if informer.last_error is not None:
        return f"cannot watch {crd}/{kind.version}: {informer.last_error}"
    return f"waiting for the first list of {crd}/{kind.version}"
