"""`Simulation`: a tiny simulated world that drives `decide` tick by tick. Pure.

No asyncio, no cluster, no clock: the world is a handful of fields (the Canary manifest, its
status, the target's revision and replicas, the primary's revision and readiness, the routes)
and every tick runs the engine exactly as the runtime does: build a Snapshot, call `decide`
until it returns a Decision (answering each ProbeRequest from the scripted webhooks), then
apply the Decision's status and interpret its actions on the world.

    sim = Simulation(manifests.canary(iterations=3))
    sim.run(2)                        # Initializing (primary created), Initialized
    sim.revision = "rev-2"            # a new target revision
    trace = sim.run(8)                # Progressing … Succeeded
    [e.message for e in sim.events]   # Flagger's event messages, in order

Readiness is scripted per tick (a fixed `Readiness`, or a function of the tick number), and
so are webhook answers, per HookType (a bool, a queue of bools, or a function of the call).
After `PromotePrimary` the primary is not ready for `primary_rollout_ticks` ticks, as a real
rolling update would be.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ensign.engine.actions import (
    Action,
    AlertKind,
    EnsurePrimary,
    PromotePrimary,
    ReconcileServices,
    RecordEvent,
    RunHooks,
    ScaleTarget,
    SendAlert,
    ServiceRole,
    SetRoutes,
)
from ensign.engine.decide import Decision, decide
from ensign.engine.observations import (
    READY,
    HookOutcome,
    MetricOutcome,
    MetricsRequest,
    ProbeRequest,
    Readiness,
    Snapshot,
)
from ensign.engine.phases import Phase
from ensign.engine.status import CanaryStatus
from ensign.engine.weights import ALL_PRIMARY, Routes
from ensign.model import Canary, HookType, Provider, parse_canary
from ensign.model.capabilities import CAPABILITIES, Capability

JSON = dict[str, Any]

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Default time of tick 0; tick n happens at EPOCH + n * interval."""

REFUSED = "refused by the simulation script"
"""The `detail` of a hook answer that failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HookQuery:
    """What a hook script is asked: which hook, of which type, with which phase, on which tick."""

    tick: int
    hook_type: HookType
    name: str
    phase: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HookCall:
    """One recorded webhook call. `gate` is True when `decide` asked for it (a ProbeRequest),
    False when a `RunHooks` action ran it (post-rollout)."""

    tick: int
    hook_type: HookType
    name: str
    phase: str
    gate: bool
    ok: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedEvent:
    tick: int
    message: str
    warning: bool


ReadinessScript = Readiness | Callable[[int], Readiness]
"""A workload's readiness: the same every tick, or a function of the tick number (from 1)."""

HookScript = bool | Callable[[HookQuery], bool] | Iterable[bool]
"""Answers of the hooks of one type: always the same, a function of the query, or a queue
consumed one answer per call (exhausted → the type's default answer)."""


def default_answer(hook_type: HookType) -> bool:
    """The answer of a hook with no script: success, except `rollback` hooks (success there
    means "roll back now")."""
    return hook_type is not HookType.ROLLBACK


def per_tick(answers: Mapping[int, Readiness], default: Readiness = READY) -> ReadinessScript:
    """A readiness script from a {tick: readiness} table; other ticks get `default`."""
    table = dict(answers)
    return lambda tick: table.get(tick, default)


def not_ready(message: str = "waiting for rollout to finish") -> Readiness:
    return Readiness(ready=False, message=message)


def stuck(message: str = "progress deadline exceeded") -> Readiness:
    return Readiness(ready=False, stuck=True, message=message)


@dataclass(frozen=True, slots=True, kw_only=True)
class TickTrace:
    """Everything one tick saw and did.

    `snapshot` and `probes` are the final inputs of `decide` (re-running
    `decide(snapshot, probes, now=now, analysis_due=due)` must give `decision` again);
    `requests` lists the ProbeRequests answered on the way, in order. `events` and
    `hook_calls` are this tick's only; the world fields are their values after the tick.
    """

    tick: int
    now: datetime
    due: bool
    before: CanaryStatus
    snapshot: Snapshot
    probes: Mapping[HookType, tuple[HookOutcome, ...]]
    requests: tuple[ProbeRequest, ...]
    decision: Decision
    events: tuple[RecordedEvent, ...]
    hook_calls: tuple[HookCall, ...]
    routes: Routes
    target_replicas: int
    primary_revision: str

    @property
    def phase_before(self) -> Phase:
        return self.before.phase

    @property
    def phase(self) -> Phase:
        return self.decision.status.phase

    @property
    def status(self) -> CanaryStatus:
        return self.decision.status

    @property
    def actions(self) -> tuple[Action, ...]:
        return self.decision.actions

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(e.message for e in self.events)


class Simulation:
    """A simulated Canary, its target and primary, driven one `step` at a time.

    World state (all public, all writable between steps):
    - `manifest`: the Canary body, re-parsed with `parse_canary` on every tick (edit
      `manifest["spec"]` to suspend, skip analysis, change hooks…);
    - `status`: the CanaryStatus, replaced by each Decision's;
    - `revision`, `configs`: what the target runs (change `revision` for a new release);
    - `target`, `primary`: readiness scripts; the effective primary readiness is also "not
      ready" while a promotion's rolling update is under way (`primary_rollout_ticks`);
    - `routes`: the last routes set (fed back as the router's routes);
    - `target_replicas`, `primary_replicas`, `primary_exists`, `primary_revision`;
    - `hooks`: the scripts per HookType (see `HookScript`; set with `answer`);
    - `events`, `hook_calls`, `trace`, `services`: what happened so far.
    """

    def __init__(
        self,
        manifest: Mapping[str, Any],
        *,
        revision: str = "rev-1",
        configs: Mapping[str, str] | None = None,
        status: CanaryStatus | None = None,
        target_kind: str = "Deployment",
        routes_traffic: bool | None = None,
        routes: Routes = ALL_PRIMARY,
        target: ReadinessScript = READY,
        primary: ReadinessScript = READY,
        primary_exists: bool = False,
        primary_startup_ticks: int = 0,
        primary_rollout_ticks: int = 0,
        replicas: int = 2,
        hooks: Mapping[HookType, HookScript] | None = None,
        start: datetime = EPOCH,
        interval: timedelta = timedelta(seconds=60),
    ) -> None:
        self.manifest: JSON = copy.deepcopy(dict(manifest))
        self.status = status if status is not None else CanaryStatus()
        self.revision = revision
        self.configs: dict[str, str] = dict(configs or {})
        self.target_kind = target_kind
        self._routes_traffic = routes_traffic
        self.routes = routes
        self.target: ReadinessScript = target
        self.primary: ReadinessScript = primary
        self.primary_exists = primary_exists
        self.primary_startup_ticks = primary_startup_ticks
        self.primary_rollout_ticks = primary_rollout_ticks
        self.replicas = replicas
        self.target_replicas = replicas
        self.primary_replicas = replicas if primary_exists else 0
        self.primary_revision = revision if primary_exists else ""
        self.rollout_left = 0
        self.start = start
        self.interval = interval
        self.tick = 0
        self.hooks: dict[HookType, Callable[[HookQuery], bool]] = {}
        for hook_type, script in (hooks or {}).items():
            self.answer(hook_type, script)
        self.events: list[RecordedEvent] = []
        self.hook_calls: list[HookCall] = []
        self.services: set[ServiceRole] = set()
        self.trace: list[TickTrace] = []
        self._parsed: tuple[str, Canary] | None = None
        # Metric results, one tuple per MetricsRequest; the last one repeats.
        self.metric_results: deque[tuple[MetricOutcome, ...]] = deque()
        self.metric_requests = 0
        self.alerts: list[tuple[int, AlertKind, str]] = []  # (tick, kind, detail)

    # ------------------------------------------------------------ scripting

    def answer(self, hook_type: HookType, script: HookScript) -> None:
        """Script the answers of every hook of `hook_type` (replacing any earlier script)."""
        if isinstance(script, bool):
            fixed = script
            self.hooks[hook_type] = lambda _query: fixed
        elif callable(script):
            self.hooks[hook_type] = script
        else:
            queue = deque(script)
            fallback = default_answer(hook_type)
            self.hooks[hook_type] = lambda _query: queue.popleft() if queue else fallback

    @property
    def spec(self) -> JSON:
        """The manifest's `spec`, for in-place edits between steps."""
        spec: JSON = self.manifest["spec"]
        return spec

    @property
    def analysis(self) -> JSON:
        """The manifest's `spec.analysis`, for in-place edits between steps."""
        analysis: JSON = self.spec.setdefault("analysis", {})
        return analysis

    @property
    def canary(self) -> Canary:
        """The manifest parsed (again only when it changed since the last parse)."""
        key = json.dumps(self.manifest, sort_keys=True, default=str)
        if self._parsed is None or self._parsed[0] != key:
            self._parsed = (key, parse_canary(self.manifest))
        return self._parsed[1]

    @property
    def phase(self) -> Phase:
        return self.status.phase

    @property
    def messages(self) -> list[str]:
        """Every event message recorded so far, in order."""
        return [e.message for e in self.events]

    # ----------------------------------------------------------- observing

    def capabilities(self, canary: Canary) -> frozenset[Capability]:
        """As the runtime: the provider's row of the capability table. A provider without a
        router yet (istio, ...) simulates one that can do everything; `routes_traffic`
        overrides (True: everything, False: the kubernetes provider's Blue/Green only)."""
        everything = frozenset(Capability)
        if self._routes_traffic is not None:
            return everything if self._routes_traffic else CAPABILITIES[Provider.KUBERNETES]
        provider = canary.spec.provider or Provider.KUBERNETES
        return CAPABILITIES.get(provider, everything)

    def primary_readiness(self, canary: Canary | None = None) -> Readiness:
        scripted = self._readiness(self.primary)
        if not scripted.ready or self.rollout_left <= 0:
            return scripted
        canary = canary if canary is not None else self.canary
        return not_ready(
            f"{canary.spec.primary_workload_name}.{canary.namespace or ''} not ready: "
            f"waiting for rollout to finish: 0 out of {self.replicas} new replicas have been "
            "updated"
        )

    def target_readiness(self) -> Readiness:
        return self._readiness(self.target)

    def _readiness(self, script: ReadinessScript) -> Readiness:
        return script if isinstance(script, Readiness) else script(self.tick)

    def snapshot(self) -> Snapshot:
        """The Snapshot the current tick decides on."""
        canary = self.canary
        return Snapshot(
            canary=canary,
            status=self.status,
            target_kind=self.target_kind,
            revision=self.revision,
            configs=dict(self.configs),
            primary_exists=self.primary_exists,
            primary=self.primary_readiness(canary),
            target=self.target_readiness(),
            routes=self.routes,
            capabilities=self.capabilities(canary),
        )

    # -------------------------------------------------------------- ticking

    def step(self, now: datetime | None = None, *, due: bool = True) -> TickTrace:
        """Run one tick: decide (answering probes), apply the status, interpret the actions."""
        self.tick += 1
        when = now if now is not None else self.start + self.tick * self.interval
        first_event, first_call = len(self.events), len(self.hook_calls)
        snap = self.snapshot()
        probes: dict[HookType, tuple[HookOutcome, ...]] = {}
        requests: list[ProbeRequest] = []
        metrics: tuple[MetricOutcome, ...] | None = None
        while True:
            outcome = decide(snap, probes, now=when, analysis_due=due, metrics=metrics)
            if isinstance(outcome, Decision):
                break
            if isinstance(outcome, MetricsRequest):
                if metrics is not None:
                    raise RuntimeError("decide asked twice for the metric results")
                self.metric_requests += 1
                if not self.metric_results:
                    raise RuntimeError("decide asked for metric results; none are scripted")
                metrics = (
                    self.metric_results.popleft()
                    if len(self.metric_results) > 1
                    else self.metric_results[0]
                )
                continue
            if outcome.hook_type in probes:
                raise RuntimeError(f"decide asked twice for {outcome.hook_type} hooks")
            requests.append(outcome)
            probes[outcome.hook_type] = self._call_hooks(
                snap.canary, outcome.hook_type, outcome.phase, gate=True
            )
        decision = outcome
        before = self.status
        self.status = decision.status
        if self.rollout_left > 0:
            self.rollout_left -= 1
        for action in decision.actions:
            self._apply(snap.canary, action)
        traced = TickTrace(
            tick=self.tick,
            now=when,
            due=due,
            before=before,
            snapshot=snap,
            probes=dict(probes),
            requests=tuple(requests),
            decision=decision,
            events=tuple(self.events[first_event:]),
            hook_calls=tuple(self.hook_calls[first_call:]),
            routes=self.routes,
            target_replicas=self.target_replicas,
            primary_revision=self.primary_revision,
        )
        self.trace.append(traced)
        return traced

    def run(self, ticks: int, *, due: bool = True) -> list[TickTrace]:
        """`ticks` steps at the default times."""
        return [self.step(due=due) for _ in range(ticks)]

    def run_until(self, phase: Phase, *, limit: int = 50, due: bool = True) -> list[TickTrace]:
        """Step until the status reaches `phase` (at least one step); RuntimeError after
        `limit` steps."""
        out: list[TickTrace] = []
        for _ in range(limit):
            out.append(self.step(due=due))
            if self.status.phase == phase:
                return out
        raise RuntimeError(f"phase {phase!r} not reached in {limit} ticks (at {self.phase!r})")

    # ------------------------------------------------------------ the world

    def _call_hooks(
        self, canary: Canary, hook_type: HookType, phase: str, *, gate: bool
    ) -> tuple[HookOutcome, ...]:
        """Every hook of the type in spec order, stopping after the first failure."""
        out: list[HookOutcome] = []
        script = self.hooks.get(hook_type)
        for hook in canary.spec.effective_analysis.webhooks_of(hook_type):
            query = HookQuery(tick=self.tick, hook_type=hook_type, name=hook.name, phase=phase)
            ok = script(query) if script is not None else default_answer(hook_type)
            self.hook_calls.append(
                HookCall(
                    tick=self.tick,
                    hook_type=hook_type,
                    name=hook.name,
                    phase=phase,
                    gate=gate,
                    ok=ok,
                )
            )
            out.append(
                HookOutcome(name=hook.name, url=hook.url, ok=ok, detail="" if ok else REFUSED)
            )
            if not ok:
                break
        return tuple(out)

    def _event(self, message: str, *, warning: bool) -> None:
        self.events.append(RecordedEvent(tick=self.tick, message=message, warning=warning))

    def _apply(self, canary: Canary, action: Action) -> None:
        match action:
            case RecordEvent(warning=warning, message=message):
                self._event(message, warning=warning)
            case SendAlert(kind=kind, detail=detail):
                self.alerts.append((self.tick, kind, detail))
            case ReconcileServices(roles=roles):
                self.services |= roles
            case EnsurePrimary():
                if not self.primary_exists:
                    self.primary_exists = True
                    self.primary_revision = self.revision
                    self.primary_replicas = self.replicas
                    self.rollout_left = self.primary_startup_ticks
            case ScaleTarget(up=up):
                self.target_replicas = self.replicas if up else 0
            case PromotePrimary():
                self.primary_revision = self.revision
                self.rollout_left = self.primary_rollout_ticks
            case SetRoutes(routes=routes):
                self.routes = routes
            case RunHooks(hook_type=hook_type, phase=phase):
                # As the runtime's post-rollout side effect: results become events.
                for result in self._call_hooks(canary, hook_type, phase, gate=False):
                    if result.ok:
                        self._event(f"Post-rollout check {result.name} passed", warning=False)
                    else:
                        self._event(
                            f"Post-rollout hook {result.name} failed {result.detail}",
                            warning=True,
                        )
