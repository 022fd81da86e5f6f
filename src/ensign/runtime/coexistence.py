"""Two operators on one Canary: Ensign holds back while Flagger still looks active. Does I/O.

Flagger and Ensign read the same Canaries and write the same objects (the primary, the
apex/-primary/-canary Services, the router objects, `Canary.status`). Both running at once
means two controllers stepping one rollout, each undoing the other's writes. So before the
controller starts acting (the scheduler), `FlaggerGuard` looks for two signs that a Flagger
controller is still at work:

- **a Flagger Deployment with ready replicas**, in the watch cache of Deployments (the
  namespaces the controller watches; every namespace without `--namespace`). A Deployment
  is Flagger's when it carries the label of Flagger's Helm chart
  (`app.kubernetes.io/name: flagger`) or of its kustomize base (`app: flagger`), or runs an
  image whose repository's last segment is `flagger` (`ghcr.io/fluxcd/flagger`,
  `weaveworks/flagger`, a mirror of either; not `flagger-loadtester`);
- **a recent Canary status write by Flagger**: an entry of `metadata.managedFields` with
  `subresource: status`, manager `flagger` (what client-go names Flagger's writes: its
  binary's name) and a `time` within two of that canary's analysis intervals (Flagger's
  10 s floor applies). Flagger writes the status at each step of an analysis (iteration,
  weight, failed checks), so a writer silent for two intervals has missed a tick: it has
  stopped, or has nothing to do on that canary. Only the manager named `flagger` counts,
  not "any manager but Ensign's": Ensign sends no field manager (the API server names its
  writes after the HTTP library, `python-httpx2`), and a user's `kubectl patch
  --subresource status` or a backup restore must not stop the controller. The caches drop
  `managedFields` (`runtime/slimming.py`), so these come from a one-off list of Canaries
  (`list_with_managed_fields`, page by page, only the writes kept, bounded by
  `READ_TIMEOUT`) at start, and again while refusing. A list that fails is logged and
  leaves the Deployment sign alone to decide: a broken read must not stop Ensign for good.

While either sign holds, the controller refuses to act: the scheduler does not start, so
nothing is written to workloads, Services, routers or Canary status. It says so once at
WARNING in the log, in `/readyz` (503 with the reason), and with one Warning Event
(reason `FlaggerActive`) per Canary, including canaries created while refusing. It does not
need a restart to proceed: a change to a Flagger Deployment (scaled to 0, deleted) re-checks
at once through the watch, the Canary list is re-read every `RECHECK_SECONDS`, and a status
write that ages out of its window is re-checked when it does. Before acting, the Canary list
is read once more, so a write made since the last read is not missed.

`--allow-flagger` skips the check, with a WARNING that two operators may fight.

Leader election: only the leader checks and refuses (standbys never act anyway). The check
runs each time leadership is won; losing the lease cancels a pending refusal with the work.

Limits: with `--namespace`, a Flagger Deployment in another namespace is not in the cache;
such a Flagger is still seen through its recent status writes on the watched canaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, runtime_checkable

from ensign.engine.status import rfc3339
from ensign.kube import kinds
from ensign.kube.api import JSON, KubeApi, KubeError
from ensign.kube.kinds import Kind
from ensign.model.durations import parse_duration
from ensign.runtime.cache import Caches, Key, key_of

log = logging.getLogger(__name__)

FLAGGER_LABELS: Final = (("app.kubernetes.io/name", "flagger"), ("app", "flagger"))
FLAGGER_IMAGE: Final = "flagger"  # last segment of the image repository
FLAGGER_MANAGERS: Final = frozenset({"flagger"})
WINDOW_INTERVALS: Final = 2  # a status write counts for this many analysis intervals
DEFAULT_INTERVAL: Final = 60.0  # Flagger's analysis.interval default
MIN_INTERVAL: Final = 10.0  # Flagger's floor
RECHECK_SECONDS: Final = 10.0
READ_TIMEOUT: Final = 5.0  # the list runs before the leader's first renewal: keep it short
EVENT_REASON: Final = "FlaggerActive"
COMPONENT: Final = "ensign"


# ------------------------------------------------------------------ the signs (pure)


def is_flagger_deployment(obj: JSON) -> bool:
    """Whether a Deployment is a Flagger controller (its labels or its image)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) == v for k, v in FLAGGER_LABELS):
        return True
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return any(
        _repository_name(str(c.get("image") or "")) == FLAGGER_IMAGE for c in _containers(pod)
    )


def _containers(pod: JSON) -> list[JSON]:
    return [c for c in pod.get("containers") or [] if isinstance(c, dict)]


def _repository_name(image: str) -> str:
    """`ghcr.io/fluxcd/flagger:1.44.0@sha256:...` → `flagger`."""
    path = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return path.split(":", 1)[0]


def ready_replicas(obj: JSON) -> int:
    try:
        return int((obj.get("status") or {}).get("readyReplicas") or 0)
    except (TypeError, ValueError):
        return 0


def active_flagger_deployments(deployments: Iterable[JSON]) -> list[str]:
    """`Deployment ns/name (N ready)` for each Flagger Deployment with ready replicas."""
    out = []
    for obj in deployments:
        ready = ready_replicas(obj)
        if ready > 0 and is_flagger_deployment(obj):
            ns, name = key_of(obj)
            out.append(f"Deployment {ns}/{name} has {ready} ready replica{'s' * (ready != 1)}")
    return sorted(out)


@dataclass(frozen=True, slots=True)
class StatusWrite:
    """A recent status write by Flagger on one canary; it stops counting at `until`."""

    namespace: str
    name: str
    manager: str
    at: datetime
    until: datetime

    def describe(self) -> str:
        return (
            f"Canary {self.namespace}/{self.name} status written by {self.manager} "
            f"at {rfc3339(self.at)}"
        )


def analysis_interval(canary: JSON) -> float:
    """The canary's analysis interval in seconds (Flagger's default and floor)."""
    spec = canary.get("spec") or {}
    analysis = spec.get("analysis") or spec.get("canaryAnalysis") or {}
    try:
        seconds = parse_duration(str(analysis.get("interval") or ""))
    except ValueError:
        seconds = DEFAULT_INTERVAL
    return max(seconds, MIN_INTERVAL)


def recent_status_writes(canaries: Iterable[JSON], now: datetime) -> list[StatusWrite]:
    """Flagger's status writes (managedFields) still inside their window at `now`."""
    out = []
    for canary in canaries:
        ns, name = key_of(canary)
        window = timedelta(seconds=WINDOW_INTERVALS * analysis_interval(canary))
        for entry in (canary.get("metadata") or {}).get("managedFields") or []:
            if not isinstance(entry, dict) or entry.get("subresource") != "status":
                continue
            manager = str(entry.get("manager") or "")
            at = _parse_time(entry.get("time"))
            if manager in FLAGGER_MANAGERS and at is not None and at + window > now:
                out.append(StatusWrite(ns, name, manager, at, at + window))
    return out


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Sighting:
    """Why Flagger looks active; `until` is when the earliest status write ages out."""

    deployments: tuple[str, ...]
    writes: tuple[StatusWrite, ...]

    @property
    def until(self) -> datetime | None:
        return min((w.until for w in self.writes), default=None)

    def describe(self) -> str:
        signs = list(self.deployments)
        if self.writes:
            first = self.writes[0].describe()
            more = len(self.writes) - 1
            signs.append(first + (f" (and {more} more)" if more else ""))
        return "Flagger looks active: " + "; ".join(signs)


def sighting(
    deployments: Iterable[JSON], writes: Iterable[StatusWrite], now: datetime
) -> Sighting | None:
    """The signs that hold at `now`, or None when Flagger does not look active."""
    found = Sighting(
        tuple(active_flagger_deployments(deployments)),
        tuple(sorted((w for w in writes if w.until > now), key=lambda w: (w.namespace, w.name))),
    )
    return found if found.deployments or found.writes else None


# ------------------------------------------------------------------ the guard (I/O)


@runtime_checkable
class ManagedFieldsLister(Protocol):
    """A `KubeApi` that can list objects with their managedFields (`LightkubeApi`)."""

    def list_with_managed_fields(
        self, kind: Kind, *, namespace: str | None = None, labels: str | None = None
    ) -> AsyncIterator[list[JSON]]: ...


class FlaggerGuard:
    """Runs the controller's work only once Flagger no longer looks active (module docs)."""

    def __init__(
        self,
        api: KubeApi,
        caches: Caches,
        *,
        clock: Callable[[], datetime],
        allow: bool = False,
        namespace: str | None = None,
        canary_selector: str = "",
        recheck: float = RECHECK_SECONDS,
    ) -> None:
        self.api = api
        self.caches = caches
        self.clock = clock
        self.allow = allow
        self.namespace = namespace
        self.canary_selector = canary_selector
        self.recheck = recheck
        self.refusal: Sighting | None = None  # set while refusing to act
        self.told: set[Key] = set()  # canaries that got this refusal's Event
        self._writes: list[StatusWrite] = []
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def reason(self) -> str | None:
        """Why the controller refuses to act, or None when it does not."""
        return None if self.refusal is None else self.refusal.describe()

    async def start(self, act: Callable[[], None]) -> None:
        """Call `act` now when Flagger does not look active (or with `allow`); otherwise
        refuse, and call it from the background once Flagger no longer looks active."""
        await self.stop()
        if self.allow:
            log.warning(
                "--allow-flagger: acting without checking whether Flagger is active; "
                "two controllers on one Canary undo each other's writes"
            )
            act()
            return
        await self._read_writes()
        found = self._sighting()
        if found is None:
            act()
            return
        self.refusal = found
        log.warning(
            "not acting on any Canary: %s. Scale Flagger to 0 (Ensign proceeds on its own "
            "once it no longer looks active) or start Ensign with --allow-flagger",
            found.describe(),
        )
        self._task = asyncio.get_running_loop().create_task(
            self._refuse_until_clear(act), name="flagger-guard"
        )

    async def stop(self) -> None:
        """Cancel a pending refusal (leadership lost, shutdown); `act` is not called."""
        task, self._task = self._task, None
        self.caches.unsubscribe(self._changed)
        self.refusal = None
        self.told.clear()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def cancel(self) -> None:
        """`stop` without waiting (from a synchronous callback)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.caches.unsubscribe(self._changed)
        self.refusal = None

    async def _refuse_until_clear(self, act: Callable[[], None]) -> None:
        self.caches.subscribe(self._changed)
        try:
            loop = asyncio.get_running_loop()
            next_read = loop.time() + self.recheck
            while True:
                found = self._sighting()
                if found is None:
                    await self._read_writes()  # a write since the last read must not be missed
                    found = self._sighting()
                    next_read = loop.time() + self.recheck
                    if found is None:
                        break
                self.refusal = found
                delay = max(next_read - loop.time(), 0.0)
                if found.until is not None:
                    expiry = (found.until - self.clock()).total_seconds() + 0.05
                    delay = min(delay, max(expiry, 0.0))
                self._poke.clear()
                try:
                    await self._tell_canaries(found)
                except Exception:  # a bug here must not leave the controller refusing for good
                    log.exception("could not tell the Canaries why Ensign is not acting")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._poke.wait()
                if loop.time() >= next_read:
                    await self._read_writes()
                    next_read = loop.time() + self.recheck
        finally:
            self.caches.unsubscribe(self._changed)
        log.info("Flagger no longer looks active: acting on the Canaries")
        self.refusal = None
        self.told.clear()
        self._task = None
        act()

    def _changed(self, kind: Kind, old: JSON | None, new: JSON | None) -> None:
        """Re-check at once when a Flagger Deployment changes or a Canary appears."""
        if kind.kind == "Deployment":
            if any(o is not None and is_flagger_deployment(o) for o in (old, new)):
                self._poke.set()
        elif kind.kind == "Canary" and new is not None and key_of(new) not in self.told:
            self._poke.set()

    def _sighting(self) -> Sighting | None:
        return sighting(self.caches["Deployment"].items(), self._writes, self.clock())

    async def _read_writes(self) -> None:
        """Re-read the Canaries' managedFields (a one-off list; the caches drop them)."""
        if not isinstance(self.api, ManagedFieldsLister):
            self._writes = []
            return
        writes: list[StatusWrite] = []
        pages = self.api.list_with_managed_fields(
            kinds.CANARY, namespace=self.namespace, labels=self.canary_selector or None
        )
        try:  # page by page: only the writes are kept, never the whole list
            async with asyncio.timeout(READ_TIMEOUT):
                async for page in pages:
                    writes += recent_status_writes(page, self.clock())
        except (KubeError, TimeoutError) as exc:
            log.warning(
                "could not list Canaries to see who wrote their status (%s); "
                "checking Flagger's Deployment only",
                exc or "timed out",
            )
            return
        self._writes = writes

    async def _tell_canaries(self, found: Sighting) -> None:
        """One Warning Event per Canary for this refusal (new canaries included)."""
        message = (
            f"Ensign is not acting on this canary: {found.describe()}. Scale Flagger to 0 or "
            "start Ensign with --allow-flagger"
        )
        for canary in self.caches["Canary"].items():
            key = key_of(canary)
            if key in self.told:
                continue
            try:
                await self.api.create(kinds.EVENT, _event(canary, message, rfc3339(self.clock())))
            except KubeError as exc:
                log.warning("could not record event on %s.%s: %s", key[1], key[0], exc)
                continue
            self.told.add(key)


def _event(canary: JSON, message: str, now: str) -> JSON:
    meta = canary.get("metadata") or {}
    ns = str(meta.get("namespace") or "default")
    digest = hashlib.sha256(f"{meta.get('uid')}{EVENT_REASON}{now}".encode()).hexdigest()[:10]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta.get('name')}.{digest}", "namespace": ns},
        "involvedObject": {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": meta.get("name"),
            "namespace": ns,
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": EVENT_REASON,
        "message": message,
        "type": "Warning",
        "source": {"component": COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": COMPONENT,
    }
