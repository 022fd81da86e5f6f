"""`decide`: one tick of a canary, from observations to a decision. Pure.

The order of the checks follows Flagger's `advanceCanary` (§2.4 of the behaviour notes):
suspend, infrastructure, initialisation, change detection, readiness, gates, analysis,
strategy step. Differences from Flagger are listed in docs/compatibility.md; the main ones
are marked "Ensign:" below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from ensign.engine import messages as msg
from ensign.engine import weights
from ensign.engine.actions import (
    Action,
    AlertKind,
    EnsurePrimary,
    PromotePrimary,
    ReconcileRouter,
    ReconcileServices,
    RecordEvent,
    RunHooks,
    ScaleTarget,
    SendAlert,
    ServiceRole,
    SetRoutes,
)
from ensign.engine.adoption import ADOPTED, Verdict, plan_adoption
from ensign.engine.affinity import AffinityCookies, next_cookies
from ensign.engine.observations import (
    ActionVerb,
    CheckVerdict,
    HookOutcome,
    MetricOutcome,
    MetricsRequest,
    ProbeRequest,
    Probes,
    Snapshot,
)
from ensign.engine.phases import ACTIVE, INITIALISING, Phase, allowed
from ensign.engine.status import CanaryStatus, rfc3339, with_conditions
from ensign.model import HookType, Strategy
from ensign.model.capabilities import Capability

P = Phase
HISTORY_LIMIT = 50
AUDIT_LIMIT = 50
APPROVABLE = frozenset(
    {HookType.CONFIRM_ROLLOUT, HookType.CONFIRM_PROMOTION, HookType.CONFIRM_TRAFFIC_INCREASE}
)
ALL_TO_PRIMARY = weights.Routes(primary=100, canary=0, mirrored=False)
ALL_TO_CANARY = weights.Routes(primary=0, canary=100, mirrored=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The new status, the actions to run before writing it, and why."""

    status: CanaryStatus
    actions: tuple[Action, ...]
    reason: str
    message: str
    analysed: bool = False  # this tick used the analysis interval (checks or a step ran)
    idle: bool = False  # nothing to analyse: only a change to the canary's objects matters


Outcome = Decision | ProbeRequest | MetricsRequest


class NeedProbe(Exception):
    """Raised inside a tick when a gate's answer or the metric results are missing."""

    def __init__(self, request: ProbeRequest | MetricsRequest) -> None:
        super().__init__(request)
        self.request = request


def decide(
    snap: Snapshot,
    probes: Probes,
    *,
    now: datetime,
    analysis_due: bool = True,
    metrics: tuple[MetricOutcome, ...] | None = None,
) -> Outcome:
    """Decide one tick. Returns a ProbeRequest when a gate must be asked first, and a
    MetricsRequest when the metric checks must be measured first."""
    tick = _Tick(snap, probes, now, analysis_due)
    tick.metrics = metrics
    try:
        return tick.run()
    except NeedProbe as need:
        return need.request


class _Tick:
    def __init__(self, snap: Snapshot, probes: Probes, now: datetime, due: bool) -> None:
        self.snap = snap
        self.probes = probes
        self.now = now
        self.due = due
        self.canary = snap.canary
        self.spec = snap.canary.spec
        self.analysis = snap.canary.spec.effective_analysis
        self.name = snap.canary.name
        self.ns = snap.canary.namespace or ""
        self.target = snap.canary.spec.target_ref.name
        self.status = snap.status
        self.actions: list[Action] = []
        self.analysed = False
        self.idle = False
        self.metrics: tuple[MetricOutcome, ...] | None = None
        self.routes_set: weights.Routes | None = None  # the last SetRoutes of this tick

    # ------------------------------------------------------------ outcomes

    def event(self, message: str, *, warning: bool = False) -> None:
        self.actions.append(RecordEvent(warning=warning, message=message))

    def alert(self, kind: AlertKind, detail: str = "", *, hook: str = "") -> None:
        """Queue a chat alert, unless it comes from a gate whose webhook has muteAlert."""
        muted = any(h.name == hook and h.mute_alert for h in self.analysis.webhooks)
        if not muted:
            self.actions.append(SendAlert(kind=kind, detail=detail))

    def note(self, kind: str, verdict: str, message: str, **extra: object) -> None:
        """Add an entry to this run's history (what was checked, with what result)."""
        entry: dict[str, object] = {
            "time": rfc3339(self.now),
            "kind": kind,
            "verdict": verdict,
            "message": message,
            **extra,
        }
        history = (*self.status.history, entry)[-HISTORY_LIMIT:]
        self.status = replace(self.status, history=history)

    def finish(self, reason: str, message: str, *, ready: bool = True) -> Decision:
        for hook_type, answers in self.probes.items():
            for answer in answers:
                self.note(
                    str(hook_type),
                    "passed" if answer.ok else "failed",
                    answer.detail or "ok",
                    name=answer.name,
                    url=answer.url,
                    attempts=answer.attempts,
                    **({"httpStatus": answer.http_status} if answer.http_status else {}),
                )
        new = self.status
        if self.snap.routes_traffic and new.phase not in INITIALISING and not self.snap.problem:
            # Ensign: canaryWeight is what the router object says (read back this tick, or
            # just written), not a separate count that could drift from it.
            in_force = self.routes_set if self.routes_set is not None else self.snap.routes
            new = replace(new, canary_weight=in_force.canary)
            if self.routes_set is None and not self.snap.route_problem:
                # The router already holds a split the status never recorded (the controller
                # stopped between the two writes): its cookies follow it too.
                new = replace(new, cookies=self.cookies_for(new, in_force))
        if new.content() != self.snap.status.content() or not new.last_transition_time:
            new = replace(new, last_transition_time=rfc3339(self.now))
        assert allowed(self.snap.status.phase, new.phase), (self.snap.status.phase, new.phase)
        new = with_conditions(
            new,
            kind=self.snap.target_kind,
            ready=ready,
            reason=reason,
            message=message,
            now=self.now,
            warnings=tuple(str(w) for w in self.spec.warnings),
        )
        return Decision(
            status=new,
            actions=tuple(self.actions),
            reason=reason,
            message=message,
            analysed=self.analysed,
            idle=self.idle,
        )

    def hold(
        self, reason: str, message: str, *, warning: bool = True, event: str | None = None
    ) -> Decision:
        """Stay put; a new explanation is also recorded as an event (`event` or the message),
        once."""
        old = self.snap.status.condition("Ready")
        if old is None or old.message != message:
            self.event(event or message, warning=warning)
        return self.finish(reason, message, ready=False)

    def to(self, phase: Phase, **fields: object) -> None:
        self.status = replace(self.status, phase=phase, **fields)  # type: ignore[arg-type]

    def cookies_for(self, status: CanaryStatus, routes: weights.Routes) -> AffinityCookies:
        """The session-affinity cookies once `routes` are in force (derived, so a tick
        replayed after a crash finds the cookie the router object already carries)."""
        if Capability.SESSION_AFFINITY not in self.snap.capabilities:
            return status.cookies
        meta = self.canary.raw.get("metadata")
        uid = str(meta.get("uid") or "") if isinstance(meta, Mapping) else ""
        return next_cookies(
            status.cookies,
            self.analysis.session_affinity,
            canary_weight=routes.canary,
            uid=uid,
            revision=status.last_applied_spec or self.snap.revision,
        )

    def reconcile_router(self) -> None:
        """Reconcile the router's objects (once per tick)."""
        if not any(isinstance(a, ReconcileRouter) for a in self.actions):
            self.actions.append(ReconcileRouter())

    def set_routes(self, routes: weights.Routes, *, matched_only: bool = True) -> None:
        """Put `routes` in force, with this run's session-affinity cookies (derived from the
        canary's uid and revision, so a replayed tick renders the same cookie)."""
        cookies = self.cookies_for(self.status, routes)
        self.status = replace(self.status, cookies=cookies)
        self.routes_set = routes
        self.actions.append(SetRoutes(routes=routes, matched_only=matched_only, cookies=cookies))

    # ---------------------------------------------------------------- gates

    def gate(self, hook_type: HookType, phase: str) -> HookOutcome | None:
        """The first failing hook of this type, None when all pass (or there are none).

        An `ensign promote` approval for the revision under analysis opens every confirm-*
        gate without asking the hooks."""
        if not self.analysis.webhooks_of(hook_type):
            return None
        if hook_type in APPROVABLE and self.approval() is not None:
            return None
        answers = self.probes.get(hook_type)
        if answers is None:
            raise NeedProbe(ProbeRequest(hook_type=hook_type, phase=phase))
        failed = next((a for a in answers if not a.ok), None)
        return failed

    def passed_events(self, hook_type: HookType, label: str) -> None:
        for answer in self.probes.get(hook_type, ()):
            if answer.ok:
                self.event(msg.check_passed(label, answer.name))

    # ------------------------------------------------------------ requests

    def approval(self) -> Mapping[str, object] | None:
        """The `ensign promote` audit entry that approves the revision under analysis."""
        revision = self.status.last_applied_spec
        if self.status.phase not in ACTIVE:
            revision = self.snap.revision  # a pending revision, before its run starts
        return next(
            (
                a
                for a in reversed(self.status.audit)
                if a.get("action") == ActionVerb.PROMOTE and a.get("revision") == revision
            ),
            None,
        )

    def consume_request(self) -> Decision | None:
        """Record a new `ensign promote|abort|pause|resume` request in the audit trail, once."""
        request = self.snap.request
        if request is None or any(a.get("id") == request.id for a in self.status.audit):
            return None
        active = self.status.phase in ACTIVE or self.status.phase == P.WAITING
        outcome = {
            ActionVerb.PROMOTE: "approved revision for promotion",
            ActionVerb.ABORT: "rolled back" if active else "nothing to abort",
            ActionVerb.PAUSE: "paused",
            ActionVerb.RESUME: "resumed",
        }[request.verb]
        revision = self.status.last_applied_spec if active else self.snap.revision
        entry = {
            "id": request.id,
            "action": str(request.verb),
            "user": request.user,
            "time": request.at,
            "revision": revision,
            "phase": str(self.status.phase),
            "outcome": outcome,
        }
        self.status = replace(self.status, audit=(*self.status.audit, entry)[-AUDIT_LIMIT:])
        self.event(f"{request.verb.capitalize()} by {request.user}: {outcome}")
        if request.verb == ActionVerb.PROMOTE and active:
            self.note("approval", "passed", f"approved by {request.user}", name="ensign promote")
        if request.verb == ActionVerb.ABORT and active and self.snap.target_kind:
            self.actions += [
                ReconcileServices(roles=frozenset({ServiceRole.CANARY, ServiceRole.PRIMARY})),
            ]
            self.alert(AlertKind.ANALYSIS_FAILED, f"aborted by {request.user}")
            return self.rollback(f"aborted by {request.user}")
        return None

    # ------------------------------------------------------------------ run

    def run(self) -> Decision:
        aborted = self.consume_request()
        if aborted is not None:
            return aborted
        if self.spec.suspend:
            return self.hold(
                "Suspended", "skipping canary run as object is suspended", warning=False
            )
        if self.snap.problem:
            return self.hold("TargetUnavailable", self.snap.problem)
        if self.snap.autoscaler_problem:
            return self.hold("AutoscalerUnavailable", self.snap.autoscaler_problem)
        if self.snap.router_problem:
            return self.hold("RouterUnavailable", self.snap.router_problem)
        if self.snap.flagger is not None:  # a status Flagger wrote: adopt before anything
            return self.adopt()
        self.actions.append(
            ReconcileServices(roles=frozenset({ServiceRole.CANARY, ServiceRole.PRIMARY}))
        )
        if Capability.RECONCILE_FIRST in self.snap.capabilities:
            self.reconcile_router()  # App Mesh: virtual nodes before the primary's pods
        self.actions.append(EnsurePrimary())
        if self.status.phase in INITIALISING:
            return self.initialise()
        self.actions.append(ReconcileServices(roles=frozenset({ServiceRole.APEX})))
        self.reconcile_router()
        if not self.should_advance():
            self.idle = True
            if self.status.phase == P.FAILED:  # keep saying why it failed
                return self.finish("Failed", self.ready_message(), ready=False)
            return self.finish("Idle", self.idle_message())
        if not self.spec.skip_analysis and not self.snap.primary.ready:
            if self.snap.primary.stuck:
                if self.status.phase in (P.PROMOTING, P.FINALISING):
                    return self.failed_promotion(self.snap.primary.message)
                return self.rollback(self.snap.primary.message, record=True)
            return self.hold("WaitingForPrimary", self.snap.primary.message)
        if self.snap.route_problem:  # Flagger's GetRoutes error halts the tick
            return self.hold("RoutesUnavailable", self.snap.route_problem)
        if self.status.phase not in ACTIVE:
            return self.start_run()
        if self.status.phase in (P.PROGRESSING, P.WAITING_PROMOTION) and self.revision_changed():
            return self.restart()
        if not self.snap.target.ready:
            if self.snap.target.stuck:
                return self.rollback(self.snap.target.message, record=True)
            return self.hold("WaitingForCanary", self.snap.target.message)
        if self.spec.skip_analysis:
            return self.promote_without_analysis()
        if self.status.phase == P.PROMOTING:
            return self.shift_to_primary()
        if self.status.phase == P.FINALISING:
            return self.succeed()
        if not self.due:
            return self.finish(self.ready_reason(), self.ready_message())
        self.analysed = True
        manual = self.manual_rollback()
        if manual is not None:
            return manual
        if self.status.failed_checks >= self.analysis.threshold:
            self.event(
                msg.threshold_reached(self.name, self.ns, self.status.failed_checks), warning=True
            )
            self.alert(AlertKind.THRESHOLD_ROLLBACK, str(self.status.failed_checks))
            return self.rollback(f"failed checks threshold reached {self.status.failed_checks}")
        failure = self.run_checks()
        if failure is not None:
            return failure
        return self.step()

    def adopt(self) -> Decision:
        """Take over a canary Flagger left behind (engine/adoption.py): its status in
        Ensign's format and an Event; traffic moves only for a restart."""
        plan = plan_adoption(self.snap)
        message = f"{ADOPTED}: {plan.verdict}: " + "; ".join(plan.reasons)
        if plan.verdict is Verdict.REFUSE:
            return self.hold("FlaggerLeftover", message)
        self.status = plan.status
        self.actions += plan.actions
        self.routes_set = next((a.routes for a in plan.actions if isinstance(a, SetRoutes)), None)
        self.analysed = plan.verdict is not Verdict.ADOPT  # the next step one interval later
        return self.finish("Adopted", message)

    # -------------------------------------------------------- initialisation

    def initialise(self) -> Decision:
        if self.status.phase == P.NEW:
            for warning in self.spec.warnings:
                self.event(str(warning), warning=True)
        self.to(P.INITIALIZING)
        if not self.spec.skip_analysis:
            if not self.snap.primary_exists:
                return self.hold(
                    "WaitingForPrimary", f"creating {self.target}-primary.{self.ns}", warning=False
                )
            if self.snap.primary.stuck:
                return self.rollback(self.snap.primary.message, record=True)
            if not self.snap.primary.ready:
                return self.hold("WaitingForPrimary", self.snap.primary.message)
        self.actions += [
            ReconcileServices(roles=frozenset({ServiceRole.APEX})),
        ]
        self.reconcile_router()
        self.actions += [
            ScaleTarget(up=False),
        ]
        self.to(
            P.INITIALIZED,
            canary_weight=0,
            failed_checks=0,
            iterations=0,
            last_applied_spec=self.snap.revision,
            last_promoted_spec=self.snap.revision,
            tracked_configs=dict(self.snap.configs),
        )
        self.event(msg.initialized(self.name, self.ns))
        self.alert(AlertKind.INITIALIZED)
        return self.finish("Initialized", f"{self.target}-primary.{self.ns} serves all traffic")

    # ------------------------------------------------------ change detection

    def should_advance(self) -> bool:
        phase = self.status.phase
        if phase in ACTIVE or phase == P.WAITING:
            return True
        revision = self.snap.revision
        # Ensign: a Failed canary is compared with the revision that failed, not refreshed
        # every tick, so a change seen during a tick that stops early is not lost (Flagger
        # §2.14.4 quirk).
        if revision != self.status.last_promoted_spec and (
            not self.status.last_applied_spec or revision != self.status.last_applied_spec
        ):
            return True
        return self.configs_changed()

    def configs_changed(self) -> bool:
        recorded = self.status.tracked_configs
        current = dict(self.snap.configs)
        if not current and not recorded:
            return False
        return recorded is None or dict(recorded) != current

    def revision_changed(self) -> bool:
        return self.snap.revision != self.status.last_applied_spec or self.configs_changed()

    def idle_message(self) -> str:
        return (
            f"{self.status.phase}: {self.target}-primary.{self.ns} serves revision "
            f"{self.status.last_promoted_spec or self.snap.revision}; no change to analyse"
        )

    def ready_reason(self) -> str:
        return str(self.status.phase)

    def ready_message(self) -> str:
        old = self.snap.status.condition("Ready")
        return old.message if old is not None else str(self.status.phase)

    # ---------------------------------------------------------------- phases

    def start_run(self) -> Decision:
        failed = self.gate(HookType.CONFIRM_ROLLOUT, str(self.status.phase))
        if failed is not None:
            if self.status.phase != P.WAITING:
                self.event(msg.halt_approval(self.name, self.ns, failed.name), warning=True)
                self.alert(AlertKind.WAITING_ROLLOUT, hook=failed.name)
                self.to(P.WAITING)
            return self.finish(
                "WaitingForApproval",
                msg.gate_waiting("confirm-rollout", failed.url, failed.detail),
                ready=False,
            )
        self.passed_events(HookType.CONFIRM_ROLLOUT, "Confirm-rollout")
        self.event(msg.new_revision(self.target, self.ns))
        self.alert(AlertKind.NEW_REVISION)
        self.actions.append(ScaleTarget(up=True))
        self.begin_run()
        return self.finish("Progressing", f"scaling up {self.target}.{self.ns} for analysis")

    def begin_run(self) -> None:
        """A fresh run of the revision under analysis: Progressing, counters and history reset."""
        self.status = replace(self.status, history=(), checks=())
        self.to(
            P.PROGRESSING,
            canary_weight=0,
            failed_checks=0,
            iterations=0,
            last_applied_spec=self.snap.revision,
            tracked_configs=dict(self.snap.configs),
        )

    def restart(self) -> Decision:
        self.event(msg.restart(self.target, self.ns))
        self.set_routes(ALL_TO_PRIMARY)
        self.begin_run()
        return self.finish("Progressing", "new revision during analysis; analysis restarted")

    def promote_without_analysis(self) -> Decision:
        self.set_routes(ALL_TO_PRIMARY)
        self.event(msg.copying(self.target, self.ns))
        self.actions += [PromotePrimary(revision=self.snap.revision), ScaleTarget(up=False)]
        self.to(
            P.SUCCEEDED,
            canary_weight=0,
            iterations=0,
            failed_checks=0,
            last_promoted_spec=self.status.last_applied_spec,
        )
        self.actions.append(RunHooks(hook_type=HookType.POST_ROLLOUT, phase="Succeeded"))
        self.event(msg.completed_skipped(self.target, self.ns))
        self.alert(AlertKind.SKIPPED_SUCCEEDED)
        return self.finish("Succeeded", "promoted without analysis (skipAnalysis)")

    def shift_to_primary(self) -> Decision:
        shift = weights.promotion_shift(
            step_weight_promotion=self.analysis.step_weight_promotion,
            routes=self.snap.routes,
            routes_traffic=self.snap.routes_traffic,
        )
        if shift.routes is not None:
            self.set_routes(shift.routes)
        if isinstance(shift, weights.Finalise):
            if shift.by_step:
                self.event(msg.advance_primary(self.name, self.ns, 100))
            elif shift.routes is not None:
                self.event("Routing all traffic to primary")
            self.to(P.FINALISING, canary_weight=0)
            return self.finish("Finalising", "all traffic on the primary; scaling down the canary")
        self.event(msg.advance_primary(self.name, self.ns, shift.routes.primary))
        self.status = replace(self.status, canary_weight=shift.routes.canary)
        return self.finish("Promoting", f"primary weight {shift.routes.primary}")

    def succeed(self) -> Decision:
        self.actions.append(ScaleTarget(up=False))
        self.to(
            P.SUCCEEDED,
            canary_weight=0,
            iterations=0,
            last_promoted_spec=self.status.last_applied_spec,
        )
        self.actions.append(RunHooks(hook_type=HookType.POST_ROLLOUT, phase="Succeeded"))
        self.event(msg.completed(self.target, self.ns))
        self.alert(AlertKind.SUCCEEDED)
        return self.finish("Succeeded", f"revision {self.status.last_applied_spec} is live")

    def rollback(self, why: str, *, record: bool = False) -> Decision:
        """Flagger's rollback; `record` first records `why` (a readiness error) as a Warning
        and explains it as a missed progress deadline."""
        if record:
            self.event(why, warning=True)
            if "deadline" not in why:
                why = f"progress deadline exceeded ({self.spec.progress_deadline_seconds}s): {why}"
            self.alert(AlertKind.PROGRESS_DEADLINE, why)
        self.set_routes(ALL_TO_PRIMARY)
        self.event(msg.canary_failed(self.name, self.ns), warning=True)
        self.actions.append(ScaleTarget(up=False))
        self.to(
            P.FAILED,
            canary_weight=0,
            failed_checks=0,
            iterations=0,
            last_applied_spec=self.snap.revision or self.status.last_applied_spec,
            tracked_configs=dict(self.snap.configs),
        )
        self.actions.append(RunHooks(hook_type=HookType.POST_ROLLOUT, phase="Failed"))
        return self.finish("Failed", f"rolled back: {why}", ready=False)

    def failed_promotion(self, why: str) -> Decision:
        self.event(msg.promotion_failed(self.target, self.ns, why), warning=True)
        self.alert(AlertKind.FAILED_PROMOTION, why)
        self.set_routes(ALL_TO_CANARY, matched_only=False)
        self.to(P.FAILED, canary_weight=100, failed_checks=0, iterations=0)
        self.actions.append(RunHooks(hook_type=HookType.POST_ROLLOUT, phase="Failed"))
        return self.finish("Failed", f"promotion failed, primary not ready: {why}", ready=False)

    def manual_rollback(self) -> Decision | None:
        if self.status.phase not in (P.PROGRESSING, P.WAITING_PROMOTION):
            return None
        if not self.analysis.webhooks_of(HookType.ROLLBACK):
            return None
        answers = self.probes.get(HookType.ROLLBACK)
        if answers is None:
            raise NeedProbe(ProbeRequest(hook_type=HookType.ROLLBACK, phase=str(self.status.phase)))
        signalled = next((a for a in answers if a.ok), None)
        if signalled is None:
            return None
        self.event(f"Rollback check {signalled.name} passed", warning=True)
        self.event(msg.manual_rollback(self.name, self.ns), warning=True)
        self.alert(AlertKind.MANUAL_ROLLBACK)
        return self.rollback(f"rollback webhook {signalled.name} signalled a rollback")

    # -------------------------------------------------------------- analysis

    def run_checks(self) -> Decision | None:
        routes = self.snap.routes
        first = (
            self.status.canary_weight == 0
            and self.status.iterations == 0
            and not (self.analysis.mirror and routes.mirrored)
        )
        if first:
            self.event(msg.starting(self.target, self.ns))
            failed = self.gate(HookType.PRE_ROLLOUT, "Progressing")
            if failed is not None:
                return self.failed_check(
                    msg.halt_pre_rollout(self.name, self.ns, failed.name, failed.detail)
                )
            self.passed_events(HookType.PRE_ROLLOUT, "Pre-rollout")
            return None
        failed = self.gate(HookType.ROLLOUT, "Progressing")
        if failed is not None:
            return self.failed_check(
                msg.halt_external(self.name, self.ns, failed.name, failed.detail)
            )
        return self.metric_checks()

    def metric_checks(self) -> Decision | None:
        """Judge the measured metrics: the first failure (builtins first, then the others,
        each in spec order, as Flagger) fails the tick; an inconclusive comparison holds it.

        Ensign: every metric is measured on every analysis tick (concurrently), so the status
        shows each one's last value, not only those before the first failure."""
        if not self.analysis.metrics:
            return None
        if self.metrics is None:
            raise NeedProbe(MetricsRequest())
        stamp = rfc3339(self.now)
        self.status = replace(self.status, checks=tuple(m.as_status(stamp) for m in self.metrics))
        ordered = sorted(self.metrics, key=lambda m: not m.builtin)
        for outcome in ordered:
            if outcome.verdict is not CheckVerdict.PASSED:
                self.note(
                    "metric",
                    str(outcome.verdict),
                    outcome.message,
                    name=outcome.name,
                )
        failed = next((m for m in ordered if m.verdict.fails), None)
        if failed is not None:
            return self.failed_check(failed.event or failed.message, explain=failed.message)
        waiting = next((m for m in ordered if m.verdict is CheckVerdict.INCONCLUSIVE), None)
        if waiting is not None:
            return self.hold("Inconclusive", f"holding: {waiting.message}", warning=False)
        return None

    def failed_check(self, message: str, *, explain: str = "") -> Decision:
        """Count a failed check: `message` is the event, `explain` (or it) the status text."""
        self.event(message, warning=True)
        self.status = replace(self.status, failed_checks=self.status.failed_checks + 1)
        return self.finish(
            "CheckFailed",
            f"{explain or message} ({self.status.failed_checks}/{self.analysis.threshold})",
            ready=False,
        )

    def strategy(self) -> Strategy:
        if not self.snap.routes_traffic:
            return Strategy.BLUE_GREEN  # provider kubernetes: everything runs as Blue/Green
        return self.analysis.strategy

    def step(self) -> Decision:
        strategy = self.strategy()
        if strategy == Strategy.CANARY:
            return self.canary_step()
        iterations = self.spec.blue_green_iterations
        if strategy == Strategy.AB_TESTING:
            ab = weights.ab_step(iterations=iterations, done=self.status.iterations)
            return self.apply_iteration_step(ab, iterations)
        bg = weights.blue_green_step(
            iterations=iterations,
            done=self.status.iterations,
            mirror=self.analysis.mirror,
            mirrored=self.snap.routes.mirrored,
            routes_traffic=self.snap.routes_traffic,
        )
        return self.apply_iteration_step(bg, iterations)

    def promotion_gate(self) -> Decision | None:
        if self.snap.manual_promotion and self.approval() is None:
            if self.status.phase != P.WAITING_PROMOTION:
                self.event(msg.halt_promotion(self.name, self.ns, "ensign promote"), warning=True)
                self.alert(AlertKind.WAITING_PROMOTION)
                self.to(P.WAITING_PROMOTION)
            return self.finish(
                "WaitingForPromotion",
                f"waiting for approval: run `ensign promote {self.name} -n {self.ns}`",
                ready=False,
            )
        failed = self.gate(HookType.CONFIRM_PROMOTION, "Progressing")
        if failed is None:
            self.passed_events(HookType.CONFIRM_PROMOTION, "Confirm-promotion")
            return None
        if self.status.phase != P.WAITING_PROMOTION:
            self.event(msg.halt_promotion(self.name, self.ns, failed.name), warning=True)
            self.alert(AlertKind.WAITING_PROMOTION, hook=failed.name)
            # Ensign: iterations and weight are kept, so the gate is asked again on every
            # tick and promotion follows the first tick it opens (Flagger: every other tick).
            self.to(P.WAITING_PROMOTION)
        return self.finish(
            "WaitingForPromotion",
            msg.gate_waiting("confirm-promotion", failed.url, failed.detail),
            ready=False,
        )

    def apply_iteration_step(self, step: weights.IterationStep, total: int) -> Decision:
        if step.needs_promotion_gate:
            held = self.promotion_gate()
            if held is not None:
                return held
        if isinstance(step, weights.Promote):
            return self.promote()
        done = step.done
        self.status = replace(self.status, iterations=done)
        if step.routes is not None:
            self.set_routes(step.routes)
        if isinstance(step, weights.SwitchToCanary):
            if step.routes is not None:
                self.event(
                    "Stop traffic mirroring and route all traffic to canary"
                    if step.stops_mirroring
                    else "Routing all traffic to canary"
                )
            return self.finish(str(self.status.phase), "analysis complete; promoting next")
        self.event(msg.advance_iteration(self.name, self.ns, done, total))
        self.note("step", "info", f"iteration {done}/{total}")
        return self.finish("Progressing", f"iteration {done}/{total} passed")

    def canary_step(self) -> Decision:
        step = weights.canary_step(self.analysis, self.snap.routes)
        if isinstance(step, weights.NoProgress):
            return self.finish("Progressing", "no step weight configured; nothing to advance")
        if step.needs_traffic_gate and self.status.phase == P.PROGRESSING:
            failed = self.gate(HookType.CONFIRM_TRAFFIC_INCREASE, "Progressing")
            if failed is not None:
                self.alert(AlertKind.WAITING_TRAFFIC, hook=failed.name)
                return self.hold(
                    "WaitingForTrafficIncrease",
                    msg.gate_waiting("confirm-traffic-increase", failed.url, failed.detail),
                    event=msg.halt_traffic(self.name, self.ns, failed.name),
                )
            self.passed_events(HookType.CONFIRM_TRAFFIC_INCREASE, "Confirm-traffic-increase")
        if isinstance(step, weights.ReadyToPromote):
            held = self.promotion_gate()
            return held if held is not None else self.promote()
        self.set_routes(step.routes)
        self.status = replace(self.status, canary_weight=step.routes.canary)
        self.event(msg.advance_weight(self.name, self.ns, step.routes.canary))
        self.note("step", "info", f"canary weight {step.routes.canary}")
        return self.finish("Progressing", f"canary weight {step.routes.canary}")

    def promote(self) -> Decision:
        self.note("step", "info", "analysis passed; promoting the primary")
        self.event(msg.copying(self.target, self.ns))
        self.actions.append(PromotePrimary(revision=self.status.last_applied_spec))
        self.to(P.PROMOTING)
        return self.finish(
            "Promoting", f"rolling {self.target}-primary.{self.ns} out to the new revision"
        )
