"""Reading a routing object's fields as a data plane reads them. Pure.

The routing readers take objects as parsed JSON, as the API server holds them. A data plane
does not fail on a field it cannot use; it treats it as absent. These readers do the same:
a list that is not a list is empty, a number that does not parse takes its default, and a
regular expression that does not compile matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "annotations_of",
    "dicts",
    "fullmatch",
    "integer",
    "object_name",
    "object_namespace",
    "qualified_name",
    "search",
]

JSON = Mapping[str, Any]


def object_name(obj: JSON | None) -> str:
    """`metadata.name`, or "" when there is none."""
    return str(((obj or {}).get("metadata") or {}).get("name") or "")


def object_namespace(obj: JSON | None) -> str:
    """`metadata.namespace`, or "" for a cluster-scoped object."""
    return str(((obj or {}).get("metadata") or {}).get("namespace") or "")


def qualified_name(obj: JSON | None) -> str:
    """The object as `namespace/name`, or as its name alone when it has no namespace."""
    namespace, name = object_namespace(obj), object_name(obj)
    return f"{namespace}/{name}" if namespace else name


def annotations_of(obj: JSON) -> Mapping[str, Any]:
    return ((obj.get("metadata") or {}).get("annotations")) or {}


def dicts(value: object) -> list[JSON]:
    """The mappings in a JSON list; anything else in it, or a non-list, is skipped."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def integer(value: object, *, default: int = 0) -> int:
    """A JSON number or a numeric string as an int; `default` for null, booleans and the
    rest."""
    if value is None or isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return default


def fullmatch(pattern: str, text: str) -> bool:
    """Whether the whole of `text` matches; an invalid pattern matches nothing."""
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return False


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches anywhere in `text`; an invalid pattern matches nothing."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False
