"""Adopting a canary Flagger left behind: recognise its status, decide what to do. Pure.

Flagger writes `lastAppliedSpec`/`lastPromotedSpec` as safe-encoded FNV-32a hashes (§2.6),
which Ensign cannot reproduce; Ensign's are 16 hex characters of SHA-256
(`workloads/revision.py`). A status whose hashes are not Ensign's is Flagger's, and the
runtime then observes what Flagger's primary runs (`FlaggerLeftovers`: the pod templates
compared with the primary renames undone, `workloads/flagger_copy.py`). `plan_adoption`
turns that into one of:

- ADOPT: an idle canary (Initialized, Succeeded, Failed, Waiting) is taken over as it is.
  Only its status is rewritten in Ensign's format (at the revision the target runs, or at
  the primary's when the target changed while nobody watched, so a normal analysis of the
  change follows) and an Event says "adopted from Flagger". Nothing else is written.
- RESUME: a canary mid-analysis (Progressing, WaitingPromotion, Promoting, Finalising) whose
  canary pods are ready continues from the weights in force: the split the router objects
  hold is read back, not rewritten; iterations and failed checks carry over; the analysis
  step that follows comes one interval later.
- RESTART: mid-analysis with no ready canary pods: traffic goes back to the (ready) primary
  and the analysis restarts from weight 0.
- REFUSE: Ensign holds and writes nothing but the status: the target or the router cannot
  be used, the primary is missing, or neither the canary pods nor the primary are ready
  mid-analysis.

The primary is never touched. `ensign migrate --check` reports the same plan for every
canary, from lists instead of watch caches (`ensign/migration.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from ensign.engine.actions import Action, RecordEvent, SetRoutes
from ensign.engine.observations import Snapshot
from ensign.engine.phases import ACTIVE, Phase
from ensign.engine.status import CanaryStatus
from ensign.engine.weights import Routes

P = Phase
ENSIGN_HASH = re.compile(r"[0-9a-f]{16}")
ADOPTED = "adopted from Flagger"


class Verdict(StrEnum):
    ADOPT = "adopt"
    RESUME = "resume"
    RESTART = "restart"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlaggerLeftovers:
    """What Flagger's objects show, observed by the runtime for a status in Flagger's format.

    `primary_revision` is Ensign's revision hash of what the primary runs (its template with
    the renames undone; "" without a primary); `target_matches_primary` whether the target's
    pod template equals it."""

    primary_revision: str = ""
    target_matches_primary: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Adoption:
    """The plan for a canary Flagger left: the status to write, the actions before it (none
    but an Event, except for a restart), the objects written, and why."""

    verdict: Verdict
    reasons: tuple[str, ...]
    status: CanaryStatus
    actions: tuple[Action, ...]
    writes: tuple[str, ...]

    @property
    def traffic_writes(self) -> bool:
        return any(isinstance(a, SetRoutes) for a in self.actions)


def is_flagger_status(status: CanaryStatus) -> bool:
    """Whether a status was last written by Flagger: it records a revision, and not in
    Ensign's format. A status without any revision (new, initialising) is not adopted: the
    normal initialisation applies."""
    recorded = [h for h in (status.last_applied_spec, status.last_promoted_spec) if h]
    if status.phase in (P.NEW, P.INITIALIZING) or not recorded:
        return False
    return not all(ENSIGN_HASH.fullmatch(h) for h in recorded)


def plan_adoption(snap: Snapshot) -> Adoption:
    """What to do with a canary whose status Flagger wrote (see the module docstring);
    `snap.flagger` holds what its primary runs."""
    leftovers = snap.flagger or FlaggerLeftovers()
    status = snap.status
    phase = status.phase
    name = f"{snap.canary.name}.{snap.canary.namespace or ''}"
    target = snap.canary.spec.target_ref.name
    status_write = f"Canary {name} status"
    kept = status
    problem = snap.problem or snap.autoscaler_problem or snap.router_problem
    if problem:
        return Adoption(
            verdict=Verdict.REFUSE,
            reasons=(problem,),
            status=status,
            actions=(),
            writes=(status_write,),
        )
    if not snap.primary_exists:
        return Adoption(
            verdict=Verdict.REFUSE,
            reasons=(
                f"Flagger's status says {phase} but {target}-primary does not exist: holding;"
                " remove the status (or the Canary) to initialise from scratch",
            ),
            status=status,
            actions=(),
            writes=(status_write,),
        )
    promoted = leftovers.primary_revision or snap.revision
    if phase in ACTIVE:
        return _mid_analysis(snap, kept, promoted, name=name, status_write=status_write)
    same = leftovers.target_matches_primary
    applied = snap.revision if (same or phase == P.FAILED) else promoted
    reasons = [f"{phase}: {target}-primary runs revision {promoted}"]
    if same:
        reasons.append(f"{target} runs the same pod template")
    elif phase == P.FAILED:
        reasons.append(f"{target} still runs the revision that failed ({snap.revision})")
    else:
        reasons.append(
            f"{target} runs another template ({snap.revision}): it is analysed normally next"
        )
    adopted = replace(
        kept,
        last_applied_spec=applied,
        last_promoted_spec=promoted,
        canary_weight=0,
        iterations=0,
    )
    return Adoption(
        verdict=Verdict.ADOPT,
        reasons=tuple(reasons),
        status=adopted,
        actions=(RecordEvent(warning=False, message=f"{name} {ADOPTED} ({phase}) at {applied}"),),
        writes=(status_write,),
    )


def _mid_analysis(
    snap: Snapshot, kept: CanaryStatus, promoted: str, *, name: str, status_write: str
) -> Adoption:
    phase = kept.phase
    weight = snap.routes.canary if snap.routes_traffic else 0  # kubernetes: no split
    where = f"canary weight {weight}" if snap.routes_traffic else "provider without traffic split"
    carried = replace(kept, last_applied_spec=snap.revision, last_promoted_spec=promoted)
    moving_to_primary = phase in (P.PROMOTING, P.FINALISING)
    if snap.target.ready or moving_to_primary or weight == 0:
        return Adoption(
            verdict=Verdict.RESUME,
            reasons=(
                f"{phase} ({where}), iteration {kept.iterations}:"
                " resuming from the weights in force",
            ),
            status=carried,
            actions=(
                RecordEvent(
                    warning=False,
                    message=f"{name} {ADOPTED} mid-analysis ({phase}, {where}): resuming",
                ),
            ),
            writes=(status_write,),
        )
    if not snap.primary.ready:
        return Adoption(
            verdict=Verdict.REFUSE,
            reasons=(
                f"{phase} at canary weight {weight} but neither the canary nor the primary is"
                f" ready ({snap.target.message}; {snap.primary.message}): holding",
            ),
            status=kept,
            actions=(),
            writes=(status_write,),
        )
    restarted = replace(
        carried,
        phase=P.PROGRESSING,
        canary_weight=0,
        iterations=0,
        failed_checks=0,
        history=(),
        checks=(),
    )
    return Adoption(
        verdict=Verdict.RESTART,
        reasons=(
            f"{phase} at canary weight {weight} but the canary is not ready"
            f" ({snap.target.message}): all traffic back to the primary, analysis from weight 0",
        ),
        status=restarted,
        actions=(
            SetRoutes(routes=Routes(primary=100, canary=0)),
            RecordEvent(
                warning=True,
                message=f"{name} {ADOPTED} mid-analysis with no ready canary pods:"
                " traffic back to the primary, analysis restarted",
            ),
        ),
        writes=(status_write, "router objects (100% to the primary)"),
    )
