"""Primary Deployment/DaemonSet creation and promotion; scaling patches. Pure.

`render_primary_*` builds `<target>-primary` on initialisation (create only when missing);
`promote_*` returns the existing primary updated from the target (Flagger's `Promote`),
keeping the primary's identity (name, uid, resourceVersion, selector, owner refs). Scaling
helpers return JSON merge-patch bodies for the target.

Deviation from Flagger: the pod-template `flagger-id` is the caller's `revision`, not a
random UUID (see `ensign.workloads.podtemplate`), so rendering is deterministic and a
promotion replayed after a crash does not roll the primary a second time. DaemonSet
creation also strips the scale-to-zero node selector (Flagger strips it only on promote).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ensign.model.canary import AutoscalerKind, AutoscalerRef
from ensign.workloads.errors import WorkloadError
from ensign.workloads.meta import (
    JSON,
    PRIMARY_SUFFIX,
    canary_owner_reference,
    child,
    copy_keys,
    include_by_prefix,
    name_of,
    namespace_of,
    primary_labels,
    thaw,
    without_toolkit,
)
from ensign.workloads.podtemplate import primary_pod_spec, primary_template_metadata
from ensign.workloads.revision import SCALE_TO_ZERO_NODE_SELECTOR
from ensign.workloads.selector import DEFAULT_SELECTOR_LABELS

DEPLOYMENT_FIELDS = (
    "progressDeadlineSeconds",
    "minReadySeconds",
    "revisionHistoryLimit",
    "strategy",
)
DAEMONSET_FIELDS = ("minReadySeconds", "revisionHistoryLimit", "updateStrategy")


def _render_primary(
    target: Mapping[str, Any],
    *,
    kind: str,
    canary: Mapping[str, Any],
    label: str,
    value: str,
    include_label_prefixes: Sequence[str],
) -> JSON:
    """Metadata and selector shared by both kinds; the caller adds fields and the template."""
    meta = child(target, "metadata")
    labels = include_by_prefix(meta.get("labels"), include_label_prefixes)
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {
            "name": name_of(target) + PRIMARY_SUFFIX,
            "namespace": namespace_of(canary, target),
            "labels": primary_labels(labels, label=label, value=f"{value}{PRIMARY_SUFFIX}"),
            "annotations": without_toolkit(meta.get("annotations")),
            "ownerReferences": [canary_owner_reference(canary)],
        },
        "spec": {"selector": {"matchLabels": {label: f"{value}{PRIMARY_SUFFIX}"}}},
    }


def _template(
    target: Mapping[str, Any],
    *,
    label: str,
    value: str,
    tracked: Collection[tuple[str, str]],
    revision: str,
    selector_labels: Sequence[str] | None,
) -> JSON:
    return {
        "metadata": primary_template_metadata(
            target, label=label, primary_value=f"{value}{PRIMARY_SUFFIX}", revision=revision
        ),
        "spec": primary_pod_spec(target, tracked=tracked, selector_labels=selector_labels),
    }


def render_primary_deployment(
    target: Mapping[str, Any],
    *,
    canary: Mapping[str, Any],
    label: str,
    value: str,
    tracked: Collection[tuple[str, str]],
    include_label_prefixes: Sequence[str],
    revision: str,
    selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS,
) -> JSON:
    """The `<target>-primary` Deployment to create (§2.8.1).

    Metadata labels filtered by the include prefixes with `L = V-primary`; annotations minus
    toolkit keys; controller owner ref to the Canary; selector `{L: V-primary}`; replicas =
    the target's when > 0, else 1; strategy and deadlines copied; template from the target.
    """
    primary = _render_primary(
        target,
        kind="Deployment",
        canary=canary,
        label=label,
        value=value,
        include_label_prefixes=include_label_prefixes,
    )
    spec = child(target, "spec")
    replicas = spec.get("replicas")
    fields: JSON = {"replicas": replicas if isinstance(replicas, int) and replicas > 0 else 1}
    copy_keys(spec, fields, keys=DEPLOYMENT_FIELDS)
    template = _template(
        target,
        label=label,
        value=value,
        tracked=tracked,
        revision=revision,
        selector_labels=selector_labels,
    )
    primary["spec"] = {**fields, **primary["spec"], "template": template}
    return primary


def _promote(
    primary: Mapping[str, Any],
    target: Mapping[str, Any],
    *,
    label: str,
    value: str,
    include_label_prefixes: Sequence[str],
    template: JSON,
) -> JSON:
    """The promotion edits shared by both kinds: metadata labels/annotations and template."""
    result: JSON = thaw(primary)
    meta = child(target, "metadata")
    metadata = result.setdefault("metadata", {})
    metadata["annotations"] = include_by_prefix(meta.get("annotations"), include_label_prefixes)
    labels = include_by_prefix(meta.get("labels"), include_label_prefixes)
    metadata["labels"] = primary_labels(labels, label=label, value=f"{value}{PRIMARY_SUFFIX}")
    spec = result.setdefault("spec", {})
    old_template = child(spec, "template")
    old_meta = child(old_template, "metadata")
    spec["template"] = {
        **old_template,
        "metadata": {**old_meta, **template["metadata"]},
        "spec": template["spec"],
    }
    return result


def promote_deployment(
    primary: Mapping[str, Any],
    target: Mapping[str, Any],
    *,
    label: str,
    value: str,
    tracked: Collection[tuple[str, str]],
    include_label_prefixes: Sequence[str],
    revision: str,
    has_autoscaler: bool,
    selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS,
) -> JSON:
    """`primary` updated from `target` (Flagger's `Promote`), ready for an Update call.

    Copies deadlines and strategy; replicas only when the canary has no `autoscalerRef`;
    template from the target; metadata annotations and labels replaced by the target's,
    filtered by the include prefixes (labels get `L = V-primary`). Name, uid,
    resourceVersion, owner refs and selector stay the primary's.
    """
    template = _template(
        target,
        label=label,
        value=value,
        tracked=tracked,
        revision=revision,
        selector_labels=selector_labels,
    )
    result = _promote(
        primary,
        target,
        label=label,
        value=value,
        include_label_prefixes=include_label_prefixes,
        template=template,
    )
    fields = DEPLOYMENT_FIELDS if has_autoscaler else ("replicas", *DEPLOYMENT_FIELDS)
    copy_keys(child(target, "spec"), result["spec"], keys=fields)
    return result


def require_rolling_update(daemonset: Mapping[str, Any]) -> None:
    """Raise `WorkloadError` unless the DaemonSet's update strategy is empty or RollingUpdate."""
    strategy = child(daemonset, "spec", "updateStrategy").get("type")
    if strategy and strategy != "RollingUpdate":
        meta = child(daemonset, "metadata")
        raise WorkloadError(
            f"daemonset {meta.get('name', '')}.{meta.get('namespace', '')} "
            f"must have RollingUpdate strategy but have {strategy}"
        )


def render_primary_daemonset(
    target: Mapping[str, Any],
    *,
    canary: Mapping[str, Any],
    label: str,
    value: str,
    tracked: Collection[tuple[str, str]],
    include_label_prefixes: Sequence[str],
    revision: str,
) -> JSON:
    """The `<target>-primary` DaemonSet to create (§2.8.2); requires RollingUpdate.

    Like the Deployment case without replicas and without the affinity rewrite; the
    scale-to-zero node selector is not copied.
    """
    require_rolling_update(target)
    primary = _render_primary(
        target,
        kind="DaemonSet",
        canary=canary,
        label=label,
        value=value,
        include_label_prefixes=include_label_prefixes,
    )
    fields: JSON = {}
    copy_keys(child(target, "spec"), fields, keys=DAEMONSET_FIELDS)
    template = _template(
        target, label=label, value=value, tracked=tracked, revision=revision, selector_labels=None
    )
    primary["spec"] = {**fields, **primary["spec"], "template": template}
    return primary


def promote_daemonset(
    primary: Mapping[str, Any],
    target: Mapping[str, Any],
    *,
    label: str,
    value: str,
    tracked: Collection[tuple[str, str]],
    include_label_prefixes: Sequence[str],
    revision: str,
) -> JSON:
    """`primary` updated from the target DaemonSet; requires RollingUpdate on the target.

    Copies minReadySeconds, revisionHistoryLimit and updateStrategy; the template's pod
    spec loses the scale-to-zero node selector; metadata as in `promote_deployment`.
    """
    require_rolling_update(target)
    template = _template(
        target, label=label, value=value, tracked=tracked, revision=revision, selector_labels=None
    )
    result = _promote(
        primary,
        target,
        label=label,
        value=value,
        include_label_prefixes=include_label_prefixes,
        template=template,
    )
    copy_keys(child(target, "spec"), result["spec"], keys=DAEMONSET_FIELDS)
    return result


def scale_patch(kind: str, replicas: int) -> JSON:
    """Merge patch scaling a target: `spec.replicas`, or the node selector for DaemonSets."""
    if kind == "DaemonSet":
        return (
            daemonset_scale_to_zero_patch() if replicas == 0 else daemonset_scale_from_zero_patch()
        )
    return {"spec": {"replicas": replicas}}


def daemonset_scale_to_zero_patch() -> JSON:
    """Merge patch adding `flagger.app/scale-to-zero: "true"` to the pod node selector."""
    return {"spec": {"template": {"spec": {"nodeSelector": {SCALE_TO_ZERO_NODE_SELECTOR: "true"}}}}}


def daemonset_scale_from_zero_patch() -> JSON:
    """Merge patch removing the scale-to-zero node selector key."""
    return {"spec": {"template": {"spec": {"nodeSelector": {SCALE_TO_ZERO_NODE_SELECTOR: None}}}}}


def _positive(value: Any, *, above: int) -> int | None:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > above else None
    )


def scale_from_zero_replicas(
    *,
    target: Mapping[str, Any],
    primary: Mapping[str, Any] | None,
    autoscaler_ref: AutoscalerRef | None,
    autoscaler: Mapping[str, Any] | None,
) -> int:
    """Replicas for Flagger's `ScaleFromZero` of a Deployment target.

    The target's replicas if > 0; else without `autoscalerRef` the primary's if > 0; with an
    HPA its `minReplicas` if > 1; with a ScaledObject its `minReplicaCount` if > 1; else 1.
    `autoscaler` is the fetched HPA/ScaledObject (`None` when missing).
    """
    current = _positive(child(target, "spec").get("replicas"), above=0)
    if current is not None:
        return current
    if autoscaler_ref is None:
        return _positive(child(primary, "spec").get("replicas"), above=0) or 1
    field = "minReplicas" if autoscaler_ref.kind is AutoscalerKind.HPA else "minReplicaCount"
    return _positive(child(autoscaler, "spec").get(field), above=1) or 1


def finalize_replicas(primary: Mapping[str, Any]) -> int:
    """Replicas given back to the target on `revertOnDeletion`: the primary's (unset → 1)."""
    replicas = child(primary, "spec").get("replicas")
    return replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 1
