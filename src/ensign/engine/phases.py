"""Phases of a Canary and the transitions between them, as data. Pure.

`TRANSITIONS` is the single place that says which phase may follow which; the engine asserts
every change against it. `PROMOTED` holds Flagger's `Promoted` condition per phase.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """Flagger's phases; `NEW` is the empty phase of a canary never synced."""

    NEW = ""
    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    WAITING = "Waiting"
    PROGRESSING = "Progressing"
    WAITING_PROMOTION = "WaitingPromotion"
    PROMOTING = "Promoting"
    FINALISING = "Finalising"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


P = Phase

# Phases from which a new revision may start a run.
IDLE = frozenset({P.INITIALIZED, P.SUCCEEDED, P.FAILED})
# Phases in which an analysis run is under way.
ACTIVE = frozenset({P.PROGRESSING, P.WAITING_PROMOTION, P.PROMOTING, P.FINALISING})
INITIALISING = frozenset({P.NEW, P.INITIALIZING})

TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    P.NEW: frozenset({P.INITIALIZING, P.INITIALIZED, P.FAILED}),
    P.INITIALIZING: frozenset({P.INITIALIZED, P.FAILED}),
    P.INITIALIZED: frozenset({P.WAITING, P.PROGRESSING, P.FAILED}),
    P.WAITING: frozenset({P.PROGRESSING, P.FAILED}),
    P.PROGRESSING: frozenset(
        {P.PROGRESSING, P.WAITING_PROMOTION, P.PROMOTING, P.SUCCEEDED, P.FAILED}
    ),
    P.WAITING_PROMOTION: frozenset({P.PROGRESSING, P.PROMOTING, P.FAILED}),
    P.PROMOTING: frozenset({P.FINALISING, P.FAILED}),
    P.FINALISING: frozenset({P.SUCCEEDED, P.FAILED}),
    P.SUCCEEDED: frozenset({P.WAITING, P.PROGRESSING, P.FAILED}),
    P.FAILED: frozenset({P.WAITING, P.PROGRESSING}),
    P.TERMINATING: frozenset({P.TERMINATED}),
    P.TERMINATED: frozenset(),
}
# Deletion with revertOnDeletion may interrupt any phase.
for _phase in list(TRANSITIONS):
    if _phase not in (P.TERMINATING, P.TERMINATED):
        TRANSITIONS[_phase] = TRANSITIONS[_phase] | {P.TERMINATING}


def allowed(current: Phase, new: Phase) -> bool:
    """Whether `current → new` is a legal change (staying put always is)."""
    return current == new or new in TRANSITIONS[current]


# Flagger's `Promoted` condition: status and message per phase ({kind} is the target kind).
PROMOTED: dict[Phase, tuple[str, str]] = {
    P.INITIALIZING: ("Unknown", "New {kind} detected, starting initialization."),
    P.INITIALIZED: ("True", "{kind} initialization completed."),
    P.WAITING: ("Unknown", "Waiting for approval."),
    P.WAITING_PROMOTION: ("Unknown", "Waiting for approval."),
    P.PROGRESSING: ("Unknown", "New revision detected, progressing canary analysis."),
    P.PROMOTING: ("Unknown", "Canary analysis completed, starting primary rolling update."),
    P.FINALISING: ("Unknown", "Canary analysis completed, routing all traffic to primary."),
    P.SUCCEEDED: ("True", "Canary analysis completed successfully, promotion finished."),
    P.FAILED: ("False", "Canary analysis failed, {kind} scaled to zero."),
}


def promoted_condition(phase: Phase, kind: str) -> tuple[str, str]:
    """(status, message) of the Promoted condition in `phase`."""
    status, message = PROMOTED.get(phase, PROMOTED[P.INITIALIZING])
    return status, message.format(kind=kind)


def mermaid() -> str:
    """The phase diagram as Mermaid text, generated from `TRANSITIONS` (docs embed it)."""
    lines = ["stateDiagram-v2", "    [*] --> Initializing"]
    for source in Phase:
        if source in (P.NEW, P.TERMINATED):
            continue
        for target in sorted(TRANSITIONS[source], key=list(Phase).index):
            if target == source or target == P.TERMINATING:
                continue
            lines.append(f"    {source.value} --> {target.value}")
    lines.append("    note right of Terminating: any phase, on deletion with revertOnDeletion")
    return "\n".join(lines)
