"""The primary's pod template, derived from the target's. Pure.

Shared by Deployment and DaemonSet rendering: template labels with `L = V-primary`,
template annotations with a `flagger-id`, config references renamed to the `-primary`
copies, and (Deployments only) anti-affinity/topology selectors pointed at the primary.

`flagger-id` differs from Flagger on purpose. Flagger writes a random UUID on every
creation and promotion to force a rollout. Ensign writes the caller's `revision` instead,
so re-running a promotion after a crash renders the same template and starts no second
rollout, while every new revision still changes the template. The `revision` must
therefore identify both the template and the tracked configs (pass `webhook_checksum(...)`
of the release): a config-only change has to change `flagger-id`, because the primary's
template otherwise stays the same and its pods would keep the old environment.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ensign.workloads.configs import rewrite_config_refs
from ensign.workloads.meta import (
    JSON,
    PRIMARY_SUFFIX,
    child,
    items,
    primary_labels,
    thaw,
    without_toolkit,
)
from ensign.workloads.revision import SCALE_TO_ZERO_NODE_SELECTOR

FLAGGER_ID_ANNOTATION = "flagger-id"


def template_annotations(annotations: Any, *, revision: str) -> dict[str, str]:
    """Pod-template annotations minus toolkit keys, with `flagger-id: <revision>`."""
    result = without_toolkit(annotations)
    result.pop(FLAGGER_ID_ANNOTATION, None)
    result[FLAGGER_ID_ANNOTATION] = revision
    return result


def _suffix_selector(selector: Any, *, target_name: str, selector_labels: Collection[str]) -> None:
    """In place: selector-label values equal to the target name get `-primary` appended.

    For each matchExpression on a selector label only the first matching value changes.
    """
    if not isinstance(selector, dict):
        return
    for expression in items(selector.get("matchExpressions")):
        values = expression.get("values")
        on_selector_label = expression.get("key") in selector_labels
        if on_selector_label and isinstance(values, list) and target_name in values:
            values[values.index(target_name)] = target_name + PRIMARY_SUFFIX
    match_labels = selector.get("matchLabels")
    if isinstance(match_labels, dict):
        for key, value in match_labels.items():
            if key in selector_labels and value == target_name:
                match_labels[key] = target_name + PRIMARY_SUFFIX


def rewrite_affinity(
    pod_spec: Mapping[str, Any], *, target_name: str, selector_labels: Collection[str]
) -> JSON:
    """A copy of `pod_spec` with topology-spread and pod-anti-affinity selectors for the primary.

    Covers `topologySpreadConstraints[].labelSelector` and the preferred and required
    `podAntiAffinity` terms; `podAffinity` is left alone (as in Flagger).
    """
    result: JSON = thaw(pod_spec)
    selectors: list[Any] = [
        constraint.get("labelSelector")
        for constraint in items(result.get("topologySpreadConstraints"))
    ]
    anti = child(result, "affinity", "podAntiAffinity")
    selectors += [
        child(term, "podAffinityTerm").get("labelSelector")
        for term in items(anti.get("preferredDuringSchedulingIgnoredDuringExecution"))
    ]
    selectors += [
        term.get("labelSelector")
        for term in items(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))
    ]
    for selector in selectors:
        _suffix_selector(selector, target_name=target_name, selector_labels=selector_labels)
    return result


def strip_scale_to_zero(pod_spec: Mapping[str, Any]) -> JSON:
    """A copy of `pod_spec` without the DaemonSet scale-to-zero node selector."""
    result: JSON = thaw(pod_spec)
    node_selector = result.get("nodeSelector")
    if isinstance(node_selector, dict):
        node_selector.pop(SCALE_TO_ZERO_NODE_SELECTOR, None)
        if not node_selector:
            del result["nodeSelector"]
    return result


def primary_pod_spec(
    target: Mapping[str, Any],
    *,
    tracked: Collection[tuple[str, str]],
    selector_labels: Sequence[str] | None,
) -> JSON:
    """The target's pod spec for the primary.

    Config refs point at the `-primary` copies; with `selector_labels` (Deployments) the
    anti-affinity/topology selectors are rewritten; without (DaemonSets) the scale-to-zero
    node selector is removed instead.
    """
    pod_spec = rewrite_config_refs(child(target, "spec", "template", "spec"), tracked)
    if selector_labels is None:
        return strip_scale_to_zero(pod_spec)
    name = str(child(target, "metadata").get("name", ""))
    return rewrite_affinity(pod_spec, target_name=name, selector_labels=selector_labels)


def primary_template_metadata(
    target: Mapping[str, Any], *, label: str, primary_value: str, revision: str
) -> JSON:
    """Template labels (`L = V-primary`, toolkit keys dropped) and annotations (`flagger-id`)."""
    meta = child(target, "spec", "template", "metadata")
    return {
        "labels": primary_labels(meta.get("labels"), label=label, value=primary_value),
        "annotations": template_annotations(meta.get("annotations"), revision=revision),
    }
