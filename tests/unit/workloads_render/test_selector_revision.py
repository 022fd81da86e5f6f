"""Selector label choice (§2.4 step 4) and revision detection (§2.6)."""

from __future__ import annotations

import copy

import pytest

from ensign.workloads.errors import WorkloadError
from ensign.workloads.revision import (
    has_spec_changed,
    revision_hash,
    stable_hash,
    webhook_checksum,
)
from ensign.workloads.selector import selector_label
from tests.unit.workloads_render import podinfo


@pytest.mark.parametrize(
    ("match_labels", "expected"),
    [
        ({"app": "podinfo"}, ("app", "podinfo")),
        ({"name": "web", "app": "podinfo"}, ("app", "podinfo")),
        ({"name": "web", "tier": "x"}, ("name", "web")),
        ({"app.kubernetes.io/name": "pi", "tier": "x"}, ("app.kubernetes.io/name", "pi")),
    ],
)
def test_selector_label_takes_first_candidate(
    match_labels: dict[str, str], expected: tuple[str, str]
) -> None:
    dep = podinfo.deployment()
    dep["spec"]["selector"]["matchLabels"] = match_labels
    assert selector_label(dep) == expected


def test_selector_label_honours_custom_candidates() -> None:
    dep = podinfo.deployment()
    dep["spec"]["selector"]["matchLabels"] = {"app": "podinfo", "tier": "web"}
    assert selector_label(dep, selector_labels=("tier", "app")) == ("tier", "web")


def test_selector_label_missing_uses_flaggers_message() -> None:
    dep = podinfo.deployment()
    dep["spec"]["selector"]["matchLabels"] = {"tier": "web"}
    with pytest.raises(WorkloadError) as raised:
        selector_label(dep)
    assert str(raised.value) == (
        "deployment podinfo.test spec.selector.matchLabels must contain one of "
        "[app name app.kubernetes.io/name]"
    )


def test_selector_label_missing_on_daemonset_names_the_kind() -> None:
    ds = podinfo.daemonset()
    ds["spec"]["selector"] = {}
    with pytest.raises(WorkloadError, match=r"^daemonset podinfo-ds\.test spec\.selector"):
        selector_label(ds)


def test_revision_hash_is_16_hex_and_ignores_replicas_and_metadata() -> None:
    dep = podinfo.deployment()
    value = revision_hash(dep, kind="Deployment")
    assert len(value) == 16 and int(value, 16) >= 0
    other = podinfo.deployment(replicas=7)
    other["metadata"]["labels"]["extra"] = "x"
    assert revision_hash(other, kind="Deployment") == value


def test_revision_hash_changes_with_the_pod_template() -> None:
    dep = podinfo.deployment()
    changed = copy.deepcopy(dep)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "ghcr.io/stefanprodan/podinfo:6.0.1"
    )
    annotated = copy.deepcopy(dep)
    annotated["spec"]["template"]["metadata"]["annotations"]["retry"] = "1"
    hashes = {revision_hash(obj, kind="Deployment") for obj in (dep, changed, annotated)}
    assert len(hashes) == 3


def test_daemonset_revision_ignores_scale_to_zero_and_nil_node_selector() -> None:
    ds = podinfo.daemonset()
    del ds["spec"]["template"]["spec"]["nodeSelector"]
    base = revision_hash(ds, kind="DaemonSet")
    empty = copy.deepcopy(ds)
    empty["spec"]["template"]["spec"]["nodeSelector"] = {}
    scaled = copy.deepcopy(ds)
    scaled["spec"]["template"]["spec"]["nodeSelector"] = {"flagger.app/scale-to-zero": "true"}
    assert revision_hash(empty, kind="DaemonSet") == base
    assert revision_hash(scaled, kind="DaemonSet") == base
    # A Deployment keeps the key in its hash: the rule is DaemonSet-only.
    assert revision_hash(scaled, kind="Deployment") != revision_hash(empty, kind="Deployment")


def test_revision_hash_does_not_mutate_the_target() -> None:
    ds = podinfo.daemonset()
    ds["spec"]["template"]["spec"]["nodeSelector"]["flagger.app/scale-to-zero"] = "true"
    before = copy.deepcopy(ds)
    revision_hash(ds, kind="DaemonSet")
    assert ds == before


@pytest.mark.parametrize(
    ("current", "applied", "promoted", "changed"),
    [
        ("h1", "", "", True),  # never applied: first run
        ("h1", None, None, True),
        ("h1", "h1", "h0", False),  # already under analysis
        ("h2", "h1", "h0", True),  # new revision
        ("h0", "h1", "h0", False),  # reverted to what the primary runs
        ("h1", "h1", "h1", False),
    ],
)
def test_has_spec_changed(
    current: str, applied: str | None, promoted: str | None, changed: bool
) -> None:
    assert (
        has_spec_changed(current_hash=current, last_applied=applied, last_promoted=promoted)
        is changed
    )


def test_webhook_checksum_identifies_spec_and_configs() -> None:
    base = webhook_checksum(tracked_configs={"configmap/a": "1"}, last_applied="h1")
    assert base == webhook_checksum(tracked_configs={"configmap/a": "1"}, last_applied="h1")
    assert base != webhook_checksum(tracked_configs={"configmap/a": "2"}, last_applied="h1")
    assert base != webhook_checksum(tracked_configs={"configmap/a": "1"}, last_applied="h2")
    assert webhook_checksum(tracked_configs=None, last_applied="h1") == webhook_checksum(
        tracked_configs={}, last_applied="h1"
    )


def test_stable_hash_ignores_key_order() -> None:
    assert stable_hash({"a": 1, "b": [1, {"c": 2, "d": 3}]}) == stable_hash(
        {"b": [1, {"d": 3, "c": 2}], "a": 1}
    )
