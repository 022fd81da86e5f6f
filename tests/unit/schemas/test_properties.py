"""Hypothesis properties: never raise, prune idempotence, generated values validate."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ensign.localcluster.schema import compile_schema

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "b", "name", "spec", "x", "kind", "apiVersion"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)

RICH: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [{"rule": "!has(self.spec) || size(self.spec) >= 0"}],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["name"],
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            "x-kubernetes-validations": [
                {"rule": "!(has(self.a) && has(self.b))", "message": "exclusive"},
                {"rule": "self.name.startsWith('n') || self.name.size() > 2", "fieldPath": ".name"},
            ],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 10, "pattern": "^[a-z]"},
                "a": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100,
                    "multipleOf": 5,
                    "default": 5,
                },
                "b": {"type": "number", "exclusiveMinimum": True, "minimum": 0.5},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "when": {"type": "string", "format": "date-time", "nullable": True},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "maxProperties": 3,
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "set": {
                    "type": "array",
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string"},
                },
                "ports": {
                    "type": "array",
                    "maxItems": 3,
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "n": {
                                "type": "integer",
                                "x-kubernetes-validations": [{"rule": "self >= oldSelf"}],
                            },
                        },
                    },
                },
                "tpl": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        },
    },
}
COMPILED = compile_schema(RICH)


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_validate_never_raises(value: Any, old: Any) -> None:
    COMPILED.validate(value)
    COMPILED.validate({"spec": value})
    COMPILED.validate({"spec": value}, old={"spec": old})
    COMPILED.admit({"spec": value})


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_prune_is_idempotent(value: Any) -> None:
    for obj in (value, {"spec": value, "junk": value}):
        once = COMPILED.prune(obj)
        assert COMPILED.prune(once) == once


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_defaulting_is_idempotent(value: Any) -> None:
    once = COMPILED.default({"spec": value})
    assert COMPILED.default(once) == once


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values satisfying the simple (non-CEL, non-junctor) keywords of ``schema``."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = {k: from_schema(v) for k, v in schema.get("properties", {}).items()}
        required = {k: props.pop(k) for k in schema.get("required", [])}
        return st.fixed_dictionaries(required, optional=props)
    if kind == "array":
        return st.lists(from_schema(schema["items"]), max_size=schema.get("maxItems", 4))
    if kind == "integer":
        return st.integers(schema.get("minimum", -1000), schema.get("maximum", 1000))
    if kind == "number":
        return st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6), exclude_min=True)
    if kind == "boolean":
        return st.booleans()
    return st.text(
        alphabet="abcdefgh",
        min_size=schema.get("minLength", 0),
        max_size=schema.get("maxLength", 8),
    )


GENERATED: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["name", "weights"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 5},
                "weights": {
                    "type": "array",
                    "maxItems": 5,
                    "items": {"type": "integer", "minimum": 0, "maximum": 100},
                },
                "mode": {"type": "string", "enum": ["Canary", "BlueGreen"]},
                "ratio": {"type": "number", "minimum": 0, "maximum": 1},
                "on": {"type": "boolean"},
                "nested": {
                    "type": "object",
                    "properties": {"n": {"type": "integer", "minimum": 1}},
                    "x-kubernetes-validations": [{"rule": "!has(self.n) || self.n >= 1"}],
                },
            },
        }
    },
}
GENERATED_COMPILED = compile_schema(GENERATED)


@settings(max_examples=200, deadline=None)
@given(from_schema(GENERATED))
def test_generated_values_validate(value: Any) -> None:
    assert GENERATED_COMPILED.validate(value) == []
    assert GENERATED_COMPILED.prune(value) == value
