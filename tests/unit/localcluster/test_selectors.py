"""Tests for label and field selectors (apimachinery grammar, validation and messages)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ensign.localcluster.selectors import (
    FieldSelector,
    LabelSelector,
    Operator,
    SelectorError,
    label_selector_from_object,
    new_requirement,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "web", "tier": "front", "example.com/team": "a", "n": "5"}

MATCH_CASES = [
    ("", True),
    ("   ", True),
    ("app=web", True),
    ("app==web", True),
    ("app!=web", False),
    ("missing!=x", True),
    ("app in (web,api)", True),
    ("app in(api)", False),
    ("app notin (api)", True),
    ("missing notin (api)", True),
    ("app", True),
    ("!app", False),
    ("!missing", True),
    ("app=web,tier=front", True),
    ("app=web, tier=back", False),
    (" app = web , example.com/team in ( a , b ) ", True),
    ("n>4", True),
    ("n<5", False),
    ("app>1", False),
    ("missing>1", False),
    ("in in (in)", False),
    ("app=", False),
    ("app in ()", False),
]


@pytest.mark.parametrize(("text", "expected"), MATCH_CASES)
def test_label_selector_matches(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is expected


def test_empty_value_forms() -> None:
    assert parse_label_selector("x=").matches({"x": ""})
    assert parse_label_selector("x in (,a)").matches({"x": ""})
    assert parse_label_selector("x in (a,)").matches({"x": ""})


CANONICAL = [
    ("b=1,a=2", "a=2,b=1"),
    ("a in (z, y, y)", "a in (y,z)"),
    ("!a, b notin (x)", "!a,b notin (x)"),
    ("a==b", "a==b"),
    ("a  ,  b!=c", "a,b!=c"),
    ("a > 3", "a>3"),
]


@pytest.mark.parametrize(("text", "rendered"), CANONICAL)
def test_canonical_string(text: str, rendered: str) -> None:
    assert str(parse_label_selector(text)) == rendered


ERRORS = [
    ("a in", "unable to parse requirement: found '' expected: '('"),
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a in (x,,)", "unable to parse requirement: found ')', expected: ',', or identifier"),
    ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("-a", 'unable to parse requirement: <nil>: Invalid value: "-a": name part must consist of'),
    ("a=-x", 'unable to parse requirement: values[0][a]: Invalid value: "-x": a valid label'),
    ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt'"),
    ("a=" + "v" * 64, "must be no more than 63 characters"),
    ("k" * 64, "name part must be no more than 63 characters"),
    ("/a", "prefix part must be non-empty"),
    ("Bad_Prefix/a", "prefix part a lowercase RFC 1123 subdomain"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert info.value.message.startswith(message) or message in info.value.message


def test_valid_prefixed_and_long_keys() -> None:
    key = "a" * 63 + "." + "b" * 60 + "/" + "c" * 63
    assert parse_label_selector(key).matches({key: ""})


def test_selector_from_object() -> None:
    sel = label_selector_from_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "back"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(sel) == "app=web,!canary,tier in (back,front)"
    assert sel.matches({"app": "web", "tier": "back"})
    assert not sel.matches({"app": "web", "tier": "back", "canary": "x"})
    assert label_selector_from_object({}).is_empty()
    assert label_selector_from_object({}).matches({"any": "thing"})
    nothing = label_selector_from_object(None)
    assert not nothing.is_empty() and not nothing.matches({})


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"key": "a", "operator": "In"}, "for 'in', 'notin' operators, values set can't be empty"),
        ({"key": "a", "operator": "NotIn", "values": []}, "values set can't be empty"),
        ({"key": "a", "operator": "Exists", "values": ["x"]}, "values set must be empty"),
        ({"key": "a", "operator": "DoesNotExist", "values": ["x"]}, "values set must be empty"),
        ({"key": "a", "operator": "Near", "values": ["x"]}, '"Near" is not a valid label selector'),
        ({"key": "-a", "operator": "Exists"}, 'key: Invalid value: "-a"'),
    ],
)
def test_selector_from_object_validation(expr: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError) as info:
        label_selector_from_object({"matchExpressions": [expr]})
    assert message in info.value.message


def test_requirement_values_message_uses_go_slice_syntax() -> None:
    with pytest.raises(SelectorError) as info:
        new_requirement("a", Operator.IN, [])
    assert info.value.message == (
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
    )


# --------------------------------------------------------------------- field selectors

SUPPORTED = frozenset({"metadata.name", "metadata.namespace", "spec.nodeName", "spec.hostNetwork"})
POD = {
    "metadata": {"name": "web-1", "namespace": "prod"},
    "spec": {"hostNetwork": True},
}

FIELD_CASES = [
    ("", True),
    ("metadata.name=web-1", True),
    ("metadata.name==web-1", True),
    ("metadata.name!=web-1", False),
    ("metadata.name=web-1,metadata.namespace=prod", True),
    ("metadata.name=web-1,metadata.namespace!=prod", False),
    ("spec.nodeName=", True),
    ("spec.hostNetwork=true", True),
]


@pytest.mark.parametrize(("text", "expected"), FIELD_CASES)
def test_field_selector_matches(text: str, expected: bool) -> None:
    assert parse_field_selector(text, SUPPORTED).matches(POD) is expected


def test_field_selector_escapes_and_rendering() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d", SUPPORTED)
    assert sel.matches({"metadata": {"name": "a,b=c\\d"}})
    assert str(sel) == r"metadata.name=a\,b\=c\\d"
    assert parse_field_selector(str(sel), SUPPORTED) == sel
    both = parse_field_selector("metadata.namespace==x,metadata.name!=y", SUPPORTED)
    assert str(both) == "metadata.name!=y,metadata.namespace=x"
    assert both.required_value("metadata.namespace") == "x"
    assert both.required_value("metadata.name") is None
    assert FieldSelector().is_empty() and not both.is_empty()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status.phase=Running", "field label not supported: status.phase"),
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: ="),
        (r"metadata.name=a\x", r"invalid field selector: invalid escape sequence: \x"),
        ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text, SUPPORTED)
    assert info.value.message == message


# --------------------------------------------------------------------- properties

name_part = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?", fullmatch=True)
prefix = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}", fullmatch=True)
keys = st.one_of(name_part, st.builds(lambda p, n: f"{p}/{n}", prefix, name_part)).filter(
    lambda k: k not in ("in", "notin")
)
values = st.one_of(st.just(""), name_part)


@st.composite
def requirement_texts(draw: st.DrawFn) -> str:
    key = draw(keys)
    op = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", ">", "<"]))
    if op == "exists":
        return key
    if op == "!":
        return "!" + key
    if op in ("in", "notin"):
        vals = draw(st.lists(values, min_size=1, max_size=3, unique=True))
        return f"{key} {op} ({','.join(vals)})"
    if op in (">", "<"):
        return f"{key}{op}{draw(st.integers(0, 10**6))}"
    return f"{key}{op}{draw(values)}"


@given(st.lists(requirement_texts(), max_size=4))
def test_selector_string_reparses_to_equal_selector(parts: list[str]) -> None:
    selector = parse_label_selector(" , ".join(parts))
    assert parse_label_selector(str(selector)) == selector
    assert isinstance(selector, LabelSelector)


@given(st.dictionaries(keys, values, max_size=4))
def test_match_labels_selector_matches_its_own_labels(labels: dict[str, str]) -> None:
    selector = label_selector_from_object({"matchLabels": labels})
    assert selector.matches(labels)
    assert parse_label_selector(str(selector)).matches(labels)
