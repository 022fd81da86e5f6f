"""Read a Canary and the objects around it, for `ensign describe`. Does I/O."""

from __future__ import annotations

import contextlib
from typing import Any

from ensign.console.graph import Graph, Names, Objects, build_graph
from ensign.kube import kinds
from ensign.kube.api import JSON, KubeApi, NotFound, Rejected
from ensign.kube.kinds import INGRESS

WORKLOAD_KINDS = {"Deployment": kinds.DEPLOYMENT, "DaemonSet": kinds.DAEMONSET}


async def read_graph(api: KubeApi, namespace: str, name: str) -> Graph:
    """The live graph; raises NotFound when the Canary does not exist."""
    canary = await api.get(kinds.CANARY, name, namespace=namespace)
    names = Names.of(canary)
    workload_kind = WORKLOAD_KINDS.get(names.kind, kinds.DEPLOYMENT)
    services = await _by_name(api, kinds.SERVICE, namespace)
    workloads = await _by_name(api, workload_kind, namespace)
    hpas = await _by_name(api, kinds.HPA, namespace) if names.autoscaler else {}
    ingresses: list[JSON] = []
    with contextlib.suppress(NotFound, Rejected):  # no Ingress API, or not allowed to list
        ingresses, _ = await api.list(INGRESS, namespace=namespace)
    configs = await _configs(api, namespace, (canary.get("status") or {}).get("trackedConfigs"))
    objects = Objects(
        services=services, workloads=workloads, ingresses=ingresses, hpas=hpas, configs=configs
    )
    return build_graph(canary, objects)


async def _by_name(api: KubeApi, kind: Any, namespace: str) -> dict[str, JSON]:
    items, _ = await api.list(kind, namespace=namespace)
    return {str(o["metadata"]["name"]): o for o in items}


async def _configs(api: KubeApi, namespace: str, tracked: object) -> dict[str, JSON | None]:
    out: dict[str, JSON | None] = {}
    if not isinstance(tracked, dict):
        return out
    for key in tracked:
        prefix, _, name = str(key).partition("/")
        kind = {"configmap": kinds.CONFIGMAP, "secret": kinds.SECRET}.get(prefix)
        if kind is None:
            continue
        for copy_name in (name, f"{name}-primary"):
            try:
                out[f"{prefix}/{copy_name}"] = await api.get(kind, copy_name, namespace=namespace)
            except (NotFound, Rejected):
                out[f"{prefix}/{copy_name}"] = None
    return out
