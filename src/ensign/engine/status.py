"""The Canary status as a value: parse from and dump to the CRD's `status`. Pure.

Field names and meanings are Flagger's (§1.1.7 of the behaviour notes). Ensign adds a
`Ready` condition beside Flagger's `Promoted` one: its message explains the last decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ensign.engine.affinity import NO_COOKIES, AffinityCookies
from ensign.engine.phases import Phase, promoted_condition

COOKIE_FIELDS = (
    ("sessionAffinityCookie", "canary"),
    ("primarySessionAffinityCookie", "primary"),
    ("previousSessionAffinityCookie", "previous"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str = ""
    last_update_time: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
        }
        if self.last_transition_time:
            out["lastTransitionTime"] = self.last_transition_time
        if self.last_update_time:
            out["lastUpdateTime"] = self.last_update_time
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryStatus:
    phase: Phase = Phase.NEW
    failed_checks: int = 0
    canary_weight: int = 0
    iterations: int = 0
    tracked_configs: Mapping[str, str] | None = None
    last_applied_spec: str = ""
    last_promoted_spec: str = ""
    last_transition_time: str = ""
    conditions: tuple[Condition, ...] = ()
    # Ensign: what this run checked (gates, hooks, steps), newest last, bounded.
    history: tuple[Mapping[str, Any], ...] = ()
    # Ensign: the last result of each metric check (value, bounds or verdict, samples).
    checks: tuple[Mapping[str, Any], ...] = ()
    # Ensign: who approved, aborted, paused or resumed, and when; bounded.
    audit: tuple[Mapping[str, Any], ...] = ()
    # Flagger's session-affinity cookie fields, typed.
    cookies: AffinityCookies = NO_COOKIES
    # Fields Ensign carries but does not interpret.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def content(self) -> tuple[Any, ...]:
        """Everything but timestamps: two statuses with equal content need no write."""
        return (
            self.phase,
            self.failed_checks,
            self.canary_weight,
            self.iterations,
            dict(self.tracked_configs) if self.tracked_configs is not None else None,
            self.last_applied_spec,
            self.last_promoted_spec,
            tuple((c.type, c.status, c.reason, c.message) for c in self.conditions),
            tuple(tuple(sorted(h.items())) for h in self.history),
            tuple(tuple(sorted(a.items())) for a in self.audit),
            tuple(tuple(sorted(c.items())) for c in self.checks),
            self.cookies,
        )


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_status(raw: Mapping[str, Any] | None) -> CanaryStatus:
    """The status of a Canary body (missing or malformed fields take their zero value)."""
    raw = raw or {}
    known = {
        "phase",
        "failedChecks",
        "canaryWeight",
        "iterations",
        "trackedConfigs",
        "lastAppliedSpec",
        "lastPromotedSpec",
        "lastTransitionTime",
        "conditions",
        "history",
        "audit",
        "checks",
        *(name for name, _ in COOKIE_FIELDS),
    }
    try:
        phase = Phase(str(raw.get("phase", "")))
    except ValueError:
        phase = Phase.NEW
    tracked = raw.get("trackedConfigs")
    return CanaryStatus(
        phase=phase,
        failed_checks=_int(raw.get("failedChecks")),
        canary_weight=_int(raw.get("canaryWeight")),
        iterations=_int(raw.get("iterations")),
        tracked_configs=(
            {str(k): str(v) for k, v in tracked.items()} if isinstance(tracked, Mapping) else None
        ),
        last_applied_spec=str(raw.get("lastAppliedSpec") or ""),
        last_promoted_spec=str(raw.get("lastPromotedSpec") or ""),
        last_transition_time=str(raw.get("lastTransitionTime") or ""),
        conditions=tuple(
            _condition(c) for c in raw.get("conditions") or [] if isinstance(c, Mapping)
        ),
        history=tuple(dict(h) for h in raw.get("history") or [] if isinstance(h, Mapping)),
        audit=tuple(dict(a) for a in raw.get("audit") or [] if isinstance(a, Mapping)),
        checks=tuple(dict(c) for c in raw.get("checks") or [] if isinstance(c, Mapping)),
        cookies=AffinityCookies(**{attr: str(raw.get(name) or "") for name, attr in COOKIE_FIELDS}),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def dump_status(status: CanaryStatus) -> dict[str, Any]:
    out: dict[str, Any] = dict(status.extra)
    out.update(
        {
            "phase": str(status.phase),
            "failedChecks": status.failed_checks,
            "canaryWeight": status.canary_weight,
            "iterations": status.iterations,
            "lastAppliedSpec": status.last_applied_spec,
            "lastPromotedSpec": status.last_promoted_spec,
            "lastTransitionTime": status.last_transition_time,
            "conditions": [c.to_dict() for c in status.conditions],
        }
    )
    if status.tracked_configs is not None:
        out["trackedConfigs"] = dict(status.tracked_configs)
    if status.history:
        out["history"] = [dict(h) for h in status.history]
    if status.audit:
        out["audit"] = [dict(a) for a in status.audit]
    if status.checks:
        out["checks"] = [dict(c) for c in status.checks]
    for name, attr in COOKIE_FIELDS:
        value = getattr(status.cookies, attr)
        if value:
            out[name] = value
    return out


def with_conditions(
    status: CanaryStatus,
    *,
    kind: str,
    ready: bool,
    reason: str,
    message: str,
    now: datetime,
    warnings: tuple[str, ...] = (),
) -> CanaryStatus:
    """Recompute Promoted (from the phase) and Ready (from the decision), keeping timestamps
    of conditions whose status did not change."""
    stamp = rfc3339(now)
    promoted_status, promoted_message = promoted_condition(status.phase, kind)
    wanted: tuple[Condition, ...] = (
        Condition(
            type="Promoted",
            status=promoted_status,
            reason=str(status.phase) or "Initializing",
            message=promoted_message,
        ),
        Condition(
            type="Ready", status="True" if ready else "False", reason=reason, message=message
        ),
    )
    if warnings:
        wanted += (
            Condition(
                type="Warning", status="True", reason="IgnoredFields", message="; ".join(warnings)
            ),
        )
    out = []
    for cond in wanted:
        old = status.condition(cond.type)
        if old is not None and (old.status, old.reason, old.message) == (
            cond.status,
            cond.reason,
            cond.message,
        ):
            out.append(old)
            continue
        since = old.last_transition_time if old is not None and old.status == cond.status else stamp
        out.append(replace(cond, last_transition_time=since or stamp, last_update_time=stamp))
    return replace(status, conditions=tuple(out))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _condition(raw: Mapping[str, Any]) -> Condition:
    return Condition(
        type=str(raw.get("type", "")),
        status=str(raw.get("status", "")),
        reason=str(raw.get("reason", "")),
        message=str(raw.get("message", "")),
        last_transition_time=str(raw.get("lastTransitionTime", "")),
        last_update_time=str(raw.get("lastUpdateTime", "")),
    )
