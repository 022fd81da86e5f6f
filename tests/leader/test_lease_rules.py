"""The pure rules of leader election: expiry, ownership, the records written."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ensign.runtime.leader import (
    LeaseRecord,
    can_take,
    claimed,
    is_expired,
    is_mine,
    lease_seconds,
    micro_time,
    record_of,
    released,
    spec_of,
)

HELD = LeaseRecord("a_1", 60, "t0", "t1", 3)


@pytest.mark.parametrize(
    ("record", "observed_at", "now", "expired"),
    [
        (HELD, 100.0, 100.0, False),  # just seen
        (HELD, 100.0, 159.9, False),  # within the lease duration of when it was seen
        (HELD, 100.0, 160.0, True),  # a whole lease duration without a change
        (HELD, 100.0, 500.0, True),
        (LeaseRecord("", 60), 100.0, 100.0, True),  # released: free at once
        (LeaseRecord("", 0), 0.0, 0.0, True),
        (LeaseRecord("a_1", 1), 10.0, 10.5, False),  # a 1 s lease
        (LeaseRecord("a_1", 1), 10.0, 11.0, True),
    ],
)
def test_expiry_is_judged_by_when_the_record_was_observed(
    record: LeaseRecord, observed_at: float, now: float, expired: bool
) -> None:
    assert is_expired(record, observed_at=observed_at, now=now) is expired


@pytest.mark.parametrize(
    ("record", "identity", "mine", "takeable"),
    [
        (HELD, "a_1", True, True),  # my own lease: renew it, expired or not
        (HELD, "b_2", False, False),  # someone else's valid lease
        (LeaseRecord("", 60), "b_2", False, True),  # free
        (LeaseRecord("", 60), "", False, True),  # an empty identity owns nothing
        (HELD, "a_", False, False),  # exact match only
    ],
)
def test_ownership(record: LeaseRecord, identity: str, mine: bool, takeable: bool) -> None:
    assert is_mine(record, identity) is mine
    assert can_take(record, identity, observed_at=0.0, now=1.0) is takeable


@pytest.mark.parametrize(
    ("before", "identity", "after"),
    [
        # a new lease: acquired now, no transitions yet
        (None, "a_1", LeaseRecord("a_1", 60, "NOW", "NOW", 0)),
        # a renewal keeps acquireTime and the transition count
        (HELD, "a_1", LeaseRecord("a_1", 60, "t0", "NOW", 3)),
        # a takeover restarts acquireTime and counts a transition
        (HELD, "b_2", LeaseRecord("b_2", 60, "NOW", "NOW", 4)),
        # so does taking a released lease (client-go counts it too)
        (LeaseRecord("", 1, "t5", "t5", 4), "b_2", LeaseRecord("b_2", 60, "NOW", "NOW", 5)),
    ],
)
def test_claimed_record(before: LeaseRecord | None, identity: str, after: LeaseRecord) -> None:
    assert claimed(before, identity, duration=60, now="NOW") == after


def test_released_record_is_client_gos() -> None:
    assert released(HELD, now="NOW") == LeaseRecord("", 1, "NOW", "NOW", 3)


@pytest.mark.parametrize(
    ("seconds", "whole"), [(60.0, 60), (2.0, 2), (1.5, 2), (0.2, 1), (15, 15), (59.001, 60)]
)
def test_lease_seconds_round_up_to_at_least_one(seconds: float, whole: int) -> None:
    assert lease_seconds(seconds) == whole


def test_micro_time_is_rfc3339_utc_with_microseconds() -> None:
    moment = datetime(2026, 11, 26, 12, 0, 5, 42, tzinfo=UTC)
    assert micro_time(moment) == "2026-11-26T12:00:05.000042Z"
    paris = moment.astimezone(timezone(timedelta(hours=1)))
    assert micro_time(paris) == "2026-11-26T12:00:05.000042Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", micro_time(datetime.now(UTC)))


def test_spec_round_trip() -> None:
    spec = spec_of(HELD)
    assert spec == {
        "holderIdentity": "a_1",
        "leaseDurationSeconds": 60,
        "acquireTime": "t0",
        "renewTime": "t1",
        "leaseTransitions": 3,
    }
    assert record_of({"spec": spec}) == HELD
    assert record_of({}) == LeaseRecord()
    assert record_of(None) == LeaseRecord()
