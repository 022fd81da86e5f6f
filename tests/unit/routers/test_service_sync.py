"""Reconciling generated Services with live ones, and reverting the apex (§2.11).

Matrix: create; unchanged live copy (also with API-server defaults and reordered ports);
takeover of the user's own apex Service; owned Service metadata (foreign keys dropped,
unmanagedMetadata kept); nodePort preservation; trafficDistribution; revert_apex with and
without kubectl's last-applied configuration; and the hypothesis property that reconciling
the result of a reconcile is always `Unchanged`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ensign.routers.services import (
    Create,
    ServiceChange,
    Unchanged,
    Update,
    desired_services,
    reconcile_service,
    revert_apex,
)
from tests.unit.routers._support import UID, podinfo_canary

FLUX = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def desired(service: dict[str, Any] | None = None) -> dict[str, Any]:
    services = desired_services(
        podinfo_canary(service), canary_uid=UID, label="app", value="podinfo", target_pod_spec=None
    )
    return copy.deepcopy(dict(services.apex))


def live(body: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """`body` as the API server returns it: resourceVersion, clusterIP, status, defaults."""
    result = copy.deepcopy(body)
    result["metadata"].update({"resourceVersion": "42", "uid": "svc-uid", **metadata})
    result["spec"].update(
        {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"], "sessionAffinity": "None"}
    )
    result["status"] = {"loadBalancer": {}}
    return result


def sync(existing: dict[str, Any] | None, want: dict[str, Any], **unmanaged: Any) -> ServiceChange:
    return reconcile_service(
        existing,
        want,
        canary_uid=UID,
        unmanaged_labels=unmanaged.get("labels", ()),
        unmanaged_annotations=unmanaged.get("annotations", ()),
    )


def user_service() -> dict[str, Any]:
    """The tutorial's own `podinfo` Service, applied with kubectl before the Canary."""
    applied: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": "test", "labels": {"team": "web"}},
        "spec": {"selector": {"app": "podinfo"}, "ports": [{"name": "http", "port": 9898}]},
    }
    body = copy.deepcopy(applied)
    body["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(applied), "note": "mine"}
    body["spec"]["ports"] = [{"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}]
    return live(body)


def test_missing_service_is_created_as_desired() -> None:
    want = desired()
    change = sync(None, want)
    assert change == Create(body=want)
    assert isinstance(change, Create) and change.body is not want


def test_live_copy_is_unchanged() -> None:
    assert sync(live(desired()), desired()) == Unchanged()


def test_port_order_and_defaults_do_not_matter() -> None:
    want = desired()
    want["spec"]["ports"].append({"name": "grpc", "protocol": "TCP", "port": 90, "targetPort": 90})
    existing = live(want)
    existing["spec"]["ports"] = [
        {"name": "grpc", "port": 90},  # protocol and targetPort defaulted by the API server
        existing["spec"]["ports"][0],
    ]
    assert sync(existing, want) == Unchanged()


def test_user_service_is_taken_over_without_touching_metadata() -> None:
    existing = user_service()
    change = sync(existing, desired())
    assert isinstance(change, Update)
    body = change.body
    assert body["spec"]["selector"] == {"app": "podinfo-primary"}
    assert body["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9898}
    ]
    assert body["metadata"]["labels"] == {"team": "web"}
    assert body["metadata"]["annotations"] == {**existing["metadata"]["annotations"], **FLUX}
    assert "ownerReferences" not in body["metadata"]
    assert body["metadata"]["resourceVersion"] == "42"
    assert body["spec"]["clusterIP"] == "10.0.0.7"
    assert body["spec"]["clusterIPs"] == ["10.0.0.7"]
    assert "status" not in body
    assert sync(dict(body), desired()) == Unchanged()


def test_taken_over_service_with_right_routing_is_left_alone() -> None:
    existing = user_service()
    existing["spec"]["selector"] = {"app": "podinfo-primary"}
    existing["spec"]["ports"] = [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9898}
    ]
    # No Flux keys: Flagger adds them only when it has something else to write.
    assert sync(existing, desired()) == Unchanged()


def test_service_owned_by_another_canary_is_not_managed() -> None:
    existing = live(desired(), labels={"foreign": "x", "app": "podinfo"})
    existing["metadata"]["ownerReferences"][0]["uid"] = "another-canary"
    assert sync(existing, desired()) == Unchanged()


def test_owned_service_metadata_is_managed() -> None:
    want = desired({"port": 80, "targetPort": 9898, "apex": {"labels": {"team": "web"}}})
    existing = live(desired())
    existing["metadata"]["labels"] = {"app": "podinfo", "foreign": "x", "keep-me": "1"}
    existing["metadata"]["annotations"] = {"foreign": "y", "sidecar/keep": "2"}
    change = sync(existing, want, labels=["keep-me", "absent"], annotations=["sidecar/keep"])
    assert isinstance(change, Update)
    assert change.body["metadata"]["labels"] == {"team": "web", "app": "podinfo", "keep-me": "1"}
    assert change.body["metadata"]["annotations"] == {**FLUX, "sidecar/keep": "2"}
    assert change.body["spec"] == {**existing["spec"]}  # routing was already right
    again = sync(dict(change.body), want, labels=["keep-me"], annotations=["sidecar/keep"])
    assert again == Unchanged()


def test_unmanaged_value_wins_over_custom_value() -> None:
    want = desired({"port": 80, "apex": {"annotations": {"owner": "spec"}}})
    existing = live(want)
    existing["metadata"]["annotations"]["owner"] = "live"
    assert sync(existing, want, annotations=["owner"]) == Unchanged()
    change = sync(existing, want)
    assert isinstance(change, Update)
    assert change.body["metadata"]["annotations"]["owner"] == "spec"


def test_removed_flux_key_is_readded_on_owned_service() -> None:
    existing = live(desired())
    del existing["metadata"]["annotations"]["helm.toolkit.fluxcd.io/driftDetection"]
    change = sync(existing, desired())
    assert isinstance(change, Update)
    assert change.body["metadata"]["annotations"] == FLUX


def test_node_ports_are_kept_by_port_name() -> None:
    want = desired({"port": 80, "targetPort": 9898})
    existing = live(want)
    existing["spec"]["type"] = "NodePort"
    existing["spec"]["ports"] = [
        {"name": "http", "protocol": "TCP", "port": 8080, "targetPort": 9898, "nodePort": 31080},
        {"name": "gone", "protocol": "TCP", "port": 9090, "targetPort": 9090, "nodePort": 31090},
    ]
    change = sync(existing, want)
    assert isinstance(change, Update)
    assert change.body["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9898, "nodePort": 31080}
    ]
    assert change.body["spec"]["type"] == "NodePort"
    assert sync(dict(change.body), want) == Unchanged()


def test_node_port_alone_is_not_a_difference() -> None:
    want = desired()
    existing = live(want)
    existing["spec"]["type"] = "NodePort"
    existing["spec"]["ports"][0]["nodePort"] = 30000
    assert sync(existing, want) == Unchanged()


def test_traffic_distribution_follows_spec_on_owned_services() -> None:
    existing = live(desired())
    want = desired({"port": 80, "targetPort": 9898, "trafficDistribution": "PreferClose"})
    change = sync(existing, want)
    assert isinstance(change, Update)
    assert change.body["spec"]["trafficDistribution"] == "PreferClose"
    back = sync(dict(change.body), desired())
    assert isinstance(back, Update)
    assert "trafficDistribution" not in back.body["spec"]


# --------------------------------------------------------------------------- revert_apex


def test_revert_restores_last_applied_selector() -> None:
    taken = sync(user_service(), desired())
    assert isinstance(taken, Update)
    reverted = revert_apex(taken.body, label="app", value="podinfo")
    assert reverted is not None
    assert reverted["spec"]["selector"] == {"app": "podinfo"}
    assert reverted["spec"]["ports"] == taken.body["spec"]["ports"]  # only the selector moves
    assert reverted["metadata"]["resourceVersion"] == "42"


def test_revert_uses_last_applied_even_when_it_differs_from_target_label() -> None:
    existing = user_service()
    applied = json.loads(existing["metadata"]["annotations"][LAST_APPLIED])
    applied["spec"]["selector"] = {"app.kubernetes.io/name": "podinfo"}
    existing["metadata"]["annotations"][LAST_APPLIED] = json.dumps(applied)
    reverted = revert_apex(existing, label="app", value="podinfo")
    assert reverted is not None
    assert reverted["spec"]["selector"] == {"app.kubernetes.io/name": "podinfo"}


def test_revert_without_last_applied_selects_target_pods() -> None:
    existing = user_service()
    del existing["metadata"]["annotations"][LAST_APPLIED]
    existing["spec"]["selector"] = {"app": "podinfo-primary"}
    reverted = revert_apex(existing, label="app", value="podinfo")
    assert reverted is not None
    assert reverted["spec"]["selector"] == {"app": "podinfo"}
    assert "status" not in reverted


def test_revert_with_unreadable_last_applied_selects_target_pods() -> None:
    existing = user_service()
    existing["metadata"]["annotations"][LAST_APPLIED] = "{not json"
    existing["spec"]["selector"] = {"app": "podinfo-primary"}
    reverted = revert_apex(existing, label="app", value="podinfo")
    assert reverted is not None and reverted["spec"]["selector"] == {"app": "podinfo"}


def test_revert_last_applied_without_selector_removes_it() -> None:
    existing = user_service()
    existing["metadata"]["annotations"][LAST_APPLIED] = json.dumps({"spec": {"ports": []}})
    reverted = revert_apex(existing, label="app", value="podinfo")
    assert reverted is not None and "selector" not in reverted["spec"]


def test_revert_leaves_canary_owned_and_missing_services_alone() -> None:
    assert revert_apex(live(desired()), label="app", value="podinfo") is None
    assert revert_apex(None, label="app", value="podinfo") is None


def test_revert_is_a_no_op_when_selector_already_restored() -> None:
    assert revert_apex(user_service(), label="app", value="podinfo") is None


# --------------------------------------------------------------------------- idempotence

keys = st.sampled_from(["app", "team", "keep", "other", "x/y"])
values = st.sampled_from(["podinfo", "podinfo-primary", "a", "b"])
small_maps = st.dictionaries(keys, values, max_size=3)
live_ports = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["http", "grpc", "tcp-podinfo-2"]), "port": st.integers(1, 5)},
        optional={
            "protocol": st.just("TCP"),
            "targetPort": st.sampled_from([9898, "http", 1]),
            "nodePort": st.integers(30000, 30005),
            "appProtocol": st.just("http"),
        },
    ),
    max_size=3,
)
services = st.fixed_dictionaries(
    {"port": st.integers(1, 5)},
    optional={
        "targetPort": st.sampled_from([9898, "http"]),
        "appProtocol": st.just("http"),
        "trafficDistribution": st.just("PreferClose"),
        "apex": st.fixed_dictionaries({"labels": small_maps, "annotations": small_maps}),
    },
)


@st.composite
def existing_services(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.booleans()):
        return None
    metadata: dict[str, Any] = {"name": "podinfo", "resourceVersion": "7"}
    metadata["labels"] = draw(small_maps)
    metadata["annotations"] = draw(small_maps)
    owner = draw(st.sampled_from([None, UID, "someone-else"]))
    if owner is not None:
        metadata["ownerReferences"] = [{"kind": "Canary", "uid": owner, "controller": True}]
    spec: dict[str, Any] = {"clusterIP": "10.0.0.1", "ports": draw(live_ports)}
    if draw(st.booleans()):
        spec["selector"] = draw(small_maps)
    if draw(st.booleans()):
        spec["trafficDistribution"] = "PreferSameZone"
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


@given(
    existing=existing_services(),
    service=services,
    unmanaged_labels=st.lists(keys, max_size=2),
    unmanaged_annotations=st.lists(keys, max_size=2),
)
def test_reconcile_is_idempotent(
    existing: dict[str, Any] | None,
    service: dict[str, Any],
    unmanaged_labels: list[str],
    unmanaged_annotations: list[str],
) -> None:
    want = desired(service)
    options: dict[str, Any] = {
        "canary_uid": UID,
        "unmanaged_labels": unmanaged_labels,
        "unmanaged_annotations": unmanaged_annotations,
    }
    snapshot = copy.deepcopy(existing)
    first = reconcile_service(existing, want, **options)
    assert existing == snapshot  # inputs are never mutated
    if isinstance(first, Unchanged):
        return
    assert reconcile_service(dict(first.body), want, **options) == Unchanged()
    if existing is not None:
        assert first.body["metadata"]["resourceVersion"] == "7"
        assert first.body["spec"]["clusterIP"] == "10.0.0.1"
