"""A typed, error-collecting view of one JSON object inside a resource. Pure.

Each getter returns the value when it has the right type and otherwise records a
`SpecError` at the field's JSON path and returns `None`, so a parser can keep going and
report every problem at once. YAML nulls count as absent, as the API server treats them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from ensign.model.durations import parse_duration
from ensign.model.errors import SpecError

E = TypeVar("E", bound=StrEnum)


def show(value: object) -> str:
    """A JSON-ish rendering of a bad value for messages: `"three"`, `true`, `5`, `an object`."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | bool | int | float) or value is None:
        return json.dumps(value, ensure_ascii=False)
    return type(value).__name__


def number_text(value: float) -> str:
    """`10` for 10.0, `0.5` for 0.5."""
    return str(int(value)) if value.is_integer() else repr(value)


def is_http_url(value: str) -> bool:
    """An absolute `http://` or `https://` URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Fields:
    """Typed getters over `body` (the object at `path`) that append problems to `errors`."""

    __slots__ = ("body", "errors", "path")

    def __init__(self, body: Mapping[str, object], *, path: str, errors: list[SpecError]) -> None:
        self.body = body
        self.path = path
        self.errors = errors

    def at(self, key: str) -> str:
        """The JSON path of `key` in this object."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str) -> None:
        """Record a problem at `key` (or at this object itself when `key` is None)."""
        self.errors.append(SpecError(self.path if key is None else self.at(key), message))

    def has(self, key: str) -> bool:
        return self.body.get(key) is not None

    def raw(self, key: str) -> object | None:
        return self.body.get(key)

    def _missing(self, key: str, *, required: bool) -> bool:
        if self.body.get(key) is not None:
            return False
        if required:
            self.error(key, "is required")
        return True

    def known(self, keys: Collection[str]) -> None:
        """Report keys outside `keys` (typos such as `stepweight`), suggesting the closest match."""
        for key in self.body:
            if key in keys:
                continue
            close = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            self.error(key, f"unknown field{hint}")

    def string(self, key: str, *, required: bool = False) -> str | None:
        if self._missing(key, required=required):
            return None
        value = self.body[key]
        if not isinstance(value, str):
            self.error(key, f"must be a string (got {show(value)})")
            return None
        if required and not value:
            self.error(key, "is required")
            return None
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        if self._missing(key, required=required):
            return None
        value = self.body[key]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"must be an integer (got {show(value)})")
            return None
        return value

    def number(self, key: str) -> float | None:
        if self._missing(key, required=False):
            return None
        value = self.body[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(key, f"must be a number (got {show(value)})")
            return None
        return float(value)

    def boolean(self, key: str) -> bool:
        """The flag's value; absent or mistyped counts as false (the latter is reported)."""
        value = self.body.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.error(key, f"must be true or false (got {show(value)})")
            return False
        return value

    def choice(self, key: str, choices: type[E], *, required: bool = False) -> E | None:
        if self._missing(key, required=required):
            return None
        value = self.body[key]
        for member in choices:
            if value == member.value:
                return member
        listed = ", ".join(member.value for member in choices)
        got = value if isinstance(value, str) and value else show(value)
        self.error(key, f"must be one of {listed} (got {got})")
        return None

    def duration(self, key: str, *, required: bool = False) -> tuple[str, float] | None:
        """The duration text and its seconds; negative durations are rejected."""
        if self._missing(key, required=required):
            return None
        value = self.body[key]
        try:
            seconds = parse_duration(value) if isinstance(value, str) else None
        except ValueError:
            seconds = None
        if not isinstance(value, str) or seconds is None:
            self.error(key, f"not a duration (got {show(value)}); use e.g. 1m or 30s")
            return None
        if seconds < 0:
            self.error(key, f"must not be negative (got {show(value)})")
            return None
        return value, seconds

    def url(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is not None and not is_http_url(value):
            self.error(key, f"must be an absolute http(s) URL (got {show(value)})")
            return None
        return value

    def obj(self, key: str, *, required: bool = False) -> Fields | None:
        if self._missing(key, required=required):
            return None
        value = self.body[key]
        if not isinstance(value, Mapping):
            self.error(key, f"must be an object (got {show(value)})")
            return None
        return Fields(value, path=self.at(key), errors=self.errors)

    def items(self, key: str) -> list[object]:
        if self._missing(key, required=False):
            return []
        value = self.body[key]
        if not isinstance(value, list | tuple):
            self.error(key, f"must be a list (got {show(value)})")
            return []
        return list(value)

    def objects(self, key: str) -> list[tuple[int, Fields]]:
        """The list's object entries with their index; non-object entries are reported."""
        found: list[tuple[int, Fields]] = []
        for index, item in enumerate(self.items(key)):
            path = f"{self.at(key)}[{index}]"
            if isinstance(item, Mapping):
                found.append((index, Fields(item, path=path, errors=self.errors)))
            else:
                self.errors.append(SpecError(path, f"must be an object (got {show(item)})"))
        return found

    def strings(self, key: str) -> tuple[str, ...]:
        found: list[str] = []
        for index, item in enumerate(self.items(key)):
            if isinstance(item, str):
                found.append(item)
            else:
                path = f"{self.at(key)}[{index}]"
                self.errors.append(SpecError(path, f"must be a string (got {show(item)})"))
        return tuple(found)

    def string_map(self, key: str) -> dict[str, str]:
        """A map of string to string; non-string values are reported (quote numbers in YAML)."""
        nested = self.obj(key)
        if nested is None:
            return {}
        found: dict[str, str] = {}
        for name, value in nested.body.items():
            if isinstance(value, str):
                found[name] = value
            else:
                nested.error(name, f"must be a string (got {show(value)})")
        return found
