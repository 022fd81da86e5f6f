"""What the runtime saw before a decision: the Snapshot, readiness and probe results. Pure data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ensign.engine.status import CanaryStatus
from ensign.engine.weights import ALL_PRIMARY, Routes
from ensign.model import Canary, HookType


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
    routes_traffic: bool = False
    warnings: tuple[str, ...] = ()
    request: ActionRequest | None = None
    manual_promotion: bool = False  # annotation ensign.dev/manual-promotion: "true"


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


Probes = Mapping[HookType, tuple[HookOutcome, ...]]
