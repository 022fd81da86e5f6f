"""Admission for the local cluster: defaulting, pruning and validation before a write. Pure.

Built-in kinds go through `builtin` (defaults and validation as a real apiserver has them);
custom resources through their CRD's structural schema (`schema`). This module also knows
how the status and scale subresources carve up an object.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ensign.localcluster import builtin, declared_fields, errors, schema
from ensign.localcluster.errors import StatusCause
from ensign.localcluster.kinds import ResourceType

if TYPE_CHECKING:
    from ensign.localcluster.store import Store

JSON = dict[str, Any]

STATUS_RESET_ON_CREATE = frozenset({"deployments", "daemonsets", "replicasets", "pods"})
_GENERATION_TRACKED = frozenset(
    {
        ("apps", "deployments"),
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
        ("networking.k8s.io", "ingresses"),
        ("policy", "poddisruptionbudgets"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("autoscaling", "horizontalpodautoscalers"),
    }
)
_STATUS_WRITES_ANNOTATIONS = frozenset({("apps", "deployments"), ("apps", "replicasets")})
# Built-ins whose PUT to a missing name creates it (AllowCreateOnUpdate in their strategies).
CREATE_ON_UPDATE = frozenset(
    {("coordination.k8s.io", "leases"), ("", "events"), ("events.k8s.io", "events")}
)
# Built-ins whose PUT must carry metadata.resourceVersion (AllowUnconditionalUpdate false);
# custom resources always must.
CONDITIONAL_UPDATE_ONLY = frozenset({("coordination.k8s.io", "leases")})
# Built-ins whose immediate DELETE answers with the deleted object (ReturnDeletedObject in
# their registries); every other immediate delete answers with a Success Status.
RETURNS_DELETED_OBJECT = frozenset(
    {("", "pods"), ("", "services"), ("", "serviceaccounts"), ("", "namespaces")}
)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def tracks_generation(rt: ResourceType) -> bool:
    """Whether objects of this type carry metadata.generation (CRs always do)."""
    return not rt.builtin or rt.storage_key in _GENERATION_TRACKED


def spec_changed(rt: ResourceType, old: JSON, new: JSON) -> bool:
    """Generation bumps on changes outside metadata (and outside status when it is a
    subresource). apps/v1 Deployments also bump on an annotation change (the deployment
    strategy compares annotations too, for the old rollback annotation)."""
    ignored = {"metadata", "status"} if rt.status else {"metadata"}
    ignored |= {"apiVersion", "kind"}
    keys = (set(old) | set(new)) - ignored
    if any(old.get(k) != new.get(k) for k in keys):
        return True
    if rt.builtin and rt.storage_key == ("apps", "deployments"):
        annotations = [(x.get("metadata") or {}).get("annotations") or {} for x in (old, new)]
        return annotations[0] != annotations[1]
    return False


def deleted_answer(rt: ResourceType, deleted: JSON, *, immediate: bool) -> JSON:
    """What DELETE answers: the object while deletion is pending (finalizers) or for the kinds
    whose registries return it, else `Status` Success naming the object."""
    if not immediate or (rt.builtin and rt.storage_key in RETURNS_DELETED_OBJECT):
        return deleted
    meta = deleted.get("metadata") or {}
    details: JSON = {"name": meta.get("name", "")}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    details["uid"] = meta.get("uid", "")
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def merge_subresource(rt: ResourceType, old: JSON, new: JSON, subresource: str) -> JSON:
    """The full object a write produces, honouring status/scale isolation."""
    if subresource == "status":
        out = dict(old)
        if "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        out["metadata"] = dict(old["metadata"])
        if rt.builtin and rt.storage_key in _STATUS_WRITES_ANNOTATIONS:
            # The apps status strategies keep metadata changes other than labels: the
            # deployment controller records deployment.kubernetes.io/revision this way.
            annotations = (new.get("metadata") or {}).get("annotations")
            if annotations:
                out["metadata"]["annotations"] = annotations
            else:
                out["metadata"].pop("annotations", None)
        return out
    if subresource == "scale":
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.bad_request("Scale.spec.replicas must be an integer")
        out = dict(old)
        _set_path(out, rt.scale.spec_replicas if rt.scale else "spec.replicas", replicas)
        out["metadata"] = dict(old["metadata"])
        return out
    if rt.status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    return new


def scale_view(rt: ResourceType, obj: JSON) -> JSON:
    """The autoscaling/v1 Scale object of `obj`."""
    if rt.scale is None:
        raise errors.route_not_found()
    meta = obj["metadata"]
    status: JSON = {"replicas": _get_path(obj, rt.scale.status_replicas) or 0}
    if rt.scale.label_selector:
        selector = _get_path(obj, rt.scale.label_selector)
        if selector is not None:
            status["selector"] = selector
    elif rt.builtin:
        match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        status["selector"] = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    if rt.builtin and "selector" not in status:
        match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        status["selector"] = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": _get_path(obj, rt.scale.spec_replicas) or 0},
        "status": status,
    }


def admit(
    store: Store, rt: ResourceType, body: JSON, old: JSON | None, *, subresource: str = ""
) -> list[str]:
    """Default, prune and validate `body` in place; raise 400/422 like a real apiserver.
    Answers the paths of the unknown fields it dropped (for `fieldValidation`).

    A status write to a built-in kind only changes `.status`, which the simulated
    controllers own, so (like the real status strategies) the spec is not re-validated.
    """
    meta = body.get("metadata") or {}
    name = str(meta.get("name") or "")
    causes: list[StatusCause] = []
    unknown: list[str] = []
    if rt.builtin and subresource == "status":
        return unknown
    if rt.builtin:
        unknown = declared_fields.drop_unknown(
            str(body.get("apiVersion", rt.api_version)), rt.kind, body
        )
        decode_error = builtin.decode_errors(rt.group, rt.plural, body)
        if decode_error:
            raise errors.bad_request(decode_error)
        builtin.apply_defaults(rt.group, rt.plural, body)
        if old is not None:
            builtin.preserve_allocated(rt.group, rt.plural, body, old)
        if rt.storage_key == ("", "services"):
            _allocate_cluster_ip(store, body, old)
        causes += builtin.validate(rt.group, rt.plural, body, old)
    else:
        causes = _metadata_causes(meta)
    if not rt.builtin and rt.schema is not None:
        pruned = rt.schema.prune(body)
        unknown = declared_fields.pruned_paths(body, pruned)
        body.clear()
        body.update(rt.schema.default(pruned))
        causes += [
            StatusCause(c.type, c.message, c.field) for c in rt.schema.validate(body, old=old)
        ]
    if causes:
        raise errors.invalid(kind=rt.kind, group=rt.group, name=name, causes=_dedupe(causes))
    return unknown


def check_crd(crd: JSON) -> None:
    """422 for a CRD whose schema a real apiserver would refuse."""
    name = str((crd.get("metadata") or {}).get("name", ""))
    spec = crd.get("spec") or {}
    problems: list[StatusCause] = []
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    if name != f"{plural}.{group}":
        problems.append(
            StatusCause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                "metadata.name",
            )
        )
    annotations = (crd.get("metadata") or {}).get("annotations") or {}
    if (
        group.endswith(".k8s.io")
        or group.endswith(".kubernetes.io")
        or group in ("k8s.io", "kubernetes.io")
    ) and "api-approved.kubernetes.io" not in annotations:
        problems.append(
            StatusCause(
                "FieldValueRequired",
                "Required value: protected groups must have approval annotation "
                '"api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111',
                "metadata.annotations[api-approved.kubernetes.io]",
            )
        )
    for i, version in enumerate(spec.get("versions") or []):
        raw = (version.get("schema") or {}).get("openAPIV3Schema")
        if raw is None:
            continue
        for message in schema.check_crd_schema(raw):
            problems.append(
                StatusCause(
                    "FieldValueInvalid", message, f"spec.versions[{i}].schema.openAPIV3Schema"
                )
            )
    if problems:
        raise errors.invalid(
            kind="CustomResourceDefinition",
            group="apiextensions.k8s.io",
            name=name,
            causes=problems,
        )


def compile_crd_schema(raw: JSON) -> Any:
    return schema.compile_schema(raw)


def _metadata_causes(meta: JSON) -> list[StatusCause]:
    name = meta.get("name")
    if not name:
        return [
            StatusCause(
                "FieldValueRequired",
                "Required value: name or generateName is required",
                "metadata.name",
            )
        ]
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return [
            StatusCause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "metadata.name",
            )
        ]
    return []


def _dedupe(causes: list[StatusCause]) -> list[StatusCause]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for c in causes:
        key = (c.reason, c.message, c.field)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _allocate_cluster_ip(store: Store, body: JSON, old: JSON | None) -> None:
    spec = body.setdefault("spec", {})
    if old is not None:
        old_spec = old.get("spec") or {}
        if "clusterIP" in old_spec and not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])
        return
    if spec.get("type") == "ExternalName" or spec.get("clusterIP"):
        if spec.get("clusterIP") and "clusterIPs" not in spec:
            spec["clusterIPs"] = [spec["clusterIP"]]
        return
    ip = store.ip_allocator.allocate(store)
    spec["clusterIP"] = ip
    spec["clusterIPs"] = [ip]


class ClusterIpAllocator:
    """Hands out Service ClusterIPs in O(1): a cursor over 10.96.0.0/12 plus the set of
    addresses seen (read from the store once, on first use)."""

    def __init__(self) -> None:
        self.used: set[str] | None = None
        self.cursor = 1

    def allocate(self, store: Store) -> str:
        if self.used is None:
            self.used = {
                str((o.get("spec") or {}).get("clusterIP"))
                for o in store.list(store.type_for("", "v1", "services"), None)[0]
            }
        network = builtin.SERVICE_CIDR
        while self.cursor < network.num_addresses - 1:
            ip = str(network.network_address + self.cursor)
            self.cursor += 1
            if ip not in self.used:
                self.used.add(ip)
                return ip
        return builtin.allocate_cluster_ip(self.used)  # wrapped: reuse freed addresses


def _get_path(obj: JSON, path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set_path(obj: JSON, path: str, value: Any) -> None:
    parts = path.split(".")
    node = obj
    for part in parts[:-1]:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        node[part] = child
        node = child
    node[parts[-1]] = value
