"""Revision detection: the target's spec hash, `hasSpecChanged`, the webhook checksum. Pure.

Hashes are SHA-256 over canonical JSON (sorted keys, compact separators), shortened to 16
hex characters. Only equality matters (§2.6): the values are stable across processes and
Python versions but deliberately not interoperable with Flagger's FNV-based `ComputeHash`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ensign.workloads.meta import child, thaw

SCALE_TO_ZERO_NODE_SELECTOR = "flagger.app/scale-to-zero"
HASH_LENGTH = 16


def stable_hash(value: Any) -> str:
    """16 hex chars of SHA-256 over the canonical JSON of `value` (dict key order ignored)."""
    encoded = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def hashed_template(target: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
    """The part of the target that defines a revision: `spec.template`.

    For DaemonSets the scale-to-zero node selector is removed and a missing node selector
    is normalised to `{}`, so scaling a DaemonSet down or up is not a new revision.
    """
    template: dict[str, Any] = thaw(child(target, "spec", "template"))
    if kind == "DaemonSet":
        pod_spec: dict[str, Any] = thaw(child(template, "spec"))
        node_selector = dict(child(pod_spec, "nodeSelector"))
        node_selector.pop(SCALE_TO_ZERO_NODE_SELECTOR, None)
        pod_spec["nodeSelector"] = node_selector
        template["spec"] = pod_spec
    return template


def revision_hash(target: Mapping[str, Any], *, kind: str) -> str:
    """The revision of a Deployment/DaemonSet target (`status.lastAppliedSpec`)."""
    return stable_hash(hashed_template(target, kind=kind))


def has_spec_changed(
    *, current_hash: str, last_applied: str | None, last_promoted: str | None
) -> bool:
    """Flagger's `hasSpecChanged`.

    No `lastAppliedSpec` yet → changed. A hash equal to `lastPromotedSpec` → not changed
    (reverting the target to what the primary runs starts nothing). Otherwise changed iff
    the hash differs from `lastAppliedSpec`.
    """
    if not last_applied:
        return True
    if current_hash == last_promoted:
        return False
    return current_hash != last_applied


def webhook_checksum(*, tracked_configs: Mapping[str, str] | None, last_applied: str | None) -> str:
    """The `checksum` sent to webhooks: identifies the template and config under test.

    A missing `trackedConfigs` is treated like an empty one.
    """
    return stable_hash(
        {"lastAppliedSpec": last_applied or "", "trackedConfigs": dict(tracked_configs or {})}
    )
