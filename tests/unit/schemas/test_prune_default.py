"""Pruning unknown fields and applying defaults like the apiserver."""

from __future__ import annotations

from typing import Any

from ensign.localcluster.schema import apply_defaults, compile_schema, prune

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "known": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "mixed": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "inner": {"type": "object", "properties": {"a": {"type": "integer"}}}
                    },
                },
                "list": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
                "tpl": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {
                        "spec": {"type": "object", "properties": {"x": {"type": "integer"}}}
                    },
                },
            },
        },
    },
}


def test_prune_drops_unknown_and_keeps_resource_meta() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "K",
        "metadata": {"name": "n", "labels": {"a": "b"}},
        "spec": {
            "known": "k",
            "unknown": 1,
            "labels": {"x": "y"},
            "free": {"anything": {"goes": [1]}},
            "mixed": {"extra": 1, "inner": {"a": 1, "b": 2}},
            "list": [{"name": "a", "junk": True}],
            "tpl": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"x": 1, "y": 2},
                "z": 1,
            },
        },
        "status": {"dropped": True},
    }
    pruned = prune(obj, SCHEMA)
    assert pruned == {
        "apiVersion": "v1",
        "kind": "K",
        "metadata": {"name": "n", "labels": {"a": "b"}},
        "spec": {
            "known": "k",
            "labels": {"x": "y"},
            "free": {"anything": {"goes": [1]}},
            "mixed": {"extra": 1, "inner": {"a": 1}},
            "list": [{"name": "a"}],
            "tpl": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}},
        },
    }
    assert obj["spec"]["unknown"] == 1  # input untouched
    pruned["spec"]["free"]["anything"]["goes"].append(2)
    assert obj["spec"]["free"]["anything"]["goes"] == [1]  # no aliasing


def test_prune_leaves_wrong_types_for_validation() -> None:
    assert prune({"spec": "not-an-object"}, SCHEMA) == {"spec": "not-an-object"}


DEFAULTS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "analysis": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "interval": {"type": "string", "default": "1m"},
                        "threshold": {"type": "integer", "default": 5},
                        "maybe": {"type": "string", "nullable": True, "default": "d"},
                    },
                },
                "absentParent": {
                    "type": "object",
                    "properties": {"x": {"type": "integer", "default": 1}},
                },
                "nulled": {"type": "string"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"w": {"type": "integer", "default": 10}},
                    },
                },
            },
        },
    },
}


def test_defaults_apply_to_present_parents_and_nested_defaults() -> None:
    obj = {"spec": {"nulled": None, "items": [{}, {"w": 3}]}}
    result = apply_defaults(obj, DEFAULTS)
    assert result == {
        "spec": {
            "analysis": {"interval": "1m", "threshold": 5, "maybe": "d"},
            "items": [{"w": 10}, {"w": 3}],
        }
    }
    assert obj == {"spec": {"nulled": None, "items": [{}, {"w": 3}]}}


def test_defaults_replace_non_nullable_null_but_keep_nullable_null() -> None:
    obj = {"spec": {"analysis": {"threshold": None, "maybe": None}}}
    assert apply_defaults(obj, DEFAULTS)["spec"]["analysis"] == {
        "interval": "1m",
        "threshold": 5,
        "maybe": None,
    }


def test_admit_prunes_defaults_then_validates() -> None:
    compiled = compile_schema(DEFAULTS)
    result, causes = compiled.admit({"spec": {"junk": 1, "items": [{"w": "x"}]}})
    assert "junk" not in result["spec"]
    assert [c.field for c in causes] == ["spec.items[0].w"]
