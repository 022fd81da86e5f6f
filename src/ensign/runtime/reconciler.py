"""One tick of one canary: observe → decide (asking gates as needed) → execute → persist.

The only place where the engine meets I/O. A tick never raises: API errors become a
`TickResult` with an error and a retry, and the next tick starts again from the caches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ensign.engine.decide import Decision, decide
from ensign.engine.observations import HookOutcome, MetricOutcome, MetricsRequest, ProbeRequest
from ensign.engine.phases import ACTIVE
from ensign.engine.status import dump_status, parse_status, rfc3339, with_conditions
from ensign.kube import kinds
from ensign.kube.api import JSON, Conflict, KubeApi, KubeError, NotFound, WriteRefused
from ensign.model import (
    Canary,
    HookType,
    InvalidSpec,
    SpecError,
    format_duration,
    parse_canary,
    parse_duration,
)
from ensign.model.capabilities import Capability
from ensign.routers.protocol import ObjectChange, RouteError, Router, RouterSettings
from ensign.routers.registry import UnknownProviderError, make_router
from ensign.runtime.analysis import MetricAnalyzer
from ensign.runtime.cache import Caches, rv_of
from ensign.runtime.executor import Executor
from ensign.runtime.finalizer import Finalizer, has_finalizer
from ensign.runtime.hooks import HookRunner
from ensign.runtime.observe import observe
from ensign.runtime.outbox import FIELD as OUTBOX
from ensign.runtime.outbox import Courier, entries_for, is_effect
from ensign.runtime.routing import RouterWatches
from ensign.runtime.slots import outside_slot
from ensign.workloads import autoscalers

if TYPE_CHECKING:
    from ensign.observability.metrics import ControllerMetrics

log = logging.getLogger(__name__)
Key = tuple[str, str]
MAX_PROBES = 12


@dataclass(frozen=True, slots=True)
class TickResult:
    interval: float
    analysed: bool = False
    error: str = ""
    retry_soon: bool = False
    phase: str = ""
    idle: bool = False


class Reconciler:
    def __init__(
        self,
        *,
        api: KubeApi,
        caches: Caches,
        executor: Executor,
        hooks: HookRunner,
        clock: Callable[[], datetime],
        selector_labels: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name"),
        min_interval: float = 10.0,
        default_provider: str = "kubernetes",
        analyzer: MetricAnalyzer | None = None,
        routing: RouterWatches | None = None,
        router_settings: RouterSettings | None = None,
    ) -> None:
        self.api = api
        self.caches = caches
        self.executor = executor
        self.hooks = hooks
        self.clock = clock
        self.selector_labels = selector_labels
        self.min_interval = min_interval
        self.default_provider = default_provider
        self.analyzer = analyzer or MetricAnalyzer(
            caches, clock=clock, mesh_provider=default_provider
        )
        self.routing = routing or RouterWatches(api, caches)
        self.router_settings = router_settings or RouterSettings()
        self._routers: dict[str, Router | str] = {}
        self.finalizer: Finalizer | None = None
        self.metrics: ControllerMetrics | None = None  # set by the Controller
        self.courier = Courier(api, caches, executor.events, hooks, executor.alerts, executor.own)
        self.ticks = 0  # ticks started, and ended (a test waits for a controller's first)
        self.ticks_done = 0
        self.status_writes = 0

    def router(self, canary: Canary) -> Router | str:
        """The canary's router (one per provider string), or why there is none."""
        provider = str(canary.spec.provider or self.default_provider)
        router = self._routers.get(provider)
        if router is None:
            try:
                router = make_router(provider, settings=self.router_settings)
            except UnknownProviderError as exc:
                router = str(exc)
            self._routers[provider] = router
        return router

    def router_finalize(self, canary: Canary) -> tuple[ObjectChange, ...]:
        """What the canary's router restores or deletes when the canary goes."""
        router = self.router(canary)
        return () if isinstance(router, str) else router.finalize(canary, self.routing.view)

    def router_leaves_objects(self, canary: Canary) -> bool:
        """Whether the router writes objects that garbage collection will not remove."""
        router = self.router(canary)
        return not isinstance(router, str) and (Capability.UNOWNED_OBJECTS in router.capabilities)

    def forget(self, key: Key) -> None:
        """The canary is gone: release what was kept for it (its router caches)."""
        self.routing.forget(key)
        self.courier.forget(key)

    def current(self, key: Key) -> JSON | None:
        return self.caches["Canary"].get(*key)

    async def tick(self, key: Key, *, analysis_due: bool) -> TickResult:
        self.ticks += 1
        try:
            return await self._tick(key, analysis_due=analysis_due)
        finally:
            self.ticks_done += 1

    async def _tick(self, key: Key, *, analysis_due: bool) -> TickResult:
        started = time.monotonic()  # for the metrics' tick and detection timings
        body = self.current(key)
        if body is None:
            return TickResult(interval=60.0)
        try:
            canary = parse_canary(body)
        except InvalidSpec as invalid:
            await self._report_invalid(body, invalid)
            return TickResult(interval=60.0, error=str(invalid))
        interval = self.interval(canary)
        canary = self._with_interval_warning(canary, interval)
        if self.finalizer is not None:
            try:
                if (body.get("metadata") or {}).get("deletionTimestamp"):
                    if has_finalizer(body):
                        done = await self.finalizer.finalize(canary, body, now=self.clock())
                        return TickResult(interval=interval, retry_soon=not done)
                    return TickResult(interval=interval)
                body = await self.finalizer.sync(canary, body)
            except KubeError as exc:
                return TickResult(interval=interval, error=str(exc), retry_soon=True)
        try:
            decision, observed = await self._decide(canary, body, analysis_due=analysis_due)
            log.debug(
                "tick %s due=%s → %s: %s", key, analysis_due, decision.reason, decision.message
            )
            # Writes first (desired state, idempotent); side effects only once the status
            # that records them is written (runtime/outbox.py), and then exactly once.
            effects = tuple(a for a in decision.actions if is_effect(a))
            writes = tuple(a for a in decision.actions if not is_effect(a))
            await self.executor.run(canary, observed, writes)
            entries = entries_for(
                effects,
                body=observed.body,
                new_phase=str(decision.status.phase),
                target_kind=observed.snapshot.target_kind or str(canary.spec.target_ref.kind),
            )
            if not await self._persist(body, decision, interval=interval, outbox=entries):
                # No transition (a hold repeating): nothing to record them in, as before.
                await self.executor.run(canary, observed, effects)
            if self.metrics is not None:  # Flagger's per-canary series, once persisted
                self.metrics.observe_decision(canary, observed.snapshot, decision, started=started)
            analysed, phase, idle = decision.analysed, str(decision.status.phase), decision.idle
            # Delivery may wait (a slow receiver, a slot to take back): what the tick read
            # is not kept alive meanwhile.
            del decision, observed
            delivered = await self.courier.deliver(canary, key)
        except Conflict as exc:
            return TickResult(interval=interval, error=str(exc), retry_soon=True)
        except WriteRefused as refused:
            log.warning("tick of %s.%s stopped: %s", key[1], key[0], refused.explain())
            await self._report_refused(canary, body, refused)
            return TickResult(interval=interval, error=refused.explain(), retry_soon=True)
        except RouteError as exc:  # observe() checks renders first; this is a late change
            log.warning("tick of %s.%s stopped: router: %s", key[1], key[0], exc)
            return TickResult(interval=interval, error=str(exc), retry_soon=True)
        except KubeError as exc:
            log.warning("tick of %s.%s stopped: %s", key[1], key[0], exc)
            return TickResult(interval=interval, error=str(exc), retry_soon=True)
        return TickResult(
            interval=interval,
            analysed=analysed,
            phase=phase,
            idle=idle and delivered,
            retry_soon=not delivered,  # side effects left in the outbox: soon again
            error="" if delivered else "side effects left pending in status.outbox",
        )

    def _with_interval_warning(self, canary: Canary, interval: float) -> Canary:
        """An analysis interval below the controller's floor (Flagger's 10 s) is raised to
        it; the canary's Warning condition says so, with the value in force."""
        text = canary.spec.effective_analysis.interval
        try:
            asked = parse_duration(text) if text else 60.0
        except ValueError:
            return canary
        if asked >= interval:
            return canary
        warning = SpecError(
            "spec.analysis.interval",
            f"{text} is below the controller's minimum of {format_duration(interval)};"
            f" the analysis runs every {format_duration(interval)}",
        )
        spec = replace(canary.spec, warnings=(*canary.spec.warnings, warning))
        return replace(canary, spec=spec)

    def interval(self, canary: Canary) -> float:
        """The analysis interval, floored at `min_interval` (Flagger's floor is 10 s; tests and
        the demo lower it)."""
        text = canary.spec.effective_analysis.interval
        try:
            seconds = parse_duration(text) if text else 60.0
        except ValueError:
            seconds = 60.0
        return max(seconds, self.min_interval)

    async def _decide(
        self, canary: Canary, body: JSON, *, analysis_due: bool
    ) -> tuple[Decision, Any]:
        now = self.clock()
        router = self.router(canary)
        key = (canary.namespace or "", canary.name)
        router_kinds = router.kinds if not isinstance(router, str) else ()
        # An add-on autoscaler (KEDA) is watched like a router kind; its missing CRD is named
        # as the autoscaler's problem, not the router's.
        scaler_kinds = autoscalers.optional_kinds(canary.spec.autoscaler_ref)
        problems = await self.routing.acquire(key, router_kinds + scaler_kinds)
        router_problem = "; ".join(p for k, p in problems.items() if k in router_kinds)
        autoscaler_problem = "; ".join(p for k, p in problems.items() if k in scaler_kinds)
        observed = observe(
            canary,
            body,
            self.caches,
            now=now,
            selector_labels=self.selector_labels,
            router=router,
            view=self.routing.view,
            router_problem=router_problem,
            autoscaler_problem=autoscaler_problem,
        )
        probes: dict[HookType, tuple[HookOutcome, ...]] = {}
        metrics: tuple[MetricOutcome, ...] | None = None
        for _ in range(MAX_PROBES):
            outcome = decide(
                observed.snapshot, probes, now=now, analysis_due=analysis_due, metrics=metrics
            )
            if isinstance(outcome, MetricsRequest):
                async with outside_slot():  # slow queries never hold a slot others need
                    metrics = await self.analyzer.run(
                        canary, target_kind=observed.snapshot.target_kind
                    )
                if self.metrics is not None:
                    for measured in metrics:
                        if measured.gauge is not None:
                            self.metrics.set_metric_analysis(canary, measured.name, measured.gauge)
                continue
            if isinstance(outcome, ProbeRequest):
                async with outside_slot():  # a webhook may take 10 s per attempt
                    probes[outcome.hook_type] = await self.hooks.gate(
                        canary, observed, hook_type=outcome.hook_type, phase=outcome.phase
                    )
                continue
            return outcome, observed
        raise RuntimeError("the engine asked for more probes than there are hook types")

    async def _persist(
        self, body: JSON, decision: Decision, *, interval: float, outbox: JSON | None = None
    ) -> bool:
        """Write the decision's status (with its outbox entries); False when unchanged."""
        old_raw = body.get("status") or {}
        new_raw = dump_status(decision.status)
        if decision.status.phase not in ACTIVE:
            new_raw.pop("nextAnalysisAt", None)
        elif decision.analysed:  # written with the step it follows: no extra status write
            next_at = self.clock() + timedelta(seconds=interval)
            new_raw["nextAnalysisAt"] = rfc3339(next_at)
        if parse_status(old_raw).content() == decision.status.content() and old_raw.get(
            "conditions"
        ) == new_raw.get("conditions"):
            return False
        await self._write_status(body, old_raw, new_raw, outbox=outbox)
        return True

    async def _write_status(
        self, body: JSON, old_raw: JSON, new_raw: JSON, *, outbox: JSON | None = None
    ) -> None:
        meta = body["metadata"]
        patch_status: JSON = dict(new_raw)
        for k in old_raw:
            if k not in new_raw:
                patch_status[k] = None
        old_tracked = old_raw.get("trackedConfigs") or {}
        if isinstance(new_raw.get("trackedConfigs"), dict):
            patch_status["trackedConfigs"] = {
                **{k: None for k in old_tracked if k not in new_raw["trackedConfigs"]},
                **new_raw["trackedConfigs"],
            }
        # The outbox is merged, never restated: pending entries stay as they are (the
        # courier removes delivered ones), this decision's are added.
        patch_status.pop(OUTBOX, None)
        if outbox:
            patch_status[OUTBOX] = dict(outbox)
        patch = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": patch_status}
        written = await self.api.patch_status(
            kinds.CANARY, meta["name"], patch, namespace=meta.get("namespace")
        )
        self.status_writes += 1
        own = self.executor.own
        own.record("Canary", written)
        with own.feeding_back():
            self.caches["Canary"].observe(written)

    async def _report_refused(self, canary: Canary, body: JSON, refused: WriteRefused) -> None:
        """Say in the Ready condition which write the API server refused, on which object,
        and its message; a Warning Event says the same, once per distinct refusal. The next
        tick whose writes succeed replaces the condition."""
        current = self.current((canary.namespace or "", canary.name)) or body
        status = parse_status(current.get("status"))
        message = refused.explain()
        old = status.condition("Ready")
        if old is not None and old.message == message:
            return
        await self.executor.events.record(canary, current, message=message, warning=True)
        new = with_conditions(
            status,
            kind=str(canary.spec.target_ref.kind),
            ready=False,
            reason="WriteRefused",
            message=message,
            now=self.clock(),
        )
        raw = dump_status(new)
        raw["lastTransitionTime"] = rfc3339(self.clock())
        try:
            await self._write_status(current, current.get("status") or {}, raw)
        except (Conflict, NotFound):
            return
        except KubeError as exc:
            log.warning("could not report the refused write: %s", exc)

    async def _report_invalid(self, body: JSON, invalid: InvalidSpec) -> None:
        status = parse_status(body.get("status"))
        message = "invalid spec: " + "; ".join(str(e) for e in invalid.errors)
        old = status.condition("Ready")
        if old is not None and old.message == message:
            return
        new = with_conditions(
            status,
            kind=str((body.get("spec") or {}).get("targetRef", {}).get("kind", "Deployment")),
            ready=False,
            reason="InvalidSpec",
            message=message,
            now=self.clock(),
        )
        raw = dump_status(new)
        raw["lastTransitionTime"] = rfc3339(self.clock())
        try:
            await self._write_status(body, body.get("status") or {}, raw)
        except (Conflict, NotFound):
            return
        except KubeError as exc:
            log.warning("could not report invalid spec: %s", exc)


def newest(a: JSON | None, b: JSON | None) -> JSON | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if rv_of(a) >= rv_of(b) else b
