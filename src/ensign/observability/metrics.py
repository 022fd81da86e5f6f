"""`ControllerMetrics`: Flagger's Prometheus series under Flagger's names, and Ensign's own.

Each controller owns its own `CollectorRegistry` (never prometheus_client's global one), so
several controllers in one process (the tests) do not clash. Flagger's series (behaviour
notes §7.1) keep Flagger's names, types, label names and buckets (the Go client's
`DefBuckets`), so existing dashboards and alert rules work unchanged:

    flagger_info{version, mesh_provider}                       gauge, always 1
    flagger_canary_total{namespace}                            gauge, canaries per namespace
    flagger_canary_status{name, namespace}                     gauge, 0 Progressing, 2 Failed, 1 else
    flagger_canary_weight{workload, namespace}                 gauge, `<target>-primary`, `<target>`
    flagger_canary_duration_seconds{name, namespace}           histogram of analysis ticks
    flagger_canary_metric_analysis{name, namespace, metric}    gauge; registered, no data yet
    flagger_canary_successes_total{name, namespace, deployment_strategy, analysis_status}
    flagger_canary_failures_total{name, namespace, deployment_strategy, analysis_status}

As in Flagger's recorder, `name` (and `workload`) come from the canary's `targetRef.name`.
Ensign's own series:

    ensign_tick_duration_seconds{outcome}       histogram; outcome ok|analysed|error|crashed
    ensign_api_requests_total{verb}             counter; get|list|watch|create|update|patch|delete
    ensign_watch_restarts_total{kind}           counter; watch streams restarted, per cached kind
    ensign_watch_relists_total{kind}            counter; full relists, per cached kind
    ensign_workqueue_depth{state}               gauge; canary loops `queued` for a concurrency
                                                slot, and `running` a tick
    ensign_detection_latency_seconds            histogram; target revision change seen by the
                                                cache → the tick that scaled the canary up

Cardinality is bounded: per-canary series carry only the target's name and namespace (plus
Flagger's two closed-set labels on the counters), and are removed when the canary is deleted;
Ensign's labels are closed sets. Counters and histograms carry no `_created` series (Flagger's
Go client has none). Plus the process, platform and GC collectors of prometheus_client (the
Python counterparts of Flagger's Go and process collectors).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from ensign import __version__
from ensign.engine.actions import ScaleTarget, SetRoutes
from ensign.engine.decide import Decision
from ensign.engine.observations import Snapshot
from ensign.engine.phases import Phase
from ensign.engine.weights import Routes
from ensign.kube.api import JSON
from ensign.model import Canary
from ensign.observability.series import CounterSeries, GaugeSeries, HistogramSeries, SeriesCollector
from ensign.observability.server import Reply

if TYPE_CHECKING:
    from ensign.runtime.cache import Caches
    from ensign.runtime.reconciler import TickResult

Key = tuple[str, str]  # (namespace, canary name), as the caches key objects
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The Go client's prometheus.DefBuckets, which Flagger's duration histogram uses.
GO_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DETECTION_BUCKETS = (
    *(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    *(30.0, 60.0, 120.0, 300.0, 600.0),
)
TICK_OUTCOMES = ("ok", "analysed", "error", "crashed")
QUEUE_STATES = ("queued", "running")
COUNTER_LABELS = ("name", "namespace", "deployment_strategy", "analysis_status")
COMPLETED = "completed"
SKIPPED = "skipped"
WORKLOAD_KINDS = frozenset({"Deployment", "DaemonSet"})


def status_value(phase: str) -> int:
    """Flagger's `SetStatus`: 0 while Progressing, 2 when Failed, 1 for every other phase."""
    if phase == Phase.PROGRESSING:
        return 0
    if phase == Phase.FAILED:
        return 2
    return 1


def tick_outcome(result: TickResult | None) -> str:
    """The `outcome` label of a tick: `crashed` (raised), `error`, `analysed` or `ok`."""
    if result is None:
        return "crashed"
    if result.error:
        return "error"
    return "analysed" if result.analysed else "ok"


def routes_after(snapshot: Snapshot, decision: Decision) -> Routes:
    """The routes once the decision's actions ran: its last SetRoutes, else those observed."""
    routes = snapshot.routes
    for action in decision.actions:
        if isinstance(action, SetRoutes):
            routes = action.routes
    return routes


def scales_up(decision: Decision) -> bool:
    return any(isinstance(a, ScaleTarget) and a.up for a in decision.actions)


def target_revision_changed(
    canary: JSON | None, kind: str, old: JSON | None, new: JSON | None
) -> bool:
    """Whether this change of a watched object is a new revision of `canary`'s target: the
    pod template of its target Deployment/DaemonSet changed (replicas and status do not)."""
    if canary is None or old is None or new is None or kind not in WORKLOAD_KINDS:
        return False
    target = (canary.get("spec") or {}).get("targetRef") or {}
    if str(target.get("kind") or "Deployment") != kind:
        return False
    if (new.get("metadata") or {}).get("name") != target.get("name"):
        return False
    return bool((old.get("spec") or {}).get("template") != (new.get("spec") or {}).get("template"))


class QueueSource(Protocol):
    def queue_depth(self) -> Mapping[str, int]: ...


def _empty() -> Mapping[str, int]:
    return {}


@dataclass(slots=True)
class _Series:
    """The label values one canary has written, so its series can be removed with it."""

    target: str
    namespace: str
    primary: str = ""  # f"{target}-primary", the primary's weight label, made once
    # Both start as the shared empty tuple and become sets on first use (few canaries have any).
    counted: set[tuple[str, str, str]] | tuple[()] = ()  # (counter, strategy, status)
    metrics: set[str] | tuple[()] = ()  # flagger_canary_metric_analysis names

    def count(self, entry: tuple[str, str, str]) -> None:
        if not isinstance(self.counted, set):
            self.counted = set()
        self.counted.add(entry)

    def measure(self, metric: str) -> None:
        if not isinstance(self.metrics, set):
            self.metrics = set()
        self.metrics.add(metric)


class ControllerMetrics:
    """The metrics of one controller, in its own registry; `exposition()` renders them."""

    def __init__(
        self,
        *,
        mesh_provider: str = "kubernetes",
        version: str = __version__,
        api_requests: Callable[[], Mapping[str, int]] = _empty,
        watch_restarts: Callable[[], Mapping[str, int]] = _empty,
        watch_relists: Callable[[], Mapping[str, int]] = _empty,
        queue_depth: Callable[[], Mapping[str, int]] = _empty,
        canary_namespaces: Callable[[], Iterable[str]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        self.info = Gauge(
            "flagger_info",
            "Controller version and mesh provider",
            ["version", "mesh_provider"],
            registry=r,
        )
        self.info.labels(version, mesh_provider).set(1)
        # Per-canary families: plain values, rendered when scraped (series.py says why).
        self.status = GaugeSeries(
            "flagger_canary_status",
            "Last canary analysis result: 0 running (Progressing), 1 successful, 2 failed",
            ["name", "namespace"],
        )
        self.weight = GaugeSeries(
            "flagger_canary_weight",
            "Current traffic weight of the primary (<target>-primary) and canary (<target>)",
            ["workload", "namespace"],
        )
        self.duration = HistogramSeries(
            "flagger_canary_duration_seconds",
            "Seconds taken by canary analysis ticks",
            ["name", "namespace"],
            GO_DEFAULT_BUCKETS,
        )
        self.metric_analysis = GaugeSeries(
            "flagger_canary_metric_analysis",
            "Last value of each metric check (metric analysis is not implemented yet)",
            ["name", "namespace", "metric"],
        )
        self.successes = CounterSeries(
            "flagger_canary_successes", "Canary runs that ended Succeeded", COUNTER_LABELS
        )
        self.failures = CounterSeries(
            "flagger_canary_failures",
            "Canary runs that ended Failed (rollbacks and failed promotions)",
            COUNTER_LABELS,
        )
        r.register(
            SeriesCollector(
                self.status,
                self.weight,
                self.duration,
                self.metric_analysis,
                self.successes,
                self.failures,
            )
        )
        self.tick_duration = Histogram(
            "ensign_tick_duration_seconds",
            "Seconds taken by one tick of one canary, by outcome",
            ["outcome"],
            buckets=TICK_BUCKETS,
            registry=r,
        )
        for outcome in TICK_OUTCOMES:
            self.tick_duration.labels(outcome)
        self.detection_latency = Histogram(
            "ensign_detection_latency_seconds",
            "Seconds from a target revision change seen by the cache to the tick scaling it up",
            buckets=DETECTION_BUCKETS,
            registry=r,
        )
        self._api_requests = api_requests
        self._watch_restarts = watch_restarts
        self._watch_relists = watch_relists
        self._queue_depth = queue_depth
        self._canary_namespaces = canary_namespaces
        self._namespaces_seen: set[str] = set()
        r.register(_ScrapeTime(self))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self._series: dict[Key, _Series] = {}
        self._pending: dict[Key, float] = {}  # detection start per canary (clock time)

    @classmethod
    def of(
        cls, *, api: object, caches: Caches, scheduler: QueueSource, mesh_provider: str
    ) -> ControllerMetrics:
        """The metrics of a controller: API requests counted by `api` (when it counts them,
        as `LightkubeApi` does), watch restarts of `caches`, queue depth of `scheduler`."""

        def requests() -> Mapping[str, int]:
            return dict(getattr(api, "requests", None) or {})

        def namespaces() -> Iterable[str]:
            informer = caches.by_kind.get("Canary")
            return [ns for ns, _ in informer.cached()] if informer is not None else []

        return cls(
            mesh_provider=mesh_provider,
            api_requests=requests,
            watch_restarts=lambda: {k: i.restarts for k, i in caches.by_kind.items()},
            watch_relists=lambda: {k: i.relists for k, i in caches.by_kind.items()},
            queue_depth=scheduler.queue_depth,
            canary_namespaces=namespaces,
        )

    # ------------------------------------------------------------ recording

    def observe_decision(
        self, canary: Canary, snapshot: Snapshot, decision: Decision, *, started: float
    ) -> None:
        """Flagger's per-canary series after a tick whose decision was carried out and
        persisted; `started` is the tick's start on `clock`."""
        now = self.clock()
        series = self._track(canary)
        target, ns = series.target, series.namespace
        before, after = snapshot.status.phase, decision.status.phase
        self.status.set((target, ns), status_value(after))
        routes = routes_after(snapshot, decision)
        self.weight.set((series.primary, ns), routes.primary)
        self.weight.set((target, ns), routes.canary)
        if decision.analysed:
            self.duration.observe((target, ns), max(now - started, 0.0))
        if after != before and after in (Phase.SUCCEEDED, Phase.FAILED):
            strategy = str(canary.spec.strategy)
            skipped = after == Phase.SUCCEEDED and canary.spec.skip_analysis
            status = SKIPPED if skipped else COMPLETED
            counter = self.successes if after == Phase.SUCCEEDED else self.failures
            counter.inc((target, ns, strategy, status))
            series.count((str(after), strategy, status))
        self._settle_detection(_key(canary), snapshot, decision, started=started, now=now)

    def observe_tick(self, outcome: str, seconds: float) -> None:
        if outcome not in TICK_OUTCOMES:
            raise ValueError(f"unknown tick outcome {outcome!r}")
        self.tick_duration.labels(outcome).observe(max(seconds, 0.0))

    def target_changed(
        self, key: Key, canary: JSON | None, kind: str, old: JSON | None, new: JSON | None
    ) -> None:
        """Start the detection clock of `key` when this cache change is a new revision of its
        target (the earliest change not yet scaled up counts)."""
        if target_revision_changed(canary, kind, old, new):
            self._pending.setdefault(key, self.clock())

    def detection(self, seconds: float) -> None:
        self.detection_latency.observe(max(seconds, 0.0))

    def set_metric_analysis(self, canary: Canary, metric: str, value: float) -> None:
        """Flagger's `SetAnalysis`: the last value of a metric check (durations in seconds)."""
        series = self._track(canary)
        self.metric_analysis.set((series.target, series.namespace, metric), value)
        series.measure(metric)

    def forget(self, key: Key) -> None:
        """Remove every series of a deleted canary (kept while another canary of the same
        namespace has the same target, since the labels are the target's)."""
        self._pending.pop(key, None)
        series = self._series.pop(key, None)
        if series is not None:
            self._remove(series)

    # ----------------------------------------------------------- exposition

    def exposition(self) -> bytes:
        """The text exposition format (version 0.0.4)."""
        return generate_latest(_WithoutCreated(self.registry))

    def scrape(self) -> Reply:
        """`GET /metrics`."""
        return Reply(200, self.exposition(), CONTENT_TYPE)

    # -------------------------------------------------------------- helpers

    def _track(self, canary: Canary) -> _Series:
        key = _key(canary)
        target = canary.spec.target_ref.name
        series = self._series.get(key)
        if series is not None and series.target != target:  # retargeted: drop the old series
            del self._series[key]
            self._remove(series)
            series = None
        if series is None:
            series = _Series(target=target, namespace=key[0], primary=f"{target}-primary")
            self._series[key] = series
        return series

    def _remove(self, series: _Series) -> None:
        target, ns = series.target, series.namespace
        if any(s.target == target and s.namespace == ns for s in self._series.values()):
            return
        self.status.remove((target, ns))
        self.weight.remove((series.primary, ns))
        self.weight.remove((target, ns))
        self.duration.remove((target, ns))
        for metric in series.metrics:
            self.metric_analysis.remove((target, ns, metric))
        for phase, strategy, status in series.counted:
            counter = self.successes if phase == Phase.SUCCEEDED else self.failures
            counter.remove((target, ns, strategy, status))

    def _settle_detection(
        self, key: Key, snapshot: Snapshot, decision: Decision, *, started: float, now: float
    ) -> None:
        armed = self._pending.get(key)
        if armed is None:
            return
        if scales_up(decision):
            del self._pending[key]
            self.detection(now - armed)
            return
        # A tick that saw the change absorbed it without scaling up (a restart during
        # analysis, or a template change that is no new revision): nothing to measure.
        absorbed = bool(snapshot.revision) and (
            decision.status.last_applied_spec == snapshot.revision
        )
        if armed < started and absorbed:
            del self._pending[key]

    def _scrape_time(self) -> Iterator[Metric]:
        total = GaugeMetricFamily(
            "flagger_canary_total", "Canaries per namespace", labels=["namespace"]
        )
        counts: dict[str, int] = {}
        for ns in self._canary_namespaces():
            counts[ns] = counts.get(ns, 0) + 1
        self._namespaces_seen |= set(counts)
        for ns in sorted(self._namespaces_seen):
            total.add_metric([ns], counts.get(ns, 0))
        yield total
        yield _counter(
            "ensign_api_requests", "Kubernetes API requests by verb", "verb", self._api_requests()
        )
        yield _counter(
            "ensign_watch_restarts",
            "Watch streams restarted, per cached kind",
            "kind",
            self._watch_restarts(),
        )
        yield _counter(
            "ensign_watch_relists", "Full relists, per cached kind", "kind", self._watch_relists()
        )
        depth = GaugeMetricFamily(
            "ensign_workqueue_depth",
            "Canary loops queued for a concurrency slot, and running a tick",
            labels=["state"],
        )
        values = self._queue_depth()
        for state in QUEUE_STATES:
            depth.add_metric([state], values.get(state, 0))
        yield depth


def _key(canary: Canary) -> Key:
    return (canary.namespace or "", canary.name)


def _counter(name: str, documentation: str, label: str, values: Mapping[str, int]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(values.items()):
        family.add_metric([value], count)
    return family


class _ScrapeTime:
    """Series computed when scraped, from the controller's own counters."""

    def __init__(self, metrics: ControllerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self.metrics._scrape_time()

    def describe(self) -> Iterator[Metric]:
        for name in ("flagger_canary_total", "ensign_workqueue_depth"):
            yield GaugeMetricFamily(name, "")
        for name in ("ensign_api_requests", "ensign_watch_restarts", "ensign_watch_relists"):
            yield CounterMetricFamily(name, "")


class _WithoutCreated:
    """The registry's metrics without the `_created` samples that prometheus_client adds to
    counters and histograms (Flagger's Go client exposes none)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            if metric.type in ("counter", "histogram", "summary"):
                kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
                kept.samples = [s for s in metric.samples if not s.name.endswith("_created")]
                yield kept
            else:
                yield metric
