"""The primary Flagger left behind, with the primary renames undone. Pure.

Flagger's lastAppliedSpec/lastPromotedSpec are FNV-32a hashes of a Go deep dump (§2.6) that
Ensign cannot reproduce, so whether the target runs what the primary runs is decided by
comparing pod templates, never hashes. The primary copy differs from the target's template
only by the renames of §2.8 / §2.8.5 (read `primary.py` and `podtemplate.py`): the selector
label's value gets `-primary`, `flagger-id` is added, toolkit keys are dropped, references
to tracked ConfigMaps/Secrets point at `<name>-primary`, and (Deployments) anti-affinity and
topology selectors on selector labels name `<target>-primary`; a DaemonSet primary has no
scale-to-zero node selector. `undo_primary` reverses exactly those, so the undone primary
hashes like the target would if it ran the same thing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ensign.engine.adoption import FlaggerLeftovers
from ensign.workloads.configs import _sites  # the reference sites Flagger renames
from ensign.workloads.meta import JSON, PRIMARY_SUFFIX, child, items, thaw, without_toolkit
from ensign.workloads.podtemplate import FLAGGER_ID_ANNOTATION
from ensign.workloads.revision import revision_hash


def undo_primary(
    primary: Mapping[str, Any],
    *,
    target_name: str,
    label: str,
    value: str,
    tracked: Collection[tuple[str, str]],
    selector_labels: Collection[str],
    kind: str,
) -> JSON:
    """A target-like object whose `spec.template` is the primary's with the renames undone.

    `tracked` holds the `(kind, name)` pairs of the target's tracked configs (see
    `configs.tracked_keys`): only references to their `-primary` copies are renamed back.
    """
    template = thaw(child(primary, "spec", "template"))
    meta = template.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    if labels.get(label) == value + PRIMARY_SUFFIX:
        labels[label] = value
    meta["labels"] = labels
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(FLAGGER_ID_ANNOTATION, None)
    meta["annotations"] = annotations
    pod_spec = template.setdefault("spec", {})
    copies = {(str(k), name + PRIMARY_SUFFIX): name for k, name in tracked}
    for config_kind, holder, name_key in _sites(pod_spec):
        name = holder.get(name_key)
        original = copies.get((str(config_kind), name)) if isinstance(name, str) else None
        if original is not None and isinstance(holder, dict):
            holder[name_key] = original
    if kind == "Deployment":
        _unsuffix_selectors(pod_spec, target_name=target_name, selector_labels=selector_labels)
    return {"kind": kind, "spec": {"template": template}}


def comparable_target(target: Mapping[str, Any]) -> JSON:
    """The target as the primary copy would show it: template without toolkit keys (Flagger
    drops them from the copy) and without a `flagger-id` of its own."""
    template = thaw(child(target, "spec", "template"))
    meta = template.setdefault("metadata", {})
    meta["labels"] = without_toolkit(meta.get("labels"))
    annotations = without_toolkit(meta.get("annotations"))
    annotations.pop(FLAGGER_ID_ANNOTATION, None)
    meta["annotations"] = annotations
    return {"kind": target.get("kind"), "spec": {"template": template}}


def runs_same(target: Mapping[str, Any], undone_primary: Mapping[str, Any], *, kind: str) -> bool:
    """Whether the target's pod template equals the undone primary's (normalised as in the
    revision hash, so a DaemonSet's scale-to-zero node selector does not count)."""
    return revision_hash(comparable_target(target), kind=kind) == revision_hash(
        undone_primary, kind=kind
    )


def _unsuffix_selectors(
    pod_spec: Mapping[str, Any], *, target_name: str, selector_labels: Collection[str]
) -> None:
    """In place: the reverse of `podtemplate.rewrite_affinity`."""
    selectors: list[Any] = [
        c.get("labelSelector") for c in items(pod_spec.get("topologySpreadConstraints"))
    ]
    anti = child(pod_spec, "affinity", "podAntiAffinity")
    selectors += [
        child(term, "podAffinityTerm").get("labelSelector")
        for term in items(anti.get("preferredDuringSchedulingIgnoredDuringExecution"))
    ]
    selectors += [
        term.get("labelSelector")
        for term in items(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))
    ]
    renamed = target_name + PRIMARY_SUFFIX
    for selector in selectors:
        if not isinstance(selector, dict):
            continue
        for expression in items(selector.get("matchExpressions")):
            values = expression.get("values")
            on_label = expression.get("key") in selector_labels
            if on_label and isinstance(values, list) and renamed in values:
                values[values.index(renamed)] = target_name
        match_labels = selector.get("matchLabels")
        if isinstance(match_labels, dict):
            for key, label_value in match_labels.items():
                if key in selector_labels and label_value == renamed:
                    match_labels[key] = target_name


def leftovers(
    target: Mapping[str, Any],
    primary: Mapping[str, Any] | None,
    *,
    kind: str,
    label: str,
    value: str,
    tracked: Collection[tuple[str, str]],
    selector_labels: Collection[str],
) -> FlaggerLeftovers:
    """What Flagger's primary runs, as the adoption decision needs it."""
    if primary is None:
        return FlaggerLeftovers()
    undone = undo_primary(
        primary,
        target_name=str(child(target, "metadata").get("name", "")),
        label=label,
        value=value,
        tracked=tracked,
        selector_labels=selector_labels,
        kind=kind,
    )
    same = runs_same(target, undone, kind=kind)
    return FlaggerLeftovers(
        primary_revision=revision_hash(target, kind=kind)
        if same
        else revision_hash(undone, kind=kind),
        target_matches_primary=same,
    )
