"""The judge's verdict on one metric: is the canary significantly worse than the primary? Pure.

Both judges test a one-sided null hypothesis "the canary is no worse than the primary allows"
and fail the canary only when the data reject it at level 1 - confidence. Failing to reject is
a pass: the judge is a guard against regressions, so the burden of proof is on "worse", and the
false-positive rate (healthy canaries rolled back) stays at most 1 - confidence.

Samples are assumed independent. Points of a range query whose `rate()` windows overlap are
correlated, which makes any rank test over-confident: query the series with a step at least as
long as the rate window (`ensign.dev/judge-step`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ensign.judge.declaration import Direction, JudgeSpec, JudgeTest
from ensign.judge.statistics import mann_whitney_u, two_proportion_z

COUNT_SLACK = 0.01
"""Relative excess of a bad count over its total that is put down to extrapolation and clamped.

Prometheus `increase()` extrapolates each series on its own, so with (nearly) every request
failing the bad count can come out slightly above the total; a larger excess means the two
queries do not count the same events, and the verdict is inconclusive.
"""


class Outcome(StrEnum):
    """PASS: not significantly worse. FAIL: significantly worse. INCONCLUSIVE: too little data."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One judgement. Statistics are medians (mann-whitney) or bad-event proportions
    (two-proportion); samples are series points or total events per side; `p_value` is None
    when the judge did not test (inconclusive)."""

    outcome: Outcome
    statistic_canary: float
    statistic_primary: float
    p_value: float | None
    samples_canary: int
    samples_primary: int
    summary: str


def judge_samples(canary: Sequence[float], primary: Sequence[float], spec: JudgeSpec) -> Verdict:
    """Mann-Whitney judgement of two series of samples (e.g. p99 latency every 10 s).

    With increase-is-bad the canary fails when its samples are significantly greater than the
    primary's scaled by (1 + tolerance): one-sided U test of canary against primary * (1 + t), so
    a shift within the tolerance is, by construction, never significant beyond the set level.
    decrease-is-bad mirrors it with primary * (1 - t) and the "less" alternative.
    Non-finite points (NaN from an empty histogram) are dropped before counting samples.
    """
    if spec.test is not JudgeTest.MANN_WHITNEY:
        raise ValueError(f"judge_samples needs a mann-whitney spec, got {spec.test}")
    canary_values = [float(v) for v in canary if math.isfinite(v)]
    primary_values = [float(v) for v in primary if math.isfinite(v)]
    median_canary = statistics.median(canary_values) if canary_values else math.nan
    median_primary = statistics.median(primary_values) if primary_values else math.nan
    shortfall = _shortfall(
        len(canary_values), len(primary_values), spec.min_samples, noun="samples"
    )
    if shortfall:
        return Verdict(
            outcome=Outcome.INCONCLUSIVE,
            statistic_canary=median_canary,
            statistic_primary=median_primary,
            p_value=None,
            samples_canary=len(canary_values),
            samples_primary=len(primary_values),
            summary=shortfall,
        )
    increase = spec.direction is Direction.INCREASE_IS_BAD
    factor = 1.0 + spec.tolerance if increase else 1.0 - spec.tolerance
    result = mann_whitney_u(
        canary_values,
        [value * factor for value in primary_values],
        alternative="greater" if increase else "less",
    )
    worse = result.p_value < spec.alpha
    sign = "+" if increase else "-"
    summary = (
        f"canary median {_number(median_canary)} vs primary {_number(median_primary)} "
        f"({_change(median_canary, median_primary)}, tolerance {sign}{_percent(spec.tolerance)}), "
        f"{_significance(result.p_value, spec.alpha, worse)}"
    )
    return Verdict(
        outcome=Outcome.FAIL if worse else Outcome.PASS,
        statistic_canary=median_canary,
        statistic_primary=median_primary,
        p_value=result.p_value,
        samples_canary=len(canary_values),
        samples_primary=len(primary_values),
        summary=summary,
    )


def judge_counts(
    canary_bad: float,
    canary_total: float,
    primary_bad: float,
    primary_total: float,
    spec: JudgeSpec,
) -> Verdict:
    """Two-proportion judgement of bad-event counts (e.g. 5xx responses out of all requests).

    The canary fails only when its bad-event proportion is significantly above BOTH
    (1 + tolerance) * primary proportion AND primary proportion + floor, i.e. above whichever
    allowance is larger. Each is a one-sided z test at level 1 - confidence and p is the larger
    of the two p-values (an intersection-union test, which keeps the level without correction).

    Why a floor: significance grows with traffic. At 100 000 requests per side, 10 canary errors
    (0.01%) against none on the primary is a highly significant relative increase, and a
    relative tolerance of a zero rate allows nothing, yet nobody wants a rollback for it. The
    absolute allowance (`ensign.dev/judge-floor`, default 0.001 = 0.1 percentage point) makes
    such noise pass while a real regression (1% to 5%) still fails on both tests.
    """
    if spec.test is not JudgeTest.TWO_PROPORTION:
        raise ValueError(f"judge_counts needs a two-proportion spec, got {spec.test}")
    if spec.direction is not Direction.INCREASE_IS_BAD:
        raise ValueError("two-proportion judges bad events: direction must be increase-is-bad")
    counts = (canary_bad, canary_total, primary_bad, primary_total)
    if not all(math.isfinite(c) and c >= 0 for c in counts):
        listed = ", ".join(_count(c) for c in counts)
        return _inconclusive_counts(
            counts, f"inconclusive: counts are not usable numbers (canary and primary: {listed})"
        )
    shortfall = _shortfall(canary_total, primary_total, spec.min_samples, noun="events")
    if shortfall:
        return _inconclusive_counts(counts, shortfall)
    for side, bad, total in (
        ("canary", canary_bad, canary_total),
        ("primary", primary_bad, primary_total),
    ):
        if bad > total * (1.0 + COUNT_SLACK):
            return _inconclusive_counts(
                counts,
                f"inconclusive: {side} bad-event count {_count(bad)} exceeds its total "
                f"{_count(total)}; the two queries must count the same events",
            )
    canary_bad = min(canary_bad, canary_total)
    primary_bad = min(primary_bad, primary_total)
    relative = two_proportion_z(
        canary_bad,
        canary_total,
        primary_bad,
        primary_total,
        ratio=1.0 + spec.tolerance,
        alternative="greater",
    )
    absolute = two_proportion_z(
        canary_bad,
        canary_total,
        primary_bad,
        primary_total,
        margin=spec.floor,
        alternative="greater",
    )
    p_value = max(relative.p_value, absolute.p_value)
    worse = p_value < spec.alpha
    summary = (
        f"canary {_percent(relative.p_a)} bad ({_count(canary_bad)} of {_count(canary_total)}) "
        f"vs primary {_percent(relative.p_b)} ({_count(primary_bad)} of {_count(primary_total)}), "
        f"tolerance +{_percent(spec.tolerance)} or +{_number(spec.floor * 100)} pt, "
        f"{_significance(p_value, spec.alpha, worse)}"
    )
    return Verdict(
        outcome=Outcome.FAIL if worse else Outcome.PASS,
        statistic_canary=relative.p_a,
        statistic_primary=relative.p_b,
        p_value=p_value,
        samples_canary=round(canary_total),
        samples_primary=round(primary_total),
        summary=summary,
    )


def _inconclusive_counts(counts: tuple[float, float, float, float], summary: str) -> Verdict:
    canary_bad, canary_total, primary_bad, primary_total = counts
    return Verdict(
        outcome=Outcome.INCONCLUSIVE,
        statistic_canary=_proportion(canary_bad, canary_total),
        statistic_primary=_proportion(primary_bad, primary_total),
        p_value=None,
        samples_canary=round(canary_total) if math.isfinite(canary_total) else 0,
        samples_primary=round(primary_total) if math.isfinite(primary_total) else 0,
        summary=summary,
    )


def _proportion(bad: float, total: float) -> float:
    if math.isfinite(bad) and math.isfinite(total) and total > 0 and bad >= 0:
        return min(bad, total) / total
    return math.nan


def _shortfall(canary: float, primary: float, required: int, *, noun: str) -> str:
    """The inconclusive summary when either side has too little data, or "" when both suffice."""
    short = [(side, n) for side, n in (("canary", canary), ("primary", primary)) if n < required]
    if not short:
        return ""
    if len(short) == 2:
        counted = f"{_count(canary)} canary and {_count(primary)} primary"
    else:
        counted = f"{_count(short[0][1])} {short[0][0]}"
    return f"inconclusive: {counted} {noun} < {required} required"


def _significance(p_value: float, alpha: float, worse: bool) -> str:
    if worse:
        return f"p={p_value:.3g} < {alpha:g}: worse"
    return f"p={p_value:.3g} \u2265 {alpha:g}: not significantly worse"


def _change(canary: float, primary: float) -> str:
    if primary == 0:
        return "+0%" if canary == 0 else "primary is 0"
    change = (canary - primary) / abs(primary)
    return f"{'+' if change >= 0 else '-'}{_percent(abs(change))}"


def _percent(fraction: float) -> str:
    return f"{_number(fraction * 100)}%"


def _number(value: float) -> str:
    """Three significant digits, without exponent for everyday magnitudes."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if 1e-3 <= abs(value) < 1e6:
        digits = max(0, 2 - math.floor(math.log10(abs(value))))
        text = f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value:.3g}"


def _count(value: float) -> str:
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return f"{value:.1f}" if math.isfinite(value) else str(value)
