"""Validation of Services (core/v1) and Ingresses (networking.k8s.io/v1). Pure."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ensign.localcluster.builtin_common import (
    Causes,
    GoRepr,
    Obj,
    as_dict,
    as_list,
    check_labels,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    duplicate,
    forbidden,
    go_quote,
    go_string_slice,
    invalid,
    is_int,
    not_supported,
    port_name,
    port_num,
    regex_error,
    required,
)

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_BAD_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_BAD_PATH_SUFFIXES = ("/..", "/.")
_WILDCARD_FMT = r"\*\." + (r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
    "alphanumeric character"
)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _headless(spec: Obj) -> bool:
    ips = as_list(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


# --- services -------------------------------------------------------------------------------


def _go_service_port(protocol: Any, port: Any) -> GoRepr:
    """`%#v` of the `core.ServicePort{Protocol, Port}` key the duplicate check reports."""
    return GoRepr(
        f'core.ServicePort{{Name:"", Protocol:{go_quote(str(protocol or ""))}, '
        f"AppProtocol:(*string)(nil), Port:{port if is_int(port) else 0}, "
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def _service_port(port: Obj, path: str, need_name: bool, names: set[str]) -> Causes:
    causes: Causes = []
    name = port.get("name")
    if need_name and not name:
        causes.append(required(f"{path}.name"))
    elif isinstance(name, str) and name:
        causes += [invalid(f"{path}.name", name, m) for m in dns1123_label(name)]
        if name in names:
            causes.append(duplicate(f"{path}.name", name))
        names.add(name)
    number = port.get("port")
    value = number if is_int(number) else 0
    causes += [invalid(f"{path}.port", value, m) for m in port_num(value)]
    proto = port.get("protocol")
    if not proto:
        causes.append(required(f"{path}.protocol"))
    elif proto not in _PROTOCOLS:
        causes.append(not_supported(f"{path}.protocol", proto, _PROTOCOLS))
    target = port.get("targetPort")
    if is_int(target):
        causes += [invalid(f"{path}.targetPort", target, m) for m in port_num(target)]
    elif isinstance(target, str):
        causes += [invalid(f"{path}.targetPort", target, m) for m in port_name(target)]
    return causes


def _service_ports(spec: Obj) -> Causes:
    ports = [as_dict(p) for p in as_list(spec.get("ports"))]
    causes: Causes = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        causes += _service_port(port, f"spec.ports[{i}]", len(ports) > 1, names)
    return causes


def _cluster_ips(spec: Obj) -> Causes:
    """`ValidateServiceClusterIPsRelatedFields`, minus the dual-stack family checks."""
    if spec.get("type") == "ExternalName":
        return []
    ip, ips = spec.get("clusterIP"), as_list(spec.get("clusterIPs"))
    causes: Causes = []
    if ip and not ips:
        causes.append(required("spec.clusterIPs"))
    elif ip and ips[0] != ip:
        causes.append(
            invalid("spec.clusterIPs", go_string_slice(ips), "first value must match `clusterIP`")
        )
    elif not ip and ips:
        detail = "must be empty when `clusterIP` is not specified"
        causes.append(invalid("spec.clusterIPs", go_string_slice(ips), detail))
    for i, value in enumerate(ips):
        if i == 0 and value == "None":
            if len(ips) > 1:
                detail = "'None' must be the first and only value"
                causes.append(invalid("spec.clusterIPs", go_string_slice(ips), detail))
            continue
        if not isinstance(value, str) or not _is_ip(value):
            causes.append(invalid(f"spec.clusterIPs[{i}]", value, _IP_MSG))
    if len(ips) > 2:
        causes.append(
            invalid("spec.clusterIPs", go_string_slice(ips), "may only hold up to 2 values")
        )
    return causes


def _type_rules(spec: Obj) -> Causes:
    kind = spec.get("type")
    causes: Causes = []
    if kind in ("LoadBalancer", "NodePort") and _headless(spec):
        detail = f"may not be set to 'None' for {kind} services"
        causes.append(invalid("spec.clusterIPs[0]", "None", detail))
    if kind == "ExternalName":
        for key in ("clusterIPs", "ipFamilies"):
            if as_list(spec.get(key)):
                causes.append(forbidden(f"spec.{key}", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(
                forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
            )
        cname = str(spec.get("externalName") or "").removesuffix(".")
        if not cname:
            causes.append(required("spec.externalName"))
        causes += [
            invalid("spec.externalName", cname, m) for m in dns1123_subdomain(cname) if cname
        ]
    return causes


def _affinity_and_type(spec: Obj) -> Causes:
    causes: Causes = []
    affinity = spec.get("sessionAffinity")
    if not affinity:
        causes.append(required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        causes.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    causes += _cluster_ips(spec)
    kind = spec.get("type")
    if not kind:
        causes.append(required("spec.type"))
    elif kind not in _SERVICE_TYPES:
        causes.append(not_supported("spec.type", kind, _SERVICE_TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(as_list(spec.get("ports"))):
            if as_dict(port).get("nodePort"):
                detail = "may not be used when `type` is 'ClusterIP'"
                causes.append(forbidden(f"spec.ports[{i}].nodePort", detail))
    seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(as_list(spec.get("ports"))):
        key = (as_dict(port).get("protocol"), as_dict(port).get("port"))
        if key in seen:
            causes.append(duplicate(f"spec.ports[{i}]", _go_service_port(*key)))
        seen.add(key)
    return causes


def _cluster_ip_update(spec: Obj, old_spec: Obj) -> Causes:
    """`validateUpgradeDowngradeClusterIPs`: an allocated primary clusterIP never changes."""
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    if _headless(spec) and _headless(old_spec):
        return []
    new_ips, old_ips = as_list(spec.get("clusterIPs")), as_list(old_spec.get("clusterIPs"))
    rendered = go_string_slice(new_ips if spec.get("clusterIPs") is not None else None)
    if len(new_ips) == len(old_ips):
        return [
            invalid(f"spec.clusterIPs[{i}]", rendered, "may not change once set")
            for i, ip in enumerate(old_ips)
            if ip != new_ips[i]
        ]
    if not new_ips:
        return [invalid("spec.clusterIPs[0]", rendered, "primary clusterIP can not be unset")]
    if old_ips and new_ips[0] != old_ips[0]:
        return [invalid("spec.clusterIPs[0]", rendered, "may not change once set")]
    return []


def check_service(obj: Obj, old: Obj | None) -> Causes:
    spec = as_dict(obj.get("spec"))
    causes = _cluster_ip_update(spec, as_dict(old.get("spec"))) if old is not None else []
    if (
        not as_list(spec.get("ports"))
        and not _headless(spec)
        and spec.get("type") != "ExternalName"
    ):
        causes.append(required("spec.ports"))
    causes += _type_rules(spec)
    causes += _service_ports(spec)
    if spec.get("selector") is not None:
        causes += check_labels(spec.get("selector"), "spec.selector")
    causes += _affinity_and_type(spec)
    if spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        policy = spec.get("internalTrafficPolicy")
        if policy is None:
            causes.append(required("spec.internalTrafficPolicy"))
        elif policy not in ("Cluster", "Local"):
            causes.append(not_supported("spec.internalTrafficPolicy", policy, ["Cluster", "Local"]))
    return causes


# --- ingresses ------------------------------------------------------------------------------


def _backend(backend: Obj, path: str) -> Causes:
    has_service, has_resource = (
        backend.get("service") is not None,
        backend.get("resource") is not None,
    )
    if has_service and has_resource:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if has_resource:
        return []
    if not has_service:
        return [invalid(path, "", "resource or service backend is required")]
    svc = as_dict(backend.get("service"))
    causes: Causes = []
    name = svc.get("name")
    if not name:
        causes.append(required(f"{path}.service.name"))
    else:
        causes += [invalid(f"{path}.service.name", name, m) for m in dns1035_label(str(name))]
    port = as_dict(svc.get("port"))
    pname, pnum = port.get("name"), port.get("number")
    if pname and pnum:
        causes.append(invalid(path, "", "cannot set both port name & port number"))
    elif pname:
        causes += [invalid(f"{path}.service.port.name", pname, m) for m in port_name(str(pname))]
    elif is_int(pnum) and pnum:
        causes += [invalid(f"{path}.service.port.number", pnum, m) for m in port_num(pnum)]
    else:
        causes.append(required(path, "port name or number is required"))
    return causes


def _http_path(item: Obj, path: str) -> Causes:
    kind, value = item.get("pathType"), str(item.get("path") or "")
    if kind is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    causes: Causes = []
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(invalid(f"{path}.path", value, "must be an absolute path"))
        causes += [
            invalid(f"{path}.path", value, f"must not contain '{seq}'")
            for seq in _BAD_PATH_SEQUENCES
            if seq in value
        ]
        causes += [
            invalid(f"{path}.path", value, f"cannot end with '{suf}'")
            for suf in _BAD_PATH_SUFFIXES
            if value.endswith(suf)
        ]
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        causes.append(not_supported(f"{path}.pathType", kind, _PATH_TYPES))
    return causes + _backend(as_dict(item.get("backend")), f"{path}.backend")


def _host(host: str, path: str) -> Causes:
    causes: Causes = []
    if _is_ip(host):
        causes.append(invalid(path, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        ok = re.fullmatch(_WILDCARD_FMT, host) is not None and len(host) <= 253
        msg = regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com")
        return causes if ok else [*causes, invalid(path, host, msg)]
    return causes + [invalid(path, host, m) for m in dns1123_subdomain(host)]


def check_ingress(obj: Obj, old: Obj | None) -> Causes:
    spec = as_dict(obj.get("spec"))
    rules = spec.get("rules")
    causes: Causes = []
    if not as_list(rules) and spec.get("defaultBackend") is None:
        value = (
            GoRepr("[]networking.IngressRule(nil)")
            if not rules
            else GoRepr("[]networking.IngressRule{}")
        )
        causes.append(
            invalid("spec", value, "either `defaultBackend` or `rules` must be specified")
        )
    if spec.get("defaultBackend") is not None:
        causes += _backend(as_dict(spec.get("defaultBackend")), "spec.defaultBackend")
    for i, rule in enumerate(as_list(rules)):
        r, at = as_dict(rule), f"spec.rules[{i}]"
        if r.get("host"):
            causes += _host(str(r["host"]), f"{at}.host")
        if r.get("http") is not None:
            paths = as_list(as_dict(r.get("http")).get("paths"))
            if not paths:
                causes.append(required(f"{at}.http.paths"))
            for j, item in enumerate(paths):
                causes += _http_path(as_dict(item), f"{at}.http.paths[{j}]")
    cls = spec.get("ingressClassName")
    if isinstance(cls, str):
        causes += [invalid("spec.ingressClassName", cls, m) for m in dns1123_subdomain(cls)]
    return causes
