"""The CEL subset and how x-kubernetes-validations failures are reported."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.localcluster.cel import CelError, UnsupportedRule, compile_rule
from ensign.localcluster.schema import check_crd_schema, compile_schema, validate

SELF = {"a": {"b": "x"}, "l": [1, 2, 3], "s": "abc", "n": None, "m": {"k": "v"}, "max-surge": 2}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("self.a.b == 'x'", True),
        ("has(self.a) && !has(self.zzz)", True),
        ("self.n == null", True),
        ("[1, 2] == [1, 2] && [1] != [2]", True),
        ("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3", True),
        ("'b' in ['a', 'b'] && 'k' in self.m && !(4 in self.l)", True),
        ("size(self.l) == 3 && self.l.size() == 3 && size(self.s) == 3 && size(self.m) == 1", True),
        ("self.l.all(x, x > 0)", True),
        ("self.l.exists(x, x == 2)", True),
        ("self.l.exists_one(x, x > 2)", True),
        ("self.l.map(x, x + 1) == [2, 3, 4]", True),
        ("self.l.filter(x, x > 1) == [2, 3]", True),
        ("self.m.all(k, k == 'k')", True),
        ("self.l[0] + self.l[1] - 1 == 2", True),
        ("7 / 2 == 3 && -7 / 2 == -3 && 7 % 3 == 1", True),
        ("'ab' + 'c' == self.s", True),
        ("self.s.startsWith('a') && self.s.endsWith('c') && self.s.contains('b')", True),
        ("self.s.matches('^a.c$')", True),
        ("self.max__dash__surge == 2", True),
        ("self.l[0] == 1.0", True),
        ("1 == true", False),
        ("true ? 1 : 2", 1),
        ("int('5') + 1 == 6 && string(5) == '5' && double(1) == 1.0", True),
        ("0x10 == 16", True),
        ("\"a\\tb\" == 'a\\tb'", True),
        ("false && self.zzz", False),
        ("self.zzz || true", True),
    ],
)
def test_evaluates(rule: str, expected: Any) -> None:
    assert compile_rule(rule).evaluate(SELF) == expected


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("self.zzz == 1", "no such key: zzz"),
        ("self.l[9] == 1", "index out of bounds: 9"),
        ("self.s + 1 == 1", "no such overload"),
        ("1 / 0 == 1", "division by zero"),
        ("9223372036854775807 + 1 > 0", "integer overflow"),
        ("self.l.all(x, x.y)", "no such overload"),
    ],
)
def test_runtime_errors(rule: str, error: str) -> None:
    with pytest.raises(CelError, match=error):
        compile_rule(rule).evaluate(SELF)


@pytest.mark.parametrize(
    "rule",
    [
        "{'a': 1} == self",
        "self.quantity() == 1",
        "timestamp('2024-01-01T00:00:00Z') > 1",
        "foo == 1",
        "1u == 1u",
        "b'x' == b'x'",
        "self.a?.b",
        "self.",
        "has(self)",
        "self.l.all(x, y > 0)",
        "self.s.matches('[')",
    ],
)
def test_unsupported_rules_fail_at_compile_time(rule: str) -> None:
    with pytest.raises(UnsupportedRule):
        compile_rule(rule)


def test_old_self_detected() -> None:
    assert compile_rule("self == oldSelf").uses_old_self
    assert not compile_rule("self == 1").uses_old_self


ANALYSIS_RULE = "!(has(self.stepWeight) && has(self.iterations))"


def analysis_schema(**rule: Any) -> dict[str, Any]:
    analysis = {
        "type": "object",
        "properties": {"stepWeight": {"type": "integer"}, "iterations": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": ANALYSIS_RULE, **rule}],
    }
    spec = {"type": "object", "properties": {"analysis": analysis}}
    return {"type": "object", "properties": {"spec": spec}}


def test_rule_failure_default_message() -> None:
    obj = {"spec": {"analysis": {"stepWeight": 5, "iterations": 3}}}
    causes = validate(obj, analysis_schema())
    assert [(c.type, c.field, c.message) for c in causes] == [
        ("FieldValueInvalid", "spec.analysis", f"Invalid value: failed rule: {ANALYSIS_RULE}")
    ]
    assert validate({"spec": {"analysis": {"stepWeight": 5}}}, analysis_schema()) == []


def test_rule_message_reason_and_field_path() -> None:
    schema = analysis_schema(
        message="stepWeight and iterations are exclusive",
        reason="FieldValueForbidden",
        fieldPath=".iterations",
    )
    causes = validate({"spec": {"analysis": {"stepWeight": 5, "iterations": 3}}}, schema)
    assert [(c.type, c.field, c.message) for c in causes] == [
        (
            "FieldValueForbidden",
            "spec.analysis.iterations",
            "Forbidden: stepWeight and iterations are exclusive",
        )
    ]


def test_message_expression() -> None:
    schema = analysis_schema(messageExpression="'iterations=' + string(self.iterations)")
    causes = validate({"spec": {"analysis": {"stepWeight": 5, "iterations": 3}}}, schema)
    assert causes[0].message == "Invalid value: iterations=3"


def test_scalar_rule_shows_value_and_root_rule_is_nil() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "has(self.spec)"}],
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "port": {
                        "type": "integer",
                        "x-kubernetes-validations": [{"rule": "self > 1024"}],
                    }
                },
            }
        },
    }
    causes = validate({"spec": {"port": 80}}, schema)
    assert [str(c) for c in causes] == ["spec.port: Invalid value: 80: failed rule: self > 1024"]
    assert [str(c) for c in validate({}, schema)] == [
        "<nil>: Invalid value: failed rule: has(self.spec)"
    ]


def test_eval_error_message() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-validations": [{"rule": "self.x == 1"}]}
        },
    }
    assert [str(c) for c in validate({"spec": {}}, schema)] == [
        'spec: Invalid value: "object": no such key: x evaluating rule: self.x == 1'
    ]


def test_schema_errors_block_rules() -> None:
    obj = {"spec": {"analysis": {"stepWeight": "x", "iterations": 3}}}
    messages = [str(c) for c in validate(obj, analysis_schema())]
    assert messages[-1] == (
        '<nil>: Invalid value: "null": some validation rules were not checked because the object '
        "was invalid; correct the existing errors to complete validation"
    )
    assert len(messages) == 2


def test_transition_rules_skip_on_create_and_run_on_update() -> None:
    spec = {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}],
            }
        },
    }
    compiled = compile_schema({"type": "object", "properties": {"spec": spec}})
    assert compiled.validate({"spec": {"name": "a"}}) == []
    assert compiled.validate({"spec": {"name": "a"}}, old={"spec": {"name": "a"}}) == []
    causes = compiled.validate({"spec": {"name": "b"}}, old={"spec": {"name": "a"}})
    assert [str(c) for c in causes] == ['spec.name: Invalid value: "b": immutable']
    assert compiled.validate({"spec": {"name": "b"}}, old={"spec": {}}) == []


def test_transition_rules_correlate_map_lists() -> None:
    item = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "v": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf"}]},
        },
    }
    lst = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": item,
    }
    compiled = compile_schema({"type": "object", "properties": {"l": lst}})
    old = {"l": [{"name": "a", "v": 5}, {"name": "b", "v": 1}]}
    new = {"l": [{"name": "b", "v": 2}, {"name": "a", "v": 4}]}
    assert [str(c) for c in compiled.validate(new, old=old)] == [
        "l[1].v: Invalid value: 4: failed rule: self >= oldSelf"
    ]


def test_unsupported_rule_rejected_at_registration() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.x.quantity() > 1"}]}
    errors = check_crd_schema(schema)
    assert len(errors) == 1
    assert errors[0].startswith("openAPIV3Schema.x-kubernetes-validations[0].rule: Invalid value: ")
    assert "compilation failed: unsupported function quantity()" in errors[0]
    with pytest.raises(UnsupportedRule, match=r"openAPIV3Schema\.x-kubernetes-validations\[0\]"):
        compile_schema(schema)
