"""provider: kubernetes runs every canary as Blue/Green and names the fields it ignores."""

from __future__ import annotations

from typing import Any

from ensign.model import parse_canary


def canary(analysis: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "provider": "kubernetes",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "service": {"port": 9898},
            "analysis": analysis,
        },
    }


def test_step_weight_on_kubernetes_parses_with_a_warning_and_ten_iterations() -> None:
    parsed = parse_canary(
        canary({"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10})
    )
    assert [str(w) for w in parsed.spec.warnings] == [
        "spec.analysis.stepWeight: ignored: the kubernetes provider only runs Blue/Green; "
        "running 10 iterations",
        "spec.analysis.maxWeight: ignored: the kubernetes provider only runs Blue/Green",
    ]
    assert parsed.spec.blue_green_iterations == 10


def test_match_on_kubernetes_is_a_warning_not_an_error() -> None:
    parsed = parse_canary(
        canary(
            {
                "interval": "1m",
                "threshold": 5,
                "iterations": 4,
                "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
            }
        )
    )
    assert [str(w) for w in parsed.spec.warnings] == [
        "spec.analysis.match: ignored: the kubernetes provider only runs Blue/Green"
    ]
    assert parsed.spec.blue_green_iterations == 4


def test_plain_blue_green_on_kubernetes_has_no_warnings() -> None:
    parsed = parse_canary(canary({"interval": "1m", "threshold": 5, "iterations": 3}))
    assert parsed.spec.warnings == ()
