"""The analysis part of a Canary: stepping, metric checks, webhooks, alerts. Pure values.

Values here are already defaulted the way Flagger defaults them (§1.1.5 of the behaviour notes);
`parse_canary` is the only producer. Unmodelled Istio-shaped fields (`match`) are kept as
read-only mappings so routers can translate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

BUILTIN_METRICS: tuple[str, ...] = ("request-success-rate", "request-duration")
"""Metric names Flagger answers with its own Prometheus queries (§5.2)."""

DEFAULT_INTERVAL = "60s"
MIN_INTERVAL_SECONDS = 10.0
DEFAULT_METRIC_INTERVAL = "1m"
DEFAULT_READY_THRESHOLD = 100
DEFAULT_COOKIE_MAX_AGE = 86_400


class Strategy(StrEnum):
    """Release strategy, derived from the analysis (Flagger's `DeploymentStrategy()`)."""

    CANARY = "canary"
    BLUE_GREEN = "blue-green"
    AB_TESTING = "ab-testing"


class HookType(StrEnum):
    """When a webhook is called (§4.3). An empty `type` in the spec means `rollout`."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    ROLLOUT = "rollout"
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"
    CONFIRM_PROMOTION = "confirm-promotion"
    POST_ROLLOUT = "post-rollout"
    EVENT = "event"
    ROLLBACK = "rollback"


class Severity(StrEnum):
    """Alert severity an `analysis.alerts[]` entry subscribes to (§6.2)."""

    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class SameSite(StrEnum):
    """The `SameSite` attribute of the session-affinity cookie."""

    STRICT = "Strict"
    LAX = "Lax"
    NONE = "None"


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdRange:
    """Inclusive bounds a metric value must stay within; a missing bound is not checked."""

    min: float | None = None
    max: float | None = None

    def contains(self, value: float) -> bool:
        """Whether `value` passes both bounds (Flagger fails only on `< min` or `> max`)."""
        too_low = self.min is not None and value < self.min
        too_high = self.max is not None and value > self.max
        return not (too_low or too_high)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateRef:
    """Reference to a MetricTemplate; `namespace=None` means the canary's namespace."""

    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricCheck:
    """One `analysis.metrics[]` entry: a builtin name, a `template_ref` or an inline `query`."""

    name: str
    interval: str = DEFAULT_METRIC_INTERVAL
    threshold_range: ThresholdRange | None = None
    threshold: float | None = None
    query: str | None = None
    template_ref: TemplateRef | None = None
    template_variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_builtin(self) -> bool:
        """Whether the name selects one of Flagger's builtin Prometheus checks."""
        return self.template_ref is None and self.query is None and self.name in BUILTIN_METRICS


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    """One `analysis.webhooks[]` entry; `timeout=None` means Flagger's 10 s."""

    name: str
    url: str
    type: HookType = HookType.ROLLOUT
    timeout: str | None = None
    retries: int = 0
    mute_alert: bool = False
    disable_tls: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderRef:
    """Reference to an AlertProvider; `namespace=None` means the canary's namespace."""

    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One `analysis.alerts[]` entry."""

    name: str
    provider_ref: ProviderRef
    severity: Severity = Severity.INFO

    def wants(self, severity: Severity) -> bool:
        """Whether an alert of `severity` goes to this entry (info gets all, warn gets error)."""
        if self.severity is Severity.INFO or self.severity is severity:
            return True
        return self.severity is Severity.WARN and severity is Severity.ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionAffinity:
    """Cookie stickiness during a canary run (Istio, Gateway API)."""

    cookie_name: str
    primary_cookie_name: str | None = None
    max_age: int = DEFAULT_COOKIE_MAX_AGE
    domain: str | None = None
    path: str | None = None
    same_site: SameSite | None = None
    http_only: bool = False
    partitioned: bool = False
    secure: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    """`spec.analysis` with Flagger's defaults applied.

    `interval` is the spec text; `interval_seconds` the effective tick period (60 s when
    unset, never below 10 s). `threshold` is at least 1 and `max_weight` is 100 when unset.
    A weight field of 0 means "not set", as in Flagger.
    """

    interval: str = DEFAULT_INTERVAL
    interval_seconds: float = 60.0
    threshold: int = 1
    iterations: int = 0
    max_weight: int = 100
    step_weight: int = 0
    step_weights: tuple[int, ...] = ()
    step_weight_promotion: int = 0
    mirror: bool = False
    mirror_weight: int = 0
    primary_ready_threshold: int = DEFAULT_READY_THRESHOLD
    canary_ready_threshold: int = DEFAULT_READY_THRESHOLD
    match: tuple[Mapping[str, object], ...] = ()
    session_affinity: SessionAffinity | None = None
    metrics: tuple[MetricCheck, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    alerts: tuple[Alert, ...] = ()

    @property
    def strategy(self) -> Strategy:
        """A/B with match and iterations, Blue/Green with iterations, otherwise canary."""
        if self.iterations > 0:
            return Strategy.AB_TESTING if self.match else Strategy.BLUE_GREEN
        return Strategy.CANARY

    @property
    def effective_max_weight(self) -> int:
        """Weight at which promotion starts: min(100, last of `step_weights`) or `max_weight`."""
        if self.step_weights:
            return min(100, self.step_weights[-1])
        return self.max_weight

    def webhooks_of(self, hook_type: HookType) -> tuple[Webhook, ...]:
        """The webhooks of one type, in spec order (the order Flagger calls them)."""
        return tuple(hook for hook in self.webhooks if hook.type is hook_type)
