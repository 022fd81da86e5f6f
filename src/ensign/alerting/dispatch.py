"""Sending an alert to everyone who should get it, without ever holding up a rollout. Does I/O.

`AlertDispatcher.send` resolves the destinations (`routing`), renders each service's body
(`formats`) and posts to all of them concurrently, each post bounded by the notifier's
timeout (5 s). It never raises for configuration, network or HTTP problems: it logs them at
warning level and returns them as texts. The runtime's outbox (`runtime/outbox.py`) awaits
`send` outside the tick slot, so it can mark the alert delivered afterwards (a slow chat
service delays only its own canary, by at most the timeout); `send_soon` schedules the send
in a background task for callers that need no such record; alerts about one canary still go
out in the order they were scheduled (Flagger sends them inline, so chats see them in order).

Logs and returned errors name the destination by its label and the URL's scheme and host
only: webhook URLs carry their credential in the path.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from typing import Protocol

from ensign.alerting.catalogue import AlertKind, AlertMessage, alert_message
from ensign.alerting.formats import origin, payload, post_url
from ensign.alerting.notifier import DEFAULT_TIMEOUT_SECONDS, Notifier, NotifyError
from ensign.alerting.routing import (
    Destination,
    ProviderLookup,
    SecretLookup,
    destinations,
)
from ensign.model import Canary

log = logging.getLogger(__name__)

GUARD_SECONDS = 0.5
"""Extra time past the post timeout before the dispatcher gives up on an injected poster."""


class JsonPoster(Protocol):
    """What the dispatcher needs from a notifier (`Notifier` is the real one)."""

    async def post(
        self,
        url: str,
        body: Mapping[str, object],
        *,
        proxy: str | None = None,
        token: str | None = None,
    ) -> None: ...

    async def aclose(self) -> None: ...


class AlertSender(Protocol):
    """The seam the engine's runtime depends on: `send` (awaited by the outbox, which marks
    the alert delivered afterwards; never raises) and `send_soon` (fire and forget)."""

    async def send(
        self, kind: AlertKind, canary: Canary, *, target_kind: str, detail: str = ""
    ) -> list[str]: ...

    def send_soon(
        self, kind: AlertKind, canary: Canary, *, target_kind: str, detail: str = ""
    ) -> None: ...


class AlertDispatcher:
    """Routes, renders and posts alerts; see the module docstring.

    `notifier` defaults to a `Notifier(timeout=timeout)` owned (and closed) by the dispatcher.
    `cluster_name` is `-cluster-name`, added as a `Cluster` field to every alert when set.
    """

    def __init__(
        self,
        *,
        lookup_provider: ProviderLookup,
        lookup_secret: SecretLookup,
        global_notifier: Destination | None = None,
        cluster_name: str = "",
        notifier: JsonPoster | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._lookup_provider = lookup_provider
        self._lookup_secret = lookup_secret
        self._global = global_notifier
        self._cluster_name = cluster_name
        self._owns_notifier = notifier is None
        self._notifier: JsonPoster = notifier if notifier is not None else Notifier(timeout=timeout)
        self._timeout = timeout
        self._tasks: set[asyncio.Task[list[str]]] = set()
        self._latest: dict[str, asyncio.Task[list[str]]] = {}
        self._closed = False

    @property
    def pending(self) -> int:
        """Alerts scheduled by `send_soon` and not yet finished."""
        return len(self._tasks)

    async def send(
        self, kind: AlertKind, canary: Canary, *, target_kind: str, detail: str = ""
    ) -> list[str]:
        """Deliver one alert to every destination; returns the problems (empty on success)."""
        subject = f"{canary.name}.{canary.namespace or ''}"
        try:
            message = alert_message(
                kind,
                canary,
                target_kind=target_kind,
                cluster_name=self._cluster_name,
                detail=detail,
            )
            targets, errors = destinations(
                canary,
                message.severity,
                lookup_provider=self._lookup_provider,
                lookup_secret=self._lookup_secret,
                global_notifier=self._global,
            )
        except Exception as exc:  # a bug here must not reach the rollout
            problem = f"alert {kind} not built: {type(exc).__name__}"
            log.warning("alert for %s not sent: %s", subject, problem)
            return [problem]
        for problem in errors:
            log.warning("alert for %s not sent: %s", subject, problem)
        outcomes = await asyncio.gather(
            *(self._deliver(target, message, subject=subject) for target in targets)
        )
        return errors + [problem for problem in outcomes if problem]

    def send_soon(
        self, kind: AlertKind, canary: Canary, *, target_kind: str, detail: str = ""
    ) -> None:
        """Schedule `send` in the background and return at once (needs a running loop)."""
        if self._closed:
            log.warning("alert for %s dropped: the dispatcher is closed", canary.key)
            return
        previous = self._latest.get(canary.key)
        task = asyncio.get_running_loop().create_task(
            self._send_after(previous, kind, canary, target_kind=target_kind, detail=detail),
            name=f"alert {kind} {canary.key}",
        )
        self._tasks.add(task)
        self._latest[canary.key] = task
        task.add_done_callback(functools.partial(self._forget, canary.key))

    async def drain(self) -> None:
        """Wait until every scheduled alert has been sent or has failed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop accepting alerts, finish the scheduled ones, close an owned notifier."""
        self._closed = True
        await self.drain()
        if self._owns_notifier:
            await self._notifier.aclose()

    async def _send_after(
        self,
        previous: asyncio.Task[list[str]] | None,
        kind: AlertKind,
        canary: Canary,
        *,
        target_kind: str,
        detail: str,
    ) -> list[str]:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        return await self.send(kind, canary, target_kind=target_kind, detail=detail)

    def _forget(self, key: str, task: asyncio.Task[list[str]]) -> None:
        self._tasks.discard(task)
        if self._latest.get(key) is task:
            del self._latest[key]
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "alert task %s failed: %s", task.get_name(), type(task.exception()).__name__
            )

    async def _deliver(self, target: Destination, message: AlertMessage, *, subject: str) -> str:
        """Post to one destination; returns a loggable problem, or "" when it arrived."""
        url = post_url(target.type, target.url)
        try:
            body = payload(target.type, message, channel=target.channel, username=target.username)
            async with asyncio.timeout(self._timeout + GUARD_SECONDS):
                await self._notifier.post(
                    url, body, proxy=target.proxy or None, token=target.token or None
                )
        except TimeoutError:
            problem = f"timed out after {self._timeout:g}s"
        except NotifyError as exc:
            problem = str(exc)
        except Exception as exc:  # an injected poster misbehaving must not escape
            problem = type(exc).__name__
        else:
            return ""
        text = f"{target.label}: delivery to {origin(url)} failed: {problem}"
        log.warning("alert for %s not sent: %s", subject, text)
        return text
