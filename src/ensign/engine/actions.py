"""The actions a decision asks the runtime to perform, in order. Pure data.

Every action is idempotent: the runtime applies desired state, so executing a decision twice
(after a crash, say) changes nothing the first run did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ensign.engine.affinity import NO_COOKIES, AffinityCookies
from ensign.engine.weights import Routes
from ensign.model import HookType


class ServiceRole(StrEnum):
    APEX = "apex"
    PRIMARY = "primary"
    CANARY = "canary"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileServices:
    """Create or update the generated Services of these roles."""

    roles: frozenset[ServiceRole]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnsurePrimary:
    """Create the primary workload (and its config copies and autoscaler) when missing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleTarget:
    """Scale the target up (Flagger's ScaleFromZero rules) or to zero."""

    up: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotePrimary:
    """Copy the target's pod template (and configs, autoscaler) to the primary."""

    revision: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileRouter:
    """Create or update the router's objects from the spec, at the split in force (so a
    reconcile never moves traffic); nothing is written when they already match."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetRoutes:
    """Put a split in force through the router: `routes` (weights, mirroring), the A/B scope
    (`matched_only`: with `analysis.match`, only matching requests follow `routes`) and the
    session-affinity cookies of the new status. Nothing is written when already in force."""

    routes: Routes
    matched_only: bool = True
    cookies: AffinityCookies = NO_COOKIES


@dataclass(frozen=True, slots=True, kw_only=True)
class RunHooks:
    """Call every hook of `hook_type` (post-rollout); results only produce events."""

    hook_type: HookType
    phase: str


class AlertKind(StrEnum):
    """The moments of a canary's life that produce a chat alert (Flagger's catalogue, §6.3,
    plus PROGRESS_DEADLINE and ANALYSIS_FAILED, which Flagger never sends)."""

    INITIALIZED = "initialized"
    NEW_REVISION = "new-revision"
    WAITING_ROLLOUT = "waiting-rollout"
    WAITING_PROMOTION = "waiting-promotion"
    WAITING_TRAFFIC = "waiting-traffic"
    MANUAL_ROLLBACK = "manual-rollback"
    THRESHOLD_ROLLBACK = "threshold-rollback"
    FAILED_PROMOTION = "failed-promotion"
    SUCCEEDED = "succeeded"
    SKIPPED_SUCCEEDED = "skipped-succeeded"
    PROGRESS_DEADLINE = "progress-deadline"
    ANALYSIS_FAILED = "analysis-failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAlert:
    """Notify the canary's alert providers (or the global notifier); never blocks the tick.
    `detail` completes the text (the failed-check count, the primary's error, ...)."""

    kind: AlertKind
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordEvent:
    warning: bool
    message: str


Action = (
    ReconcileServices
    | EnsurePrimary
    | ScaleTarget
    | PromotePrimary
    | ReconcileRouter
    | SetRoutes
    | RunHooks
    | RecordEvent
    | SendAlert
)
