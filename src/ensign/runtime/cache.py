"""Informers: list-then-watch caches of one kind each, serving every read of a tick. Does I/O.

A cache lists once, then follows a watch from the list's resourceVersion. When the watch ends
it resumes from the last version seen; on 410 Gone it relists and reports the differences as
changes, so subscribers never miss a transition. Writes made by the controller are fed back
with `observe()` so a tick never reads something older than what it just wrote.

Every object is stored in its slim, packed form (`ensign.runtime.slimming`): the caches are
most of the controller's memory at scale. A read decodes a fresh copy, so a reader may keep
or change what it got without touching the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, cast

from ensign.kube.api import JSON, Gone, KubeApi, KubeError
from ensign.kube.kinds import Kind
from ensign.runtime.slimming import pack, unpack

log = logging.getLogger(__name__)
Key = tuple[str, str]
Listener = Callable[[Kind, JSON | None, JSON | None], None]


class PagedLister(Protocol):
    """A `KubeApi` that can also list a page at a time (`LightkubeApi.list_pages`)."""

    def list_pages(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> AsyncIterator[tuple[list[JSON], str]]: ...


def key_of(obj: JSON) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def rv_of(obj: JSON | None) -> int:
    return _version(((obj or {}).get("metadata") or {}).get("resourceVersion"))


def _version(text: object) -> int:
    try:
        return int(str(text or 0))
    except ValueError:
        return 0


class Informer:
    """The cache of one kind, optionally restricted to a namespace and a label selector.

    With a selector, an object whose labels stop matching arrives as DELETED (the
    apiserver's watch does that), so it leaves the cache like a deleted object."""

    def __init__(
        self,
        api: KubeApi,
        kind: Kind,
        *,
        namespace: str | None = None,
        watch_timeout: int = 300,
        backoff: float = 0.2,
        labels: str = "",
    ) -> None:
        self.api = api
        self.kind = kind
        self.namespace = namespace
        self.labels = labels  # a label selector: the cache holds only the matching objects
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        # key -> (resourceVersion, packed object): versions compare without decoding
        self._packed: dict[Key, tuple[int, bytes]] = {}
        self.synced = asyncio.Event()
        self.listeners: list[Listener] = []
        self.restarts = 0
        self.relists = 0
        self.last_error: KubeError | None = None  # the last failed list or watch, if any
        self.tried = asyncio.Event()  # set once the first list has succeeded or failed

    def get(self, namespace: str, name: str) -> JSON | None:
        """A fresh copy of the cached object, or None."""
        entry = self._packed.get((namespace if self.kind.namespaced else "", name))
        return unpack(entry[1]) if entry is not None else None

    def items(self, namespace: str | None = None) -> list[JSON]:
        """Fresh copies of every cached object (of `namespace`): decodes them all, so for
        rare scans, not for a tick's reads."""
        return [
            unpack(blob)
            for (ns, _), (_, blob) in self._packed.items()
            if namespace is None or ns == namespace
        ]

    def cached(self) -> list[Key]:
        """The (namespace, name) of every cached object, without decoding any."""
        return list(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def store(self, obj: JSON) -> None:
        """Put `obj` in the cache as is, telling nobody (for tests that build a cache by
        hand); the controller's caches fill from the API server."""
        _, blob = pack(self.kind.kind, obj)
        self._packed[key_of(obj)] = (rv_of(obj), blob)

    def observe(self, obj: JSON) -> None:
        """Feed back an object the controller wrote (kept only when newer than the cache)."""
        self._update(key_of(obj), obj)

    def forget(self, namespace: str, name: str) -> None:
        entry = self._packed.pop((namespace, name), None)
        if entry is not None:
            self._emit(entry, None)

    def _update(self, key: Key, obj: JSON) -> None:
        """Store `obj` when it is newer than the cached version, and tell the listeners."""
        version = rv_of(obj)
        old = self._packed.get(key)
        if old is not None and version <= old[0]:
            return
        thin, blob = pack(self.kind.kind, obj)
        self._packed[key] = (version, blob)
        self._emit(old, thin)

    def _emit(self, old: tuple[int, bytes] | None, new: JSON | None) -> None:
        """Tell the listeners (each gets its own decoded copy of the old object)."""
        for listener in list(self.listeners):
            try:
                listener(self.kind, unpack(old[1]) if old is not None else None, new)
            except Exception:  # a listener bug must not kill the cache
                log.exception("cache listener failed for %s", self.kind.kind)

    async def run(self) -> None:
        """List and watch until cancelled; never raises for API errors."""
        rv = ""
        failures = 0
        while True:
            try:
                if not rv:
                    rv = await self._relist()
                self.last_error = None
                self.tried.set()
                rv = await self._follow(rv)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Gone:
                rv = ""
            except (KubeError, Exception) as exc:
                if isinstance(exc, KubeError):
                    self.last_error = exc
                self.tried.set()
                failures += 1
                log.warning("%s watch failed (%s); retrying", self.kind.kind, exc)
                delay = min(self.backoff * 2 ** min(failures, 6), 10.0)
                await asyncio.sleep(delay * (0.5 + random.random()))
                if failures > 2:
                    rv = ""
            self.restarts += 1

    async def _relist(self) -> str:
        """Replace the cache with a list's snapshot, reporting the differences.

        Pages are applied as they arrive (see `_pages`), and `observe()` may store what the
        controller writes meanwhile: an object newer than the snapshot stays (a write after
        the snapshot is not undone), and only objects the snapshot could have seen are
        deleted."""
        listed: set[Key] = set()
        rv = ""
        async for page, page_rv in self._pages():
            rv = page_rv
            for obj in page:
                key = key_of(obj)
                listed.add(key)
                self._update(key, obj)
            del page
        self.relists += 1
        snapshot = _version(rv)
        for key, gone in list(self._packed.items()):
            if key not in listed and (not snapshot or gone[0] <= snapshot):
                del self._packed[key]
                self._emit(gone, None)
        self.synced.set()
        return rv

    def _pages(self) -> AsyncIterator[tuple[list[JSON], str]]:
        """The list, page by page when the API offers `list_pages` (LightkubeApi): the
        cache then never holds a second copy of the whole collection. Only when the class
        that provides `list` also provides `list_pages`, so a wrapper or subclass that
        changes `list` is still the one called."""
        owner = next((c for c in type(self.api).__mro__ if "list" in vars(c)), None)
        labels = self.labels or None
        if owner is not None and "list_pages" in vars(owner):
            paged = cast(PagedLister, self.api)
            return paged.list_pages(self.kind, namespace=self.namespace, labels=labels)
        return self._whole_list(labels)

    async def _whole_list(self, labels: str | None) -> AsyncIterator[tuple[list[JSON], str]]:
        items, rv = await self.api.list(self.kind, namespace=self.namespace, labels=labels)
        yield items, rv

    async def _follow(self, rv: str) -> str:
        if self.labels:
            stream = self.api.watch(
                self.kind,
                namespace=self.namespace,
                resource_version=rv,
                timeout_seconds=self.watch_timeout,
                labels=self.labels,
            )
        else:  # no `labels` argument: KubeApi fakes written before selectors keep working
            stream = self.api.watch(
                self.kind,
                namespace=self.namespace,
                resource_version=rv,
                timeout_seconds=self.watch_timeout,
            )
        async for event_type, obj in stream:
            new_rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
            if event_type == "BOOKMARK":
                rv = new_rv
                continue
            key = key_of(obj)
            if event_type == "DELETED":
                gone = self._packed.pop(key, None)
                if gone is not None:
                    self._emit(gone, None)
            else:
                self._update(key, obj)
            rv = new_rv
        return rv


class Caches:
    """The informers of a controller, started and stopped together.

    Besides the fixed informers (`by_kind`), optional ones can be added and removed while
    running (`add`/`remove`: the router kinds, watched only while a canary uses them). They
    do not count towards `synced` (a router CRD that is not installed must not make the
    whole controller unready), and `subscribe` listeners follow them too."""

    def __init__(self, informers: dict[str, Informer]) -> None:
        self.by_kind = informers
        self.optional: dict[str, Informer] = {}
        self.listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._optional_tasks: dict[str, asyncio.Task[Any]] = {}
        self._started = False

    def __getitem__(self, kind: str) -> Informer:
        informer = self.by_kind.get(kind)
        return informer if informer is not None else self.optional[kind]

    def get(self, key: str) -> Informer | None:
        return self.by_kind.get(key) or self.optional.get(key)

    def all(self) -> list[Informer]:
        return [*self.by_kind.values(), *self.optional.values()]

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` on every change of every informer, present and future."""
        if listener in self.listeners:
            return
        self.listeners.append(listener)
        for informer in self.all():
            if listener not in informer.listeners:
                informer.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self.listeners.remove(listener)
        for informer in self.all():
            with contextlib.suppress(ValueError):
                informer.listeners.remove(listener)

    def start(self) -> None:
        self._started = True
        self._tasks = [
            asyncio.create_task(i.run(), name=f"informer-{k}") for k, i in self.by_kind.items()
        ]
        for key in self.optional:
            self._start_optional(key)

    def add(self, key: str, informer: Informer) -> Informer:
        """Add an optional informer (started at once if the caches run); returns the one in
        place when `key` is already there."""
        present = self.optional.get(key)
        if present is not None:
            return present
        informer.listeners.extend(x for x in self.listeners if x not in informer.listeners)
        self.optional[key] = informer
        if self._started:
            self._start_optional(key)
        return informer

    def _start_optional(self, key: str) -> None:
        self._optional_tasks[key] = asyncio.create_task(
            self.optional[key].run(), name=f"informer-{key}"
        )

    async def remove(self, key: str) -> None:
        """Stop and drop an optional informer (its objects leave the cache)."""
        self.optional.pop(key, None)
        task = self._optional_tasks.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self.by_kind.values()))

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.by_kind.values())

    async def stop(self) -> None:
        self._started = False
        tasks = [*self._tasks, *self._optional_tasks.values()]
        self._optional_tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
