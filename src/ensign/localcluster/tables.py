"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for. Pure.

CRDs print their additionalPrinterColumns, as a real apiserver does; a few built-in kinds
print their familiar columns; every other kind prints Name and Age.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from ensign.localcluster.kinds import ResourceType

JSON = dict[str, Any]
Cell = Callable[[JSON], Any]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def table(rt: ResourceType, items: list[JSON], rv: int, now: datetime) -> JSON:
    columns, cells = _columns(rt)
    dates = [i for i, col in enumerate(columns) if col["type"] == "date"]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(rv)},
        "columnDefinitions": columns,
        "rows": [
            {
                "cells": _humanise([cell(item) for cell in cells], dates, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": item.get("metadata", {}),
                },
            }
            for item in items
        ],
    }


def _humanise(cells: list[Any], dates: list[int], now: datetime) -> list[Any]:
    for i in dates:
        if isinstance(cells[i], str) and cells[i]:
            cells[i] = human_age(cells[i], now)
    return cells


def human_age(timestamp: str, now: datetime) -> str:
    """kubectl's short relative time: 45s, 3m12s, 17m, 5h2m, 3d4h, 120d, 2y."""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    seconds = max(int((now - then).total_seconds()), 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _column(name: str, kind: str = "string", *, priority: int = 0, fmt: str = "") -> JSON:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _name(obj: JSON) -> Any:
    return obj.get("metadata", {}).get("name", "")


def _age(obj: JSON) -> Any:
    return obj.get("metadata", {}).get("creationTimestamp", "")


def _path(path: str) -> Cell:
    parts = [p for p in path.strip().lstrip(".").split(".") if p]

    def read(obj: JSON) -> Any:
        node: Any = obj
        for part in parts:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        if isinstance(node, list | dict):
            return msgspec.json.encode(node).decode()
        return node

    return read


def _deployment_ready(obj: JSON) -> str:
    status = obj.get("status") or {}
    desired = (obj.get("spec") or {}).get("replicas", 0)
    return f"{status.get('readyReplicas', 0)}/{desired}"


def _images(obj: JSON) -> str:
    containers = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get(
        "containers"
    ) or []
    return ",".join(str(c.get("image", "")) for c in containers)


def _ports(obj: JSON) -> str:
    ports = (obj.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _selector(obj: JSON) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def _pod_ready(obj: JSON) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    containers = (obj.get("spec") or {}).get("containers") or []
    return f"{sum(1 for c in statuses if c.get('ready'))}/{len(containers)}"


def _pod_restarts(obj: JSON) -> int:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    return sum(int(c.get("restartCount", 0) or 0) for c in statuses)


def _node_status(obj: JSON) -> str:
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    state = "Ready" if ready else "NotReady"
    return f"{state},SchedulingDisabled" if (obj.get("spec") or {}).get("unschedulable") else state


_BUILTIN: dict[str, list[tuple[JSON, Cell]]] = {
    "pods": [
        (_column("Ready"), _pod_ready),
        (_column("Status"), _path(".status.phase")),
        (_column("Restarts", "integer"), _pod_restarts),
        (_column("IP", priority=1), _path(".status.podIP")),
        (_column("Node", priority=1), _path(".spec.nodeName")),
    ],
    "replicasets": [
        (_column("Desired", "integer"), _path(".spec.replicas")),
        (_column("Current", "integer"), _path(".status.replicas")),
        (_column("Ready", "integer"), _path(".status.readyReplicas")),
        (_column("Images", priority=1), _images),
    ],
    "nodes": [
        (_column("Status"), _node_status),
        (_column("Version"), _path(".status.nodeInfo.kubeletVersion")),
    ],
    "deployments": [
        (_column("Ready"), _deployment_ready),
        (_column("Up-to-date", "integer"), _path(".status.updatedReplicas")),
        (_column("Available", "integer"), _path(".status.availableReplicas")),
        (_column("Images", priority=1), _images),
    ],
    "daemonsets": [
        (_column("Desired", "integer"), _path(".status.desiredNumberScheduled")),
        (_column("Ready", "integer"), _path(".status.numberReady")),
        (_column("Up-to-date", "integer"), _path(".status.updatedNumberScheduled")),
        (_column("Images", priority=1), _images),
    ],
    "services": [
        (_column("Type"), _path(".spec.type")),
        (_column("Cluster-IP"), _path(".spec.clusterIP")),
        (_column("Port(s)"), _ports),
        (_column("Selector", priority=1), _selector),
    ],
}


def _columns(rt: ResourceType) -> tuple[list[JSON], list[Cell]]:
    columns = [_column("Name", fmt="name")]
    cells: list[Cell] = [_name]
    if rt.printer_columns:
        for col in rt.printer_columns:
            columns.append(
                _column(
                    str(col.get("name", "")),
                    str(col.get("type", "string")),
                    priority=int(col.get("priority", 0)),
                    fmt=str(col.get("format", "")),
                )
            )
            cells.append(_path(str(col.get("jsonPath", ""))))
        return columns, cells
    for column, cell in _BUILTIN.get(rt.plural, []) if rt.builtin else []:
        columns.append(column)
        cells.append(cell)
    columns.append(_column("Age", "date"))
    cells.append(_age)
    return columns, cells
