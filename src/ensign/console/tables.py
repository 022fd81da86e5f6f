"""The `ensign get` table: one row per Canary, Flagger's printer columns and more. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True, slots=True)
class Row:
    namespace: str
    name: str
    status: str
    weight: int
    iteration: str
    failed: str
    suspended: bool
    last_transition: str
    message: str

    @classmethod
    def of(cls, canary: Mapping[str, Any]) -> Row:
        meta = canary.get("metadata") or {}
        spec = canary.get("spec") or {}
        status = canary.get("status") or {}
        analysis = spec.get("analysis") or {}
        total = analysis.get("iterations")
        iterations = _int(status.get("iterations"))
        threshold = analysis.get("threshold", 1)
        ready: Mapping[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Ready"),
            {},
        )
        return cls(
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            status=str(status.get("phase") or "-"),
            weight=_int(status.get("canaryWeight")),
            # After the last iteration Flagger's counter runs one past the total (the switch
            # tick); show the completed count.
            iteration=(
                f"{min(iterations, total)}/{total}" if isinstance(total, int) else str(iterations)
            ),
            failed=f"{_int(status.get('failedChecks'))}/{threshold}",
            suspended=bool(spec.get("suspend")),
            last_transition=str(status.get("lastTransitionTime") or "-"),
            message=str(ready.get("message") or ""),
        )


def rows(canaries: Iterable[Mapping[str, Any]]) -> list[Row]:
    return sorted((Row.of(c) for c in canaries), key=lambda r: (r.namespace, r.name))


COLUMNS = (
    "STATUS",
    "WEIGHT",
    "ITERATION",
    "FAILED",
    "SUSPENDED",
    "LASTTRANSITIONTIME",
    "MESSAGE",
)


def table(found: Iterable[Row], *, all_namespaces: bool) -> Table:
    """A kubectl-like table (no borders, upper-case headers); the message column wraps."""
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    if all_namespaces:
        out.add_column("NAMESPACE", no_wrap=True)
    out.add_column("NAME", no_wrap=True)
    for column in COLUMNS[:-1]:
        out.add_column(column, no_wrap=True)
    out.add_column(COLUMNS[-1], overflow="fold")
    for row in found:
        cells = [
            Text(row.name),
            Text(row.status, style=phase_style(row.status)),
            Text(str(row.weight)),
            Text(row.iteration),
            Text(row.failed),
            Text("yes" if row.suspended else "no"),
            Text(row.last_transition),
            Text(row.message),
        ]
        out.add_row(*([Text(row.namespace), *cells] if all_namespaces else cells))
    return out


def phase_style(phase: str) -> str:
    """green when settled well, red when failed, yellow while a run is under way."""
    if phase in ("Succeeded", "Initialized"):
        return "green"
    if phase in ("Failed", "Terminated"):
        return "red"
    return "" if phase in ("-", "") else "yellow"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
