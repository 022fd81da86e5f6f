"""Go duration strings parse to seconds, and format back to the same value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ensign.model.durations import format_duration, parse_duration, parse_duration_ns


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m", 60.0),
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1h2m3s", 3723.0),
        ("1.5h", 5400.0),
        (".5s", 0.5),
        ("2.s", 2.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("+10s", 10.0),
        ("-1m", -60.0),
        ("10us", 0.00001),
        ("10µs", 0.00001),
        ("100ns", 0.0000001),
        ("1s1s", 2.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "abc", "1", "60", "1 m", "1m ", "m", "1d", "1.5.5s", "10mxyz", "-", "1M", "s1"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_parse_duration_rejects_overflow() -> None:
    with pytest.raises(ValueError):
        parse_duration("3000000h")


def test_fractions_truncate_to_the_nanosecond() -> None:
    assert parse_duration_ns("1.0000000019s") == 1_000_000_001


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.5, "500ms"),
        (1.5, "1.5s"),
        (60.0, "1m0s"),
        (90.0, "1m30s"),
        (3600.0, "1h0m0s"),
        (3723.25, "1h2m3.25s"),
        (0.000001, "1µs"),
        (0.000000001, "1ns"),
        (-30.0, "-30s"),
    ],
)
def test_format_duration_spells_like_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_then_parse_round_trips_milliseconds(milliseconds: int) -> None:
    seconds = milliseconds / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@given(
    hours=st.integers(min_value=0, max_value=500),
    minutes=st.integers(min_value=0, max_value=59),
    secs=st.integers(min_value=0, max_value=59),
    millis=st.integers(min_value=0, max_value=999),
)
def test_composed_units_sum(hours: int, minutes: int, secs: int, millis: int) -> None:
    parts = [(hours, "h"), (minutes, "m"), (secs, "s"), (millis, "ms")]
    text = "".join(f"{value}{unit}" for value, unit in parts if value) or "0s"
    expected_ns = ((hours * 60 + minutes) * 60 + secs) * 10**9 + millis * 10**6
    assert parse_duration_ns(text) == expected_ns


def test_large_durations_keep_their_milliseconds() -> None:
    # found by Hypothesis: seconds * 1e9 rounded in binary gave 4.948999936s
    assert format_duration(627201784.949) == "174222h43m4.949s"
    assert parse_duration(format_duration(627201784.949)) == 627201784.949
