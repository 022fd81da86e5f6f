"""How often the judge is wrong, measured on synthetic canaries. Pure and deterministic.

Each function replays `runs` canary analyses on data drawn from a `random.Random(seed)` it
creates itself, so the same arguments always give the same rates; nothing else is random.

- false positive: the share of healthy canaries that FAIL. Healthy means drawn like the primary
  (`healthy_factor=1.0`, the default), or shifted right up to the tolerance
  (`healthy_factor=1 + tolerance`), the worst case the judge still has to let through, where the
  rate should be close to 1 - confidence.
- false negative: the share of clearly worse canaries that do not FAIL (PASS or INCONCLUSIVE).

Latency-like samples are log-normal (median `median`, log-scale spread `spread`), because
latencies are skewed and multiplicative; bad events are binomial counts out of `total`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ensign.judge.declaration import (
    DEFAULT_MIN_SAMPLES,
    Direction,
    JudgeSpec,
    JudgeTest,
)
from ensign.judge.verdict import Outcome, judge_counts, judge_samples

DEFAULT_MANN_WHITNEY = JudgeSpec(test=JudgeTest.MANN_WHITNEY)
"""The spec `ensign.dev/judge: mann-whitney` alone declares."""

DEFAULT_TWO_PROPORTION = JudgeSpec(
    test=JudgeTest.TWO_PROPORTION,
    min_samples=DEFAULT_MIN_SAMPLES[JudgeTest.TWO_PROPORTION],
    total_query="synthetic",
)
"""The spec `ensign.dev/judge: two-proportion` declares (the total query is not used here)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """Measured error rates of a judge over `runs` analyses of each scenario."""

    false_positive: float
    false_negative: float
    runs: int


def mann_whitney_rates(
    spec: JudgeSpec = DEFAULT_MANN_WHITNEY,
    *,
    n: int = 50,
    runs: int = 1000,
    seed: int = 1,
    worse_factor: float = 1.5,
    healthy_factor: float = 1.0,
    median: float = 100.0,
    spread: float = 0.3,
) -> Rates:
    """Error rates of `judge_samples` with `n` log-normal samples per side.

    The primary's median is `median`; a healthy canary's is `median * healthy_factor` and a worse
    one's `median * worse_factor` (both divided instead of multiplied when the spec says
    decrease-is-bad, so factors above 1 always mean "worse"). `spread` is the standard deviation
    of log(sample): 0.3 puts about two thirds of the points within -26%..+35% of the median.
    """
    rng = random.Random(seed)
    increase = spec.direction is Direction.INCREASE_IS_BAD

    def draw(factor: float) -> list[float]:
        centre = math.log(median * factor if increase else median / factor)
        return [math.exp(rng.gauss(centre, spread)) for _ in range(n)]

    false_positives = 0
    false_negatives = 0
    for _ in range(runs):
        primary = draw(1.0)
        if judge_samples(draw(healthy_factor), primary, spec).outcome is Outcome.FAIL:
            false_positives += 1
        primary = draw(1.0)
        if judge_samples(draw(worse_factor), primary, spec).outcome is not Outcome.FAIL:
            false_negatives += 1
    return Rates(
        false_positive=false_positives / runs, false_negative=false_negatives / runs, runs=runs
    )


def two_proportion_rates(
    spec: JudgeSpec = DEFAULT_TWO_PROPORTION,
    *,
    total: int = 2000,
    runs: int = 1000,
    seed: int = 1,
    base: float = 0.01,
    worse: float = 0.05,
    healthy: float | None = None,
) -> Rates:
    """Error rates of `judge_counts` with `total` events per side.

    The primary fails each event with probability `base`; a healthy canary with `healthy`
    (default `base`; `base * (1 + tolerance)` probes the edge of the allowance) and a worse one
    with `worse`.
    """
    rng = random.Random(seed)
    healthy_rate = base if healthy is None else healthy
    false_positives = 0
    false_negatives = 0
    for _ in range(runs):
        primary_bad = binomial(rng, total, base)
        canary_bad = binomial(rng, total, healthy_rate)
        verdict = judge_counts(canary_bad, total, primary_bad, total, spec)
        if verdict.outcome is Outcome.FAIL:
            false_positives += 1
        primary_bad = binomial(rng, total, base)
        canary_bad = binomial(rng, total, worse)
        verdict = judge_counts(canary_bad, total, primary_bad, total, spec)
        if verdict.outcome is not Outcome.FAIL:
            false_negatives += 1
    return Rates(
        false_positive=false_positives / runs, false_negative=false_negatives / runs, runs=runs
    )


def binomial(rng: random.Random, trials: int, probability: float) -> int:
    """A Binomial(trials, probability) draw, exact, in O(trials * min(p, 1 - p) + 1) steps.

    Counts successes by jumping from one to the next with geometric gaps instead of drawing every
    trial, which keeps thousands of simulated requests per run cheap (Python 3.11 has no
    `random.binomialvariate`).
    """
    if probability <= 0.0:
        return 0
    if probability >= 1.0:
        return trials
    if probability > 0.5:
        return trials - binomial(rng, trials, 1.0 - probability)
    log_miss = math.log1p(-probability)
    successes = 0
    position = 0
    while True:
        # 1 - random() lies in (0, 1], so the gap is a whole number >= 1 (trials up to a success).
        position += int(math.log(1.0 - rng.random()) / log_miss) + 1
        if position > trials:
            return successes
        successes += 1
