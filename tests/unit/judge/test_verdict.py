"""Verdict semantics: pass, fail, inconclusive; direction, tolerance, the absolute floor."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from ensign.judge import (
    Direction,
    JudgeSpec,
    JudgeTest,
    Outcome,
    judge_counts,
    judge_samples,
    mann_whitney_u,
)

SAMPLES = JudgeSpec(test=JudgeTest.MANN_WHITNEY)
COUNTS = JudgeSpec(test=JudgeTest.TWO_PROPORTION, min_samples=100, total_query="sum(total)")

# 25 distinct latencies around 180 ms with a realistic spread (median 180).
PRIMARY = [150.0 + 2.5 * i for i in range(25)]


def scaled(values: list[float], factor: float) -> list[float]:
    return [v * factor for v in values]


def test_too_few_canary_samples_is_inconclusive() -> None:
    verdict = judge_samples(PRIMARY[:7], PRIMARY, SAMPLES)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.summary == "inconclusive: 7 canary samples < 20 required"
    assert verdict.p_value is None
    assert (verdict.samples_canary, verdict.samples_primary) == (7, 25)
    assert verdict.statistic_canary == 157.5  # median of the 7 points still reported


def test_too_few_on_both_sides_names_both_counts() -> None:
    verdict = judge_samples(PRIMARY[:7], PRIMARY[:12], SAMPLES)
    assert verdict.summary == "inconclusive: 7 canary and 12 primary samples < 20 required"


def test_no_data_at_all_is_inconclusive_with_nan_statistics() -> None:
    verdict = judge_samples([], [], SAMPLES)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert math.isnan(verdict.statistic_canary) and math.isnan(verdict.statistic_primary)


def test_non_finite_points_are_dropped_before_counting() -> None:
    canary = [*PRIMARY[:19], math.nan, math.inf]
    verdict = judge_samples(canary, PRIMARY, SAMPLES)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.samples_canary == 19
    assert judge_samples([*PRIMARY[:20], math.nan], PRIMARY, SAMPLES).samples_canary == 20


def test_clearly_slower_canary_fails_with_a_readable_summary() -> None:
    canary = scaled(PRIMARY, 1.5)
    verdict = judge_samples(canary, PRIMARY, SAMPLES)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.statistic_canary == 270.0 and verdict.statistic_primary == 180.0
    assert verdict.p_value is not None and verdict.p_value < 0.05
    assert re.fullmatch(
        r"canary median 270 vs primary 180 \(\+50%, tolerance \+10%\), "
        r"p=[0-9.e-]+ < 0\.05: worse",
        verdict.summary,
    ), verdict.summary


def test_the_p_value_is_that_of_canary_against_primary_times_one_plus_tolerance() -> None:
    canary = scaled(PRIMARY, 1.2)
    verdict = judge_samples(canary, PRIMARY, SAMPLES)
    reference = mann_whitney_u(canary, scaled(PRIMARY, 1.1), alternative="greater")
    assert verdict.p_value == reference.p_value


def test_identical_canary_passes() -> None:
    verdict = judge_samples(list(PRIMARY), PRIMARY, SAMPLES)
    assert verdict.outcome is Outcome.PASS
    assert verdict.summary.startswith("canary median 180 vs primary 180 (+0%, tolerance +10%), p=")
    assert verdict.summary.endswith("\u2265 0.05: not significantly worse")


def test_a_shift_within_the_tolerance_passes_and_beyond_it_fails() -> None:
    assert judge_samples(scaled(PRIMARY, 1.08), PRIMARY, SAMPLES).outcome is Outcome.PASS
    assert judge_samples(scaled(PRIMARY, 1.3), PRIMARY, SAMPLES).outcome is Outcome.FAIL
    wide = dataclasses.replace(SAMPLES, tolerance=0.35)
    assert judge_samples(scaled(PRIMARY, 1.3), PRIMARY, wide).outcome is Outcome.PASS
    strict = dataclasses.replace(SAMPLES, tolerance=0.0)
    assert judge_samples(scaled(PRIMARY, 1.08), PRIMARY, strict).outcome is Outcome.FAIL


def test_faster_canary_passes_when_increase_is_bad() -> None:
    verdict = judge_samples(scaled(PRIMARY, 0.5), PRIMARY, SAMPLES)
    assert verdict.outcome is Outcome.PASS
    assert "(-50%, tolerance +10%)" in verdict.summary


def test_decrease_is_bad_mirrors_the_test() -> None:
    spec = dataclasses.replace(SAMPLES, direction=Direction.DECREASE_IS_BAD)
    dropped = judge_samples(scaled(PRIMARY, 0.5), PRIMARY, spec)
    assert dropped.outcome is Outcome.FAIL
    assert "(-50%, tolerance -10%)" in dropped.summary
    assert judge_samples(scaled(PRIMARY, 1.5), PRIMARY, spec).outcome is Outcome.PASS
    assert judge_samples(scaled(PRIMARY, 0.93), PRIMARY, spec).outcome is Outcome.PASS
    reference = mann_whitney_u(scaled(PRIMARY, 0.5), scaled(PRIMARY, 0.9), alternative="less")
    assert dropped.p_value == reference.p_value


def test_confidence_sets_the_level() -> None:
    canary = scaled(PRIMARY, 1.17)
    p = judge_samples(canary, PRIMARY, SAMPLES).p_value
    assert p is not None and 0.01 < p < 0.05  # significant at 95% but not at 99%
    assert judge_samples(canary, PRIMARY, SAMPLES).outcome is Outcome.FAIL
    strict = dataclasses.replace(SAMPLES, confidence=0.99)
    verdict = judge_samples(canary, PRIMARY, strict)
    assert verdict.outcome is Outcome.PASS
    assert "\u2265 0.01: not significantly worse" in verdict.summary


def test_flat_series_with_ties_pass() -> None:
    verdict = judge_samples([0.0] * 30, [0.0] * 30, SAMPLES)
    assert verdict.outcome is Outcome.PASS and verdict.p_value == 1.0
    assert "(+0%, tolerance +10%)" in verdict.summary


def test_judges_refuse_the_other_kind_of_spec() -> None:
    with pytest.raises(ValueError, match="mann-whitney"):
        judge_samples(PRIMARY, PRIMARY, COUNTS)
    with pytest.raises(ValueError, match="two-proportion"):
        judge_counts(1, 100, 1, 100, SAMPLES)
    with pytest.raises(ValueError, match="increase-is-bad"):
        judge_counts(
            1, 100, 1, 100, dataclasses.replace(COUNTS, direction=Direction.DECREASE_IS_BAD)
        )


def test_error_rate_regression_fails() -> None:
    verdict = judge_counts(100, 2000, 20, 2000, COUNTS)
    assert verdict.outcome is Outcome.FAIL
    assert (verdict.statistic_canary, verdict.statistic_primary) == (0.05, 0.01)
    assert (verdict.samples_canary, verdict.samples_primary) == (2000, 2000)
    assert re.fullmatch(
        r"canary 5% bad \(100 of 2000\) vs primary 1% \(20 of 2000\), "
        r"tolerance \+10% or \+0\.1 pt, p=[0-9.e-]+ < 0\.05: worse",
        verdict.summary,
    ), verdict.summary


def test_similar_error_rates_pass() -> None:
    verdict = judge_counts(22, 2000, 20, 2000, COUNTS)
    assert verdict.outcome is Outcome.PASS
    assert verdict.summary.startswith("canary 1.1% bad (22 of 2000) vs primary 1% (20 of 2000)")
    assert verdict.summary.endswith(": not significantly worse")


def test_too_few_events_is_inconclusive() -> None:
    verdict = judge_counts(1, 57, 0, 5000, COUNTS)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.summary == "inconclusive: 57 canary events < 100 required"
    assert verdict.p_value is None
    both = judge_counts(1, 57.5, 0, 12, COUNTS)
    assert both.summary == "inconclusive: 57.5 canary and 12 primary events < 100 required"


def test_floor_keeps_a_few_errors_against_a_clean_primary_from_failing() -> None:
    # 10 errors in 100 000 (0.01%) vs none: far below the 0.1 point floor.
    verdict = judge_counts(10, 100_000, 0, 100_000, COUNTS)
    assert verdict.outcome is Outcome.PASS
    # Without the floor the same data is a significant relative increase over zero.
    no_floor = dataclasses.replace(COUNTS, floor=0.0)
    assert judge_counts(10, 100_000, 0, 100_000, no_floor).outcome is Outcome.FAIL
    # A single error in 100 requests does not fail either way.
    assert judge_counts(1, 100, 0, 1000, COUNTS).outcome is Outcome.PASS


def test_floor_does_not_hide_a_real_regression_from_zero() -> None:
    verdict = judge_counts(400, 100_000, 0, 100_000, COUNTS)  # 0.4% vs 0%
    assert verdict.outcome is Outcome.FAIL


def test_relative_tolerance_dominates_at_high_error_rates() -> None:
    # 10.5% vs 10% on ten million requests each: significant, but within +10% relative.
    verdict = judge_counts(1_050_000, 10_000_000, 1_000_000, 10_000_000, COUNTS)
    assert verdict.outcome is Outcome.PASS
    strict = dataclasses.replace(COUNTS, tolerance=0.0)
    assert (
        judge_counts(1_050_000, 10_000_000, 1_000_000, 10_000_000, strict).outcome is Outcome.FAIL
    )


def test_p_value_is_the_larger_of_the_relative_and_absolute_tests() -> None:
    from ensign.judge import two_proportion_z

    relative = two_proportion_z(30, 1000, 10, 1000, ratio=1.1, alternative="greater")
    absolute = two_proportion_z(30, 1000, 10, 1000, margin=0.001, alternative="greater")
    verdict = judge_counts(30, 1000, 10, 1000, COUNTS)
    assert verdict.p_value == max(relative.p_value, absolute.p_value)
    assert relative.p_value != absolute.p_value


def test_fractional_counts_from_increase_are_accepted() -> None:
    verdict = judge_counts(99.6, 2000.4, 20.2, 1999.9, COUNTS)
    assert verdict.outcome is Outcome.FAIL
    assert "(99.6 of 2000.4)" in verdict.summary
    assert verdict.samples_canary == 2000


def test_extrapolation_excess_is_clamped_but_a_mismatch_is_inconclusive() -> None:
    clamped = judge_counts(1000.5, 1000, 10, 1000, COUNTS)
    assert clamped.outcome is Outcome.FAIL
    assert clamped.statistic_canary == 1.0
    mismatch = judge_counts(1500, 1000, 10, 1000, COUNTS)
    assert mismatch.outcome is Outcome.INCONCLUSIVE
    assert mismatch.summary == (
        "inconclusive: canary bad-event count 1500 exceeds its total 1000; "
        "the two queries must count the same events"
    )


def test_unusable_counts_are_inconclusive() -> None:
    verdict = judge_counts(math.nan, 1000, 10, 1000, COUNTS)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.summary == (
        "inconclusive: counts are not usable numbers (canary and primary: nan, 1000, 10, 1000)"
    )
    assert math.isnan(verdict.statistic_canary) and verdict.statistic_primary == 0.01
    assert judge_counts(-1, 1000, 10, 1000, COUNTS).outcome is Outcome.INCONCLUSIVE
