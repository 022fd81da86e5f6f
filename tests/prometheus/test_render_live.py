"""A MetricTemplate-style query rendered from a Canary and run against the real Prometheus."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ensign.metricproviders.base import NoData
from ensign.metricproviders.prometheus import PrometheusProvider
from ensign.model import (
    Canary,
    CanarySpec,
    MetricCheck,
    ObjectRef,
    ServiceSpec,
    TargetKind,
    TargetRef,
)
from ensign.queries import Observer, query_model, render
from tests.prometheus.series import INGRESS, ROUTE, SERVICE, TARGET, expected_traffic, namespace

NOW = datetime.now(UTC)
TEMPLATE = """
{{- /* the canary's success rate, as a MetricTemplate would spell it */ -}}
sum(
  rate(istio_requests_total{
    reporter="{{ variables.reporter }}",
    destination_workload_namespace="{{ namespace }}",
    destination_workload=~"{{ target }}",
    response_code!~"5.*"
  }[{{ interval }}])
)
/
sum(
  rate(istio_requests_total{
    reporter="{{variables.reporter}}",
    destination_workload_namespace="{{namespace}}",
    destination_workload=~"{{target}}"
  }[{{interval}}])
) * 100
"""


def canary() -> Canary:
    return Canary(
        name=TARGET,
        namespace=namespace(Observer.ISTIO),
        spec=CanarySpec(
            target_ref=TargetRef(api_version="apps/v1", kind=TargetKind.DEPLOYMENT, name=TARGET),
            service=ServiceSpec(port=9898, target_port=9898, name=SERVICE),
            ingress_ref=ObjectRef(api_version="networking.k8s.io/v1", kind="Ingress", name=INGRESS),
            route_ref=ObjectRef(
                api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute", name=ROUTE
            ),
        ),
    )


def check(reporter: str) -> MetricCheck:
    return MetricCheck(name="success", interval="1m", template_variables={"reporter": reporter})


async def test_a_rendered_template_measures_the_canary(provider: PrometheusProvider) -> None:
    query = render(TEMPLATE, query_model(canary(), check("destination")))
    assert query.startswith("sum(\n")  # the comment and the newline before it are trimmed
    assert await provider.value(query, now=NOW) == expected_traffic(Observer.ISTIO).success_rate


async def test_the_primary_model_measures_the_primary(provider: PrometheusProvider) -> None:
    query = render(TEMPLATE, query_model(canary(), check("destination"), primary=True))
    assert await provider.value(query, now=NOW) == 50.0


async def test_template_variables_select_the_series(provider: PrometheusProvider) -> None:
    # Only 500s are reported by the source side: no successful series, so no data.
    query = render(TEMPLATE, query_model(canary(), check("source")))
    with pytest.raises(NoData):
        await provider.value(query, now=NOW)
