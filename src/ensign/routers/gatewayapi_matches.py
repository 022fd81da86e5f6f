"""Istio-style `HTTPMatchRequest`s (`service.match`, `analysis.match`) as Gateway API
`HTTPRouteMatch`es. Pure.

uri regex/exact/prefix -> path `RegularExpression`/`Exact`/`PathPrefix` (that priority, as
Flagger); method exact; headers and queryParams exact or regex. Entries that map to nothing
are dropped.

Where Ensign differs from Flagger: every selector Gateway API cannot express raises
`RouteError` with Flagger's message plus the field path, including the Istio match fields it
has no counterpart for (`authority`, `scheme`, `withoutHeaders`, `port`, `sourceLabels`,
`sourceNamespace`, `gateways`, `ignoreUriCase: true`), which Flagger drops silently. Headers
and query parameters are emitted sorted by name (Flagger iterates a Go map: random order).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NoReturn, TypeAlias

from ensign.routers.protocol import RouteError

JSON: TypeAlias = dict[str, Any]

DEFAULT_MATCH: Final[Mapping[str, Any]] = {"path": {"type": "PathPrefix", "value": "/"}}
"""The match Flagger writes when `service.match` is empty."""
PATH_TYPES: Final = (("regex", "RegularExpression"), ("exact", "Exact"), ("prefix", "PathPrefix"))
VALUE_TYPES: Final = (("exact", "Exact"), ("regex", "RegularExpression"))
UNSUPPORTED_MATCH_FIELDS: Final = (
    "authority",
    "scheme",
    "withoutHeaders",
    "port",
    "sourceLabels",
    "sourceNamespace",
    "gateways",
)


def merge_matches(analysis: list[JSON], service: list[JSON]) -> list[JSON]:
    """Cross product: each analysis entry x each service match, the analysis entry's headers
    and queryParams replacing the service match's (Flagger's `mergeMatchConditions`)."""
    if not analysis:
        return service
    if not service:
        return analysis
    merged = []
    for extra in analysis:
        for base in service:
            match = dict(base)
            for key in ("headers", "queryParams"):
                if extra.get(key):
                    match[key] = extra[key]
            merged.append(match)
    return merged


def map_matches(raw: object, path: str) -> list[JSON]:
    """Istio `HTTPMatchRequest`s → Gateway API `HTTPRouteMatch`es; empty ones are dropped."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return []
    matches = []
    for index, entry in enumerate(raw):
        if isinstance(entry, Mapping):
            match = _map_match(entry, f"{path}[{index}]")
            if match:
                matches.append(match)
    return matches


def _map_match(entry: Mapping[str, object], path: str) -> JSON:
    for field in UNSUPPORTED_MATCH_FIELDS:
        if entry.get(field) not in (None, "", [], {}):
            _unsupported(field, f"{path}.{field}", entry[field])
    if entry.get("ignoreUriCase") is True:
        _unsupported("ignoreUriCase", f"{path}.ignoreUriCase", True)
    match: JSON = {}
    uri = entry.get("uri")
    if uri is not None:
        kind, value = _string_match(uri, PATH_TYPES, "path", f"{path}.uri")
        match["path"] = {"type": kind, "value": value}
    headers = _named_matches(entry.get("headers"), "header", f"{path}.headers")
    if headers:
        match["headers"] = headers
    params = _named_matches(entry.get("queryParams"), "query", f"{path}.queryParams")
    if params:
        match["queryParams"] = params
    method = entry.get("method")
    if method is not None:
        _, value = _string_match(method, (("exact", "Exact"),), "method", f"{path}.method")
        match["method"] = value
    return match


def _named_matches(raw: object, what: str, path: str) -> list[JSON]:
    if not isinstance(raw, Mapping):
        return []
    out = []
    for name in sorted(raw):
        kind, value = _string_match(raw[name], VALUE_TYPES, what, f"{path}.{name}")
        out.append({"type": kind, "name": str(name), "value": value})
    return out


def _string_match(
    raw: object, types: Iterable[tuple[str, str]], what: str, path: str
) -> tuple[str, str]:
    if isinstance(raw, Mapping):
        for key, kind in types:
            value = raw.get(key)
            if isinstance(value, str) and value:
                return kind, value
    _unsupported(what, path, raw)


def _unsupported(what: str, path: str, value: object) -> NoReturn:
    shown = json.dumps(value, sort_keys=True, default=str)
    raise RouteError(
        f"Gateway API doesn't support the specified {what} matching selector at {path}: {shown}"
    )
