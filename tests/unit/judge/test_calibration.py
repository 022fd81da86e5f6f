"""Statistical behaviour of the judge at default settings, over seeded synthetic runs.

Bounds: the false-positive rate must stay within 1 - confidence plus a margin of about three
binomial standard deviations for the number of runs (sqrt(0.05 * 0.95 / 1000) ~ 0.007), and the
false-negative rate for a clear regression (+50% latency, 1% -> 5% errors) must be at most 5%.
"""

from __future__ import annotations

import dataclasses
import random
import statistics

from ensign.judge import Direction
from ensign.judge.calibration import (
    DEFAULT_MANN_WHITNEY,
    DEFAULT_TWO_PROPORTION,
    binomial,
    mann_whitney_rates,
    two_proportion_rates,
)

ALPHA = 1 - 0.95
RUNS = 1000


def test_mann_whitney_defaults_rarely_fail_healthy_and_catch_a_50_percent_regression() -> None:
    rates = mann_whitney_rates(runs=RUNS, seed=1)
    assert rates.runs == RUNS
    assert rates.false_positive <= ALPHA + 0.01
    assert rates.false_negative <= 0.05


def test_mann_whitney_at_the_edge_of_the_tolerance_fails_about_alpha() -> None:
    rates = mann_whitney_rates(runs=RUNS, seed=2, healthy_factor=1.1)
    assert rates.false_positive <= ALPHA + 0.02
    # The test is not needlessly conservative either: at the edge it does reject near alpha.
    assert rates.false_positive >= ALPHA - 0.025


def test_mann_whitney_decrease_is_bad_mirrors_the_rates() -> None:
    spec = dataclasses.replace(DEFAULT_MANN_WHITNEY, direction=Direction.DECREASE_IS_BAD)
    # Healthy canary at 0.9x the primary: exactly the edge of the -10% tolerance.
    rates = mann_whitney_rates(spec, runs=500, seed=3, healthy_factor=1 / 0.9)
    assert rates.false_positive <= ALPHA + 0.025
    assert rates.false_negative <= 0.05


def test_mann_whitney_at_the_minimum_sample_count_still_has_power() -> None:
    rates = mann_whitney_rates(n=DEFAULT_MANN_WHITNEY.min_samples, runs=500, seed=4)
    assert rates.false_positive <= ALPHA + 0.01
    assert rates.false_negative <= 0.10  # 20 points per side: about 93% power for +50%


def test_two_proportion_defaults_rarely_fail_healthy_and_catch_1_to_5_percent() -> None:
    rates = two_proportion_rates(runs=RUNS, seed=1)
    assert rates.false_positive <= ALPHA + 0.01
    assert rates.false_negative <= 0.05


def test_two_proportion_at_the_edge_of_the_tolerance_fails_about_alpha() -> None:
    rates = two_proportion_rates(runs=RUNS, seed=2, healthy=0.01 * 1.1)
    assert rates.false_positive <= ALPHA + 0.02
    assert rates.false_positive >= ALPHA - 0.025


def test_rates_are_deterministic_for_a_seed() -> None:
    first = two_proportion_rates(runs=200, seed=9, worse=0.015)
    assert two_proportion_rates(runs=200, seed=9, worse=0.015) == first
    assert 0.0 < first.false_negative < 1.0  # a weak regression: some caught, some missed


def test_binomial_draws_have_the_right_mean_and_variance() -> None:
    rng = random.Random(12)
    for trials, p in ((2000, 0.01), (500, 0.3), (50, 0.9)):
        draws = [binomial(rng, trials, p) for _ in range(4000)]
        assert all(0 <= d <= trials for d in draws)
        mean, variance = trials * p, trials * p * (1 - p)
        # Standard error of the mean is sqrt(variance / 4000); allow 4 of them.
        assert abs(statistics.fmean(draws) - mean) < 4 * (variance / 4000) ** 0.5
        assert abs(statistics.variance(draws) / variance - 1) < 0.1
    assert binomial(rng, 10, 0.0) == 0
    assert binomial(rng, 10, 1.0) == 10


def test_default_specs_match_what_the_annotations_declare() -> None:
    from ensign.judge import JUDGE, JUDGE_TOTAL_QUERY, parse_judge

    assert parse_judge({JUDGE: "mann-whitney"}) == DEFAULT_MANN_WHITNEY
    declared = parse_judge({JUDGE: "two-proportion", JUDGE_TOTAL_QUERY: "synthetic"})
    assert declared == DEFAULT_TWO_PROPORTION
