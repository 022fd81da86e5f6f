"""Spec problems found while parsing a custom resource. Pure.

`SpecError` names one problem by the JSON path of the offending field; `InvalidSpec`
carries every problem found in one resource, in document order, so a user can fix them
all in one edit instead of one per apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpecError:
    """One problem in a resource: `path` is a JSON path such as `spec.analysis.stepWeight`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidSpec(Exception):
    """A resource that cannot be used; `errors` lists every problem found, never just the first."""

    def __init__(self, errors: Iterable[SpecError], *, kind: str = "Canary") -> None:
        self.errors: tuple[SpecError, ...] = tuple(errors)
        self.kind = kind
        super().__init__(self.errors)

    @property
    def messages(self) -> tuple[str, ...]:
        """The problems as user-facing strings, e.g. `spec.service.port: is required`."""
        return tuple(str(error) for error in self.errors)

    def __str__(self) -> str:
        count = len(self.errors)
        noun = "problem" if count == 1 else "problems"
        lines = "".join(f"\n  - {message}" for message in self.messages)
        return f"invalid {self.kind} ({count} {noun}):{lines}"
