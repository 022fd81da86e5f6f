"""Wiring: settings → caches, reconciler, scheduler, health endpoint. Does I/O.

`Controller` is what `ensign controller` runs and what tests start against the local
cluster. `start()` returns once the caches have synced; `stop()` is clean and idempotent.

With leader election (the default) every replica keeps its caches synced, but only the
holder of the Lease runs the scheduler: `start()` returns after the first campaign attempt,
leading or standing by. A leader that loses the lease stops every canary loop at once and
campaigns again with warm caches (Flagger exits instead; the effect on the cluster is the
same). `stop()` stops the work first, then releases the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ensign.alerting import AlertDispatcher, Destination, global_notifier
from ensign.kube import kinds
from ensign.kube.api import KubeApi
from ensign.observability.metrics import ControllerMetrics
from ensign.observability.server import ProbeServer, Reply, text
from ensign.routers.protocol import RouterSettings
from ensign.runtime.analysis import MetricAnalyzer
from ensign.runtime.cache import Caches, Informer
from ensign.runtime.coexistence import FlaggerGuard
from ensign.runtime.events import EventRecorder
from ensign.runtime.executor import Executor
from ensign.runtime.finalizer import Finalizer
from ensign.runtime.hooks import HookRunner
from ensign.runtime.leader import LeaderElector
from ensign.runtime.reconciler import Reconciler
from ensign.runtime.routing import RouterWatches
from ensign.runtime.scheduler import Scheduler
from ensign.runtime.secrets import SecretReader
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
    kinds.METRIC_TEMPLATE,
    kinds.ALERT_PROVIDER,
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
    idle_resync: float = 300.0  # idle canaries tick on watch events, and at least this often
    event_webhook: str = ""  # Flagger's -event-webhook / EVENT_WEBHOOK_URL
    # Flagger's -mesh-provider (Flagger defaults to istio, which Ensign does not implement yet).
    mesh_provider: str = "kubernetes"
    # Flagger's -ingress-annotations-prefix (the NGINX router's annotations).
    ingress_annotations_prefix: str = "nginx.ingress.kubernetes.io"
    # Flagger's -ingress-class (the Contour router's HTTPProxy ingressClassName).
    ingress_class: str = ""
    # Flagger's -metrics-server: Prometheus for builtin checks without spec.metricsServer.
    metrics_server: str = "http://prometheus:9090"
    # The global notifier (Flagger's -slack-*, -msteams-* flags) and -cluster-name.
    slack_url: str = ""
    slack_token: str = ""
    slack_proxy_url: str = ""
    slack_user: str = "flagger"
    slack_channel: str = ""
    msteams_url: str = ""
    msteams_proxy_url: str = ""
    cluster_name: str = ""
    # Leader election (Flagger's -enable-leader-election, its 60/15/5 s timings) and sharding.
    leader_election: bool = True
    leader_election_namespace: str = "kube-system"  # replaced by `namespace` when set
    lease_name: str = "ensign-leader-election"  # `-<shard>` appended when sharded
    lease_duration: float = 60.0
    renew_deadline: float = 15.0
    retry_period: float = 5.0
    identity: str = ""  # default: <hostname>_<uuid>, as Flagger
    shard: str = ""  # names this shard's Lease
    canary_selector: str = ""  # label selector: the canaries this shard handles
    allow_flagger: bool = False  # act even while Flagger looks active (runtime/coexistence.py)

    def global_notifier(self) -> Destination | None:
        """The notifier for canaries without alerts; raises NotifierConfigError (naming the
        flag) for one that could never deliver."""
        return global_notifier(
            slack_url=self.slack_url,
            slack_token=self.slack_token,
            slack_proxy_url=self.slack_proxy_url,
            slack_user=self.slack_user,
            slack_channel=self.slack_channel,
            msteams_url=self.msteams_url,
            msteams_proxy_url=self.msteams_proxy_url,
        )

    @property
    def lease_namespace(self) -> str:
        return self.namespace or self.leader_election_namespace

    @property
    def lease(self) -> str:
        return f"{self.lease_name}-{self.shard}" if self.shard else self.lease_name


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
                    api,
                    k,
                    namespace=settings.namespace,
                    watch_timeout=settings.watch_timeout,
                    labels=settings.canary_selector if k is kinds.CANARY else "",
                )
                for k in WATCHED
            }
        )
        self._caller = caller or HttpWebhookCaller()
        self.hooks = HookRunner(self._caller, event_webhook=settings.event_webhook)
        self.events = EventRecorder(api, clock, forward=self.hooks.forward_event)
        self.hooks.events = self._hook_event
        notifier = settings.global_notifier()
        if notifier is not None:
            log.info("%s", notifier.summary())
        self.alerts = AlertDispatcher(
            lookup_provider=self.caches["AlertProvider"].get,
            lookup_secret=SecretReader(self.caches),
            global_notifier=notifier,
            cluster_name=settings.cluster_name,
        )
        self.routing = RouterWatches(
            api, self.caches, namespace=settings.namespace, watch_timeout=settings.watch_timeout
        )
        executor = Executor(
            api,
            self.caches,
            self.events,
            self.hooks,
            include_label_prefixes=settings.include_label_prefixes,
            alerts=self.alerts,
            view=self.routing.view,
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
            routing=self.routing,
            router_settings=RouterSettings(
                ingress_annotations_prefix=settings.ingress_annotations_prefix,
                ingress_class=settings.ingress_class,
            ),
            analyzer=MetricAnalyzer(
                self.caches,
                clock=clock,
                metrics_server=settings.metrics_server,
                mesh_provider=settings.mesh_provider,
            ),
        )
        self.reconciler.finalizer = Finalizer(api, self.caches, self.events)
        self.reconciler.finalizer.router_changes = self.reconciler.router_finalize
        self.reconciler.finalizer.apply = executor.apply
        self.reconciler.finalizer.router_cleanup = self.reconciler.router_leaves_objects
        self.scheduler = Scheduler(
            self.reconciler,
            self.caches,
            concurrency=settings.concurrency,
            idle_resync=settings.idle_resync,
        )
        self.metrics = ControllerMetrics.of(  # served on /metrics; fed by reconciler, scheduler
            api=api,
            caches=self.caches,
            scheduler=self.scheduler,
            mesh_provider=settings.mesh_provider,
        )
        self.reconciler.metrics = self.scheduler.metrics = self.metrics
        self.routing.wake = self.scheduler.wake
        self.guard = FlaggerGuard(  # the scheduler starts only once Flagger looks inactive
            api,
            self.caches,
            clock=clock,
            allow=settings.allow_flagger,
            namespace=settings.namespace,
            canary_selector=settings.canary_selector,
        )
        self._http: ProbeServer | None = None
        self._started = False

    async def _hook_event(
        self, canary: Any, body: dict[str, Any], message: str, warning: bool
    ) -> None:
        await self.events.record(canary, body, message=message, warning=warning)

    async def start(self) -> None:
        if self.settings.serve_http:
            # First, so /healthz answers and /readyz says 503 while the caches sync.
            await self._serve()
        self.caches.start()
        await self.caches.wait_synced()
        if self.settings.leader_election:
            self.elector = self._elector()
            self._election = asyncio.create_task(
                self.elector.run(self._start_leading, self._stop_leading), name="leader-election"
            )
            self._election.add_done_callback(self._election_ended)
            await self.elector.campaigned.wait()
        else:
            await self.guard.start(self.scheduler.start)
        self._started = True
        log.info("controller started; %d canaries", len(self.scheduler.loops))

    async def stop(self) -> None:
        if self._election is not None:
            self._election.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._election
            self._election = None
        await self.guard.stop()
        await self.scheduler.stop()
        if self.elector is not None:
            await self.elector.release()  # only after the work has stopped
        await self.routing.stop()
        await self.caches.stop()
        await self.reconciler.analyzer.aclose()
        await self.alerts.aclose()
        if self._http is not None:
            await self._http.stop()
            self._http = None
        close = getattr(self._caller, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()

    # ------------------------------------------------------------ leader election

    elector: LeaderElector | None = None
    _election: asyncio.Task[None] | None = None
    _stopping: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        """Whether this controller acts: it holds the lease, or runs without election."""
        if not self.settings.leader_election:
            return self._started
        return self.elector is not None and self.elector.is_leader.is_set()

    def _elector(self) -> LeaderElector:
        s = self.settings
        if s.shard and not s.canary_selector:
            log.warning("shard %r has no canary selector: it handles every canary", s.shard)
        return LeaderElector(
            self.api,
            namespace=s.lease_namespace,
            name=s.lease,
            identity=s.identity or f"{socket.gethostname()}_{uuid.uuid4()}",
            lease_duration=s.lease_duration,
            renew_deadline=s.renew_deadline,
            retry_period=s.retry_period,
        )

    async def _start_leading(self) -> None:
        await self.guard.start(self.scheduler.start)

    async def _stop_leading(self) -> None:
        await self.guard.stop()
        await self.scheduler.stop()  # cancels every canary loop before its first await

    def _election_ended(self, task: asyncio.Task[None]) -> None:
        """The election never ends on its own; if a bug ends it, nobody renews the lease,
        so stop acting (as after a loss)."""
        if task.cancelled():
            return
        log.error("leader election ended unexpectedly; stopping", exc_info=task.exception())
        if self.elector is not None:
            self.elector.campaigned.set()  # start() must not wait for it
        self.guard.cancel()
        self._stopping = asyncio.get_running_loop().create_task(self.scheduler.stop())

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _serve(self) -> None:
        routes = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/metrics": self.metrics.scrape,
        }
        self._http = ProbeServer(routes)
        await self._http.start(self.settings.metrics_addr)

    def _healthz(self) -> Reply:
        return text("ok")

    def _readyz(self) -> Reply:
        if self.guard.reason is not None:
            return text(f"not acting: {self.guard.reason}", 503)
        if self.caches.synced:
            return text("ok")
        return text("caches not synced", 503)
