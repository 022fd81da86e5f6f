"""What the runtime saw before a decision: the Snapshot, readiness and probe results. Pure data."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from ensign.engine.status import CanaryStatus
from ensign.engine.weights import ALL_PRIMARY, Routes
from ensign.model import Canary, HookType
from ensign.model.capabilities import Capability

if TYPE_CHECKING:
    from ensign.engine.adoption import FlaggerLeftovers


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    """A workload's readiness: ready, waiting (retry later) or stuck (past its deadline)."""

    ready: bool
    stuck: bool = False
    message: str = ""


READY = Readiness(ready=True)


class ActionVerb(StrEnum):
    PROMOTE = "promote"
    ABORT = "abort"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequest:
    """A person's request, left on the Canary by `ensign promote|abort|pause|resume`."""

    id: str
    verb: ActionVerb
    user: str
    at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """One tick's observations of a canary and the objects around it.

    `problem` is set when the target cannot be used at all (missing, a selector without a
    known label, a mandatory ConfigMap missing); the engine then holds and says why.
    `router_problem` is set when the router cannot work at all (its CRD is not installed, the
    spec asks for something it cannot render, a referenced Ingress is missing): the engine
    holds before touching anything. `autoscaler_problem` is the same for an add-on
    autoscaler the canary names (KEDA's ScaledObject CRD not installed). `route_problem` is set when the router's objects exist
    but their split cannot be trusted (Flagger's GetRoutes error, e.g. a parent that has not
    accepted the HTTPRoute): the engine holds the analysis with it, as Flagger halts the tick.
    `routes` is the split read back from the router's objects (when `route_problem` is set,
    the last split the status recorded). `capabilities` are the provider's row of the
    capability table.
    """

    canary: Canary
    status: CanaryStatus
    target_kind: str
    problem: str = ""
    revision: str = ""
    configs: Mapping[str, str] = field(default_factory=dict)
    primary_exists: bool = False
    primary: Readiness = READY
    target: Readiness = READY
    routes: Routes = ALL_PRIMARY
    capabilities: frozenset[Capability] = frozenset({Capability.BLUE_GREEN})
    router_problem: str = ""
    autoscaler_problem: str = ""
    route_problem: str = ""
    warnings: tuple[str, ...] = ()
    request: ActionRequest | None = None
    manual_promotion: bool = False  # annotation ensign.dev/manual-promotion: "true"
    # Set when the status was written by Flagger: what its primary runs (engine/adoption.py).
    flagger: FlaggerLeftovers | None = None

    @property
    def routes_traffic(self) -> bool:
        """Whether the provider moves live traffic (the kubernetes provider does not)."""
        return Capability.TRAFFIC in self.capabilities


@dataclass(frozen=True, slots=True, kw_only=True)
class HookOutcome:
    """The answer of one webhook call, as the engine needs it."""

    name: str
    url: str
    ok: bool
    detail: str = ""
    http_status: int | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeRequest:
    """`decide` needs the answers of every `hook_type` hook (in spec order, stopping at the
    first failure) before it can go on; `phase` is what the payload reports."""

    hook_type: HookType
    phase: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsRequest:
    """`decide` needs the results of every `analysis.metrics` check before it can go on."""


class CheckVerdict(StrEnum):
    """The result of one metric check. NO_DATA and ERROR fail the check as in Flagger, but
    are kept apart so a person can tell "no traffic" from "the provider is down";
    INCONCLUSIVE (a comparison with too few samples) neither fails nor passes: it holds."""

    PASSED = "passed"
    FAILED = "failed"
    NO_DATA = "no data"
    ERROR = "error"
    INCONCLUSIVE = "inconclusive"

    @property
    def fails(self) -> bool:
        return self in (CheckVerdict.FAILED, CheckVerdict.NO_DATA, CheckVerdict.ERROR)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricOutcome:
    """One metric check, measured and judged: what the status and the events explain.

    `message` is Ensign's one-line explanation; `event` is Flagger's event text for a
    failure. `value` is the canary's value in the check's unit (ms for request-duration);
    `primary_value` is set for a comparison with the primary. `builtin` checks run first,
    as in Flagger."""

    name: str
    verdict: CheckVerdict
    message: str
    event: str = ""
    value: float | None = None
    primary_value: float | None = None
    threshold: str = ""
    samples: int | None = None
    builtin: bool = False
    gauge: float | None = None  # what flagger_canary_metric_analysis shows (seconds for durations)

    def as_status(self, time: str) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "verdict": str(self.verdict),
            "message": self.message,
            "time": time,
        }
        # JSON has no NaN or infinity (an empty side of a comparison, a +Inf histogram
        # bucket): such values are left out rather than making the status unwritable.
        if self.value is not None and math.isfinite(self.value):
            out["value"] = self.value
        if self.primary_value is not None and math.isfinite(self.primary_value):
            out["primaryValue"] = self.primary_value
        if self.threshold:
            out["threshold"] = self.threshold
        if self.samples is not None:
            out["samples"] = self.samples
        return out


Probes = Mapping[HookType, tuple[HookOutcome, ...]]
