"""The field readers every routing reader shares: lenient where a data plane is lenient."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.traffic.manifest import (
    annotations_of,
    dicts,
    fullmatch,
    integer,
    object_name,
    object_namespace,
    qualified_name,
    search,
)


@pytest.mark.parametrize(
    ("obj", "name", "namespace", "qualified"),
    [
        ({"metadata": {"name": "web", "namespace": "test"}}, "web", "test", "test/web"),
        ({"metadata": {"name": "mesh"}}, "mesh", "", "mesh"),
        ({"metadata": None}, "", "", ""),
        ({}, "", "", ""),
        (None, "", "", ""),
    ],
)
def test_names(obj: Any, name: str, namespace: str, qualified: str) -> None:
    assert (object_name(obj), object_namespace(obj), qualified_name(obj)) == (
        name,
        namespace,
        qualified,
    )


def test_annotations_absent_or_null_read_as_empty() -> None:
    assert annotations_of({"metadata": {"annotations": {"a": "1"}}}) == {"a": "1"}
    assert annotations_of({"metadata": {"annotations": None}}) == {}
    assert annotations_of({}) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([{"a": 1}, "x", 3, {"b": 2}], [{"a": 1}, {"b": 2}]),
        ("not a list", []),
        ({"a": 1}, []),
        (None, []),
    ],
)
def test_dicts_keeps_only_mappings_of_a_list(value: object, expected: list[Any]) -> None:
    assert dicts(value) == expected


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        (7, 0, 7),
        (-3, 0, -3),
        ("42", 0, 42),
        ("4.5", 9, 9),
        (4.5, 9, 9),
        (None, 1, 1),
        (True, 5, 5),
        ("weight", 2, 2),
    ],
)
def test_integer(value: object, default: int, expected: int) -> None:
    assert integer(value, default=default) == expected


def test_invalid_patterns_match_nothing() -> None:
    assert fullmatch(r"/api/v\d+", "/api/v2")
    assert not fullmatch(r"/api", "/api/v2")
    assert search(r"v\d", "/api/v2")
    assert not fullmatch("(", "(")
    assert not search("[", "[")
