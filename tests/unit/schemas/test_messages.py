"""Cause formatting and the 422 Status message, as kube-apiserver words them."""

from __future__ import annotations

import pytest

from ensign.localcluster.schema import (
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    Cause,
    format_invalid_message,
    go_float,
    go_json,
    go_quote,
    invalid_status,
    make_cause,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (1.5, "1.5"),
        (5.0, "5"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.25, "-2.25"),
    ],
)
def test_go_float_matches_go_percent_v(value: float, expected: str) -> None:
    assert go_float(value) == expected


def test_go_quote_and_json() -> None:
    assert go_quote('a"b\n') == '"a\\"b\\n"'
    assert go_quote("héllo") == '"héllo"'
    assert (
        go_json({"b": 1, "a": [True, None, 2.0, "<x>"]})
        == '{"a":[true,null,2,"\\u003cx\\u003e"],"b":1}'
    )


def test_make_cause_bodies() -> None:
    assert make_cause(REQUIRED, "spec.x").message == "Required value"
    assert make_cause(INVALID, "spec.x", value=-5, detail="d").message == "Invalid value: -5: d"
    assert make_cause(INVALID, "x", value=None, detail="d").message == 'Invalid value: "null": d'
    assert make_cause(INVALID, "x", value={"a": 1}).message == 'Invalid value: {"a":1}'
    detail = 'supported values: "a", "b"'
    cause = make_cause(NOT_SUPPORTED, "spec.p", value="foo", detail=detail)
    assert cause.message == 'Unsupported value: "foo": supported values: "a", "b"'


def test_format_invalid_message_single_and_many() -> None:
    one = [Cause(REQUIRED, "spec.targetRef", "Required value")]
    assert (
        format_invalid_message("Canary", "flagger.app", "podinfo", one)
        == 'Canary.flagger.app "podinfo" is invalid: spec.targetRef: Required value'
    )
    two = [*one, Cause(INVALID, "spec.x", "Invalid value: 1: bad"), one[0]]
    assert format_invalid_message("Canary", "flagger.app", "p", two) == (
        'Canary.flagger.app "p" is invalid: [spec.targetRef: Required value, '
        "spec.x: Invalid value: 1: bad]"
    )
    assert format_invalid_message("Pod", "", "p", one).startswith('Pod "p" is invalid: ')


def test_invalid_status_shape() -> None:
    causes = [Cause(REQUIRED, "spec.targetRef", "Required value")]
    status = invalid_status(kind="Canary", group="flagger.app", name="p", causes=causes)
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["status"] == "Failure"
    assert status["details"] == {
        "name": "p",
        "group": "flagger.app",
        "kind": "Canary",
        "causes": [{"reason": REQUIRED, "message": "Required value", "field": "spec.targetRef"}],
    }
