"""Metadata conventions shared by every object a router generates. Pure.

Owner references to the Canary, the Flux opt-out annotations (§3.2 of the behaviour notes),
the custom/unmanaged metadata a Canary asks for on its Services (§1.1.4), and the apex
metadata of the routing objects named after the apex Service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from ensign.model.canary import API_VERSION, Canary, ServiceSpec

JSON: TypeAlias = dict[str, Any]

FLUX_OPT_OUT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
        "helm.toolkit.fluxcd.io/driftDetection": "disabled",
    }
)
"""Annotations that stop Flux from reverting objects Ensign manages (§3.2)."""


CANARY_KIND: Final = "Canary"


class ServiceRole(StrEnum):
    """Which generated Service; the value is the `spec.service` key of its custom metadata."""

    APEX = "apex"
    PRIMARY = "primary"
    CANARY = "canary"


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomMetadata:
    """`spec.service.{apex,primary,canary}`: labels and annotations for one Service."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmanagedMetadata:
    """`spec.service.unmanagedMetadata`: keys whose live values survive on owned Services."""

    labels: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()


def custom_metadata(service: ServiceSpec, role: ServiceRole) -> CustomMetadata:
    """The custom labels/annotations the spec asks for on one Service (string values only)."""
    block = service.raw.get(role.value)
    if not isinstance(block, Mapping):
        return CustomMetadata()
    return CustomMetadata(
        labels=_string_map(block.get("labels")),
        annotations=_string_map(block.get("annotations")),
    )


def apex_metadata(service: ServiceSpec | None) -> CustomMetadata:
    """The metadata of a routing object named after the apex Service: `service.apex.labels`,
    and `service.apex.annotations` plus the Flux opt-out keys (which win)."""
    meta = custom_metadata(service, ServiceRole.APEX) if service is not None else CustomMetadata()
    return CustomMetadata(
        labels=dict(meta.labels), annotations={**meta.annotations, **FLUX_OPT_OUT}
    )


def unmanaged_metadata(service: ServiceSpec) -> UnmanagedMetadata:
    """The label and annotation keys listed in `spec.service.unmanagedMetadata`."""
    block = service.raw.get("unmanagedMetadata")
    if not isinstance(block, Mapping):
        return UnmanagedMetadata()
    return UnmanagedMetadata(
        labels=_string_list(block.get("labels")),
        annotations=_string_list(block.get("annotations")),
    )


def owner_reference(canary: Canary, *, canary_uid: str) -> JSON:
    """The controller owner reference that ties a generated object to its Canary."""
    return {
        "apiVersion": API_VERSION,
        "kind": CANARY_KIND,
        "name": canary.name,
        "uid": canary_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_reference(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The owner reference marked `controller: true`, if any."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    for ref in refs:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controller, if it has one."""
    ref = controller_reference(obj)
    uid = ref.get("uid") if ref is not None else None
    return uid if isinstance(uid, str) else None


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): item for key, item in value.items() if isinstance(item, str)}


def _string_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str))
