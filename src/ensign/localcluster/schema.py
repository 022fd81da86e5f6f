"""CRD ``openAPIV3Schema`` handling for the local cluster: validate, prune, default, check.

Pure functions over JSON values (dict/list/str/int/float/bool/None).  Causes and
messages mirror kube-apiserver 1.30+: kube-openapi schema errors as converted by
apiextensions (paths ``spec.items[0].name``, map entries ``spec.labels.foo``, junctor
failures on ``<nil>``), then embedded-resource checks, ``x-kubernetes-list-type``
uniqueness and ``x-kubernetes-validations`` rules (field.Path style ``spec.labels[foo]``,
the root is ``<nil>``).  Use :func:`compile_schema` once per CRD version; the
module-level :func:`validate`, :func:`prune` and :func:`apply_defaults` also accept a
raw schema (compiling it on every call).

The pieces live next door: :mod:`schema_messages` (causes, Go-style wording),
:mod:`schema_formats`, :mod:`schema_nodes` (compiled nodes), :mod:`schema_keywords` and
:mod:`schema_extensions` (the validation phases), :mod:`schema_pruning`, and
:mod:`crd_keywords`/:mod:`crd_structure` (CRD registration checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ensign.localcluster.cel import UnsupportedRule
from ensign.localcluster.crd_keywords import (
    CheckContext,
    check_api,
    check_rules_compile,
    sub_schemas,
)
from ensign.localcluster.crd_structure import check_structural
from ensign.localcluster.schema_extensions import (
    ABSENT,
    BLOCKED,
    check_embedded,
    check_lists,
    check_rules,
)
from ensign.localcluster.schema_keywords import check_keywords
from ensign.localcluster.schema_messages import (
    BLOCKING,
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NIL,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE_INVALID,
    Cause,
    format_invalid_message,
    go_float,
    go_json,
    go_quote,
    go_value,
    invalid_status,
    make_cause,
)
from ensign.localcluster.schema_nodes import SchemaNode, is_map
from ensign.localcluster.schema_pruning import copy_json, default_node, prune_node

__all__ = [
    "DUPLICATE",
    "FORBIDDEN",
    "INVALID",
    "NOT_SUPPORTED",
    "REQUIRED",
    "TOO_LONG",
    "TOO_MANY",
    "TYPE_INVALID",
    "Cause",
    "CompiledSchema",
    "UnsupportedRule",
    "apply_defaults",
    "check_crd_schema",
    "compile_schema",
    "crd_schema_causes",
    "format_invalid_message",
    "go_float",
    "go_json",
    "go_quote",
    "go_value",
    "invalid_status",
    "make_cause",
    "prune",
    "validate",
]


class CompiledSchema:
    """A compiled ``openAPIV3Schema``; build once per CRD version and reuse.

    Raises :class:`UnsupportedRule` if an ``x-kubernetes-validations`` rule falls outside
    the CEL subset (run :func:`check_crd_schema` first to get a 422-ready message).
    """

    __slots__ = ("_root", "raw")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.raw = schema
        self._root = SchemaNode(schema, "openAPIV3Schema")

    @property
    def has_rules(self) -> bool:
        """Whether any node carries ``x-kubernetes-validations``."""
        return self._root.deep_rules

    def validate(self, obj: Any, *, old: Any = None) -> list[Cause]:
        """Causes for ``obj`` in apiserver order; ``old`` enables transition rules."""
        out: list[Cause] = []
        check_keywords(self._root, obj, (), out)
        if self._root.deep_embedded:
            check_embedded(self._root, obj, (), out)
        if self._root.deep_lists:
            check_lists(self._root, obj, (), out)
        if self._root.deep_rules:
            if any(cause.type in BLOCKING for cause in out):
                out.append(BLOCKED)
            else:
                check_rules(self._root, obj, ABSENT if old is None else old, (), out)
        return out

    def prune(self, obj: Any) -> Any:
        """A copy of ``obj`` without fields the schema does not know."""
        return prune_node(self._root, obj, resource=True)

    def default(self, obj: Any) -> Any:
        """A copy of ``obj`` with defaults applied (and non-nullable nulls dropped)."""
        result = copy_json(obj)
        default_node(self._root, result, root=True)
        return result

    def admit(self, obj: Any, *, old: Any = None) -> tuple[Any, list[Cause]]:
        """Prune, default, then validate, as the apiserver does on create/update."""
        result = self.default(self.prune(obj))
        return result, self.validate(result, old=old)


def compile_schema(schema: Mapping[str, Any]) -> CompiledSchema:
    """Compile ``schema`` (an ``openAPIV3Schema`` mapping)."""
    return CompiledSchema(schema)


def _compiled(schema: Mapping[str, Any] | CompiledSchema) -> CompiledSchema:
    return schema if isinstance(schema, CompiledSchema) else CompiledSchema(schema)


def validate(
    obj: Any, schema: Mapping[str, Any] | CompiledSchema, *, old: Any = None
) -> list[Cause]:
    """Validate ``obj``; an empty list means valid."""
    return _compiled(schema).validate(obj, old=old)


def prune(obj: Any, schema: Mapping[str, Any] | CompiledSchema) -> Any:
    """Return ``obj`` without unknown fields (root apiVersion/kind/metadata are kept)."""
    return _compiled(schema).prune(obj)


def apply_defaults(obj: Any, schema: Mapping[str, Any] | CompiledSchema) -> Any:
    """Return ``obj`` with schema defaults applied to present parents."""
    return _compiled(schema).default(obj)


def check_crd_schema(schema: Any, *, path: str = "openAPIV3Schema") -> list[str]:
    """Registration errors for ``schema`` as ``<path>: <message>`` strings ([] if fine)."""
    return [str(cause) for cause in crd_schema_causes(schema, path=path)]


def crd_schema_causes(schema: Any, *, path: str = "openAPIV3Schema") -> list[Cause]:
    """Registration errors for ``schema`` as causes, in apiserver order.

    Paths use the CRD field path (``openAPIV3Schema.properties[spec].type``); pass
    ``path="spec.versions[0].schema.openAPIV3Schema"`` to get the server's full path.
    CEL rules and defaults are only checked once the schema itself is sound.
    """
    if not is_map(schema):
        return [make_cause(REQUIRED, path, detail="must be an object")]
    out: list[Cause] = []
    check_api(schema, path, CheckContext(root=True), out)
    structural: list[Cause] = []
    check_structural(schema, path, "root", structural)
    out.extend(sorted(structural, key=str))
    if not out:
        check_rules_compile(schema, path, CheckContext(root=True), out)
    if not out:
        _check_defaults(schema, path, out)
    return out


def _check_defaults(raw: Mapping[str, Any], path: str, out: list[Cause]) -> None:
    if "default" in raw:
        node = SchemaNode(raw, path)
        value = raw["default"]
        for cause in CompiledSchema(raw).validate(value):
            inner = "" if cause.field == NIL else "." + cause.field
            out.append(Cause(cause.type, f"{path}.default{inner}", cause.message))
        if prune_node(node, value, resource=node.embedded) != value:
            detail = "must not have unknown fields"
            out.append(make_cause(INVALID, f"{path}.default", value=value, detail=detail))
    for _kind, sub_path, sub in sub_schemas(raw, path):
        _check_defaults(sub, sub_path, out)
