"""The three generated Kubernetes Services (apex, -primary, -canary) used by every provider. Pure.

`desired_services` renders the bodies Flagger would build (§2.11 of the behaviour notes).
`reconcile_service` (create, replace or leave alone) and `revert_apex` (give the apex back on
deletion) live in `service_sync` and are re-exported here. Bodies are plain JSON dicts.

Where Ensign differs from Flagger, on purpose: discovered ports never duplicate the main
port's name or number, nor each other's number (Flagger would render an invalid Service and
fail every tick), and they keep the order in which they were found (Flagger's is random).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ensign.model.canary import Canary, ServiceSpec
from ensign.routers.metadata import (
    FLUX_OPT_OUT,
    JSON,
    ServiceRole,
    custom_metadata,
    owner_reference,
    unmanaged_metadata,
)
from ensign.routers.service_sync import (
    TCP,
    Create,
    ServiceChange,
    Unchanged,
    Update,
    reconcile_service,
    revert_apex,
)

__all__ = [
    "MESH_PROXY_CONTAINERS",
    "Create",
    "DiscoveredPort",
    "GeneratedServices",
    "ServiceChange",
    "Unchanged",
    "Update",
    "desired_services",
    "discover_ports",
    "reconcile_service",
    "revert_apex",
    "service_ports",
    "unmanaged_metadata",
]

MESH_PROXY_CONTAINERS: Final = frozenset({"istio-proxy", "envoy"})


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveredPort:
    """A container port added to the generated Services by `portDiscovery`."""

    name: str
    port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedServices:
    """Desired bodies of the apex, primary and canary Services of one canary."""

    apex: Mapping[str, Any]
    primary: Mapping[str, Any]
    canary: Mapping[str, Any]

    def all(self) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]:
        """In Flagger's order of creation: canary and primary at initialisation, apex last."""
        return (self.canary, self.primary, self.apex)


def discover_ports(
    service: ServiceSpec, pod_spec: Mapping[str, Any] | None
) -> tuple[DiscoveredPort, ...]:
    """Container ports of the target to expose besides the main port (`portDiscovery`).

    Sidecar proxies (`istio-proxy`, `envoy`) are skipped, and so is the container port the
    main Service port targets. Unnamed ports are called `tcp-<container>-<index>`. A name
    seen twice keeps its last port (Flagger's map semantics).
    """
    found: dict[str, int] = {}
    containers = pod_spec.get("containers") if pod_spec is not None else None
    for container in containers if isinstance(containers, list) else ():
        if not isinstance(container, Mapping) or container.get("name") in MESH_PROXY_CONTAINERS:
            continue
        ports = container.get("ports")
        for index, port in enumerate(ports if isinstance(ports, list) else ()):
            number = port.get("containerPort") if isinstance(port, Mapping) else None
            if not isinstance(number, int) or _is_main_target(service, port):
                continue
            found[str(port.get("name") or f"tcp-{container.get('name')}-{index}")] = number
    return tuple(DiscoveredPort(name=name, port=number) for name, number in found.items())


def _is_main_target(service: ServiceSpec, port: Mapping[str, Any]) -> bool:
    """The model already defaults `target_port` to `port`, which covers Flagger's unset case."""
    if isinstance(service.target_port, int):
        return port.get("containerPort") == service.target_port
    return port.get("name") == service.target_port


def service_ports(service: ServiceSpec, discovered: Sequence[DiscoveredPort]) -> list[JSON]:
    """The main port followed by the discovered ones, minus any that would clash with it."""
    main: JSON = {
        "name": service.port_name,
        "protocol": TCP,
        "port": service.port,
        "targetPort": service.target_port,
    }
    if service.app_protocol:
        main["appProtocol"] = service.app_protocol
    ports = [main]
    names, numbers = {service.port_name}, {service.port}
    for extra in discovered:
        if extra.name in names or extra.port in numbers:
            continue
        names.add(extra.name)
        numbers.add(extra.port)
        ports.append(
            {"name": extra.name, "protocol": TCP, "port": extra.port, "targetPort": extra.port}
        )
    return ports


def desired_services(
    canary: Canary,
    *,
    canary_uid: str,
    label: str,
    value: str,
    target_pod_spec: Mapping[str, Any] | None,
) -> GeneratedServices:
    """The three Services Flagger generates for `canary` (§2.11).

    `label`/`value` are the target's selector label and its value (`app: podinfo`);
    `target_pod_spec` is the target's pod template `spec`, read only for `portDiscovery`.
    """
    service = canary.spec.service
    if service is None:
        raise ValueError(f"canary {canary.key} has no spec.service; no Services to generate")
    discovered = discover_ports(service, target_pod_spec) if service.port_discovery else ()
    ports = service_ports(service, discovered)
    owner = owner_reference(canary, canary_uid=canary_uid)

    def render(role: ServiceRole, name: str, selector_value: str) -> JSON:
        meta = custom_metadata(service, role)
        spec: JSON = {"type": "ClusterIP", "selector": {label: selector_value}}
        spec["ports"] = copy.deepcopy(ports)
        if service.headless:
            spec["clusterIP"] = "None"
        if service.traffic_distribution is not None:
            spec["trafficDistribution"] = service.traffic_distribution.value
        metadata: JSON = {
            "name": name,
            "labels": {**meta.labels, label: name},
            "annotations": {**meta.annotations, **FLUX_OPT_OUT},
            "ownerReferences": [dict(owner)],
        }
        if canary.namespace:
            metadata["namespace"] = canary.namespace
        return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}

    spec = canary.spec
    return GeneratedServices(
        apex=render(ServiceRole.APEX, spec.apex_service_name, f"{value}-primary"),
        primary=render(ServiceRole.PRIMARY, spec.primary_service_name, f"{value}-primary"),
        canary=render(ServiceRole.CANARY, spec.canary_service_name, value),
    )
