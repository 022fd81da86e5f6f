"""Reconciling a generated Service with the live one, and handing the apex back. Pure.

`reconcile_service` applies §2.11's update rules of the behaviour notes; `revert_apex` its
Finalize rule. Where Ensign differs from Flagger, on purpose:
- a Service is "owned" when its controller owner reference carries the Canary's uid
  (Flagger compares the Canary's name);
- `trafficDistribution` is kept in line on owned Services (Flagger sets it on create only);
- an unreadable `last-applied-configuration` falls back to selecting the target pods
  (Flagger fails the finalizer forever); only the selector is restored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from ensign.routers.metadata import (
    CANARY_KIND,
    FLUX_OPT_OUT,
    JSON,
    controller_reference,
    controller_uid,
)

LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
TCP: Final = "TCP"


@dataclass(frozen=True, slots=True, kw_only=True)
class Create:
    """The Service does not exist: create `body`."""

    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """Replace the Service with `body` (a full PUT body carrying the live `resourceVersion`)."""

    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Unchanged:
    """The Service already matches; nothing to write."""


ServiceChange: TypeAlias = Create | Update | Unchanged


def reconcile_service(
    existing: Mapping[str, Any] | None,
    desired: Mapping[str, Any],
    *,
    canary_uid: str,
    unmanaged_labels: Sequence[str],
    unmanaged_annotations: Sequence[str],
) -> ServiceChange:
    """What to write so the live Service matches `desired` (§2.11 update rules).

    Selector and ports are always brought in line (ports compared in any order; live
    `nodePort`s are kept, matched by port name). Labels, annotations and
    `trafficDistribution` are managed only on a Service this canary owns; a user's own
    Service is taken over for routing but its metadata is left alone. Any update (re)adds
    the Flux opt-out annotations. Idempotent: reconciling the result gives `Unchanged`.
    """
    if existing is None:
        return Create(body=copy.deepcopy(dict(desired)))
    body = _replacement_base(existing)
    spec: JSON = body.setdefault("spec", {})
    desired_spec = desired.get("spec") or {}
    changed = _sync_routing(spec, desired_spec)
    if controller_uid(existing) == canary_uid:
        changed |= _sync_owned_metadata(
            body.setdefault("metadata", {}),
            desired.get("metadata") or {},
            unmanaged_labels=unmanaged_labels,
            unmanaged_annotations=unmanaged_annotations,
        )
        changed |= _sync_traffic_distribution(spec, desired_spec)
    if not changed:
        return Unchanged()
    metadata: JSON = body.setdefault("metadata", {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **FLUX_OPT_OUT}
    return Update(body=body)


def _replacement_base(existing: Mapping[str, Any]) -> JSON:
    """A deep copy to edit into a PUT body; `status` is dropped (the API server ignores it)."""
    body = copy.deepcopy(dict(existing))
    body.pop("status", None)
    return body


def _sync_routing(spec: JSON, desired_spec: Mapping[str, Any]) -> bool:
    ports = _with_node_ports(desired_spec.get("ports") or [], live=spec.get("ports") or [])
    selector = dict(desired_spec.get("selector") or {})
    if _port_set(ports) == _port_set(spec.get("ports") or []) and selector == (
        spec.get("selector") or {}
    ):
        return False
    spec["ports"] = ports
    spec["selector"] = selector
    return True


def _with_node_ports(desired: Sequence[Mapping[str, Any]], *, live: Sequence[Any]) -> list[JSON]:
    node_ports = {
        port.get("name"): port["nodePort"]
        for port in reversed(live)
        if isinstance(port, Mapping)
        and isinstance(port.get("nodePort"), int)
        and port["nodePort"] > 0
    }
    ports = [copy.deepcopy(dict(port)) for port in desired]
    for port in ports:
        if port.get("name") in node_ports:
            port["nodePort"] = node_ports[port.get("name")]
    return ports


def _port_set(ports: Sequence[Any]) -> list[tuple[str, str, int, str, str, int]]:
    """Ports as comparable tuples, API-server defaults filled in, in a canonical order."""
    rows = []
    for port in ports:
        if not isinstance(port, Mapping):
            continue
        number = port.get("port")
        rows.append(
            (
                str(port.get("name") or ""),
                str(port.get("protocol") or TCP),
                number if isinstance(number, int) else 0,
                str(port.get("targetPort") if port.get("targetPort") is not None else number),
                str(port.get("appProtocol") or ""),
                int(port.get("nodePort") or 0),
            )
        )
    return sorted(rows, key=lambda row: (row[2], row[1], row[0], row[3], row[4], row[5]))


def _sync_owned_metadata(
    metadata: JSON,
    desired: Mapping[str, Any],
    *,
    unmanaged_labels: Sequence[str],
    unmanaged_annotations: Sequence[str],
) -> bool:
    """Custom metadata plus the live values of unmanaged keys; foreign keys are dropped."""
    live_labels = dict(metadata.get("labels") or {})
    live_annotations = dict(metadata.get("annotations") or {})
    labels = {**(desired.get("labels") or {}), **_pick(live_labels, unmanaged_labels)}
    annotations = {
        **(desired.get("annotations") or {}),
        **_pick(live_annotations, unmanaged_annotations),
        **FLUX_OPT_OUT,
    }
    if labels == live_labels and annotations == live_annotations:
        return False
    metadata["labels"] = labels
    metadata["annotations"] = annotations
    return True


def _pick(values: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {key: values[key] for key in keys if key in values}


def _sync_traffic_distribution(spec: JSON, desired_spec: Mapping[str, Any]) -> bool:
    wanted = desired_spec.get("trafficDistribution")
    if spec.get("trafficDistribution") == wanted:
        return False
    if wanted is None:
        spec.pop("trafficDistribution", None)
    else:
        spec["trafficDistribution"] = wanted
    return True


def revert_apex(existing: Mapping[str, Any] | None, *, label: str, value: str) -> JSON | None:
    """The apex Service handed back to the user on deletion, or None when nothing to do.

    Only a Service with no Canary controller is reverted (one Ensign created is garbage
    collected instead). Its selector is restored from kubectl's last-applied configuration
    when present, else set to `{label: value}` so it selects the target pods again.
    """
    if existing is None:
        return None
    controller = controller_reference(existing)
    if controller is not None and controller.get("kind") == CANARY_KIND:
        return None
    selector = _last_applied_selector(existing)
    if selector is None:
        selector = {label: value}
    body = _replacement_base(existing)
    spec: JSON = body.setdefault("spec", {})
    if (spec.get("selector") or {}) == selector:
        return None
    if selector:
        spec["selector"] = selector
    else:
        spec.pop("selector", None)
    return body


def _last_applied_selector(existing: Mapping[str, Any]) -> dict[str, str] | None:
    """The selector kubectl last applied (`{}` if it had none); None when unknown."""
    raw = ((existing.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not isinstance(raw, str):
        return None
    try:
        applied = json.loads(raw)
    except ValueError:
        return None
    spec = applied.get("spec") if isinstance(applied, dict) else None
    if not isinstance(spec, dict):
        return None
    selector = spec.get("selector")
    if not isinstance(selector, Mapping):
        return {}
    return {str(key): item for key, item in selector.items() if isinstance(item, str)}
