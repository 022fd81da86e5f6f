"""Alert texts, severities and fields are Flagger's, word for word (§6.3)."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.alerting import AlertKind, alert_message, severity_of
from ensign.model import Severity

from .conftest import make_canary

METADATA = (
    ("Target", "Deployment/podinfo.test"),
    ("Failed checks threshold", "5"),
    ("Progress deadline", "120s"),
    ("Traffic routing", "Weight step: 10 max: 50"),
)


@pytest.mark.parametrize(
    ("kind", "detail", "text", "severity"),
    [
        (AlertKind.INITIALIZED, "", "New Deployment detected, initialization completed.", "info"),
        (
            AlertKind.NEW_REVISION,
            "",
            "New revision detected, progressing canary analysis.",
            "info",
        ),
        (AlertKind.WAITING_ROLLOUT, "", "Canary is waiting for approval.", "warn"),
        (AlertKind.WAITING_PROMOTION, "", "Canary promotion is waiting for approval.", "warn"),
        (
            AlertKind.WAITING_TRAFFIC,
            "",
            "Canary traffic increase is waiting for approval.",
            "warn",
        ),
        (AlertKind.MANUAL_ROLLBACK, "", "Rolling back manual webhook invoked", "warn"),
        (AlertKind.THRESHOLD_ROLLBACK, "5", "Failed checks threshold reached 5", "error"),
        (
            AlertKind.FAILED_PROMOTION,
            "deployment podinfo-primary not ready",
            "Promotion failed, primary not ready: deployment podinfo-primary not ready",
            "error",
        ),
        (
            AlertKind.SUCCEEDED,
            "",
            "Canary analysis completed successfully, promotion finished.",
            "info",
        ),
        (
            AlertKind.SKIPPED_SUCCEEDED,
            "",
            "Canary analysis was skipped, promotion finished.",
            "info",
        ),
        (
            AlertKind.PROGRESS_DEADLINE,
            "podinfo.test exceeded its progress deadline",
            "Progress deadline exceeded podinfo.test exceeded its progress deadline",
            "error",
        ),
        (
            AlertKind.ANALYSIS_FAILED,
            "aborted",
            "Canary analysis failed, rolling back: aborted",
            "error",
        ),
    ],
)
def test_every_kind_has_flaggers_text_and_severity(
    kind: AlertKind, detail: str, text: str, severity: str
) -> None:
    msg = alert_message(kind, make_canary(), target_kind="Deployment", detail=detail)
    assert msg.message == text
    assert msg.severity is Severity(severity)
    assert severity_of(kind) is Severity(severity)
    assert (msg.name, msg.namespace) == ("podinfo", "test")


def test_only_initialized_and_new_revision_carry_metadata() -> None:
    canary = make_canary()
    with_metadata = {
        kind
        for kind in AlertKind
        if alert_message(kind, canary, target_kind="Deployment", detail="x").fields
    }
    assert with_metadata == {AlertKind.INITIALIZED, AlertKind.NEW_REVISION}
    msg = alert_message(AlertKind.NEW_REVISION, canary, target_kind="Deployment")
    assert msg.fields == METADATA


def test_cluster_field_comes_first_on_every_alert_when_set() -> None:
    canary = make_canary()
    plain = alert_message(
        AlertKind.SUCCEEDED, canary, target_kind="Deployment", cluster_name="prod-eu"
    )
    assert plain.fields == (("Cluster", "prod-eu"),)
    rich = alert_message(
        AlertKind.INITIALIZED, canary, target_kind="DaemonSet", cluster_name="prod-eu"
    )
    assert rich.message == "New DaemonSet detected, initialization completed."
    assert rich.fields[0] == ("Cluster", "prod-eu")
    assert rich.fields[1] == ("Target", "DaemonSet/podinfo.test")
    assert len(rich.fields) == 5


@pytest.mark.parametrize(
    ("analysis", "routing"),
    [
        ({"stepWeight": 10, "maxWeight": 50}, "Weight step: 10 max: 50"),
        ({"stepWeight": 20}, "Weight step: 20 max: 100"),
        ({"stepWeights": [5, 20, 40]}, "Weight steps: 5,20,40 max: 40"),
        (
            {"iterations": 4, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]},
            "A/B Testing",
        ),
        ({"iterations": 4}, "Blue/Green"),
    ],
)
def test_traffic_routing_field_has_four_forms(analysis: dict[str, Any], routing: str) -> None:
    msg = alert_message(AlertKind.INITIALIZED, make_canary(**analysis), target_kind="Deployment")
    assert dict(msg.fields)["Traffic routing"] == routing


def test_missing_detail_leaves_no_dangling_punctuation() -> None:
    canary = make_canary()
    failed = alert_message(AlertKind.FAILED_PROMOTION, canary, target_kind="Deployment")
    assert failed.message == "Promotion failed, primary not ready"
    threshold = alert_message(AlertKind.THRESHOLD_ROLLBACK, canary, target_kind="Deployment")
    assert threshold.message == "Failed checks threshold reached"
