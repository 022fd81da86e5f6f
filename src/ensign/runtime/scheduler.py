"""One loop per canary, ticking at its analysis interval and woken at once by watch events.

Changes to a canary's spec, or to any object it depends on (target, primary, generated
Services, tracked ConfigMaps and Secrets, autoscaler), wake its loop within milliseconds;
the analysis itself keeps Flagger's pace (`analysis_due` only once per interval). A global
semaphore bounds concurrent ticks; a failing canary backs off alone. Does I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ensign.kube.api import JSON
from ensign.kube.kinds import Kind
from ensign.observability.metrics import ControllerMetrics, tick_outcome
from ensign.runtime.cache import Caches, key_of
from ensign.runtime.reconciler import Reconciler
from ensign.runtime.slots import Slots

__all__ = ["CanaryLoop", "Scheduler", "Slots", "referenced_names"]

log = logging.getLogger(__name__)
Key = tuple[str, str]
COALESCE_SECONDS = 0.01


def referenced_names(canary: JSON) -> set[str]:
    """Names of the objects whose changes should wake this canary."""
    spec = canary.get("spec") or {}
    target = str((spec.get("targetRef") or {}).get("name") or "")
    apex = str((spec.get("service") or {}).get("name") or target)
    names = {target, f"{target}-primary", apex, f"{apex}-primary", f"{apex}-canary"}
    ingress = (spec.get("ingressRef") or {}).get("name")
    if ingress:  # the user's Ingress (NGINX copies it) and the canary Ingress
        names |= {str(ingress), f"{ingress}-canary"}
    hpa = (spec.get("autoscalerRef") or {}).get("name")
    if hpa:
        names |= {str(hpa), f"{hpa}-primary"}
    tracked = ((canary.get("status") or {}).get("trackedConfigs") or {}).keys()
    for entry in tracked:
        name = str(entry).split("/", 1)[-1]
        names |= {name, f"{name}-primary"}
    return {n for n in names if n}


class CanaryLoop:
    def __init__(self, scheduler: Scheduler, key: Key) -> None:
        self.scheduler = scheduler
        self.key = key
        self.wake = asyncio.Event()
        self.last_analysis: float | None = None
        self.task: asyncio.Task[Any] | None = None
        self.failures = 0
        self.urgent = False
        # Changes seen while this canary's tick runs, maybe its own writes arriving on the
        # watch before the write's answer: they wake the loop after the tick unless the
        # tick turned out to have written them.
        self.suspects: list[tuple[str, JSON]] = []
        self.state = "idle"  # idle | queued | running: ensign_workqueue_depth

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 60.0
        while True:
            self.wake.clear()
            due = self.last_analysis is None or loop.time() - self.last_analysis >= interval - 0.001
            self.state, started = "queued", time.monotonic()
            try:
                urgent, self.urgent = self.urgent, False
                async with self.scheduler.slots.hold(urgent=urgent):
                    self.state, started = "running", time.monotonic()
                    result = await self.scheduler.reconciler.tick(self.key, analysis_due=due)
            except asyncio.CancelledError:
                raise
            except Exception:  # one canary's bug must not stop the others
                log.exception("tick of %s failed", self.key)
                result = None
            finally:
                self.state = "idle"
                suspects, self.suspects = self.suspects, []
                own = self.scheduler.own
                if any(not own.is_own(kind, obj) for kind, obj in suspects):
                    self.wake.set()
                elif suspects:
                    own.recognised += len(suspects)
            if self.scheduler.metrics is not None:  # ensign_tick_duration_seconds{outcome}
                self.scheduler.metrics.observe_tick(
                    tick_outcome(result), time.monotonic() - started
                )
            if result is None or result.retry_soon:
                self.failures += 1
                delay = min(0.1 * 2 ** min(self.failures, 8), interval if result else 30.0)
            else:
                self.failures = 0
                interval = result.interval
                if result.analysed:
                    self.last_analysis = loop.time()
                since = loop.time() - (self.last_analysis or loop.time())
                delay = max(interval - since, 0.05)
                if result.idle:
                    # Ensign: an idle canary is woken by watch events; the timer is only a
                    # slow safety net (Flagger ticks every interval regardless).
                    delay = max(delay, self.scheduler.idle_resync)
            log.debug("%s sleeps %.3fs (due=%s)", self.key, delay, due)
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that races with the wake-up, and the loop would then outlive stop().
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self.wake.wait()
            await asyncio.sleep(COALESCE_SECONDS)


class Scheduler:
    def __init__(
        self,
        reconciler: Reconciler,
        caches: Caches,
        *,
        concurrency: int = 16,
        idle_resync: float = 300.0,
    ) -> None:
        self.idle_resync = idle_resync
        self.reconciler = reconciler
        self.caches = caches
        self.slots = Slots(concurrency)
        self.loops: dict[Key, CanaryLoop] = {}
        self.refs: dict[tuple[str, str], set[Key]] = {}
        self.wakeups = 0
        self.metrics: ControllerMetrics | None = None  # set by the Controller
        self.own = reconciler.executor.own  # the controller's own writes wake nobody

    def start(self) -> None:
        """Start a loop per cached canary and follow the caches. May follow a `stop()`
        (leader election stops and restarts the scheduler as leadership comes and goes)."""
        self.caches.subscribe(self._changed)
        for body in self.caches["Canary"].items():
            self._canary_changed(None, body)

    async def stop(self) -> None:
        """Stop every loop at once (synchronously, before the first await); cache changes
        no longer start any."""
        self.caches.unsubscribe(self._changed)
        loops = list(self.loops.values())
        self.loops.clear()  # before any await: nothing is scheduled from here on
        self.refs.clear()
        for loop in loops:
            self._stop(loop)
        tasks = [loop.task for loop in loops if loop.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=10)
            for task in pending:
                log.error("canary loop %s did not stop within 10 s", task.get_name())

    def _stop(self, loop: CanaryLoop) -> None:
        if loop.task is not None:
            loop.task.cancel()

    def _changed(self, kind: Kind, old: JSON | None, new: JSON | None) -> None:
        if kind.kind == "Canary":
            self._canary_changed(old, new)
            return
        obj = new if new is not None else old
        assert obj is not None
        revision_changed = kind.kind in ("Deployment", "DaemonSet") and (
            old is None or new is None or _template(old) != _template(new)
        )
        if new is not None and self.own.is_own(kind.kind, new):
            self.own.recognised += 1
            return  # our own write coming back (fed back or on the watch): not news
        for key in self.refs.get(key_of(obj), ()):
            loop = self.loops.get(key)
            if revision_changed and loop is not None:
                loop.urgent = True  # a new revision jumps the queue: detection stays fast
            # A new target revision starts the detection clock; only a template change can be
            # one, so the cached Canary is decoded for nothing else.
            if self.metrics is not None and revision_changed:
                self.metrics.target_changed(
                    key, self.caches["Canary"].get(*key), kind.kind, old, new
                )
            if loop is not None and loop.state == "running" and new is not None:
                # decided once the tick is over; only what `is_own` reads is kept, not the object
                loop.suspects.append((kind.kind, _identity(new)))
                continue
            self.wake(key)

    def _canary_changed(self, old: JSON | None, new: JSON | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        key = key_of(obj)
        self._index(key, old, new)
        if new is None:
            if self.metrics is not None:  # a deleted canary's series go with it
                self.metrics.forget(key)
            self.reconciler.forget(key)  # its router watches stop with the last user
            loop = self.loops.pop(key, None)
            if loop is not None:
                self._stop(loop)
            return
        if key not in self.loops:
            loop = CanaryLoop(self, key)
            self.loops[key] = loop
            loop.task = asyncio.get_running_loop().create_task(loop.run(), name=f"canary-{key}")
            return
        if self.own.is_own("Canary", new):
            self.own.recognised += 1
            return
        if old is None or _spec_or_meta_changed(old, new):
            self.wake(key)

    def _index(self, key: Key, old: JSON | None, new: JSON | None) -> None:
        ns = key[0]
        before = referenced_names(old) if old else set()
        after = referenced_names(new) if new else set()
        for name in before - after:
            keys = self.refs.get((ns, name))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.refs[(ns, name)]
        for name in after:
            self.refs.setdefault((ns, name), set()).add(key)

    def queue_depth(self) -> dict[str, int]:
        """Canary loops waiting for a concurrency slot (`queued`) and ticking (`running`)."""
        states = [loop.state for loop in self.loops.values()]
        return {"queued": states.count("queued"), "running": states.count("running")}

    def wake(self, key: Key) -> None:
        if self.own.feeding:  # a write of ours fed back to a cache (a router object's)
            self.own.recognised += 1
            return
        loop = self.loops.get(key)
        if loop is not None:
            self.wakeups += 1
            loop.wake.set()


def _identity(obj: JSON) -> JSON:
    """An object's namespace, name and resourceVersion: all `OwnWrites.is_own` reads."""
    meta = obj.get("metadata") or {}
    return {"metadata": {k: meta.get(k) for k in ("namespace", "name", "resourceVersion")}}


def _template(obj: JSON) -> object:
    return (obj.get("spec") or {}).get("template")


def _spec_or_meta_changed(old: JSON, new: JSON) -> bool:
    if old.get("spec") != new.get("spec"):
        return True
    o, n = old.get("metadata") or {}, new.get("metadata") or {}
    return any(
        o.get(k) != n.get(k) for k in ("annotations", "labels", "deletionTimestamp", "finalizers")
    )
