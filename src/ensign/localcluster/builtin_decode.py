"""Type errors a real apiserver hits while decoding a built-in kind's JSON into Go structs. Pure.

A wrong JSON type (e.g. `"replicas": "3"`) never reaches validation: Go's decoder fails and the
server answers 400 BadRequest with `<Kind> in version "<v>" cannot be handled as a <Kind>:
json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
`decode_errors` checks a table of the fields clients most often get wrong.

Table paths: `a.b` nests objects, `x[]` walks every list item, `m{}` every map value; the
message prints the path without brackets, as Go does.
"""

from __future__ import annotations

import functools
from typing import Any

from ensign.localcluster import micro_time
from ensign.localcluster.builtin_common import is_int
from ensign.localcluster.kinds import BUILTIN_TYPES

Field = tuple[str, str, str]  # (path, Go struct holding the field, Go type)

_META: tuple[Field, ...] = (
    ("metadata.name", "ObjectMeta", "string"),
    ("metadata.generateName", "ObjectMeta", "string"),
    ("metadata.namespace", "ObjectMeta", "string"),
    ("metadata.labels", "ObjectMeta", "map[string]string"),
    ("metadata.labels{}", "ObjectMeta", "string"),
    ("metadata.annotations", "ObjectMeta", "map[string]string"),
    ("metadata.annotations{}", "ObjectMeta", "string"),
)


def _pod_fields(p: str) -> tuple[Field, ...]:
    c = f"{p}.containers[]"
    return (
        (f"{p}.containers", "PodSpec", "[]v1.Container"),
        (f"{c}.name", "Container", "string"),
        (f"{c}.image", "Container", "string"),
        (f"{c}.imagePullPolicy", "Container", "v1.PullPolicy"),
        (f"{c}.command[]", "Container", "string"),
        (f"{c}.args[]", "Container", "string"),
        (f"{c}.ports[].containerPort", "ContainerPort", "int32"),
        (f"{c}.ports[].hostPort", "ContainerPort", "int32"),
        (f"{c}.ports[].name", "ContainerPort", "string"),
        (f"{c}.ports[].protocol", "ContainerPort", "v1.Protocol"),
        (f"{c}.env[].name", "EnvVar", "string"),
        (f"{c}.env[].value", "EnvVar", "string"),
        (f"{p}.restartPolicy", "PodSpec", "v1.RestartPolicy"),
        (f"{p}.terminationGracePeriodSeconds", "PodSpec", "int64"),
        (f"{p}.serviceAccountName", "PodSpec", "string"),
        (f"{p}.nodeSelector{{}}", "PodSpec", "string"),
    )


_TEMPLATE = (
    ("spec.template.metadata.labels{}", "ObjectMeta", "string"),
    ("spec.template.metadata.annotations{}", "ObjectMeta", "string"),
    *_pod_fields("spec.template.spec"),
)
_SELECTOR = (("spec.selector.matchLabels{}", "LabelSelector", "string"),)

_FIELDS: dict[tuple[str, str], tuple[Field, ...]] = {
    ("apps", "deployments"): (
        ("spec.replicas", "DeploymentSpec", "int32"),
        ("spec.minReadySeconds", "DeploymentSpec", "int32"),
        ("spec.revisionHistoryLimit", "DeploymentSpec", "int32"),
        ("spec.progressDeadlineSeconds", "DeploymentSpec", "int32"),
        ("spec.paused", "DeploymentSpec", "bool"),
        *_SELECTOR,
        *_TEMPLATE,
    ),
    ("apps", "replicasets"): (
        ("spec.replicas", "ReplicaSetSpec", "int32"),
        ("spec.minReadySeconds", "ReplicaSetSpec", "int32"),
        *_SELECTOR,
        *_TEMPLATE,
    ),
    ("apps", "daemonsets"): (
        ("spec.minReadySeconds", "DaemonSetSpec", "int32"),
        ("spec.revisionHistoryLimit", "DaemonSetSpec", "int32"),
        *_SELECTOR,
        *_TEMPLATE,
    ),
    ("", "pods"): _pod_fields("spec"),
    ("", "services"): (
        ("spec.type", "ServiceSpec", "v1.ServiceType"),
        ("spec.clusterIP", "ServiceSpec", "string"),
        ("spec.selector{}", "ServiceSpec", "string"),
        ("spec.ports", "ServiceSpec", "[]v1.ServicePort"),
        ("spec.ports[].name", "ServicePort", "string"),
        ("spec.ports[].protocol", "ServicePort", "v1.Protocol"),
        ("spec.ports[].port", "ServicePort", "int32"),
        ("spec.ports[].nodePort", "ServicePort", "int32"),
    ),
    ("", "configmaps"): (
        ("data", "ConfigMap", "map[string]string"),
        ("data{}", "ConfigMap", "string"),
    ),
    ("", "secrets"): (
        ("type", "Secret", "v1.SecretType"),
        ("stringData{}", "Secret", "string"),
        ("data{}", "Secret", "[]uint8"),
    ),
    ("autoscaling", "horizontalpodautoscalers"): (
        ("spec.minReplicas", "HorizontalPodAutoscalerSpec", "int32"),
        ("spec.maxReplicas", "HorizontalPodAutoscalerSpec", "int32"),
        ("spec.scaleTargetRef.kind", "CrossVersionObjectReference", "string"),
        ("spec.scaleTargetRef.name", "CrossVersionObjectReference", "string"),
    ),
    ("coordination.k8s.io", "leases"): (
        ("spec.holderIdentity", "LeaseSpec", "string"),
        ("spec.leaseDurationSeconds", "LeaseSpec", "int32"),
        ("spec.leaseTransitions", "LeaseSpec", "int32"),
    ),
    ("networking.k8s.io", "ingresses"): (
        ("spec.ingressClassName", "IngressSpec", "string"),
        ("spec.rules[].host", "IngressRule", "string"),
        ("spec.rules[].http.paths[].path", "HTTPIngressPath", "string"),
        ("spec.rules[].http.paths[].backend.service.port.number", "ServiceBackendPort", "int32"),
    ),
}
_KINDS = {(t.group, t.plural): (t.kind, t.version) for t in BUILTIN_TYPES}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


Step = tuple[str, str]  # (field, mode): mode "" (one value), "[]" (list items), "{}" (map values)


@functools.cache
def _compile(path: str) -> tuple[Step, ...]:
    out: list[Step] = []
    for step in path.split("."):
        mode = step[-2:] if step.endswith(("[]", "{}")) else ""
        out.append((step[: len(step) - len(mode)], mode))
    return tuple(out)


def _values(node: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Every value at the table path below `node` (missing steps yield nothing)."""
    current = [node]
    for name, mode in steps:
        following: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            child = item.get(name)
            if child is None:
                continue
            if mode == "[]":
                if isinstance(child, list):
                    following.extend(child)
            elif mode == "{}":
                if isinstance(child, dict):
                    following.extend(child.values())
            else:
                following.append(child)
        if not following:
            return []
        current = following
    return current


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    return "array" if isinstance(value, list) else "object"


def _mismatch(value: Any, go_type: str) -> str | None:
    """The JSON side of Go's complaint, or None when `value` fits `go_type`."""
    if value is None:
        return None
    kind = _json_kind(value)
    if go_type in _INT_RANGES:
        lo, hi = _INT_RANGES[go_type]
        if is_int(value) and lo <= value <= hi:
            return None
        return f"number {value}" if kind == "number" else kind
    expected = {"bool": "bool", "[]uint8": "string"}.get(go_type)
    if expected is None:
        expected = (
            "array"
            if go_type.startswith("[]")
            else "object"
            if go_type.startswith("map[")
            else "string"
        )
    return None if kind == expected else kind


def base64_error_offset(text: str) -> int | None:
    """Where Go's `base64.StdEncoding` gives up (`illegal base64 data at input byte N`)."""
    src = text.encode()
    si, n = 0, len(src)
    while True:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            ch = src[si]
            si += 1
            if ch in b"\r\n":
                continue
            if ch in _B64_ALPHABET:
                j += 1
                continue
            return _padding_error(src, si, j) if ch == ord("=") else si - 1
        if si == n:
            return None


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _padding_error(src: bytes, si: int, j: int) -> int | None:
    """After a `=` at quantum position `j` (already consumed, `si` is past it)."""
    if j < 2:
        return si - 1
    n = len(src)
    if j == 2:
        while si < n and src[si] in b"\r\n":
            si += 1
        if si == n:
            return n
        if src[si] != ord("="):
            return si - 1
        si += 1
    while si < n and src[si] in b"\r\n":
        si += 1
    return si if si < n else None


def _secret_base64(obj: dict[str, Any]) -> str | None:
    data = obj.get("data")
    for value in data.values() if isinstance(data, dict) else []:
        offset = base64_error_offset(value) if isinstance(value, str) else None
        if offset is not None:
            return f"illegal base64 data at input byte {offset}"
    return None


def decode_errors(group: str, plural: str, obj: dict[str, Any]) -> str | None:
    """The 400 BadRequest message a real apiserver gives for a mistyped field, or None.

    MicroTime fields are rewritten in UTC on the way (as Go's decode and encode do)."""
    kind, version = _KINDS.get((group, plural), ("", ""))
    for path, struct, go_type in (*_META, *_FIELDS.get((group, plural), ())):
        for value in _values(obj, _compile(path)):
            got = _mismatch(value, go_type)
            if got is not None:
                shown = path.replace("[]", "").replace("{}", "")
                detail = (
                    f"json: cannot unmarshal {got} into Go struct field {struct}.{shown} "
                    f"of type {go_type}"
                )
                return f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}'
    problem = micro_time.normalise(group, plural, obj)  # Go re-encodes MicroTimes in UTC
    if problem is not None:
        return f'{kind} in version "{version}" cannot be handled as a {kind}: {problem}'
    if (group, plural) == ("", "secrets"):
        problem = _secret_base64(obj)
        if problem is not None:
            return f'{kind} in version "{version}" cannot be handled as a {kind}: {problem}'
    return None
