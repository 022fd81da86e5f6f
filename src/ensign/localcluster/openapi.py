"""A minimal OpenAPI v3 surface: enough for kubectl to choose server-side field validation. Pure.

kubectl (apply, create -f, replace) fetches `/openapi/v3`, then the document of the object's
group/version, and looks for a PATCH operation tagged with the object's GVK that accepts the
`fieldValidation` query parameter. When it finds one it leaves validation to the server instead
of downloading full schemas. We publish exactly that: paths and operations, no schemas.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ensign.localcluster.kinds import ResourceType
    from ensign.localcluster.store import Store

JSON = dict[str, Any]
_QUERY_PARAMS = ("fieldValidation", "fieldManager", "dryRun", "force")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gv_hash(store: Store, group: str, version: str) -> str:
    names = sorted(rt.plural for rt in store.types() if (rt.group, rt.version) == (group, version))
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:16].upper()


def root(store: Store) -> JSON:
    """`GET /openapi/v3`: one entry per served group/version."""
    gvs = sorted({(rt.group, rt.version) for rt in store.types()})
    return {
        "paths": {
            _gv_path(g, v): {
                "serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={_gv_hash(store, g, v)}"
            }
            for g, v in gvs
        }
    }


def group_version(store: Store, group: str, version: str) -> JSON | None:
    """`GET /openapi/v3/apis/<group>/<version>`: the operations of its resources."""
    types = [rt for rt in store.types() if (rt.group, rt.version) == (group, version)]
    if not types:
        return None
    paths: JSON = {}
    for rt in types:
        paths.update(_resource_paths(rt))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _resource_paths(rt: ResourceType) -> JSON:
    prefix = "/" + _gv_path(rt.group, rt.version)
    if rt.namespaced:
        prefix += "/namespaces/{namespace}"
    collection = f"{prefix}/{rt.plural}"
    item = f"{collection}/{{name}}"
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    params = [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _QUERY_PARAMS]

    def op(action: str) -> JSON:
        return {
            "operationId": f"{action}{rt.kind}",
            "parameters": params,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        }

    out: JSON = {
        collection: {"get": op("list"), "post": op("post")},
        item: {"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")},
    }
    if rt.status:
        out[f"{item}/status"] = {"get": op("get"), "put": op("put"), "patch": op("patch")}
    return out
