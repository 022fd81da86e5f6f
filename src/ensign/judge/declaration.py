"""How a user asks for a comparative judge: annotations on a Flagger MetricTemplate. Pure.

Annotations keep the MetricTemplate schema Flagger's, so the same manifest still applies to a
cluster running Flagger (which ignores them). The template's `query` is run once against the
canary and once against the primary; the annotations say how to compare the two results:

| annotation | values | default |
| --- | --- | --- |
| `ensign.dev/judge` | `mann-whitney` or `two-proportion`; enables the judge | (absent: no judge) |
| `ensign.dev/judge-confidence` | number in (0.5, 1) | `0.95` |
| `ensign.dev/judge-tolerance` | allowed relative change, number >= 0 (< 1 with decrease-is-bad) | `0.1` |
| `ensign.dev/judge-direction` | `increase-is-bad` or `decrease-is-bad` (mann-whitney only) | `increase-is-bad` |
| `ensign.dev/judge-min-samples` | whole number; samples per side (mann-whitney) or events per side (two-proportion) | `20` / `100` |
| `ensign.dev/judge-step` | Go duration > 0, resolution of the series queries (mann-whitney) | `10s` |
| `ensign.dev/judge-total-query` | two-proportion only, required: the query counting all events | |
| `ensign.dev/judge-floor` | two-proportion only: absolute allowance on the bad-event proportion, in [0, 1) | `0.001` |

For `two-proportion` the template's own query counts the bad events (errors) and
`judge-total-query` counts all events (requests) over the same window, so only
`increase-is-bad` makes sense; a success-rate check is written as failures = total - successes.

Any other `ensign.dev/judge-*` key, or a judge-* key without `ensign.dev/judge`, is rejected:
a misspelt setting would otherwise silently fall back to its default.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ensign.model.durations import parse_duration

_WHOLE_NUMBER = re.compile(r"[0-9]+")

JUDGE = "ensign.dev/judge"
JUDGE_CONFIDENCE = "ensign.dev/judge-confidence"
JUDGE_TOLERANCE = "ensign.dev/judge-tolerance"
JUDGE_DIRECTION = "ensign.dev/judge-direction"
JUDGE_MIN_SAMPLES = "ensign.dev/judge-min-samples"
JUDGE_STEP = "ensign.dev/judge-step"
JUDGE_TOTAL_QUERY = "ensign.dev/judge-total-query"
JUDGE_FLOOR = "ensign.dev/judge-floor"

ANNOTATIONS = (
    JUDGE,
    JUDGE_CONFIDENCE,
    JUDGE_TOLERANCE,
    JUDGE_DIRECTION,
    JUDGE_MIN_SAMPLES,
    JUDGE_STEP,
    JUDGE_TOTAL_QUERY,
    JUDGE_FLOOR,
)
"""Every annotation key the judge reads."""


class JudgeTest(StrEnum):
    """Which comparison: samples of a continuous metric, or counts of bad events."""

    MANN_WHITNEY = "mann-whitney"
    TWO_PROPORTION = "two-proportion"


class Direction(StrEnum):
    """Which way a change of the metric hurts."""

    INCREASE_IS_BAD = "increase-is-bad"
    DECREASE_IS_BAD = "decrease-is-bad"


DEFAULT_CONFIDENCE = 0.95
DEFAULT_TOLERANCE = 0.1
DEFAULT_MIN_SAMPLES = {JudgeTest.MANN_WHITNEY: 20, JudgeTest.TWO_PROPORTION: 100}
DEFAULT_STEP_SECONDS = 10.0
DEFAULT_FLOOR = 0.001


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeSpec:
    """A parsed judge declaration; see the module docstring for each field's meaning.

    `min_samples` counts series points per side for mann-whitney and events (the total count)
    per side for two-proportion. `total_query` is set exactly when `test` is two-proportion.
    """

    test: JudgeTest
    confidence: float = DEFAULT_CONFIDENCE
    tolerance: float = DEFAULT_TOLERANCE
    direction: Direction = Direction.INCREASE_IS_BAD
    min_samples: int = DEFAULT_MIN_SAMPLES[JudgeTest.MANN_WHITNEY]
    step_seconds: float = DEFAULT_STEP_SECONDS
    total_query: str | None = None
    floor: float = DEFAULT_FLOOR

    @property
    def alpha(self) -> float:
        """Significance level 1 - confidence, rounded so that 1 - 0.95 is exactly 0.05."""
        return round(1.0 - self.confidence, 12)


class JudgeSpecError(ValueError):
    """A judge annotation with a value that cannot be used; `key` names the annotation."""

    def __init__(self, key: str, message: str, value: str | None = None) -> None:
        self.key = key
        self.value = value
        text = f'metadata.annotations["{key}"]: {message}'
        if value is not None:
            text += f", got {json.dumps(value, ensure_ascii=False)}"
        super().__init__(text)


def parse_judge(annotations: Mapping[str, str]) -> JudgeSpec | None:
    """The judge a MetricTemplate's annotations declare, or None when `ensign.dev/judge` is absent.

    Raises `JudgeSpecError` for the first unusable annotation.
    """
    declared = {
        key: value
        for key, value in annotations.items()
        if key == JUDGE or key.startswith(f"{JUDGE}-")
    }
    for key, value in declared.items():
        if key not in ANNOTATIONS:
            known = ", ".join(ANNOTATIONS[1:])
            raise JudgeSpecError(key, f"unknown judge annotation (known: {known})", value)
    if JUDGE not in declared:
        if declared:
            key = sorted(declared)[0]
            raise JudgeSpecError(key, f"has no effect without {JUDGE}", declared[key])
        return None
    test = _parse_test(declared[JUDGE])
    confidence = _parse_confidence(declared.get(JUDGE_CONFIDENCE))
    direction = _parse_direction(declared.get(JUDGE_DIRECTION), test)
    tolerance = _parse_tolerance(declared.get(JUDGE_TOLERANCE), direction)
    min_samples = _parse_min_samples(declared.get(JUDGE_MIN_SAMPLES), test, confidence)
    step_seconds = _parse_step(declared.get(JUDGE_STEP))
    total_query = _parse_total_query(declared.get(JUDGE_TOTAL_QUERY), test)
    floor = _parse_floor(declared.get(JUDGE_FLOOR), test)
    return JudgeSpec(
        test=test,
        confidence=confidence,
        tolerance=tolerance,
        direction=direction,
        min_samples=min_samples,
        step_seconds=step_seconds,
        total_query=total_query,
        floor=floor,
    )


def smallest_useful_sample(confidence: float) -> int:
    """Fewest samples per side with which Mann-Whitney can reach `confidence` at all.

    With n samples on each side and no ties the smallest one-sided p-value is 1 / C(2n, n)
    (every canary sample above every primary one), so fewer samples can never fail a canary.
    """
    alpha = round(1.0 - confidence, 12)
    n = 1
    while 1.0 / math.comb(2 * n, n) >= alpha:
        n += 1
    return n


def _parse_test(value: str) -> JudgeTest:
    try:
        return JudgeTest(value.strip())
    except ValueError:
        raise JudgeSpecError(JUDGE, 'must be "mann-whitney" or "two-proportion"', value) from None


def _number(key: str, value: str, requirement: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise JudgeSpecError(key, requirement, value) from None
    if not math.isfinite(number):
        raise JudgeSpecError(key, requirement, value)
    return number


def _parse_confidence(value: str | None) -> float:
    if value is None:
        return DEFAULT_CONFIDENCE
    requirement = "must be a number between 0.5 and 1"
    confidence = _number(JUDGE_CONFIDENCE, value, requirement)
    if not 0.5 < confidence < 1.0:
        raise JudgeSpecError(JUDGE_CONFIDENCE, requirement, value)
    return confidence


def _parse_direction(value: str | None, test: JudgeTest) -> Direction:
    if value is None:
        return Direction.INCREASE_IS_BAD
    try:
        direction = Direction(value.strip())
    except ValueError:
        message = 'must be "increase-is-bad" or "decrease-is-bad"'
        raise JudgeSpecError(JUDGE_DIRECTION, message, value) from None
    if test is JudgeTest.TWO_PROPORTION and direction is Direction.DECREASE_IS_BAD:
        message = (
            'must be "increase-is-bad" for two-proportion: the template query counts bad '
            f"events out of the {JUDGE_TOTAL_QUERY} total (count failures as total - successes)"
        )
        raise JudgeSpecError(JUDGE_DIRECTION, message, value)
    return direction


def _parse_tolerance(value: str | None, direction: Direction) -> float:
    if value is None:
        return DEFAULT_TOLERANCE
    if direction is Direction.DECREASE_IS_BAD:
        requirement = "must be a number from 0 up to (not including) 1 with decrease-is-bad"
        tolerance = _number(JUDGE_TOLERANCE, value, requirement)
        if not 0.0 <= tolerance < 1.0:
            raise JudgeSpecError(JUDGE_TOLERANCE, requirement, value)
        return tolerance
    requirement = "must be a number >= 0 (the allowed relative change, 0.1 for +10%)"
    tolerance = _number(JUDGE_TOLERANCE, value, requirement)
    if tolerance < 0.0:
        raise JudgeSpecError(JUDGE_TOLERANCE, requirement, value)
    return tolerance


def _parse_min_samples(value: str | None, test: JudgeTest, confidence: float) -> int:
    if value is None:
        return DEFAULT_MIN_SAMPLES[test]
    floor = smallest_useful_sample(confidence) if test is JudgeTest.MANN_WHITNEY else 1
    if test is JudgeTest.MANN_WHITNEY:
        requirement = (
            f"must be a whole number of at least {floor} "
            f"(fewer samples can never reach confidence {confidence:g})"
        )
    else:
        requirement = "must be a whole number of at least 1 (events per side)"
    text = value.strip()
    if not _WHOLE_NUMBER.fullmatch(text) or int(text) < floor:
        raise JudgeSpecError(JUDGE_MIN_SAMPLES, requirement, value)
    return int(text)


def _parse_step(value: str | None) -> float:
    if value is None:
        return DEFAULT_STEP_SECONDS
    requirement = 'must be a positive duration such as "10s", "1m" or "1m30s"'
    try:
        seconds = parse_duration(value.strip())
    except ValueError:
        raise JudgeSpecError(JUDGE_STEP, requirement, value) from None
    if seconds <= 0:
        raise JudgeSpecError(JUDGE_STEP, requirement, value)
    return seconds


def _parse_total_query(value: str | None, test: JudgeTest) -> str | None:
    if test is not JudgeTest.TWO_PROPORTION:
        if value is not None:
            message = f'only applies when {JUDGE} is "two-proportion"'
            raise JudgeSpecError(JUDGE_TOTAL_QUERY, message, value)
        return None
    if value is None:
        message = (
            f'is required when {JUDGE} is "two-proportion": '
            "the query counting all events (the template query counts the bad ones)"
        )
        raise JudgeSpecError(JUDGE_TOTAL_QUERY, message)
    if not value.strip():
        raise JudgeSpecError(JUDGE_TOTAL_QUERY, "must be a non-empty query", value)
    return value


def _parse_floor(value: str | None, test: JudgeTest) -> float:
    if value is None:
        return DEFAULT_FLOOR
    if test is not JudgeTest.TWO_PROPORTION:
        raise JudgeSpecError(JUDGE_FLOOR, f'only applies when {JUDGE} is "two-proportion"', value)
    requirement = "must be a proportion from 0 up to (not including) 1, e.g. 0.001 for 0.1 points"
    floor = _number(JUDGE_FLOOR, value, requirement)
    if not 0.0 <= floor < 1.0:
        raise JudgeSpecError(JUDGE_FLOOR, requirement, value)
    return floor
