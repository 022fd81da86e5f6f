"""Schema causes and their wording: reasons, Go-style values, field paths. Pure.

A :class:`Cause` is one ``details.causes[]`` entry of a 422 Status; :func:`make_cause`
words it like Go's ``field.Error.ErrorBody()`` and the ``go_*`` helpers render bad values
as Go's ``strconv``/``fmt``/``encoding/json`` would.  Paths come in two styles:
kube-openapi's (``spec.items[0].labels.foo``) and field.Path's (``spec.labels[foo]``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
TYPE_INVALID = "FieldValueTypeInvalid"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
_LABELS = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    TYPE_INVALID: "Invalid value",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
}
_BARE = frozenset({REQUIRED, FORBIDDEN, TOO_LONG})
BLOCKING = frozenset({NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID})
OMIT: Any = object()
NIL = "<nil>"


@dataclass(frozen=True, slots=True)
class Cause:
    """One field error: ``type`` is the StatusCause reason (a ``FieldValue*`` string)."""

    type: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def as_status_cause(self) -> dict[str, str]:
        """The ``details.causes[]`` entry of a 422 Status."""
        return {"reason": self.type, "message": self.message, "field": self.field}


def make_cause(kind: str, field: str, *, value: Any = OMIT, detail: str = "") -> Cause:
    """Build a cause whose message is Go's ``field.Error.ErrorBody()``."""
    body = _LABELS[kind]
    if kind not in _BARE and value is not OMIT:
        body += ": " + go_value(value)
    if detail:
        body += ": " + detail
    return Cause(kind, field, body)


def format_invalid_message(kind: str, group: str, name: str, causes: Sequence[Cause]) -> str:
    """``Kind.group "name" is invalid: ...`` exactly as ``errors.NewInvalid`` words it."""
    qualified = f"{kind}.{group}" if group else kind
    unique = list(dict.fromkeys(str(cause) for cause in causes))
    detail = unique[0] if len(unique) == 1 else ("[" + ", ".join(unique) + "]" if unique else NIL)
    return f"{qualified} {go_quote(name)} is invalid: {detail}"


def invalid_status(*, kind: str, group: str, name: str, causes: Sequence[Cause]) -> dict[str, Any]:
    """The full ``422 Invalid`` Status body for ``causes``."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format_invalid_message(kind, group, name, causes),
        "reason": "Invalid",
        "details": {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [cause.as_status_cause() for cause in causes],
        },
        "code": 422,
    }


# --- Go value formatting ------------------------------------------------------------------

_GO_ESC = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
_GO_ESC |= {"\v": r"\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = []
    for ch in text:
        if ch in _GO_ESC:
            out.append(_GO_ESC[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def go_float(number: float) -> str:
    """Go's ``%v`` for a float64 (shortest digits, exponent form when < 1e-4 or >= 1e6)."""
    if math.isnan(number) or math.isinf(number):
        return "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    sign, digit_tuple, exp = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exp  # position of the decimal point
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'+' if point >= 1 else '-'}{abs(point - 1):02d}"
    if exp >= 0:
        return prefix + digits + "0" * exp
    if point > 0:
        return f"{prefix}{digits[:point]}.{digits[point:]}"
    return f"{prefix}0.{'0' * -point}{digits}"


def go_json(value: Any) -> str:
    """Go's ``json.Marshal`` of a JSON value (sorted keys, HTML-safe escaping)."""
    if isinstance(value, dict):
        items = (f"{go_json(str(k))}:{go_json(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    if isinstance(value, float) and not isinstance(value, bool):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    text = json.dumps(value, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def go_value(value: Any) -> str:
    """The bad-value part of ``field.Error.ErrorBody()``."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return go_json(value)


# --- paths --------------------------------------------------------------------------------


class MapKey(str):
    """A map-entry path segment (additionalProperties)."""

    __slots__ = ()


def openapi_path(path: tuple[Any, ...]) -> str:
    """kube-openapi style: ``spec.items[0].labels.foo``."""
    out = ""
    for seg in path:
        out += f"[{seg}]" if type(seg) is int else (f".{seg}" if out else seg)
    return out


def fieldpath(path: tuple[Any, ...]) -> str:
    """field.Path style: ``spec.items[0].labels[foo]``; the empty path is ``<nil>``."""
    out = ""
    for seg in path:
        if type(seg) is int or type(seg) is MapKey:
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else seg
    return out or NIL


def openapi_field(path: tuple[Any, ...]) -> str:
    return openapi_path(path) or NIL
