"""Parsing the judge annotations of a MetricTemplate, including every error message."""

from __future__ import annotations

import pytest

from ensign.judge import (
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
from ensign.judge.declaration import smallest_useful_sample

TOTAL = 'sum(increase(http_requests_total{pod=~"{{ target }}-[0-9a-z]+-[0-9a-z]+"}[1m]))'


def test_no_judge_annotation_means_no_judge() -> None:
    assert parse_judge({}) is None
    assert parse_judge({"kubectl.kubernetes.io/last-applied-configuration": "{}"}) is None
    assert parse_judge({"ensign.dev/judgement-day": "x", "ensign.dev/other": "y"}) is None


def test_mann_whitney_defaults() -> None:
    assert parse_judge({JUDGE: "mann-whitney"}) == JudgeSpec(
        test=JudgeTest.MANN_WHITNEY,
        confidence=0.95,
        tolerance=0.1,
        direction=Direction.INCREASE_IS_BAD,
        min_samples=20,
        step_seconds=10.0,
        total_query=None,
        floor=0.001,
    )


def test_two_proportion_defaults() -> None:
    spec = parse_judge({JUDGE: "two-proportion", JUDGE_TOTAL_QUERY: TOTAL})
    assert spec == JudgeSpec(
        test=JudgeTest.TWO_PROPORTION, min_samples=100, total_query=TOTAL, floor=0.001
    )


def test_every_setting_is_read() -> None:
    spec = parse_judge(
        {
            JUDGE: " mann-whitney ",
            JUDGE_CONFIDENCE: "0.99",
            JUDGE_TOLERANCE: "0.25",
            JUDGE_DIRECTION: "decrease-is-bad",
            JUDGE_MIN_SAMPLES: "30",
            JUDGE_STEP: "1m30s",
        }
    )
    assert spec == JudgeSpec(
        test=JudgeTest.MANN_WHITNEY,
        confidence=0.99,
        tolerance=0.25,
        direction=Direction.DECREASE_IS_BAD,
        min_samples=30,
        step_seconds=90.0,
    )
    assert spec.alpha == 0.01
    counts = parse_judge(
        {
            JUDGE: "two-proportion",
            JUDGE_TOTAL_QUERY: TOTAL,
            JUDGE_FLOOR: "0",
            JUDGE_MIN_SAMPLES: "500",
            JUDGE_DIRECTION: "increase-is-bad",
            JUDGE_TOLERANCE: "2",
        }
    )
    assert counts is not None
    assert (counts.floor, counts.min_samples, counts.tolerance) == (0.0, 500, 2.0)


def test_alpha_is_rounded_so_the_level_is_exact() -> None:
    assert JudgeSpec(test=JudgeTest.MANN_WHITNEY, confidence=0.95).alpha == 0.05
    assert 1.0 - 0.95 != 0.05  # what the rounding is for


def test_smallest_useful_sample() -> None:
    # 3 vs 3: smallest p is 1/C(6,3) = 1/20 = 0.05, not below 0.05; 4 vs 4: 1/70.
    assert smallest_useful_sample(0.95) == 4
    assert smallest_useful_sample(0.99) == 5  # C(8,4)=70 < 100 <= C(10,5)=252
    assert smallest_useful_sample(0.6) == 2  # 1/C(4,2) = 1/6 < 0.4


PREFIX = "metadata.annotations"

ERRORS = [
    (
        {JUDGE: "kayenta"},
        f'{PREFIX}["ensign.dev/judge"]: must be "mann-whitney" or "two-proportion", got "kayenta"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_CONFIDENCE: "high"},
        f'{PREFIX}["ensign.dev/judge-confidence"]: must be a number between 0.5 and 1, got "high"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_CONFIDENCE: "1"},
        f'{PREFIX}["ensign.dev/judge-confidence"]: must be a number between 0.5 and 1, got "1"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_CONFIDENCE: "0.5"},
        f'{PREFIX}["ensign.dev/judge-confidence"]: must be a number between 0.5 and 1, got "0.5"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_CONFIDENCE: "nan"},
        f'{PREFIX}["ensign.dev/judge-confidence"]: must be a number between 0.5 and 1, got "nan"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_TOLERANCE: "-0.1"},
        f'{PREFIX}["ensign.dev/judge-tolerance"]: must be a number >= 0 '
        '(the allowed relative change, 0.1 for +10%), got "-0.1"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_TOLERANCE: "10%"},
        f'{PREFIX}["ensign.dev/judge-tolerance"]: must be a number >= 0 '
        '(the allowed relative change, 0.1 for +10%), got "10%"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_TOLERANCE: "1", JUDGE_DIRECTION: "decrease-is-bad"},
        f'{PREFIX}["ensign.dev/judge-tolerance"]: must be a number from 0 up to '
        '(not including) 1 with decrease-is-bad, got "1"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_DIRECTION: "up-is-bad"},
        f'{PREFIX}["ensign.dev/judge-direction"]: must be "increase-is-bad" or '
        '"decrease-is-bad", got "up-is-bad"',
    ),
    (
        {JUDGE: "two-proportion", JUDGE_TOTAL_QUERY: TOTAL, JUDGE_DIRECTION: "decrease-is-bad"},
        f'{PREFIX}["ensign.dev/judge-direction"]: must be "increase-is-bad" for two-proportion: '
        "the template query counts bad events out of the ensign.dev/judge-total-query total "
        '(count failures as total - successes), got "decrease-is-bad"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_MIN_SAMPLES: "3"},
        f'{PREFIX}["ensign.dev/judge-min-samples"]: must be a whole number of at least 4 '
        '(fewer samples can never reach confidence 0.95), got "3"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_MIN_SAMPLES: "4", JUDGE_CONFIDENCE: "0.99"},
        f'{PREFIX}["ensign.dev/judge-min-samples"]: must be a whole number of at least 5 '
        '(fewer samples can never reach confidence 0.99), got "4"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_MIN_SAMPLES: "20.5"},
        f'{PREFIX}["ensign.dev/judge-min-samples"]: must be a whole number of at least 4 '
        '(fewer samples can never reach confidence 0.95), got "20.5"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_MIN_SAMPLES: "2\u00b2"},
        f'{PREFIX}["ensign.dev/judge-min-samples"]: must be a whole number of at least 4 '
        '(fewer samples can never reach confidence 0.95), got "2\u00b2"',
    ),
    (
        {JUDGE: "two-proportion", JUDGE_TOTAL_QUERY: TOTAL, JUDGE_MIN_SAMPLES: "0"},
        f'{PREFIX}["ensign.dev/judge-min-samples"]: must be a whole number of at least 1 '
        '(events per side), got "0"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_STEP: "10"},
        f'{PREFIX}["ensign.dev/judge-step"]: must be a positive duration such as "10s", "1m" '
        'or "1m30s", got "10"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_STEP: "0s"},
        f'{PREFIX}["ensign.dev/judge-step"]: must be a positive duration such as "10s", "1m" '
        'or "1m30s", got "0s"',
    ),
    (
        {JUDGE: "two-proportion"},
        f'{PREFIX}["ensign.dev/judge-total-query"]: is required when ensign.dev/judge is '
        '"two-proportion": the query counting all events (the template query counts the bad ones)',
    ),
    (
        {JUDGE: "two-proportion", JUDGE_TOTAL_QUERY: "  "},
        f'{PREFIX}["ensign.dev/judge-total-query"]: must be a non-empty query, got "  "',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_TOTAL_QUERY: "sum(x)"},
        f'{PREFIX}["ensign.dev/judge-total-query"]: only applies when ensign.dev/judge is '
        '"two-proportion", got "sum(x)"',
    ),
    (
        {JUDGE: "mann-whitney", JUDGE_FLOOR: "0.01"},
        f'{PREFIX}["ensign.dev/judge-floor"]: only applies when ensign.dev/judge is '
        '"two-proportion", got "0.01"',
    ),
    (
        {JUDGE: "two-proportion", JUDGE_TOTAL_QUERY: TOTAL, JUDGE_FLOOR: "1"},
        f'{PREFIX}["ensign.dev/judge-floor"]: must be a proportion from 0 up to (not including) 1, '
        'e.g. 0.001 for 0.1 points, got "1"',
    ),
    (
        {JUDGE: "mann-whitney", "ensign.dev/judge-confidense": "0.9"},
        f'{PREFIX}["ensign.dev/judge-confidense"]: unknown judge annotation (known: '
        "ensign.dev/judge-confidence, ensign.dev/judge-tolerance, ensign.dev/judge-direction, "
        "ensign.dev/judge-min-samples, ensign.dev/judge-step, ensign.dev/judge-total-query, "
        'ensign.dev/judge-floor), got "0.9"',
    ),
    (
        {JUDGE_CONFIDENCE: "0.99"},
        f'{PREFIX}["ensign.dev/judge-confidence"]: has no effect without ensign.dev/judge, '
        'got "0.99"',
    ),
]


@pytest.mark.parametrize(("annotations", "message"), ERRORS)
def test_error_messages_name_the_annotation_and_the_value(
    annotations: dict[str, str], message: str
) -> None:
    with pytest.raises(JudgeSpecError) as raised:
        parse_judge(annotations)
    assert str(raised.value) == message
    assert raised.value.key in annotations or raised.value.key == JUDGE_TOTAL_QUERY
    assert isinstance(raised.value, ValueError)


def test_quotes_in_bad_values_are_escaped() -> None:
    with pytest.raises(JudgeSpecError) as raised:
        parse_judge({JUDGE: 'say "hi"'})
    assert str(raised.value).endswith(r'got "say \"hi\""')
    assert raised.value.value == 'say "hi"'
