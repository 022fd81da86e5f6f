"""The two API views of one Event: core/v1 and events.k8s.io/v1. Pure.

A real apiserver stores one Event and serves it through both groups, renaming fields
between them. The local cluster stores the core/v1 form; events.k8s.io/v1 requests are
converted on the way in (`to_core`) and out (`to_events_v1`). Field selectors of the new
group name the new fields (`regarding.name`), which `CORE_FIELD` maps to the stored ones.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

EVENTS_V1 = ("events.k8s.io", "events")
CORE = ("", "events")

# core/v1 name -> events.k8s.io/v1 name; every other field keeps its name.
_RENAMED = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_BACK = {new: old for old, new in _RENAMED.items()}

_REFERENCE = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
CORE_FIELD_LABELS = (
    *(f"involvedObject.{f}" for f in _REFERENCE),
    "reason",
    "reportingComponent",
    "source",
    "type",
)
# events.k8s.io/v1 field label -> the stored (core/v1) field it selects on.
CORE_FIELD = {
    **{f"regarding.{f}": f"involvedObject.{f}" for f in _REFERENCE},
    "reason": "reason",
    "reportingController": "reportingComponent",
    "type": "type",
}


def to_core(obj: JSON) -> JSON:
    """The core/v1 form of an events.k8s.io/v1 Event."""
    out = {_BACK.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "v1"
    out["kind"] = "Event"
    return out


def to_events_v1(obj: JSON) -> JSON:
    """The events.k8s.io/v1 form of a stored core/v1 Event."""
    out = {_RENAMED.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = "events.k8s.io/v1"
    out["kind"] = "Event"
    return out


def served_as_events_v1(group: str, plural: str) -> bool:
    """Whether (group, plural) is the events.k8s.io/v1 view of stored core/v1 Events."""
    return (group, plural) == EVENTS_V1
