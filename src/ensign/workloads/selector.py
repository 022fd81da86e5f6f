"""The selector label of a Deployment/DaemonSet target. Pure.

Flagger selects pods of the target, the primary and the generated Services through one
label `L` from the target's `spec.selector.matchLabels`: the first of the `-selector-labels`
candidates present. The primary's selector is then exactly `{L: V-primary}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ensign.workloads.errors import WorkloadError
from ensign.workloads.meta import child

DEFAULT_SELECTOR_LABELS: tuple[str, ...] = ("app", "name", "app.kubernetes.io/name")


def selector_label(
    target: Mapping[str, Any], *, selector_labels: Sequence[str] = DEFAULT_SELECTOR_LABELS
) -> tuple[str, str]:
    """`(L, V)`: the first candidate key present in `spec.selector.matchLabels` and its value.

    Raises `WorkloadError` (`deployment <n>.<ns> spec.selector.matchLabels must contain one
    of [app name app.kubernetes.io/name]`) when none is present; the kind word follows the
    target's `kind` (`daemonset` for DaemonSets).
    """
    match_labels = child(target, "spec", "selector", "matchLabels")
    for key in selector_labels:
        if key in match_labels:
            return key, str(match_labels[key] if match_labels[key] is not None else "")
    meta = child(target, "metadata")
    kind = str(target.get("kind") or "Deployment").lower()
    candidates = " ".join(selector_labels)
    raise WorkloadError(
        f"{kind} {meta.get('name', '')}.{meta.get('namespace', '')} "
        f"spec.selector.matchLabels must contain one of [{candidates}]"
    )
