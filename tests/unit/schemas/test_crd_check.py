"""Registration-time checks: structural schema rules and apiextensions restrictions."""

from __future__ import annotations

from typing import Any

import pytest

from ensign.localcluster.schema import check_crd_schema, crd_schema_causes

OK: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "free": {"x-kubernetes-preserve-unknown-fields": True},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}},
                    },
                },
                "a": {"type": "integer", "default": 1, "minimum": 0},
            },
            "oneOf": [{"required": ["a"]}, {"required": ["port"]}],
            "x-kubernetes-validations": [
                {"rule": "!(has(self.a) && has(self.port))", "fieldPath": ".a"}
            ],
        },
    },
}


def spec_with(**spec: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", **spec}}}


def test_good_schema_passes() -> None:
    assert check_crd_schema(OK) == []


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            spec_with(properties={"x": {"description": "no type"}}),
            "openAPIV3Schema.properties[spec].properties[x].type: Required value: "
            "must not be empty for specified object fields",
        ),
        (
            spec_with(properties={"l": {"type": "array"}}),
            "openAPIV3Schema.properties[spec].properties[l].items: Required value: must be specified",
        ),
        (
            spec_with(properties={"l": {"type": "array", "items": {}}}),
            "openAPIV3Schema.properties[spec].properties[l].items.type: Required value: "
            "must not be empty for specified array items",
        ),
        (
            {"type": "string"},
            'openAPIV3Schema.type: Invalid value: "string": must be object at the root',
        ),
        (
            spec_with(
                properties={"a": {"type": "string"}}, additionalProperties={"type": "string"}
            ),
            "openAPIV3Schema.properties[spec].additionalProperties: Forbidden: "
            "additionalProperties and properties are mutual exclusive",
        ),
        (
            spec_with(oneOf=[{"type": "object"}]),
            "openAPIV3Schema.properties[spec].oneOf[0].type: Forbidden: must be empty to be structural",
        ),
        (
            spec_with(anyOf=[{"description": "d", "nullable": True}]),
            "openAPIV3Schema.properties[spec].anyOf[0].description: Forbidden: "
            "must be empty to be structural",
        ),
        (
            spec_with(allOf=[{"properties": {"x": {"minimum": 1}}}]),
            "openAPIV3Schema.properties[spec].properties[x]: Required value: "
            "because it is defined in openAPIV3Schema.properties[spec].allOf[0].properties[x]",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}
                },
            },
            "openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than "
            "name and generateName, but metadata is implicitly specified",
        ),
        (
            spec_with(
                properties={
                    "l": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}
                }
            ),
            "openAPIV3Schema.properties[spec].properties[l].uniqueItems: Forbidden: "
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ),
        (
            spec_with(properties={"x": {"type": "string", "const": "a"}}),
            'openAPIV3Schema.properties[spec].properties[x].const: Forbidden: unknown field "const"',
        ),
        (
            spec_with(properties={"x": {"$ref": "#/definitions/x"}}),
            "openAPIV3Schema.properties[spec].properties[x].$ref: Forbidden: $ref is not supported",
        ),
        (
            spec_with(properties={"x": {"type": "null"}}),
            "openAPIV3Schema.properties[spec].properties[x].type: Forbidden: "
            "type cannot be set to null, use nullable as an alternative",
        ),
        (
            spec_with(properties={"x": {"type": "string", "x-kubernetes-list-type": "set"}}),
            'openAPIV3Schema.properties[spec].properties[x].type: Invalid value: "string": '
            "must be array if x-kubernetes-list-type is specified",
        ),
        (
            spec_with(
                properties={
                    "l": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    }
                }
            ),
            "openAPIV3Schema.properties[spec].properties[l].items.properties[name].default: "
            "Required value: this property is in x-kubernetes-list-map-keys, so it must have a "
            "default or be a required property",
        ),
        (
            {"type": "object", "properties": {"metadata": {"type": "object", "default": {}}}},
            "openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata",
        ),
        (
            spec_with(properties={"x": {"type": "string", "pattern": "(["}}),
            'openAPIV3Schema.properties[spec].properties[x].pattern: Invalid value: "([": '
            "must be a valid regular expression, but isn't: ",
        ),
        (
            spec_with(**{"x-kubernetes-validations": [{"rule": "self.x", "reason": "Nope"}]}),
            'openAPIV3Schema.properties[spec].x-kubernetes-validations[0].reason: Unsupported value: "Nope": '
            'supported values: "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", '
            '"FieldValueRequired"',
        ),
        (
            spec_with(**{"x-kubernetes-validations": [{"rule": "true", "fieldPath": ".nope"}]}),
            'openAPIV3Schema.properties[spec].x-kubernetes-validations[0].fieldPath: Invalid value: ".nope": '
            "fieldPath must be a valid path",
        ),
        (
            spec_with(properties={"a": {"type": "integer", "default": "x"}}),
            'openAPIV3Schema.properties[spec].properties[a].default: Invalid value: "string": '
            ' in body must be of type integer: "string"',
        ),
        (
            spec_with(
                properties={
                    "l": {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "x-kubernetes-validations": [{"rule": "self == oldSelf"}],
                        },
                    }
                }
            ),
            "openAPIV3Schema.properties[spec].properties[l].items.x-kubernetes-validations[0].rule: "
            'Invalid value: "self == oldSelf": oldSelf cannot be used on the uncorrelatable portion '
            "of the schema within openAPIV3Schema.properties[spec].properties[l]",
        ),
    ],
)
def test_rejects(schema: dict[str, Any], expected: str) -> None:
    errors = check_crd_schema(schema)
    assert any(e.startswith(expected) for e in errors), errors


def test_custom_path_prefix_and_causes() -> None:
    causes = crd_schema_causes({"type": "string"}, path="spec.versions[0].schema.openAPIV3Schema")
    assert [(c.type, c.field) for c in causes] == [
        ("FieldValueInvalid", "spec.versions[0].schema.openAPIV3Schema.type")
    ]


def test_not_a_mapping() -> None:
    assert check_crd_schema([]) == ["openAPIV3Schema: Required value: must be an object"]
