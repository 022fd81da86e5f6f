"""The comparative judge: is the canary significantly worse than the primary? Pure.

Flagger compares a metric with a fixed threshold; the judge compares the canary's data with the
primary's, as Kayenta does: Mann-Whitney U on series of samples (latency), a two-proportion z
test on bad-event counts (errors out of requests). A MetricTemplate opts in with annotations
(`declaration`), `verdict` turns the data into pass / fail / inconclusive, `statistics` holds
the tests and `calibration` measures the false-positive and false-negative rates.
"""

from ensign.judge.declaration import (
    ANNOTATIONS,
    JUDGE,
    JUDGE_CONFIDENCE,
    JUDGE_DIRECTION,
    JUDGE_FLOOR,
    JUDGE_MIN_SAMPLES,
    JUDGE_STEP,
    JUDGE_TOLERANCE,
    JUDGE_TOTAL_QUERY,
    Direction,
    JudgeSpec,
    JudgeSpecError,
    JudgeTest,
    parse_judge,
)
from ensign.judge.statistics import MannWhitney, TwoProportion, mann_whitney_u, two_proportion_z
from ensign.judge.verdict import Outcome, Verdict, judge_counts, judge_samples

__all__ = [
    "ANNOTATIONS",
    "JUDGE",
    "JUDGE_CONFIDENCE",
    "JUDGE_DIRECTION",
    "JUDGE_FLOOR",
    "JUDGE_MIN_SAMPLES",
    "JUDGE_STEP",
    "JUDGE_TOLERANCE",
    "JUDGE_TOTAL_QUERY",
    "Direction",
    "JudgeSpec",
    "JudgeSpecError",
    "JudgeTest",
    "MannWhitney",
    "Outcome",
    "TwoProportion",
    "Verdict",
    "judge_counts",
    "judge_samples",
    "mann_whitney_u",
    "parse_judge",
    "two_proportion_z",
]
