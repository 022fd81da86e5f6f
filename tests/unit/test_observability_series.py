"""The lean per-canary series render exactly as prometheus_client's own metrics do (without
the `_created` samples), and take a fraction of their memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ensign.observability.series import (
    CounterSeries,
    GaugeSeries,
    HistogramSeries,
    SeriesCollector,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OBSERVED = (0.0, 0.005, 0.007, 0.1, 0.3, 2.5, 11.0, 1e9)


def without_created(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if "_created" not in line]


def test_exposition_matches_prometheus_client() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    gauge = Gauge("g", "a gauge", ["name", "namespace"], registry=theirs)
    counter = Counter("c", "a counter", ["name", "namespace"], registry=theirs)
    histogram = Histogram("h_seconds", "a histogram", ["name"], buckets=BUCKETS, registry=theirs)
    g = GaugeSeries("g", "a gauge", ["name", "namespace"])
    c = CounterSeries("c", "a counter", ["name", "namespace"])
    h = HistogramSeries("h_seconds", "a histogram", ["name"], BUCKETS)
    ours.register(SeriesCollector(g, c, h))
    for name in ("a", "b"):
        gauge.labels(name, "ns").set(2)
        g.set((name, "ns"), 2)
        counter.labels(name, "ns").inc()
        counter.labels(name, "ns").inc(2)
        c.inc((name, "ns"))
        c.inc((name, "ns"), 2)
        for value in OBSERVED:
            histogram.labels(name).observe(value)
            h.observe((name,), value)
    gauge.remove("b", "ns")
    g.remove(("b", "ns"))
    assert without_created(generate_latest(ours)) == without_created(generate_latest(theirs))


def test_label_count_and_counter_direction_are_checked() -> None:
    g = GaugeSeries("g", "a gauge", ["name", "namespace"])
    with pytest.raises(ValueError, match="want labels"):
        g.set(("only-one",), 1)
    c = CounterSeries("c", "a counter", ["name"])
    with pytest.raises(ValueError, match="only go up"):
        c.inc(("a",), -1)


def test_a_canary_costs_a_fraction_of_prometheus_client_children() -> None:
    def cost(record: Callable[[], object]) -> int:
        """Bytes still allocated by `record` while what it returned is alive."""
        tracemalloc.start()
        try:
            kept = record()
            size = tracemalloc.get_traced_memory()[0]
            del kept
            return size
        finally:
            tracemalloc.stop()

    names = [(f"app-{i:04d}", f"app-{i:04d}-primary") for i in range(500)]

    def theirs() -> object:
        r = CollectorRegistry()
        status = Gauge("s", "", ["name", "namespace"], registry=r)
        weight = Gauge("w", "", ["workload", "namespace"], registry=r)
        duration = Histogram("d", "", ["name", "namespace"], buckets=BUCKETS, registry=r)
        for target, primary in names:
            status.labels(target, "ns").set(1)
            weight.labels(primary, "ns").set(100)
            weight.labels(target, "ns").set(0)
            duration.labels(target, "ns").observe(0.1)
        return r

    def ours() -> object:
        status = GaugeSeries("s", "", ["name", "namespace"])
        weight = GaugeSeries("w", "", ["workload", "namespace"])
        duration = HistogramSeries("d", "", ["name", "namespace"], BUCKETS)
        for target, primary in names:
            status.set((target, "ns"), 1)
            weight.set((primary, "ns"), 100)
            weight.set((target, "ns"), 0)
            duration.observe((target, "ns"), 0.1)
        return SeriesCollector(status, weight, duration)

    assert cost(ours) * 3 < cost(theirs)
