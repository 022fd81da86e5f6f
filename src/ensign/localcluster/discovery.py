"""Discovery documents: /version, /api, /apis and the group/version resource lists. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ensign import __version__
from ensign.localcluster import errors
from ensign.localcluster.kinds import BUILTIN_GROUP_ORDER

if TYPE_CHECKING:
    from ensign.localcluster.paths import Target
    from ensign.localcluster.store import Store

JSON = dict[str, Any]


def version_info() -> JSON:
    return {
        "major": "1",
        "minor": "32",
        "gitVersion": f"v1.32.0-ensign-{__version__}",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-11-26T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def document(store: Store, target: Target, address: str) -> JSON:
    """The discovery document for a path with no resource in it."""
    if target.group == "" and target.version == "":
        return _api_versions(address)
    if target.version == "" and target.group:
        group = _groups(store).get(target.group)
        if group is None:
            raise errors.route_not_found()
        return group
    if target.group == "" and target.version == "apis":
        return _group_list(store)
    return _resource_list(store, target.group, target.version)


def group_list(store: Store) -> JSON:
    return _group_list(store)


def _api_versions(address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _groups(store: Store) -> dict[str, JSON]:
    versions: dict[str, list[str]] = {}
    for rt in store.types():
        if rt.group:
            bucket = versions.setdefault(rt.group, [])
            if rt.version not in bucket:
                bucket.append(rt.version)
    order = {g: i for i, g in enumerate(BUILTIN_GROUP_ORDER)}
    out: dict[str, JSON] = {}
    for group in sorted(versions, key=lambda g: (order.get(g, len(order)), g)):
        vs = sorted(versions[group], key=_version_priority)
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in vs]
        out[group] = {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }
    return out


def _group_list(store: Store) -> JSON:
    groups = [dict(g) for g in _groups(store).values()]
    for g in groups:
        g.pop("kind", None)
        g.pop("apiVersion", None)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_list(store: Store, group: str, version: str) -> JSON:
    resources: list[JSON] = []
    for rt in store.types():
        if rt.group == group and rt.version == version:
            resources.extend(rt.discovery_entries())
    if not resources:
        raise errors.route_not_found()
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)
