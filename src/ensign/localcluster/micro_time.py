"""metav1.MicroTime as a real apiserver decodes it: RFC 3339 with exactly six fractional digits,
stored and answered in UTC. Pure.

Go parses a MicroTime with the layout `2006-01-02T15:04:05.000000Z07:00` and writes it back
in UTC, so `2026-12-04T21:45:43.123456+02:00` is served as `2026-12-04T19:45:43.123456Z`,
and anything else (no fraction, three digits, a word) fails decoding: 400 BadRequest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
_MICRO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})(Z|[+-]\d{2}:\d{2})$"
)

# (group, plural) -> top-level paths (dotted) holding a MicroTime.
FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("coordination.k8s.io", "leases"): ("spec.acquireTime", "spec.renewTime"),
    ("", "events"): ("eventTime",),
    ("events.k8s.io", "events"): ("eventTime",),
}


class MicroTimeError(ValueError):
    pass


def parse(text: str) -> datetime:
    """The instant of a MicroTime string; MicroTimeError with Go's message when malformed."""
    match = _MICRO.match(text)
    if match is None:
        raise MicroTimeError(f'parsing time "{text}" as "{LAYOUT}": cannot parse "{text}"')
    year, month, day, hour, minute, second, micro, zone = match.groups()
    if zone == "Z":
        tz: timezone = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), int(micro), tz
        )
    except ValueError as exc:
        raise MicroTimeError(f'parsing time "{text}": {exc}') from exc


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise(group: str, plural: str, obj: dict[str, Any]) -> str | None:
    """Rewrite this kind's MicroTime fields in UTC in place; the decode error, or None."""
    for path in FIELDS.get((group, plural), ()):
        *parents, leaf = path.split(".")
        node: Any = obj
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get(leaf) is None:
            continue
        value = node[leaf]
        if not isinstance(value, str):
            return f"json: cannot unmarshal {type(value).__name__} into MicroTime {path}"
        try:
            node[leaf] = format_utc(parse(value))
        except MicroTimeError as exc:
            return str(exc)
    return None
