"""The builtin query table and unit conversion (the PromQL itself is proven against a real
Prometheus in tests/prometheus/test_builtin_live.py)."""

from __future__ import annotations

import math

import pytest

from ensign.queries import (
    BUILTIN_QUERIES,
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    Observer,
    QueryModel,
    builtin_query,
    duration_to_ms,
)

MODEL = QueryModel("web", "team.a", "web-app", "web-svc", "web.ing", "web-00001", "45s", {})


def test_every_observer_has_both_queries() -> None:
    assert set(BUILTIN_QUERIES) == set(Observer)


@pytest.mark.parametrize("observer", list(Observer))
@pytest.mark.parametrize("metric", [REQUEST_SUCCESS_RATE, REQUEST_DURATION])
def test_every_query_renders_with_the_interval_and_no_leftover_action(
    observer: Observer, metric: str
) -> None:
    query = builtin_query(observer, metric, MODEL)
    assert "{{" not in query and "}}" not in query
    assert "[45s]" in query
    assert query.count("(") == query.count(")")


def test_success_rates_are_percentages_of_non_5xx() -> None:
    for observer in Observer:
        query = builtin_query(observer, REQUEST_SUCCESS_RATE, MODEL)
        assert query.endswith(" * 100"), observer
        numerator = query.split(" / ")[0]
        assert '!~"5.' in numerator or 'classification!="failure"' in numerator, observer


def test_skipper_spells_names_with_underscores() -> None:
    query = builtin_query(Observer.SKIPPER, REQUEST_SUCCESS_RATE, MODEL)
    assert 'route=~"kube(ew)?_team_a__web_ing_canary__.*__web_svc_canary(_[0-9]+)?"' in query


def test_other_observers_keep_names_as_they_are() -> None:
    assert 'destination_workload_namespace="team.a"' in builtin_query(
        Observer.ISTIO, REQUEST_SUCCESS_RATE, MODEL
    )
    assert 'ingress="web.ing"' in builtin_query(Observer.NGINX, REQUEST_SUCCESS_RATE, MODEL)
    assert 'envoy_cluster_name=~"team.a/web-00001"' in builtin_query(
        Observer.KNATIVE, REQUEST_DURATION, MODEL
    )


def test_an_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="request-errors"):
        builtin_query(Observer.ISTIO, "request-errors", MODEL)


@pytest.mark.parametrize(
    ("observer", "value", "ms"),
    [
        (Observer.HTTP, 0.2485, 248.0),
        (Observer.HTTP, 1.5, 1500.0),
        (Observer.ISTIO, 248.99, 248.0),
        (Observer.NGINX, 250.0, 250.0),
        (Observer.SKIPPER, 0.9, 0.0),
        (Observer.TRAEFIK, 1999.999, 1999.0),
        (Observer.LINKERD, -1.5, -1.0),
    ],
)
def test_durations_become_whole_milliseconds(observer: Observer, value: float, ms: float) -> None:
    assert duration_to_ms(observer, value) == ms


def test_an_infinite_duration_stays_infinite() -> None:
    assert duration_to_ms(Observer.HTTP, math.inf) == math.inf


def test_only_the_http_observer_answers_in_seconds() -> None:
    in_seconds = {
        observer for observer, queries in BUILTIN_QUERIES.items() if queries.duration_to_ms != 1.0
    }
    assert in_seconds == {Observer.HTTP}
