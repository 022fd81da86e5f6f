"""Validation of built-in kinds with the real apiserver's field paths, reasons and messages. Pure.

`validate(group, plural, obj, old)` runs after `apply_defaults`, like the apiserver's create and
update strategies, and returns the causes of a 422 Invalid answer (empty when the object is
valid). Kinds without specific rules still get their metadata checked.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from ensign.localcluster.builtin_common import (
    IMMUTABLE,
    Causes,
    Obj,
    as_dict,
    as_list,
    check_annotations,
    check_labels,
    config_key,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    forbidden,
    go_string_slice,
    invalid,
    is_int,
    label_key,
    nonnegative,
    path_segment_name,
    required,
    too_long,
)
from ensign.localcluster.builtin_validation_apps import (
    check_daemonset,
    check_deployment,
    check_replicaset,
)
from ensign.localcluster.builtin_validation_net import check_ingress, check_service
from ensign.localcluster.builtin_validation_pod import check_pod
from ensign.localcluster.errors import StatusCause
from ensign.localcluster.kinds import BUILTIN_TYPES

MAX_SECRET_SIZE = 1024 * 1024
_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_NAMESPACED = {(t.group, t.plural): t.namespaced for t in BUILTIN_TYPES}

NameRule = Callable[[str], list[str]]
_NAME_RULES: dict[tuple[str, str], NameRule] = {
    ("", "namespaces"): dns1123_label,
    ("", "services"): dns1035_label,
    ("rbac.authorization.k8s.io", "roles"): path_segment_name,
    ("rbac.authorization.k8s.io", "rolebindings"): path_segment_name,
    ("rbac.authorization.k8s.io", "clusterroles"): path_segment_name,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): path_segment_name,
}
# Type-specific keys a Secret must carry: type -> keys, one of which (any) or all must exist.
_SECRET_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kubernetes.io/dockercfg": ("all", (".dockercfg",)),
    "kubernetes.io/dockerconfigjson": ("all", (".dockerconfigjson",)),
    "kubernetes.io/tls": ("all", ("tls.crt", "tls.key")),
    "kubernetes.io/ssh-auth": ("all", ("ssh-privatekey",)),
    "kubernetes.io/basic-auth": ("any", ("username", "password")),
}


# --- metadata -------------------------------------------------------------------------------


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def _names(group: str, plural: str, meta: Obj) -> Causes:
    rule = _NAME_RULES.get((group, plural), dns1123_subdomain)
    causes: Causes = []
    gen = meta.get("generateName")
    if isinstance(gen, str) and gen:
        masked = _mask_trailing_dash(gen)
        causes += [invalid("metadata.generateName", gen, m) for m in rule(masked)]
    name = meta.get("name")
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    elif isinstance(name, str):
        causes += [invalid("metadata.name", name, m) for m in rule(name)]
    return causes


def _finalizers(finalizers: Any) -> Causes:
    causes: Causes = []
    names = [f for f in as_list(finalizers) if isinstance(f, str)]
    for name in names:
        causes += [invalid("metadata.finalizers", name, m) for m in label_key(name)]
    if "orphan" in names and "foregroundDeletion" in names:
        detail = "finalizer orphan and foregroundDeletion cannot be both set"
        causes.append(invalid("metadata.finalizers", go_string_slice(names), detail))
    for i, name in enumerate(names):
        if "/" not in name and name not in _STANDARD_FINALIZERS:
            detail = "name is neither a standard finalizer name nor is it fully qualified"
            causes.append(invalid(f"metadata.finalizers[{i}]", name, detail))
    return causes


def _owner_references(refs: Any) -> Causes:
    causes: Causes = []
    path = "metadata.ownerReferences"
    for ref in as_list(refs):
        r = as_dict(ref)
        if not str(r.get("apiVersion") or "").rsplit("/", 1)[-1]:
            causes.append(
                invalid(f"{path}.apiVersion", r.get("apiVersion", ""), "version must not be empty")
            )
        for key in ("kind", "name", "uid"):
            if not r.get(key):
                causes.append(invalid(f"{path}.{key}", r.get(key, ""), "must not be empty"))
    return causes


def check_metadata(group: str, plural: str, obj: Obj) -> Causes:
    """`ValidateObjectMeta` with the kind's name rule."""
    meta = as_dict(obj.get("metadata"))
    causes = _names(group, plural, meta)
    if _NAMESPACED.get((group, plural), True):
        ns = meta.get("namespace")
        if not ns:
            causes.append(required("metadata.namespace"))
        elif isinstance(ns, str):
            causes += [invalid("metadata.namespace", ns, m) for m in dns1123_label(ns)]
    causes += nonnegative(meta, "metadata.generation", "generation")
    causes += check_labels(meta.get("labels"), "metadata.labels")
    causes += check_annotations(meta.get("annotations"), "metadata.annotations")
    causes += _owner_references(meta.get("ownerReferences"))
    return causes + _finalizers(meta.get("finalizers"))


# --- core: namespaces, configmaps, secrets, events -------------------------------------------


def _check_namespace(obj: Obj, old: Obj | None) -> Causes:
    causes: Causes = []
    for name in as_list(as_dict(obj.get("spec")).get("finalizers")):
        text = str(name)
        causes += [invalid("spec.finalizers", text, m) for m in label_key(text)]
        if "/" not in text and text not in _STANDARD_FINALIZERS:
            detail = "name is neither a standard finalizer name nor is it fully qualified"
            causes.append(invalid("spec.finalizers", text, detail))
    return causes


def _immutable_data(obj: Obj, old: Obj | None, keys: tuple[str, ...]) -> Causes:
    if old is None or old.get("immutable") is not True:
        return []
    msg = "field is immutable when `immutable` is set"
    causes = [] if obj.get("immutable") is True else [forbidden("immutable", msg)]
    return causes + [forbidden(k, msg) for k in keys if (obj.get(k) or {}) != (old.get(k) or {})]


def _check_configmap(obj: Obj, old: Obj | None) -> Causes:
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    causes: Causes = []
    for here, other, name in ((data, binary, "binaryData"), (binary, data, "data")):
        path = "data" if here is data else "binaryData"
        for key in sorted(here):
            causes += [invalid(f"{path}[{key}]", key, m) for m in config_key(key)]
            if key in other:
                causes.append(invalid(f"{path}[{key}]", key, f"duplicate of key present in {name}"))
    size = sum(len(str(v)) for v in data.values()) + sum(_decoded_len(v) for v in binary.values())
    if size > MAX_SECRET_SIZE:
        causes.append(too_long("", MAX_SECRET_SIZE))
    return causes + _immutable_data(obj, old, ("data", "binaryData"))


def _decoded_len(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value))


def _secret_type_rules(obj: Obj, data: Obj) -> Causes:
    kind = obj.get("type")
    if kind == "kubernetes.io/service-account-token":
        annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
        key = "kubernetes.io/service-account.name"
        return [] if annotations.get(key) else [required(f"metadata.annotations[{key}]")]
    mode, keys = _SECRET_KEYS.get(str(kind), ("all", ()))
    if mode == "any":
        present = any(k in data for k in keys)
        return [] if present else [required(f"data[{k}]") for k in keys]
    return [required(f"data[{k}]") for k in keys if k not in data]


def _check_secret(obj: Obj, old: Obj | None) -> Causes:
    data = as_dict(obj.get("data"))
    causes: Causes = []
    for key in sorted(data):
        causes += [invalid(f"data[{key}]", key, m) for m in config_key(key)]
    causes += _secret_type_rules(obj, data)
    if sum(_decoded_len(v) for v in data.values()) > MAX_SECRET_SIZE:
        causes.append(too_long("data", MAX_SECRET_SIZE))
    if old is not None and old.get("type") != obj.get("type"):
        causes.append(invalid("type", obj.get("type", ""), IMMUTABLE))
    return causes + _immutable_data(obj, old, ("data",))


def _check_core_event(obj: Obj, old: Obj | None) -> Causes:
    ns = as_dict(obj.get("metadata")).get("namespace")
    involved = as_dict(obj.get("involvedObject")).get("namespace")
    if involved and involved != ns:
        return [invalid("involvedObject.namespace", involved, "does not match event.namespace")]
    return []


def _check_events_v1_event(obj: Obj, old: Obj | None) -> Causes:
    """The extra rules of an Event created through events.k8s.io/v1 (checked, like the
    real server, on the stored core/v1 form, with the field names of that form)."""
    causes = _check_core_event(obj, old)
    if old is not None:
        return causes
    if not obj.get("eventTime"):
        causes.append(required("eventTime"))
    if obj.get("type") not in ("Normal", "Warning"):
        causes.append(invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
    for key in ("reportingController", "reportingInstance", "action", "reason"):
        stored = "reportingComponent" if key == "reportingController" else key
        if not obj.get(stored):
            causes.append(required(key))
    return causes


# --- other groups ---------------------------------------------------------------------------


def _check_hpa(obj: Obj, old: Obj | None) -> Causes:
    spec = as_dict(obj.get("spec"))
    mn, mx = spec.get("minReplicas"), spec.get("maxReplicas")
    causes: Causes = []
    if is_int(mn) and mn < 1:
        causes.append(invalid("spec.minReplicas", mn, "must be greater than or equal to 1"))
    mx_value = mx if is_int(mx) else 0
    if mx_value < 1:
        causes.append(invalid("spec.maxReplicas", mx_value, "must be greater than 0"))
    if is_int(mn) and mx_value < mn:
        causes.append(
            invalid("spec.maxReplicas", mx_value, "must be greater than or equal to `minReplicas`")
        )
    ref = as_dict(spec.get("scaleTargetRef"))
    for key in ("kind", "name"):
        value = ref.get(key)
        if not value:
            causes.append(required(f"spec.scaleTargetRef.{key}"))
        else:
            msgs = path_segment_name(str(value))
            causes += [invalid(f"spec.scaleTargetRef.{key}", value, m) for m in msgs]
    return causes


def _check_lease(obj: Obj, old: Obj | None) -> Causes:
    spec = as_dict(obj.get("spec"))
    causes: Causes = []
    duration = spec.get("leaseDurationSeconds")
    if is_int(duration) and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if is_int(transitions) and transitions < 0:
        detail = "must be greater than or equal to 0"
        causes.append(invalid("spec.leaseTransitions", transitions, detail))
    return causes


Checker = Callable[[Obj, Obj | None], Causes]
_CHECKERS: dict[tuple[str, str], Checker] = {
    ("apps", "deployments"): check_deployment,
    ("apps", "replicasets"): check_replicaset,
    ("apps", "daemonsets"): check_daemonset,
    ("", "pods"): check_pod,
    ("", "services"): check_service,
    ("", "namespaces"): _check_namespace,
    ("", "configmaps"): _check_configmap,
    ("", "secrets"): _check_secret,
    ("", "events"): _check_core_event,
    ("events.k8s.io", "events"): _check_events_v1_event,
    ("autoscaling", "horizontalpodautoscalers"): _check_hpa,
    ("coordination.k8s.io", "leases"): _check_lease,
    ("networking.k8s.io", "ingresses"): check_ingress,
}


def validate(
    group: str, plural: str, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[StatusCause]:
    """Causes of a 422 for this create (`old` None) or update; empty when valid."""
    causes = check_metadata(group, plural, obj)
    checker = _CHECKERS.get((group, plural))
    if checker is not None:
        causes += checker(obj, old)
    return causes
