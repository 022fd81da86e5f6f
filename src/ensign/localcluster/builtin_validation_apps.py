"""Validation of the apps/v1 workloads (Deployment, ReplicaSet, DaemonSet) and label selectors.

Mirrors `pkg/apis/apps/validation` and the apps/v1 update strategies (selector immutability),
including their field paths and messages. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ensign.localcluster.builtin_common import (
    IMMUTABLE,
    NEGATIVE,
    Causes,
    GoRepr,
    Obj,
    as_dict,
    as_list,
    check_labels,
    forbidden,
    get_in,
    go_label_selector,
    go_quote,
    go_string_map,
    invalid,
    is_int,
    label_key,
    label_value,
    nonnegative,
    not_supported,
    regex_error,
    required,
)
from ensign.localcluster.builtin_validation_pod import check_pod_template
from ensign.localcluster.errors import StatusCause

_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")


# --- label selectors ------------------------------------------------------------------------


def check_label_selector(sel: Obj, path: str) -> Causes:
    causes = check_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(as_list(sel.get("matchExpressions"))):
        e, at = as_dict(expr), f"{path}.matchExpressions[{i}]"
        op, values = e.get("operator"), as_list(e.get("values"))
        if op in ("In", "NotIn") and not values:
            causes.append(
                required(f"{at}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif op in ("Exists", "DoesNotExist") and values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            causes.append(forbidden(f"{at}.values", detail))
        elif op not in _SELECTOR_OPS:
            causes.append(invalid(f"{at}.operator", op, "not a valid selector operator"))
        key = str(e.get("key", ""))
        causes += [invalid(f"{at}.key", key, m) for m in label_key(key)]
        for j, v in enumerate(values):
            causes += [invalid(f"{at}.values[{j}]", v, m) for m in label_value(str(v))]
    return causes


def selector_matches(sel: Obj, labels: Mapping[str, Any]) -> bool:
    if any(labels.get(k) != v for k, v in as_dict(sel.get("matchLabels")).items()):
        return False
    for expr in as_list(sel.get("matchExpressions")):
        e = as_dict(expr)
        key, op, values = str(e.get("key")), e.get("operator"), as_list(e.get("values"))
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(str(op), False)
        if not ok:
            return False
    return True


def _selector_empty(sel: Obj) -> bool:
    return not sel.get("matchLabels") and not sel.get("matchExpressions")


def _template_labels(spec: Obj) -> Any:
    return get_in(spec, "template", "metadata", "labels")


def _mismatch(spec: Obj) -> StatusCause:
    labels = _template_labels(spec)
    value = go_string_map(labels if isinstance(labels, Mapping) else None)
    return invalid(
        "spec.template.metadata.labels", value, "`selector` does not match template `labels`"
    )


def _replica_template(spec: Obj, kind: str) -> Causes:
    """Selector and template rules shared by Deployments and ReplicaSets."""
    sel = spec.get("selector")
    causes: Causes = []
    if sel is None:
        causes.append(required("spec.selector"))
    else:
        sel_causes = check_label_selector(as_dict(sel), "spec.selector")
        causes += sel_causes
        if _selector_empty(as_dict(sel)):
            causes.append(
                invalid(
                    "spec.selector",
                    go_label_selector(as_dict(sel)),
                    f"empty selector is invalid for {kind}",
                )
            )
        if sel_causes:
            return [
                *causes,
                invalid("spec.selector", go_label_selector(as_dict(sel)), "invalid label selector"),
            ]
    labels = as_dict(_template_labels(spec))
    if sel is None or (
        not _selector_empty(as_dict(sel)) and not selector_matches(as_dict(sel), labels)
    ):
        causes.append(_mismatch(spec))
    causes += check_pod_template(spec.get("template"), "spec.template")
    return causes + _workload_pod_rules(spec, "ReplicaSet")


def _workload_pod_rules(spec: Obj, kind: str) -> Causes:
    pod = as_dict(as_dict(spec.get("template")).get("spec"))
    causes: Causes = []
    policy = pod.get("restartPolicy")
    if policy not in (None, "", "Always"):
        causes.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if pod.get("activeDeadlineSeconds") is not None:
        path = "spec.template.spec.activeDeadlineSeconds"
        causes.append(forbidden(path, f"activeDeadlineSeconds in {kind} is not Supported"))
    return causes


# --- int-or-percent -------------------------------------------------------------------------

_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"


def _percent(value: Any) -> int | None:
    if (
        isinstance(value, str)
        and value.endswith("%")
        and value[:-1].isdigit()
        and value[:-1].isascii()
    ):
        return int(value[:-1])
    return None


def _int_or_percent_value(value: Any) -> int:
    pct = _percent(value)
    if pct is not None:
        return pct
    if is_int(value):
        return int(value)
    try:
        return int(str(value))
    except ValueError:
        return 0


def _positive_int_or_percent(value: Any, path: str) -> Causes:
    if isinstance(value, str):
        if _percent(value) is None:
            return [invalid(path, GoRepr(value), regex_error(_PERCENT_MSG, "[0-9]+%", "1%", "93%"))]
        return []
    if is_int(value) and value < 0:
        return [invalid(path, value, NEGATIVE)]
    return []


def _not_over_100(value: Any, path: str) -> Causes:
    pct = _percent(value)
    return (
        [invalid(path, GoRepr(str(value)), "must not be greater than 100%")]
        if pct and pct > 100
        else []
    )


def _go_strategy(struct: str, kind: Any, rolling: str) -> GoRepr:
    """`%#v` of an apps strategy whose type is unknown (rollingUpdate is never defaulted then)."""
    typ = go_quote(str(kind or ""))
    return GoRepr(f"apps.{struct}{{Type:{typ}, RollingUpdate:(*apps.{rolling})(nil)}}")


# --- workloads ------------------------------------------------------------------------------


def _deployment_strategy(strategy: Obj) -> Causes:
    kind, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    path = "spec.strategy"
    if kind == "Recreate":
        if rolling is not None:
            return [
                forbidden(
                    f"{path}.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if kind != "RollingUpdate":
        value = _go_strategy("DeploymentStrategy", kind, "RollingUpdateDeployment")
        return [not_supported(path, value, ["Recreate", "RollingUpdate"])]
    if not isinstance(rolling, dict):
        return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
    mu, ms = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    at = f"{path}.rollingUpdate"
    causes = _positive_int_or_percent(mu, f"{at}.maxUnavailable")
    causes += _positive_int_or_percent(ms, f"{at}.maxSurge")
    if _int_or_percent_value(mu) == 0 and _int_or_percent_value(ms) == 0:
        causes.append(
            invalid(f"{at}.maxUnavailable", GoRepr(str(mu)), "may not be 0 when `maxSurge` is 0")
        )
    return causes + _not_over_100(mu, f"{at}.maxUnavailable")


def check_deployment(obj: Obj, old: Obj | None) -> Causes:
    spec = as_dict(obj.get("spec"))
    causes = nonnegative(spec, "spec.replicas", "replicas")
    causes += _replica_template(spec, "deployment")
    causes += _deployment_strategy(as_dict(spec.get("strategy")))
    causes += nonnegative(spec, "spec.minReadySeconds", "minReadySeconds")
    causes += nonnegative(spec, "spec.revisionHistoryLimit", "revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if is_int(pds):
        causes += nonnegative(spec, "spec.progressDeadlineSeconds", "progressDeadlineSeconds")
        mrs = spec.get("minReadySeconds")
        if pds <= (mrs if is_int(mrs) else 0):
            causes.append(
                invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds")
            )
    return causes + selector_immutable(obj, old)


def check_replicaset(obj: Obj, old: Obj | None) -> Causes:
    spec = as_dict(obj.get("spec"))
    causes = nonnegative(spec, "spec.replicas", "replicas")
    causes += nonnegative(spec, "spec.minReadySeconds", "minReadySeconds")
    causes += _replica_template(spec, "deployment")
    return causes + selector_immutable(obj, old)


def _daemonset_strategy(strategy: Obj) -> Causes:
    kind, rolling, path = strategy.get("type"), strategy.get("rollingUpdate"), "spec.updateStrategy"
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        value = _go_strategy("DaemonSetUpdateStrategy", kind, "RollingUpdateDaemonSet")
        return [not_supported(path, value, ["RollingUpdate", "OnDelete"])]
    if not isinstance(rolling, dict):
        return [required(f"{path}.rollingUpdate")]
    at = f"{path}.rollingUpdate"
    mu, ms = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    causes = _positive_int_or_percent(mu, f"{at}.maxUnavailable")
    causes += _positive_int_or_percent(ms, f"{at}.maxSurge")
    causes += _not_over_100(mu, f"{at}.maxUnavailable") + _not_over_100(ms, f"{at}.maxSurge")
    has_mu, has_ms = _int_or_percent_value(mu) != 0, _int_or_percent_value(ms) != 0
    if has_mu and has_ms:
        causes.append(
            invalid(
                f"{at}.maxSurge", GoRepr(str(ms)), "may not be set when maxUnavailable is non-zero"
            )
        )
    elif not has_mu and not has_ms:
        causes.append(required(f"{at}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return causes


def check_daemonset(obj: Obj, old: Obj | None) -> Causes:
    spec = as_dict(obj.get("spec"))
    sel = spec.get("selector")
    causes = check_label_selector(as_dict(sel), "spec.selector") if sel is not None else []
    if not causes and not (
        sel is not None and selector_matches(as_dict(sel), as_dict(_template_labels(spec)))
    ):
        causes.append(_mismatch(spec))
    if sel is not None and _selector_empty(as_dict(sel)):
        causes.append(
            invalid(
                "spec.selector",
                go_label_selector(as_dict(sel)),
                "empty selector is invalid for daemonset",
            )
        )
    causes += check_pod_template(spec.get("template"), "spec.template")
    causes += _workload_pod_rules(spec, "DaemonSet")
    causes += nonnegative(spec, "spec.minReadySeconds", "minReadySeconds")
    causes += _daemonset_strategy(as_dict(spec.get("updateStrategy")))
    causes += nonnegative(spec, "spec.revisionHistoryLimit", "revisionHistoryLimit")
    return causes + selector_immutable(obj, old)


def selector_immutable(obj: Obj, old: Obj | None) -> Causes:
    """apps/v1 strategies reject any change of `spec.selector` on update."""
    if old is None:
        return []
    new_sel, old_sel = (
        as_dict(obj.get("spec")).get("selector"),
        as_dict(old.get("spec")).get("selector"),
    )
    if _normal_selector(new_sel) == _normal_selector(old_sel):
        return []
    return [invalid("spec.selector", go_label_selector(as_dict(new_sel)), IMMUTABLE)]


def _normal_selector(sel: Any) -> Any:
    """Semantic equality treats empty and missing lists/maps alike."""
    s = as_dict(sel)
    return (s.get("matchLabels") or {}, s.get("matchExpressions") or [])
