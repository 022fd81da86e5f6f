"""Defaulting of built-in kinds, as the real apiserver's `pkg/apis/*/v1/defaults.go` does. Pure.

`apply_defaults` mutates a freshly decoded object in place and is idempotent. Cluster IP
allocation is left to the caller (`allocate_cluster_ip`), and on update the caller carries
allocated values over with `preserve_allocated`, as the service registry does.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from typing import Any

from ensign.localcluster.builtin_common import Obj, as_dict, as_list, get_in

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")

_POD_SPEC_DEFAULTS: dict[str, Any] = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
    "securityContext": {},
}
_CONTAINER_DEFAULTS: dict[str, Any] = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}
_PROBE_DEFAULTS: dict[str, Any] = {
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}
_DEPLOYMENT_SPEC_DEFAULTS: dict[str, Any] = {
    "replicas": 1,
    "revisionHistoryLimit": 10,
    "progressDeadlineSeconds": 600,
}
_HPA_SCALE_UP: dict[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_HPA_SCALE_DOWN: dict[str, Any] = {
    "stabilizationWindowSeconds": 300,
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}
_HPA_DEFAULT_METRIC: dict[str, Any] = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
}


def _fill(target: Obj, defaults: dict[str, Any]) -> None:
    for key, value in defaults.items():
        if target.get(key) is None:
            target[key] = copy.deepcopy(value)


def _child(parent: Obj, key: str) -> Obj:
    """parent[key] as a dict, created when absent (left alone, and detached, when not a dict)."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


# --- pods -----------------------------------------------------------------------------------


def image_pull_policy(image: str) -> str:
    """`Always` for `:latest` or untagged images (without digest), else `IfNotPresent`."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    _fill(probe, _PROBE_DEFAULTS)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        _fill(http, {"path": "/", "scheme": "HTTP"})


def _default_container(ctr: Any) -> None:
    if not isinstance(ctr, dict):
        return
    _fill(ctr, _CONTAINER_DEFAULTS)
    if ctr.get("imagePullPolicy") is None:
        image = ctr.get("image")
        # An empty (unparseable) image reference has no tag, hence IfNotPresent.
        ctr["imagePullPolicy"] = (
            image_pull_policy(image) if image and isinstance(image, str) else "IfNotPresent"
        )
    for port in as_list(ctr.get("ports")):
        if isinstance(port, dict):
            _fill(port, {"protocol": "TCP"})
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(ctr.get(probe))
    for env in as_list(ctr.get("env")):
        field_ref = get_in(env, "valueFrom", "fieldRef")
        if isinstance(field_ref, dict):
            _fill(field_ref, {"apiVersion": "v1"})


def _default_volume(vol: Any) -> None:
    if not isinstance(vol, dict):
        return
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(vol.get(source), dict):
            _fill(vol[source], {"defaultMode": 420})


def default_pod_spec(spec: Obj, *, is_pod: bool = False) -> None:
    """Defaults shared by Pods and every pod template."""
    _fill(spec, _POD_SPEC_DEFAULTS)
    if is_pod:
        _fill(spec, {"enableServiceLinks": True})
    for key in ("containers", "initContainers"):
        for ctr in as_list(spec.get(key)):
            _default_container(ctr)
    for vol in as_list(spec.get("volumes")):
        _default_volume(vol)


def _default_template(spec: Obj) -> None:
    template = _child(spec, "template")
    default_pod_spec(_child(template, "spec"))


def _pod(obj: Obj) -> None:
    default_pod_spec(_child(obj, "spec"), is_pod=True)


# --- apps -----------------------------------------------------------------------------------


def _deployment(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, _DEPLOYMENT_SPEC_DEFAULTS)
    strategy = _child(spec, "strategy")
    _fill(strategy, {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        _fill(_child(strategy, "rollingUpdate"), {"maxUnavailable": "25%", "maxSurge": "25%"})
    _default_template(spec)


def _daemonset(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, {"revisionHistoryLimit": 10})
    strategy = _child(spec, "updateStrategy")
    _fill(strategy, {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        _fill(_child(strategy, "rollingUpdate"), {"maxUnavailable": 1, "maxSurge": 0})
    _default_template(spec)


def _replicaset(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, {"replicas": 1})
    _default_template(spec)


# --- core -----------------------------------------------------------------------------------


def _service(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, {"type": "ClusterIP", "sessionAffinity": "None"})
    for port in as_list(spec.get("ports")):
        if isinstance(port, dict):
            _fill(port, {"protocol": "TCP"})
            if port.get("targetPort") is None and port.get("port") is not None:
                port["targetPort"] = port["port"]
    kind = spec.get("type")
    if kind in ("NodePort", "LoadBalancer"):
        _fill(spec, {"externalTrafficPolicy": "Cluster"})
    if kind == "LoadBalancer":
        _fill(spec, {"allocateLoadBalancerNodePorts": True})
    if kind == "ExternalName":
        return
    _fill(spec, {"internalTrafficPolicy": "Cluster"})
    _sync_cluster_ips(spec)
    headless_no_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
    policy = "RequireDualStack" if headless_no_selector else "SingleStack"
    _fill(spec, {"ipFamilyPolicy": policy, "ipFamilies": ["IPv4"]})


def _sync_cluster_ips(spec: Obj) -> None:
    """clusterIP and clusterIPs[0] name the same address; whichever is set fills the other."""
    ip, ips = spec.get("clusterIP"), spec.get("clusterIPs")
    if isinstance(ip, str) and ip and not ips:
        spec["clusterIPs"] = [ip]
    elif not ip and isinstance(ips, list) and ips and isinstance(ips[0], str):
        spec["clusterIP"] = ips[0]


def _namespace(obj: Obj) -> None:
    # The namespace strategy always sets this label to the name (and keeps it so).
    meta = _child(obj, "metadata")
    if meta.get("name"):
        _child(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]
    _fill(_child(obj, "spec"), {"finalizers": ["kubernetes"]})
    _fill(_child(obj, "status"), {"phase": "Active"})


def _secret(obj: Obj) -> None:
    _fill(obj, {"type": "Opaque"})


def _core_event(obj: Obj) -> None:
    _fill(obj, {"involvedObject": {}, "source": {}})
    _fill(obj, {"reportingComponent": "", "reportingInstance": ""})
    for key in ("firstTimestamp", "lastTimestamp", "eventTime"):
        obj.setdefault(key, None)


# --- other groups ---------------------------------------------------------------------------


def _hpa(obj: Obj) -> None:
    spec = _child(obj, "spec")
    _fill(spec, {"minReplicas": 1})
    if not spec.get("metrics"):
        spec["metrics"] = [copy.deepcopy(_HPA_DEFAULT_METRIC)]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        _fill(_child(behavior, "scaleUp"), _HPA_SCALE_UP)
        _fill(_child(behavior, "scaleDown"), _HPA_SCALE_DOWN)


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("apps", "deployments"): _deployment,
    ("apps", "daemonsets"): _daemonset,
    ("apps", "replicasets"): _replicaset,
    ("", "pods"): _pod,
    ("", "services"): _service,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("", "events"): _core_event,
    ("events.k8s.io", "events"): _core_event,  # admitted in the stored core/v1 form
    ("autoscaling", "horizontalpodautoscalers"): _hpa,
}


def apply_defaults(group: str, plural: str, obj: dict[str, Any]) -> None:
    """Fill in what the real apiserver defaults for this built-in kind (idempotent)."""
    defaulter = _DEFAULTERS.get((group, plural))
    if defaulter is not None and isinstance(obj, dict):
        defaulter(obj)


# --- allocation helpers for the store -------------------------------------------------------


def allocate_cluster_ip(used: set[str]) -> str:
    """The lowest free host address of 10.96.0.0/12 (deterministic); ValueError when full."""
    for addr in SERVICE_CIDR.hosts():
        text = str(addr)
        if text not in used:
            return text
    raise ValueError("range is full")


_ALLOCATED = ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy")


def preserve_allocated(group: str, plural: str, obj: dict[str, Any], old: dict[str, Any]) -> None:
    """On update, keep a Service's allocated fields the client left out (kubectl/replace)."""
    if (group, plural) != ("", "services"):
        return
    new_spec, old_spec = as_dict(obj.get("spec")), as_dict(old.get("spec"))
    if not new_spec or new_spec.get("type") == "ExternalName":
        return
    if old_spec.get("type") == "ExternalName":
        return
    for key in _ALLOCATED:
        if new_spec.get(key) in (None, "", []) and old_spec.get(key) not in (None, "", []):
            new_spec[key] = copy.deepcopy(old_spec[key])
    if new_spec.get("type") not in ("NodePort", "LoadBalancer"):
        return
    old_ports = {_port_key(p): p for p in as_list(old_spec.get("ports")) if isinstance(p, dict)}
    for port in as_list(new_spec.get("ports")):
        prev = old_ports.get(_port_key(port)) if isinstance(port, dict) else None
        if prev is not None and not port.get("nodePort") and prev.get("nodePort"):
            port["nodePort"] = prev["nodePort"]


def _port_key(port: Any) -> tuple[Any, Any]:
    return (get_in(port, "port"), get_in(port, "protocol") or "TCP")
