"""Parse Kubernetes REST paths into a request target. Pure."""

from __future__ import annotations

from dataclasses import dataclass

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, slots=True)
class Target:
    """What a resource URL names. `plural` is empty for discovery paths."""

    group: str
    version: str
    plural: str = ""
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    legacy_watch: bool = False


def parse(path: str) -> Target | None:
    """`/apis/apps/v1/namespaces/ns/deployments/x/scale` → Target; None for non-API paths."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 2:
            return Target(group="", version="")
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) == 1:
            return Target(group="", version="apis")
        if len(parts) == 2:
            return Target(group=parts[1], version="")
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch, rest = True, rest[1:]
    if not rest:
        return Target(group=group, version=version)
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        ns, rest = rest[1], rest[2:]
    else:
        ns = ""
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if len(rest) > 3:
        return Target(group=group, version=version, plural="\0invalid")
    return Target(
        group=group,
        version=version,
        plural=plural,
        namespace=ns,
        name=name,
        subresource=sub,
        legacy_watch=legacy_watch,
    )
