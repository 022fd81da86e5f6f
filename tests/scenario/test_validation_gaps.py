"""What Flagger accepts silently and Ensign flags, naming the field, on a running controller
(the model-level gaps — stepWeight above maxWeight, templateRef names — are corpus cases in
tests/unit/model/invalid_canaries.yaml)."""

from __future__ import annotations

from typing import Any

from ensign.testing import manifests as m
from ensign.testing.harness import Harness

NS = "test"


def condition(h: Harness, kind: str) -> dict[str, Any]:
    conditions = (h.canary(NS, "podinfo").get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


async def test_an_interval_below_the_floor_is_a_warning_with_the_value_in_force() -> None:
    async with Harness(min_interval=0.5) as h:
        await h.apply(m.namespace(NS), m.deployment(), m.canary(interval="100ms"))
        await h.wait_phase(NS, "podinfo", "Initialized")
        warning = condition(h, "Warning")
        assert warning.get("status") == "True"
        assert warning["message"] == (
            "spec.analysis.interval: 100ms is below the controller's minimum of 500ms;"
            " the analysis runs every 500ms"
        )


async def test_a_metric_template_that_is_not_a_valid_template_is_named_at_once() -> None:
    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "errors", "namespace": NS},
        "spec": {
            "provider": {"type": "prometheus", "address": "http://127.0.0.1:1"},
            "query": 'sum(rate(requests{namespace="{{ namespace }}"}[{{ interval ]))',
        },
    }
    metric = {"name": "errors", "templateRef": {"name": "errors"}, "thresholdRange": {"max": 1}}
    canary = m.with_analysis(m.canary(), metrics=[metric])
    async with Harness() as h:
        await h.apply(m.namespace(NS), m.deployment(), template, canary)
        await h.wait_for(
            lambda: "not a valid template" in condition(h, "Ready").get("message", ""),
            what="the template error",
        )
        message = condition(h, "Ready")["message"]
        assert message.startswith(
            "spec.analysis.metrics[0].templateRef: MetricTemplate test/errors:"
            " spec.query is not a valid template:"
        )
        assert h.get("Deployment", NS, "podinfo-primary") is None  # nothing touched yet
