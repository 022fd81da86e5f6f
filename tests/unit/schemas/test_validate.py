"""Table tests: one keyword at a time, exact cause type, field and message."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.localcluster.schema import Cause, compile_schema, validate


def root(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": spec}, **extra}


def one(spec_schema: dict[str, Any], spec_value: Any) -> list[tuple[str, str, str]]:
    causes = validate({"spec": spec_value}, root(spec_schema))
    return [(c.type, c.field, c.message) for c in causes]


INT = {"type": "integer"}
CASES: list[tuple[str, dict[str, Any], Any, list[tuple[str, str, str]]]] = [
    (
        "type integer rejects string",
        {"type": "object", "properties": {"x": INT}},
        {"x": "string"},
        [
            (
                "FieldValueTypeInvalid",
                "spec.x",
                'Invalid value: "string": spec.x in body must be of type integer: "string"',
            )
        ],
    ),
    (
        "integer rejects bool",
        {"type": "object", "properties": {"x": INT}},
        {"x": True},
        [
            (
                "FieldValueTypeInvalid",
                "spec.x",
                'Invalid value: "boolean": spec.x in body must be of type integer: "boolean"',
            )
        ],
    ),
    ("integer accepts 3.0", {"type": "object", "properties": {"x": INT}}, {"x": 3.0}, []),
    (
        "number accepts int",
        {"type": "object", "properties": {"x": {"type": "number"}}},
        {"x": 3},
        [],
    ),
    (
        "null needs nullable",
        {"type": "object", "properties": {"x": {"type": "string"}}},
        {"x": None},
        [
            (
                "FieldValueTypeInvalid",
                "spec.x",
                'Invalid value: "null": spec.x in body must be of type string: "null"',
            )
        ],
    ),
    (
        "nullable null ok",
        {"type": "object", "properties": {"x": {"type": "string", "nullable": True}}},
        {"x": None},
        [],
    ),
    (
        "required",
        {"type": "object", "required": ["a", "b"], "properties": {"a": INT}},
        {"a": 1},
        [("FieldValueRequired", "spec.b", "Required value")],
    ),
    (
        "enum",
        {"type": "string", "enum": ["a", "b"]},
        "foo",
        [
            (
                "FieldValueNotSupported",
                "spec",
                'Unsupported value: "foo": supported values: "a", "b"',
            )
        ],
    ),
    (
        "enum of ints",
        {"type": "integer", "enum": [1, 2]},
        3,
        [("FieldValueNotSupported", "spec", 'Unsupported value: 3: supported values: "1", "2"')],
    ),
    (
        "minimum",
        {"type": "object", "properties": {"w": {"type": "integer", "minimum": 0}}},
        {"w": -5},
        [
            (
                "FieldValueInvalid",
                "spec.w",
                "Invalid value: -5: spec.w in body should be greater than or equal to 0",
            )
        ],
    ),
    (
        "exclusive maximum (float)",
        {"type": "number", "maximum": 1.5, "exclusiveMaximum": True},
        1.5,
        [("FieldValueInvalid", "spec", "Invalid value: 1.5: spec in body should be less than 1.5")],
    ),
    (
        "maximum 1e6 prints like Go",
        {"type": "number", "maximum": 1000000},
        2000000.5,
        [
            (
                "FieldValueInvalid",
                "spec",
                "Invalid value: 2.0000005e+06: spec in body should be less than or equal to 1e+06",
            )
        ],
    ),
    (
        "multipleOf",
        {"type": "integer", "multipleOf": 5},
        7,
        [("FieldValueInvalid", "spec", "Invalid value: 7: spec in body should be a multiple of 5")],
    ),
    (
        "maxLength",
        {"type": "string", "maxLength": 3},
        "abcd",
        [("FieldValueTooLong", "spec", "Too long: may not be more than 3 bytes")],
    ),
    (
        "minLength",
        {"type": "string", "minLength": 3},
        "ab",
        [
            (
                "FieldValueInvalid",
                "spec",
                'Invalid value: "ab": spec in body should be at least 3 chars long',
            )
        ],
    ),
    (
        "pattern uses search semantics",
        {"type": "string", "pattern": "b+"},
        "abc",
        [],
    ),
    (
        "pattern failure",
        {"type": "string", "pattern": "^[a-z]+$"},
        "ABC",
        [
            (
                "FieldValueInvalid",
                "spec",
                "Invalid value: \"ABC\": spec in body should match '^[a-z]+$'",
            )
        ],
    ),
    (
        "format date-time",
        {"type": "string", "format": "date-time"},
        "yesterday",
        [
            (
                "FieldValueTypeInvalid",
                "spec",
                'Invalid value: "yesterday": spec in body must be of type date-time: "yesterday"',
            )
        ],
    ),
    ("format date-time ok", {"type": "string", "format": "date-time"}, "2024-01-02T03:04:05Z", []),
    ("unknown format ignored", {"type": "string", "format": "k8s-whatever"}, "%%", []),
    (
        "int32 range",
        {"type": "integer", "format": "int32"},
        2**31,
        [
            (
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": Checked value must be of type integer with format int32 in spec',
            )
        ],
    ),
    (
        "minItems",
        {"type": "array", "items": INT, "minItems": 2},
        [1],
        [
            (
                "FieldValueInvalid",
                "spec",
                "Invalid value: 1: spec in body should have at least 2 items",
            )
        ],
    ),
    (
        "maxItems",
        {"type": "array", "items": INT, "maxItems": 1},
        [1, 2],
        [("FieldValueTooMany", "spec", "Too many: 2: must have at most 1 item")],
    ),
    (
        "items index path",
        {"type": "object", "properties": {"sw": {"type": "array", "items": INT}}},
        {"sw": [1, "x"]},
        [
            (
                "FieldValueTypeInvalid",
                "spec.sw[1]",
                'Invalid value: "string": spec.sw[1] in body must be of type integer: "string"',
            )
        ],
    ),
    (
        "maxProperties",
        {"type": "object", "additionalProperties": INT, "maxProperties": 1},
        {"a": 1, "b": 2},
        [("FieldValueTooMany", "spec", "Too many: 2: must have at most 1 item")],
    ),
    (
        "minProperties",
        {"type": "object", "additionalProperties": INT, "minProperties": 2},
        {"a": 1},
        [
            (
                "FieldValueInvalid",
                "spec",
                "Invalid value: 1: spec in body should have at least 2 properties",
            )
        ],
    ),
    (
        "additionalProperties schema path",
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"foo": 1},
        [
            (
                "FieldValueTypeInvalid",
                "spec.foo",
                'Invalid value: "integer": spec.foo in body must be of type string: "integer"',
            )
        ],
    ),
    (
        "oneOf none valid",
        {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {},
        [
            (
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec" must validate one and only one schema (oneOf). '
                "Found none valid",
            ),
            ("FieldValueRequired", "spec.a", "Required value"),
        ],
    ),
    (
        "oneOf two valid",
        {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"a": 1, "b": 2},
        [
            (
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec" must validate one and only one schema (oneOf). '
                "Found 2 valid alternatives",
            )
        ],
    ),
    (
        "anyOf int-or-string",
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        1.5,
        [
            (
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec" must validate at least one schema (anyOf)',
            ),
            (
                "FieldValueTypeInvalid",
                "spec",
                'Invalid value: "number": spec in body must be of type integer: "number"',
            ),
        ],
    ),
    ("int-or-string accepts string", {"x-kubernetes-int-or-string": True}, "25%", []),
    (
        "not",
        {"type": "string", "not": {"enum": ["x"]}},
        "x",
        [
            (
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec" must not validate the schema (not)',
            )
        ],
    ),
    (
        "allOf",
        {"type": "integer", "allOf": [{"minimum": 5}, {"maximum": 10}]},
        1,
        [
            (
                "FieldValueInvalid",
                "spec",
                "Invalid value: 1: spec in body should be greater than or equal to 5",
            ),
            (
                "FieldValueInvalid",
                "<nil>",
                'Invalid value: "": "spec" must validate all the schemas (allOf)',
            ),
        ],
    ),
]


@pytest.mark.parametrize(("name", "schema", "value", "expected"), CASES, ids=[c[0] for c in CASES])
def test_keyword(
    name: str, schema: dict[str, Any], value: Any, expected: list[tuple[str, str, str]]
) -> None:
    assert one(schema, value) == expected


def test_list_type_set_duplicates() -> None:
    schema = {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
    assert one(schema, ["a", "b", "a", "a"]) == [
        ("FieldValueDuplicate", "spec[2]", 'Duplicate value: "a"')
    ]
    assert one(schema, [1, 1.0]) == [
        (
            "FieldValueTypeInvalid",
            "spec[0]",
            'Invalid value: "integer": spec[0] in body must be of type string: "integer"',
        ),
        (
            "FieldValueTypeInvalid",
            "spec[1]",
            'Invalid value: "number": spec[1] in body must be of type string: "number"',
        ),
    ]


def test_list_type_map_duplicates() -> None:
    item = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    schema = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": item,
    }
    assert one(schema, [{"name": "a"}, {"name": "b"}, {"name": "a"}]) == [
        ("FieldValueDuplicate", "spec[2]", 'Duplicate value: {"name":"a"}')
    ]


def test_map_key_paths_use_brackets_outside_openapi_phase() -> None:
    schema = {
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "x-kubernetes-list-type": "set",
            "items": {"type": "integer"},
        },
    }
    assert one(schema, {"k": [1, 1]}) == [
        ("FieldValueDuplicate", "spec[k][1]", "Duplicate value: 1")
    ]


def test_embedded_resource_requires_kind_and_api_version() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tpl": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        },
    }
    assert one(schema, {"tpl": {"kind": ""}}) == [
        ("FieldValueRequired", "spec.tpl.apiVersion", "Required value: must not be empty"),
        ("FieldValueInvalid", "spec.tpl.kind", 'Invalid value: "": must not be empty'),
    ]


def test_root_level_type_error_field_is_nil() -> None:
    causes = validate("nope", {"type": "object"})
    assert causes == [
        Cause(
            "FieldValueTypeInvalid",
            "<nil>",
            'Invalid value: "string":  in body must be of type object: "string"',
        )
    ]


def test_compiled_schema_is_reusable_and_fast() -> None:
    import time

    spec = {
        "type": "object",
        "properties": {f"f{i}": {"type": "integer", "minimum": 0} for i in range(40)},
    }
    compiled = compile_schema(root(spec))
    obj = {"spec": {f"f{i}": i for i in range(40)}}
    assert compiled.validate(obj) == []
    start = time.perf_counter()
    for _ in range(200):
        compiled.validate(obj)
    assert (time.perf_counter() - start) / 200 < 0.001
