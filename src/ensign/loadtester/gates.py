"""In-memory manual gates of the load tester (§8.2). Pure: no I/O.

Each canary `<name>.<namespace>` has a promotion gate and a rollback gate, both closed until
someone opens them. Only open gates are stored, so checking unknown canaries costs nothing;
`max_open` bounds how many gates callers can open. State is lost on restart and not shared
between replicas, as in Flagger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_MAX_OPEN = 10_000
"""Open gates kept at most (promotion and rollback gates together)."""


class GateKind(StrEnum):
    """Which of a canary's two gates: `/gate/*` (promotion) or `/rollback/*`."""

    PROMOTION = "gate"
    ROLLBACK = "rollback"


class TooManyGates(Exception):
    """Raised by `GateStore.open` when `max_open` gates are already open."""


@dataclass(slots=True)
class GateStore:
    """Open gates keyed by (kind, name, namespace).

    Keys are tuples rather than Flagger's dotted strings, so the promotion gate of a canary
    named `rollback.x` can never be mistaken for the rollback gate of canary `x`.
    """

    max_open: int = DEFAULT_MAX_OPEN
    _open: set[tuple[GateKind, str, str]] = field(default_factory=set)

    def is_open(self, kind: GateKind, name: str, namespace: str) -> bool:
        return (kind, name, namespace) in self._open

    def open(self, kind: GateKind, name: str, namespace: str) -> None:
        key = (kind, name, namespace)
        if key not in self._open and len(self._open) >= self.max_open:
            raise TooManyGates(f"too many open gates (limit {self.max_open})")
        self._open.add(key)

    def close(self, kind: GateKind, name: str, namespace: str) -> None:
        self._open.discard((kind, name, namespace))

    def __len__(self) -> int:
        return len(self._open)
