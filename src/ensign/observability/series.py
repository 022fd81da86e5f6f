"""Labelled series kept as plain values, rendered only when scraped.

prometheus_client keeps one child object per label set, each with a lock and a value object
per sample (a histogram child: one per bucket): about 2.8 KiB per canary for Flagger's status,
weight and counter series, 3.4 KiB more for the duration histogram. A controller of thousands
of canaries keeps them all, so the per-canary families store a float (or a short list of
bucket counts) per label set here, and a collector turns them into metric families at scrape
time. The exposition is the same as prometheus_client's (no `_created` samples, as Flagger's
Go client has none).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]


def _go_float(value: float) -> str:
    """A bucket bound as Go's client writes it (prometheus_client's own formatting)."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


class _Family:
    kind = "untyped"

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.label_names = tuple(labels)

    def _check(self, labels: Labels) -> Labels:
        if len(labels) != len(self.label_names):
            raise ValueError(f"{self.name}: want labels {self.label_names}, got {labels}")
        return labels

    def describe(self) -> Metric:
        raise NotImplementedError

    def collect(self) -> Metric:
        raise NotImplementedError


class GaugeSeries(_Family):
    """A gauge per label set."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        super().__init__(name, documentation, labels)
        self.values: dict[Labels, float] = {}

    def set(self, labels: Labels, value: float) -> None:
        self.values[self._check(labels)] = float(value)

    def remove(self, labels: Labels) -> None:
        self.values.pop(labels, None)

    def describe(self) -> Metric:
        return GaugeMetricFamily(self.name, self.documentation, labels=self.label_names)

    def collect(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.label_names)
        for labels, value in self.values.items():
            family.add_metric(labels, value)
        return family


class CounterSeries(GaugeSeries):
    """A counter per label set (exposed as `<name>_total`)."""

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(f"{self.name}: counters only go up")
        key = self._check(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def describe(self) -> Metric:
        return CounterMetricFamily(self.name, self.documentation, labels=self.label_names)

    def collect(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.label_names)
        for labels, value in self.values.items():
            family.add_metric(labels, value)
        return family


class HistogramSeries(_Family):
    """A histogram per label set: a list of per-bucket counts (the last is +Inf) and the sum."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Iterable[float]
    ) -> None:
        super().__init__(name, documentation, labels)
        bounds = sorted(float(b) for b in buckets)
        if not bounds or any(math.isnan(b) for b in bounds):
            raise ValueError(f"{self.name}: buckets must be numbers")
        self.bounds = tuple(b for b in bounds if b != math.inf)
        self.bound_texts = (*(_go_float(b) for b in self.bounds), "+Inf")
        self.values: dict[Labels, list[float]] = {}

    def observe(self, labels: Labels, value: float) -> None:
        key = self._check(labels)
        counts = self.values.get(key)
        if counts is None:
            counts = self.values[key] = [0.0] * (len(self.bounds) + 2)  # buckets, +Inf, sum
        counts[bisect.bisect_left(self.bounds, value)] += 1
        counts[-1] += value

    def remove(self, labels: Labels) -> None:
        self.values.pop(labels, None)

    def describe(self) -> Metric:
        return HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)

    def collect(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.label_names)
        for labels, counts in self.values.items():
            cumulative, buckets = 0.0, []
            for text, count in zip(self.bound_texts, counts, strict=False):
                cumulative += count
                buckets.append((text, cumulative))
            family.add_metric(list(labels), buckets, counts[-1])
        return family


class SeriesCollector:
    """Registers families with a prometheus_client registry; renders them when scraped."""

    def __init__(self, *families: _Family) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.collect()

    def describe(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.describe()
