"""Wiring: settings → caches, reconciler, scheduler, health endpoint. Does I/O.

`Controller` is what `ensign controller` runs and what tests start against the local
cluster. `start()` returns once the caches have synced; `stop()` is clean and idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ensign.kube import kinds
from ensign.kube.api import KubeApi
from ensign.runtime.cache import Caches, Informer
from ensign.runtime.events import EventRecorder
from ensign.runtime.executor import Executor
from ensign.runtime.finalizer import Finalizer
from ensign.runtime.hooks import HookRunner
from ensign.runtime.reconciler import Reconciler
from ensign.runtime.scheduler import Scheduler
from ensign.webhooks.client import HttpWebhookCaller, WebhookCaller

log = logging.getLogger(__name__)

WATCHED = (
    kinds.CANARY,
    kinds.DEPLOYMENT,
    kinds.DAEMONSET,
    kinds.SERVICE,
    kinds.CONFIGMAP,
    kinds.SECRET,
    kinds.HPA,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    namespace: str | None = None
    metrics_addr: str = "127.0.0.1:8080"
    selector_labels: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name")
    include_label_prefixes: tuple[str, ...] = ()
    concurrency: int = 16
    watch_timeout: int = 300
    serve_http: bool = True
    min_interval: float = 10.0  # Flagger's floor for analysis.interval
    event_webhook: str = ""  # Flagger's -event-webhook / EVENT_WEBHOOK_URL
    # Flagger's -mesh-provider (Flagger defaults to istio; Ensign implements kubernetes so far).
    mesh_provider: str = "kubernetes"


def system_clock() -> datetime:
    return datetime.now(UTC)


class Controller:
    def __init__(
        self,
        api: KubeApi,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = system_clock,
        caller: WebhookCaller | None = None,
    ) -> None:
        settings = settings or Settings()
        self.api = api
        self.settings = settings
        self.caches = Caches(
            {
                k.kind: Informer(
                    api, k, namespace=settings.namespace, watch_timeout=settings.watch_timeout
                )
                for k in WATCHED
            }
        )
        self._caller = caller or HttpWebhookCaller()
        self.hooks = HookRunner(self._caller, event_webhook=settings.event_webhook)
        self.events = EventRecorder(api, clock, forward=self.hooks.forward_event)
        self.hooks.events = self._hook_event
        executor = Executor(
            api,
            self.caches,
            self.events,
            self.hooks,
            include_label_prefixes=settings.include_label_prefixes,
        )
        self.reconciler = Reconciler(
            api=api,
            caches=self.caches,
            executor=executor,
            hooks=self.hooks,
            clock=clock,
            selector_labels=settings.selector_labels,
            min_interval=settings.min_interval,
            default_provider=settings.mesh_provider,
        )
        self.reconciler.finalizer = Finalizer(api, self.caches, self.events)
        self.scheduler = Scheduler(self.reconciler, self.caches, concurrency=settings.concurrency)
        self._runner: web.AppRunner | None = None
        self._started = False

    async def _hook_event(
        self, canary: Any, body: dict[str, Any], message: str, warning: bool
    ) -> None:
        await self.events.record(canary, body, message=message, warning=warning)

    async def start(self) -> None:
        self.caches.start()
        await self.caches.wait_synced()
        self.scheduler.start()
        if self.settings.serve_http:
            await self._serve()
        self._started = True
        log.info("controller started; %d canaries", len(self.scheduler.loops))

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.caches.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        close = getattr(self._caller, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _serve(self) -> None:
        host, _, port = self.settings.metrics_addr.rpartition(":")
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host or "127.0.0.1", int(port or 8080)).start()

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _: web.Request) -> web.Response:
        if self.caches.synced:
            return web.Response(text="ok")
        return web.Response(text="caches not synced", status=503)
