"""Exactness of the Mann-Whitney U and two-proportion z tests.

References are independent of the code under test: brute-force enumeration of rank
arrangements, published outputs (scipy's and ClickHouse's documentation), hand computations
with closed forms, and a pairwise O(n*m) re-derivation of the normal approximation using
`statistics.NormalDist` instead of `math.erfc`.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
import time
from collections import Counter

import pytest

from ensign.judge.statistics import (
    exact_u_distribution,
    mann_whitney_u,
    normal_sf,
    two_proportion_z,
)

NORMAL = statistics.NormalDist()

# scipy.stats.mannwhitneyu documentation example (ages at diagnosis of type II diabetes):
# mannwhitneyu(males, females, method="exact") -> statistic=17.0, pvalue=0.1111111111111111 and
# method="asymptotic" -> pvalue=0.11134688653314041.
MALES = [19, 22, 16, 29, 24]
FEMALES = [20, 11, 17, 12]


def brute_force_counts(n_x: int, n_y: int) -> list[int]:
    """U for every choice of x's ranks among 1..n_x+n_y, tallied."""
    tally: Counter[int] = Counter()
    for ranks in itertools.combinations(range(1, n_x + n_y + 1), n_x):
        tally[sum(ranks) - n_x * (n_x + 1) // 2] += 1
    return [tally[u] for u in range(n_x * n_y + 1)]


def pairwise_u(x: list[float], y: list[float]) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


@pytest.mark.parametrize(
    ("n_x", "n_y"), [(1, 1), (1, 6), (2, 2), (3, 4), (5, 4), (4, 5), (6, 6), (4, 9), (7, 5)]
)
def test_exact_distribution_matches_brute_force_enumeration(n_x: int, n_y: int) -> None:
    assert list(exact_u_distribution(n_x, n_y)) == brute_force_counts(n_x, n_y)


def test_exact_distribution_of_twenty_by_twenty_is_symmetric_and_complete() -> None:
    counts = exact_u_distribution(20, 20)
    assert len(counts) == 401
    assert sum(counts) == math.comb(40, 20)
    assert counts == counts[::-1]
    assert counts[0] == 1 and counts[1] == 1 and counts[2] == 2


def test_scipy_documentation_example_exact() -> None:
    two_sided = mann_whitney_u(MALES, FEMALES, alternative="two-sided")
    assert two_sided.u == 17.0
    assert two_sided.method == "exact"
    assert two_sided.p_value == pytest.approx(0.1111111111111111, rel=1e-15)
    # By hand: U >= 17 happens for 7 of the C(9,4) = 126 arrangements (U_y <= 3: 1+1+2+3).
    assert mann_whitney_u(MALES, FEMALES, alternative="greater").p_value == pytest.approx(7 / 126)
    # "less": P(U <= 17) = 1 - P(U >= 18) = 1 - 4/126.
    assert mann_whitney_u(MALES, FEMALES, alternative="less").p_value == pytest.approx(122 / 126)


def test_scipy_documentation_example_asymptotic() -> None:
    result = mann_whitney_u(MALES, FEMALES, alternative="two-sided", method="normal")
    assert result.method == "normal"
    assert result.u == 17.0
    assert result.p_value == pytest.approx(0.11134688653314041, rel=1e-12)


def test_clickhouse_documentation_example_normal_with_continuity() -> None:
    # ClickHouse mannWhitneyUTest('greater') docs: samples 10,11,12 vs 1,2,3 -> (9, 0.04042779918503192),
    # a normal approximation with continuity correction.
    result = mann_whitney_u([10, 11, 12], [1, 2, 3], alternative="greater", method="normal")
    assert result.u == 9.0
    assert result.p_value == pytest.approx(0.04042779918503192, rel=1e-12)


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_exact_p_values_match_permutations_of_the_actual_data(seed: int) -> None:
    rng = random.Random(seed)
    x = [rng.uniform(0, 100) for _ in range(5)]
    y = [rng.uniform(0, 100) + 15 for _ in range(6)]
    pooled = x + y
    observed = pairwise_u(x, y)
    nm = len(x) * len(y)
    splits = [
        pairwise_u([pooled[i] for i in chosen], [pooled[i] for i in range(11) if i not in chosen])
        for chosen in itertools.combinations(range(11), 5)
    ]
    total = len(splits)
    expected = {
        "greater": sum(u >= observed for u in splits) / total,
        "less": sum(u <= observed for u in splits) / total,
        "two-sided": min(1.0, 2 * sum(u >= max(observed, nm - observed) for u in splits) / total),
    }
    for alternative, p in expected.items():
        result = mann_whitney_u(x, y, alternative=alternative)  # type: ignore[arg-type]
        assert result.method == "exact"
        assert result.u == observed
        assert result.p_value == pytest.approx(p, rel=1e-12), alternative


def test_u_counts_pairs_and_half_ties() -> None:
    # x > y pairs: 1>0 (1), 2>0 twice (2), 3>everything (3); ties 2=2 four times (2) -> 8.
    result = mann_whitney_u([1, 2, 2, 3], [2, 2, 0], alternative="greater")
    assert result.u == 8.0
    assert result.method == "normal"  # ties rule the exact distribution out


@pytest.mark.parametrize("continuity", [True, False])
@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_normal_approximation_with_ties_matches_an_independent_formula(
    alternative: str, continuity: bool
) -> None:
    rng = random.Random(7)
    x = [float(rng.randint(0, 12)) for _ in range(30)]
    y = [float(rng.randint(2, 14)) for _ in range(40)]
    n_x, n_y, n = len(x), len(y), 70
    u_x = pairwise_u(x, y)
    ties = Counter(x + y).values()
    sigma = math.sqrt(n_x * n_y / 12 * ((n + 1) - sum(t**3 - t for t in ties) / (n * (n - 1))))
    chosen = {"greater": u_x, "less": n_x * n_y - u_x, "two-sided": max(u_x, n_x * n_y - u_x)}
    z = (chosen[alternative] - n_x * n_y / 2 - (0.5 if continuity else 0.0)) / sigma
    expected = (1 - NORMAL.cdf(z)) * (2 if alternative == "two-sided" else 1)
    result = mann_whitney_u(x, y, alternative=alternative, continuity=continuity)  # type: ignore[arg-type]
    assert result.method == "normal"
    assert result.u == u_x
    assert result.p_value == pytest.approx(min(1.0, expected), rel=1e-9)


def test_auto_method_is_exact_only_without_ties_up_to_400_pairs() -> None:
    a = [float(i) for i in range(20)]
    b = [i + 0.5 for i in range(20)]
    assert mann_whitney_u(a, b, alternative="greater").method == "exact"
    assert mann_whitney_u([*a, 20.25], b, alternative="greater").method == "normal"
    assert mann_whitney_u([*a[:-1], 0.0], b, alternative="greater").method == "normal"
    # The exact p-value of 20 vs 20 is close to the normal approximation's.
    exact = mann_whitney_u(a, [v + 3 for v in b], alternative="less")
    normal = mann_whitney_u(a, [v + 3 for v in b], alternative="less", method="normal")
    assert exact.method == "exact" and normal.method == "normal"
    assert exact.p_value == pytest.approx(normal.p_value, abs=0.01)
    assert exact.p_value != normal.p_value


def test_identical_samples_give_no_evidence() -> None:
    result = mann_whitney_u([5.0] * 30, [5.0] * 25, alternative="greater")
    assert result.u == 375.0
    assert result.p_value == 1.0
    assert mann_whitney_u([5.0] * 30, [5.0] * 25, alternative="two-sided").p_value == 1.0


def test_rejects_unusable_input() -> None:
    with pytest.raises(ValueError, match="no ties"):
        mann_whitney_u([1, 2, 2], [3, 4], alternative="greater", method="exact")
    with pytest.raises(ValueError, match="limited"):
        mann_whitney_u(
            range(101), [i + 0.5 for i in range(100)], alternative="less", method="exact"
        )
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney_u([], [1.0], alternative="greater")
    with pytest.raises(ValueError, match="finite"):
        mann_whitney_u([math.nan, 1.0], [1.0], alternative="greater")
    with pytest.raises(ValueError, match="alternative"):
        mann_whitney_u([1.0], [2.0], alternative="bigger")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        mann_whitney_u([1.0], [2.0], alternative="less", method="permutation")  # type: ignore[arg-type]


def test_large_samples_are_ranked_quickly() -> None:
    rng = random.Random(5)
    x = [rng.gauss(0.1, 1) for _ in range(20_000)]
    y = [rng.gauss(0.0, 1) for _ in range(20_000)]
    started = time.perf_counter()
    result = mann_whitney_u(x, y, alternative="greater")
    assert time.perf_counter() - started < 1.0
    assert result.p_value < 1e-10  # a 0.1 sd shift is overwhelming at 20 000 per side
    assert mann_whitney_u(x, y, alternative="less").p_value > 0.999


def test_normal_sf_matches_statistics_normaldist() -> None:
    for z in (-3.0, -0.5, 0.0, 1.2, 2.5, 4.0):
        assert normal_sf(z) == pytest.approx(1 - NORMAL.cdf(z), rel=1e-12)
    assert normal_sf(10.0) == pytest.approx(7.619853024160527e-24, rel=1e-12)  # Q(10), tables


def test_two_proportion_pooled_hand_computed() -> None:
    # 30/200 vs 20/200: pooled p = 50/400 = 1/8, SE = sqrt(1/8 * 7/8 * (2/200)) = sqrt(7)/80,
    # z = 0.05 / (sqrt(7)/80) = 4/sqrt(7) = 1.5119; normal table Q(1.51) = 0.0655, Q(1.52) = 0.0643.
    result = two_proportion_z(30, 200, 20, 200, alternative="greater")
    assert result.z == pytest.approx(4 / math.sqrt(7), rel=1e-12)
    assert result.p_value == pytest.approx(0.0653, abs=1e-4)
    assert (result.p_a, result.p_b) == (0.15, 0.10)
    less = two_proportion_z(30, 200, 20, 200, alternative="less")
    both = two_proportion_z(30, 200, 20, 200, alternative="two-sided")
    assert less.p_value == pytest.approx(1 - result.p_value, rel=1e-12)
    assert both.p_value == pytest.approx(2 * result.p_value, rel=1e-12)


def test_two_proportion_unpooled_with_margin_hand_computed() -> None:
    # H0: p_a - p_b <= 0.01. SE = sqrt(0.15*0.85/200 + 0.10*0.90/200) = sqrt(87/80000),
    # z = (0.05 - 0.01) / SE = 0.04 * sqrt(80000/87) = 1.21296.
    result = two_proportion_z(30, 200, 20, 200, margin=0.01, alternative="greater")
    assert result.z == pytest.approx(0.04 * math.sqrt(80000 / 87), rel=1e-12)
    assert result.z == pytest.approx(1.21296, abs=1e-5)
    assert result.p_value == pytest.approx(1 - NORMAL.cdf(result.z), rel=1e-12)


def test_two_proportion_with_ratio_tests_the_relative_allowance() -> None:
    # H0: p_a <= 1.5 * p_b; 0.15 is exactly 1.5 * 0.10, so z = 0.
    at_edge = two_proportion_z(30, 200, 20, 200, ratio=1.5, alternative="greater")
    assert at_edge.z == pytest.approx(0.0, abs=1e-12)
    assert at_edge.p_value == pytest.approx(0.5)
    # H0: p_a <= 1.2 * p_b: difference 0.03, SE = sqrt(0.1275/200 + 1.44 * 0.09/200).
    result = two_proportion_z(30, 200, 20, 200, ratio=1.2, alternative="greater")
    assert result.z == pytest.approx(0.03 / math.sqrt((0.1275 + 1.44 * 0.09) / 200), rel=1e-12)


def test_two_proportion_degenerate_standard_error() -> None:
    none_failed = two_proportion_z(0, 100, 0, 100, alternative="greater")
    assert none_failed.z == 0.0 and none_failed.p_value == 0.5
    within_margin = two_proportion_z(0, 100, 0, 100, margin=0.001, alternative="greater")
    assert within_margin.z == -math.inf and within_margin.p_value == 1.0
    all_failed = two_proportion_z(100, 100, 0, 100, margin=0.1, alternative="greater")
    assert all_failed.z == math.inf and all_failed.p_value == 0.0


def test_two_proportion_accepts_fractional_counts_and_rejects_bad_ones() -> None:
    result = two_proportion_z(10.5, 1000.25, 9.75, 999.5, alternative="two-sided")
    assert result.p_a == pytest.approx(10.5 / 1000.25)
    with pytest.raises(ValueError, match="total > 0"):
        two_proportion_z(1, 0, 1, 10, alternative="greater")
    with pytest.raises(ValueError, match="failures <= total"):
        two_proportion_z(11, 10, 1, 10, alternative="greater")
    with pytest.raises(ValueError, match="finite"):
        two_proportion_z(math.nan, 10, 1, 10, alternative="greater")
    with pytest.raises(ValueError, match="alternative"):
        two_proportion_z(1, 10, 1, 10, alternative="up")  # type: ignore[arg-type]
