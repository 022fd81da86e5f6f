"""Validation of pod specs and pod templates, as `pkg/apis/core/validation` does. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ensign.localcluster.builtin_common import (
    Causes,
    Obj,
    as_dict,
    as_list,
    check_annotations,
    check_labels,
    dns1123_label,
    dns1123_subdomain,
    duplicate,
    go_value,
    invalid,
    is_int,
    not_supported,
    port_name,
    port_num,
    required,
)
from ensign.localcluster.errors import StatusCause

# (field, supported values in the order the apiserver lists them); "" is reported as Required.
_POD_ENUMS = (
    ("restartPolicy", ("Always", "OnFailure", "Never")),
    ("dnsPolicy", ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")),
)
_CONTAINER_ENUMS = (
    ("terminationMessagePolicy", ("File", "FallbackToLogsOnError")),
    ("imagePullPolicy", ("Always", "IfNotPresent", "Never")),
)
_PROTOCOLS = ("SCTP", "TCP", "UDP")


def _enum(obj: Mapping[str, Any], key: str, allowed: tuple[str, ...], path: str) -> Causes:
    value = obj.get(key)
    if value is None or value == "":
        return [required(f"{path}.{key}")]
    if value not in allowed:
        return [not_supported(f"{path}.{key}", value, allowed)]
    return []


# --- containers -----------------------------------------------------------------------------


def _container_ports(ports: Any, path: str) -> Causes:
    causes: Causes = []
    names: set[str] = set()
    for i, port in enumerate(as_list(ports)):
        p, at = as_dict(port), f"{path}[{i}]"
        name = p.get("name")
        if isinstance(name, str) and name:
            msgs = port_name(name)
            causes += [invalid(f"{at}.name", name, m) for m in msgs]
            if not msgs and name in names:
                causes.append(duplicate(f"{at}.name", name))
            names.add(name)
        cport = p.get("containerPort")
        if not cport:
            causes.append(required(f"{at}.containerPort"))
        elif is_int(cport):
            causes += [invalid(f"{at}.containerPort", cport, m) for m in port_num(cport)]
        if is_int(p.get("hostPort")) and p["hostPort"] != 0:
            causes += [invalid(f"{at}.hostPort", p["hostPort"], m) for m in port_num(p["hostPort"])]
        causes += _enum(p, "protocol", _PROTOCOLS, at)
    return causes


def _container(ctr: Obj, path: str, volumes: set[str]) -> Causes:
    causes: Causes = []
    name = ctr.get("name")
    if not name:
        causes.append(required(f"{path}.name"))
    elif isinstance(name, str):
        causes += [invalid(f"{path}.name", name, m) for m in dns1123_label(name)]
    if not ctr.get("image"):
        causes.append(required(f"{path}.image"))
    causes += _enum(ctr, *_CONTAINER_ENUMS[0], path)
    causes += _container_ports(ctr.get("ports"), f"{path}.ports")
    for i, env in enumerate(as_list(ctr.get("env"))):
        if not as_dict(env).get("name"):
            causes.append(required(f"{path}.env[{i}].name"))
    for i, mount in enumerate(as_list(ctr.get("volumeMounts"))):
        causes += _volume_mount(as_dict(mount), f"{path}.volumeMounts[{i}]", volumes)
    causes += _enum(ctr, *_CONTAINER_ENUMS[1], path)
    return causes


def _volume_mount(mount: Obj, path: str, volumes: set[str]) -> Causes:
    name = mount.get("name")
    causes: Causes = []
    if not name:
        causes.append(required(f"{path}.name"))
    elif name not in volumes:
        causes.append(
            StatusCause("FieldValueNotFound", f"Not found: {go_value(name)}", f"{path}.name")
        )
    if not mount.get("mountPath"):
        causes.append(required(f"{path}.mountPath"))
    return causes


def _containers(spec: Obj, path: str, volumes: set[str]) -> Causes:
    containers = as_list(spec.get("containers"))
    if not containers:
        return [required(f"{path}.containers")]
    causes: Causes = []
    seen: set[Any] = set()
    for i, ctr in enumerate(containers):
        at = f"{path}.containers[{i}]"
        causes += _container(as_dict(ctr), at, volumes)
        name = as_dict(ctr).get("name")
        if name in seen:
            causes.append(duplicate(f"{at}.name", name))
        seen.add(name)
    for i, ctr in enumerate(as_list(spec.get("initContainers"))):
        at = f"{path}.initContainers[{i}]"
        causes += _container(as_dict(ctr), at, volumes)
        name = as_dict(ctr).get("name")
        if name in seen:
            causes.append(duplicate(f"{at}.name", name))
        seen.add(name)
    return causes


# --- pod spec -------------------------------------------------------------------------------


def _volumes(spec: Obj, path: str) -> tuple[set[str], Causes]:
    names: set[str] = set()
    causes: Causes = []
    for i, vol in enumerate(as_list(spec.get("volumes"))):
        name, at = as_dict(vol).get("name"), f"{path}.volumes[{i}].name"
        errs = [required(at)] if not name else []
        if isinstance(name, str) and name:
            errs += [invalid(at, name, m) for m in dns1123_label(name)]
        if name in names:
            errs.append(duplicate(at, name))
        if not errs and isinstance(name, str):
            names.add(name)
        causes += errs
    return names, causes


def check_pod_spec(spec: Obj, path: str) -> Causes:
    """`ValidatePodSpec`, restricted to the fields clients commonly get wrong."""
    volumes, causes = _volumes(spec, path)
    causes += _containers(spec, path, volumes)
    for key, allowed in _POD_ENUMS:
        causes += _enum(spec, key, allowed, path)
    causes += check_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    sa = spec.get("serviceAccountName")
    if isinstance(sa, str) and sa:
        causes += [invalid(f"{path}.serviceAccountName", sa, m) for m in dns1123_subdomain(sa)]
    ads = spec.get("activeDeadlineSeconds")
    if is_int(ads) and not 1 <= ads <= 2147483647:
        detail = "must be between 1 and 2147483647, inclusive"
        causes.append(invalid(f"{path}.activeDeadlineSeconds", ads, detail))
    return causes


def check_pod_template(template: Any, path: str) -> Causes:
    """`ValidatePodTemplateSpec`: note labels sit at `<path>.labels`, without `metadata`."""
    tmpl = as_dict(template)
    meta = as_dict(tmpl.get("metadata"))
    causes = check_labels(meta.get("labels"), f"{path}.labels")
    causes += check_annotations(meta.get("annotations"), f"{path}.annotations")
    return causes + check_pod_spec(as_dict(tmpl.get("spec")), f"{path}.spec")


def check_pod(obj: Obj, old: Obj | None) -> Causes:
    return check_pod_spec(as_dict(obj.get("spec")), "spec")
