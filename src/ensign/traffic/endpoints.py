"""Which pods stand behind a Service, from the workload bodies. Pure.

A Service's endpoints are the ready pods of the workloads whose pod template labels
include its selector (a Service without selector has none we can see). Ready counts come
from `status.readyReplicas` (Deployment) or `status.numberReady` (DaemonSet). A Service with
zero ready pods answers 503: `starved` lists the Services a routing sends traffic to anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ensign.traffic.manifest import object_name, object_namespace
from ensign.traffic.request import Routing

__all__ = ["Endpoints", "endpoints", "starved"]

JSON = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Endpoints:
    service: str
    workloads: tuple[str, ...]  # names of the workloads the selector picks
    ready: int  # ready pods across them

    @property
    def serving(self) -> bool:
        return self.ready > 0


def endpoints(service: JSON, workloads: Iterable[JSON]) -> Endpoints:
    namespace = object_namespace(service)
    selector: Mapping[str, str] = (service.get("spec") or {}).get("selector") or {}
    picked: list[str] = []
    ready = 0
    for workload in workloads:
        workload_namespace = object_namespace(workload)
        if namespace and workload_namespace and workload_namespace != namespace:
            continue
        template = (workload.get("spec") or {}).get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            picked.append(object_name(workload))
            status = workload.get("status") or {}
            count = status.get("readyReplicas", status.get("numberReady"))
            ready += count if isinstance(count, int) and not isinstance(count, bool) else 0
    return Endpoints(object_name(service), tuple(picked), ready)


def starved(
    routing: Routing, services: Iterable[JSON], workloads: Iterable[JSON]
) -> tuple[str, ...]:
    """The Services `routing` gives a share above 0 (or mirrors to) that have no ready pod
    (a Service not among `services` counts as having none)."""
    by_name = {object_name(s): s for s in services}
    pods = list(workloads)
    used = [d.service for d in routing.destinations if d.percent > 0]
    used += [m.service for m in routing.mirrors if m.percent > 0]
    out = []
    for name in dict.fromkeys(used):
        svc = by_name.get(name)
        if svc is None or not endpoints(svc, pods).serving:
            out.append(name)
    return tuple(out)
