"""CRD ``openAPIV3Schema`` handling for the local cluster: validate, prune, default, check.

Pure functions over JSON values (dict/list/str/int/float/bool/None).  Causes and
messages mirror kube-apiserver 1.30+: kube-openapi schema errors as converted by
apiextensions (paths ``spec.items[0].name``, map entries ``spec.labels.foo``, junctor
failures on ``<nil>``), then embedded-resource checks, ``x-kubernetes-list-type``
uniqueness and ``x-kubernetes-validations`` rules (field.Path style ``spec.labels[foo]``,
the root is ``<nil>``).  Use :func:`compile_schema` once per CRD version; the
module-level :func:`validate`, :func:`prune` and :func:`apply_defaults` also accept a
raw schema (compiling it on every call).
"""

from __future__ import annotations

import binascii
import datetime
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard

from ensign.localcluster.cel import CelError, Program, UnsupportedRule, compile_rule

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
    "invalid_status",
    "make_cause",
    "prune",
    "validate",
]

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
_BLOCKING = frozenset({NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID})
_OMIT: Any = object()
_ABSENT: Any = object()
_NIL = "<nil>"


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


def make_cause(kind: str, field: str, *, value: Any = _OMIT, detail: str = "") -> Cause:
    """Build a cause whose message is Go's ``field.Error.ErrorBody()``."""
    body = _LABELS[kind]
    if kind not in _BARE and value is not _OMIT:
        body += ": " + go_value(value)
    if detail:
        body += ": " + detail
    return Cause(kind, field, body)


def format_invalid_message(kind: str, group: str, name: str, causes: Sequence[Cause]) -> str:
    """``Kind.group "name" is invalid: ...`` exactly as ``errors.NewInvalid`` words it."""
    qualified = f"{kind}.{group}" if group else kind
    unique = list(dict.fromkeys(str(cause) for cause in causes))
    detail = unique[0] if len(unique) == 1 else ("[" + ", ".join(unique) + "]" if unique else _NIL)
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


class _Key(str):
    """A map-entry path segment (additionalProperties)."""

    __slots__ = ()


def _oapi(path: tuple[Any, ...]) -> str:
    """kube-openapi style: ``spec.items[0].labels.foo``."""
    out = ""
    for seg in path:
        out += f"[{seg}]" if type(seg) is int else (f".{seg}" if out else seg)
    return out


def _fpath(path: tuple[Any, ...]) -> str:
    """field.Path style: ``spec.items[0].labels[foo]``; the empty path is ``<nil>``."""
    out = ""
    for seg in path:
        if type(seg) is int or type(seg) is _Key:
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else seg
    return out or _NIL


def _oapi_field(path: tuple[Any, ...]) -> str:
    return _oapi(path) or _NIL


# --- formats ------------------------------------------------------------------------------


def _match(pattern: str, flags: int = 0) -> Callable[[str], bool]:
    compiled = re.compile(pattern, flags)
    return lambda text: compiled.fullmatch(text) is not None


def _parses(parse: Callable[[str], object]) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            parse(text)
        except (ValueError, binascii.Error):
            return False
        return True

    return check


_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?"
)
_DURATION_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h)"
_GO_DURATION = re.compile(rf"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+){_DURATION_UNIT})+|[-+]?0")
_WORD_DURATION = re.compile(
    r"\d+\s*(?:ns|us|µs|ms|s|m|h|d|w|nanos?(?:econds?)?|micros?(?:econds?)?|millis?(?:econds?)?"
    r"|secs?|seconds?|mins?|minutes?|hours?|hrs?|days?|weeks?)",
    re.IGNORECASE,
)


def _is_datetime(text: str) -> bool:
    match = _DATETIME.fullmatch(text)
    if match is None:
        return False
    date, hour, minute, second, _ = match.groups()
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        return False
    return int(hour) < 24 and int(minute) < 60 and int(second or 0) < 61


def _is_isbn(text: str, size: int) -> bool:
    digits = re.sub(r"[\s-]", "", text)
    if size == 10 and re.fullmatch(r"\d{9}[\dX]", digits):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
        return total % 11 == 0
    if size == 13 and re.fullmatch(r"\d{13}", digits):
        return sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(digits)) % 10 == 0
    return False


def _is_creditcard(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if not 13 <= len(digits) <= 19:
        return False
    total = sum(
        (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
        for i, d in enumerate(int(c) for c in reversed(digits))
    )
    return total % 10 == 0


_BYTE_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_OCTET = r"(?:0|[1-9]\d?|1\d\d|2[0-4]\d|25[0-5])"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_UUID = r"[0-9a-f]{8}-?[0-9a-f]{4}-?%s[0-9a-f]{3}-?%s[0-9a-f]{3}-?[0-9a-f]{12}"
_FORMATS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": _match(r"[0-9a-fA-F]{24}"),
    "uri": _match(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*|/[^\s]*"),
    "email": _match(r"(?:[^<>]*<)?[^@\s<>]+@[^@\s<>]+>?"),
    "hostname": lambda t: (
        len(t) <= 255 and re.fullmatch(rf"{_LABEL}(?:\.{_LABEL})*", t) is not None
    ),
    "ipv4": _parses(ipaddress.IPv4Address),
    "ipv6": lambda t: ":" in t and _parses(ipaddress.ip_address)(t),
    "cidr": lambda t: "/" in t and _parses(lambda s: ipaddress.ip_network(s, strict=False))(t),
    "mac": _match(
        r"[0-9a-fA-F]{2}(?:([:-])[0-9a-fA-F]{2})(?:\1[0-9a-fA-F]{2}){4}(?:(?:\1[0-9a-fA-F]{2}){2})?"
        r"(?:(?:\1[0-9a-fA-F]{2}){12})?|[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4}){2,9}"
    ),
    "uuid": _match(_UUID % ("[0-9a-f]", "[0-9a-f]"), re.IGNORECASE),
    "uuid3": _match(_UUID % ("3", "[0-9a-f]"), re.IGNORECASE),
    "uuid4": _match(_UUID % ("4", "[89ab]"), re.IGNORECASE),
    "uuid5": _match(_UUID % ("5", "[89ab]"), re.IGNORECASE),
    "isbn": lambda t: _is_isbn(t, 10) or _is_isbn(t, 13),
    "isbn10": lambda t: _is_isbn(t, 10),
    "isbn13": lambda t: _is_isbn(t, 13),
    "creditcard": _is_creditcard,
    "ssn": _match(r"\d{3}[- ]?\d{2}[- ]?\d{4}"),
    "hexcolor": _match(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})"),
    "rgbcolor": _match(rf"rgb\(\s*{_OCTET}\s*,\s*{_OCTET}\s*,\s*{_OCTET}\s*\)"),
    "byte": lambda t: _BYTE_RE.fullmatch(t) is not None,
    "password": lambda t: True,
    "date": lambda t: (
        re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) is not None
        and _parses(datetime.date.fromisoformat)(t)
    ),
    "duration": lambda t: (
        _GO_DURATION.fullmatch(t) is not None or _WORD_DURATION.fullmatch(t) is not None
    ),
    "datetime": _is_datetime,
    "quantity": _match(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?"),
}


# --- compiled schema nodes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    program: Program
    error_string: str  # message if set, else the rule (k8s ruleErrorString)
    default_detail: str
    message_expr: Program | None
    reason: str | None
    field_path: tuple[Any, ...]


class _Node:
    """A schema node with keywords pre-parsed, patterns and rules compiled."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        get = raw.get
        self.raw = raw
        self.type: str = _str_or(get("type"), "")
        self.nullable = get("nullable") is True
        self.int_or_string = get("x-kubernetes-int-or-string") is True
        self.embedded = get("x-kubernetes-embedded-resource") is True
        addl = get("additionalProperties")
        self.addl_false = addl is False
        self.preserve = get("x-kubernetes-preserve-unknown-fields") is True or addl is True
        self.has_default = "default" in raw
        self.default = get("default")
        props = get("properties")
        self.props: dict[str, _Node] | None = (
            {k: _Node(v, f"{where}.properties[{k}]") for k, v in props.items() if _is_map(v)}
            if _is_map(props)
            else None
        )
        self.required: tuple[str, ...] = tuple(r for r in get("required") or () if _is_str(r))
        self.addl = _Node(addl, f"{where}.additionalProperties") if _is_map(addl) else None
        items = get("items")
        self.items = _Node(items, f"{where}.items") if _is_map(items) else None
        self.list_type = get("x-kubernetes-list-type")
        self.map_keys: tuple[str, ...] = tuple(get("x-kubernetes-list-map-keys") or ())
        self.atomic_map = get("x-kubernetes-map-type") == "atomic"
        self.all_of, self.any_of, self.one_of = (
            tuple(
                _Node(s, f"{where}.{key}[{i}]") for i, s in enumerate(get(key) or ()) if _is_map(s)
            )
            for key in ("allOf", "anyOf", "oneOf")
        )
        not_ = get("not")
        self.not_ = _Node(not_, f"{where}.not") if _is_map(not_) else None
        self.junctors = bool(self.all_of or self.any_of or self.one_of or self.not_)
        self._scalar_keywords(get)
        self.rules = tuple(_compile_rules(self, get("x-kubernetes-validations") or (), where))
        kids: list[_Node] = [*(self.props or {}).values()]
        kids += [n for n in (self.addl, self.items) if n is not None]
        self.deep_rules: bool = bool(self.rules) or any(k.deep_rules for k in kids)
        self.deep_lists: bool = self.list_type in ("set", "map") or any(k.deep_lists for k in kids)
        self.deep_embedded: bool = self.embedded or any(k.deep_embedded for k in kids)
        self.deep_defaults: bool = any(k.has_default or k.deep_defaults for k in kids)

    def _scalar_keywords(self, get: Callable[[str], Any]) -> None:
        def num(key: str) -> Any:
            return get(key) if _is_num(get(key)) else None

        self.enum: list[Any] | None = get("enum") if isinstance(get("enum"), list) else None
        self.minimum, self.maximum, self.multiple_of = (
            num("minimum"),
            num("maximum"),
            num("multipleOf"),
        )
        self.excl_min = get("exclusiveMinimum") is True
        self.excl_max = get("exclusiveMaximum") is True
        self.min_len, self.max_len = num("minLength"), num("maxLength")
        self.min_items, self.max_items = num("minItems"), num("maxItems")
        self.min_props, self.max_props = num("minProperties"), num("maxProperties")
        self.unique = get("uniqueItems") is True
        self.pattern_src: str = get("pattern") if _is_str(get("pattern")) else ""
        self.pattern = _compile_pattern(self.pattern_src) if self.pattern_src else None
        fmt = get("format") if _is_str(get("format")) else ""
        self.format: str = fmt
        self.format_check = (
            _FORMATS.get(fmt.replace("-", "")) if self.type in ("", "string") else None
        )
        self.string_checks = bool(
            self.min_len is not None
            or self.max_len is not None
            or self.pattern
            or self.format_check
        )
        self.number_checks = (
            self.minimum is not None or self.maximum is not None or self.multiple_of is not None
        ) or fmt == "int32"


def _is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


def _is_str(value: Any) -> TypeGuard[str]:
    return isinstance(value, str)


def _map_of(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if _is_map(value) else {}


def _str_or(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) else fallback


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The failures of the closest alternative (kube-openapi keeps the best match)."""
    best = results[0]
    for result in results[1:]:
        if len(result) < len(best):
            best = result
    return best


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compile_pattern(source: str) -> re.Pattern[str] | None:
    try:
        return re.compile(source)
    except re.error:
        return None  # rejected by check_crd_schema; never matches-fails at runtime


def _compile_rules(node: _Node, raw_rules: Any, where: str) -> list[_Rule]:
    rules = []
    for i, raw in enumerate(raw_rules if isinstance(raw_rules, list) else ()):
        if not _is_map(raw) or not _is_str(raw.get("rule")):
            continue
        try:
            program = compile_rule(raw["rule"])
            msg_src = raw.get("messageExpression")
            message_expr = compile_rule(msg_src) if _is_str(msg_src) and msg_src.strip() else None
        except UnsupportedRule as err:
            raise UnsupportedRule(f"{where}.x-kubernetes-validations[{i}]: {err}") from None
        message = str(raw.get("message") or "").strip()
        error_string = message or raw["rule"].strip()
        field_path = _rule_field_path(node, raw.get("fieldPath"))
        rules.append(
            _Rule(
                program=program,
                error_string=error_string,
                default_detail=message or f"failed rule: {error_string}",
                message_expr=message_expr,
                reason=raw.get("reason") if _is_str(raw.get("reason")) else None,
                field_path=field_path or (),
            )
        )
    return rules


_FIELD_PATH_TOKEN = re.compile(r"\.([^.\[\]']+)|\['((?:[^'\\]|\\.)*)'\]")


def _rule_field_path(node: _Node | None, source: Any) -> tuple[Any, ...] | None:
    """Resolve a rule ``fieldPath`` (``.a.b['c']``) against ``node``; ``None`` if invalid."""
    if not _is_str(source) or not source.strip():
        return () if source in (None, "") else None
    segments: list[Any] = []
    pos = 0
    while pos < len(source):
        match = _FIELD_PATH_TOKEN.match(source, pos)
        if match is None or node is None:
            return None
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if node.props is not None:
            node = node.props.get(name)
            segments.append(name)
            if node is None:
                return None
        elif node.addl is not None:
            node = node.addl
            segments.append(_Key(name))
        else:
            return None
        pos = match.end()
    return tuple(segments)


# --- phase 1: OpenAPI keyword validation (kube-openapi) ----------------------------------

_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean"}
_JSON_TYPES |= {int: "integer", float: "number"}


def _type_ok(expected: str, actual: str, value: Any) -> bool:
    if expected == actual:
        return True
    if expected == "integer" and actual == "number":
        return bool(math.isfinite(value) and value.is_integer())
    return expected == "number" and actual == "integer"


def _type_error(path: tuple[Any, ...], expected: str, actual: str) -> Cause:
    detail = f"{_oapi(path)} in body must be of type {expected}: {go_quote(actual)}"
    return make_cause(TYPE_INVALID, _oapi_field(path), value=actual, detail=detail)


def _invalid(path: tuple[Any, ...], value: Any, detail: str) -> Cause:
    return make_cause(
        INVALID, _oapi_field(path), value=value, detail=f"{_oapi(path)} in body {detail}"
    )


def _composite(detail: str) -> Cause:
    return make_cause(INVALID, _NIL, value="", detail=detail)


def _check(node: _Node, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    if value is None:
        if node.type and not node.nullable:
            out.append(_type_error(path, node.type, "null"))
        return
    kind = _JSON_TYPES.get(type(value), "")
    if node.type and not _type_ok(node.type, kind, value):
        out.append(_type_error(path, node.type, kind or "unknown"))
        return
    if node.junctors:
        _check_junctors(node, value, path, out)
    if kind == "string":
        if node.string_checks:
            _check_string(node, value, path, out)
    elif kind in ("integer", "number"):
        if node.number_checks:
            _check_number(node, value, path, out)
    elif kind == "array":
        _check_array(node, value, path, out)
    if node.enum is not None and not any(_json_equal(value, e) for e in node.enum):
        allowed = [e if isinstance(e, str) else go_json(e) for e in node.enum]
        detail = "supported values: " + ", ".join(go_quote(a) for a in allowed) if allowed else ""
        out.append(make_cause(NOT_SUPPORTED, _oapi_field(path), value=value, detail=detail))
    if kind == "object":
        _check_object(node, value, path, out)


def _check_string(node: _Node, value: str, path: tuple[Any, ...], out: list[Cause]) -> None:
    if node.max_len is not None and len(value) > node.max_len:
        unit = "byte" if node.max_len == 1 else "bytes"
        detail = f"may not be more than {int(node.max_len)} {unit}"
        out.append(make_cause(TOO_LONG, _oapi_field(path), detail=detail))
    if node.min_len is not None and len(value) < node.min_len:
        out.append(_invalid(path, value, f"should be at least {int(node.min_len)} chars long"))
    if node.pattern is not None and node.pattern.search(value) is None:
        out.append(_invalid(path, value, f"should match '{node.pattern_src}'"))
    if node.format_check is not None and not node.format_check(value):
        detail = f"{_oapi(path)} in body must be of type {node.format}: {go_quote(value)}"
        out.append(make_cause(TYPE_INVALID, _oapi_field(path), value=value, detail=detail))


def _check_number(node: _Node, value: float, path: tuple[Any, ...], out: list[Cause]) -> None:
    is_int = isinstance(value, int)
    shown: Callable[[float], str] = (lambda x: str(int(x))) if is_int else go_float
    if node.format == "int32" and is_int and not -(2**31) <= value < 2**31:
        detail = f"Checked value must be of type integer with format int32 in {_oapi(path)}"
        out.append(_composite(detail))
    factor = node.multiple_of
    if (
        factor is not None
        and factor > 0
        and (
            (is_int and int(factor) and value % int(factor))
            or (not is_int and not (value / factor).is_integer())
        )
    ):
        out.append(_invalid(path, value, f"should be a multiple of {shown(factor)}"))
    for limit, exclusive, is_max in (
        (node.maximum, node.excl_max, True),
        (node.minimum, node.excl_min, False),
    ):
        if limit is None:
            continue
        bound = int(limit) if is_int else limit
        bad = (
            (value >= bound if exclusive else value > bound)
            if is_max
            else (value <= bound if exclusive else value < bound)
        )
        if bad:
            word = ("less than" if is_max else "greater than") + (
                "" if exclusive else " or equal to"
            )
            out.append(_invalid(path, value, f"should be {word} {shown(limit)}"))


def _check_array(node: _Node, value: list[Any], path: tuple[Any, ...], out: list[Cause]) -> None:
    if node.items is not None:
        for i, item in enumerate(value):
            _check(node.items, item, (*path, i), out)
    size = len(value)
    if node.min_items is not None and size < node.min_items:
        out.append(_invalid(path, size, f"should have at least {int(node.min_items)} items"))
    if node.max_items is not None and size > node.max_items:
        out.append(_too_many(path, size, int(node.max_items)))
    if node.unique and len({go_json(v) for v in value}) != size:
        out.append(_invalid(path, "", "shouldn't contain duplicates"))


def _too_many(path: tuple[Any, ...], actual: int, limit: int) -> Cause:
    detail = f"must have at most {limit} item{'' if limit == 1 else 's'}"
    return make_cause(TOO_MANY, _oapi_field(path), value=actual, detail=detail)


def _check_object(
    node: _Node, value: dict[str, Any], path: tuple[Any, ...], out: list[Cause]
) -> None:
    count = len(value)
    if node.min_props is not None and count < node.min_props:
        out.append(_invalid(path, count, f"should have at least {int(node.min_props)} properties"))
        return
    if node.max_props is not None and count > node.max_props:
        out.append(_too_many(path, count, int(node.max_props)))
        return
    props = node.props or {}
    if node.addl_false:
        for key in value:
            if key not in props:
                detail = f"{_oapi((*path, key))} in body is a forbidden property"
                out.append(make_cause(INVALID, _oapi_field(path), value=key, detail=detail))
    elif node.addl is not None:
        for key, item in value.items():
            if key not in props:
                _check(node.addl, item, (*path, _Key(key)), out)
    for key, sub in props.items():
        if key in value:
            _check(sub, value[key], (*path, key), out)
    for key in node.required:
        if key not in value:
            out.append(make_cause(REQUIRED, _oapi((*path, key))))


def _check_junctors(node: _Node, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    name = go_quote(_oapi(path))
    if node.any_of:
        results = [_errors(sub, value, path) for sub in node.any_of]
        if all(results):
            out.append(_composite(f"{name} must validate at least one schema (anyOf)"))
            out.extend(_fewest(results))
    if node.one_of:
        results = [_errors(sub, value, path) for sub in node.one_of]
        valid = sum(not r for r in results)
        if valid != 1:
            extra = "Found none valid" if not valid else f"Found {valid} valid alternatives"
            out.append(_composite(f"{name} must validate one and only one schema (oneOf). {extra}"))
            out.extend(_fewest(results) if not valid else ())
    if node.all_of:
        results = [_errors(sub, value, path) for sub in node.all_of]
        for result in results:
            out.extend(result)
        valid = sum(not r for r in results)
        if valid != len(results):
            extra = ". None validated" if not valid else ""
            out.append(_composite(f"{name} must validate all the schemas (allOf){extra}"))
    if node.not_ is not None and not _errors(node.not_, value, path):
        out.append(_composite(f"{name} must not validate the schema (not)"))


def _errors(node: _Node, value: Any, path: tuple[Any, ...]) -> list[Cause]:
    out: list[Cause] = []
    _check(node, value, path, out)
    return out


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_num(a) and _is_num(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


# --- phase 2: embedded resources and list types (field.Path style) -----------------------


def _walk_kids(
    node: _Node, value: Any, path: tuple[Any, ...], flag: str
) -> list[tuple[_Node, Any, tuple[Any, ...]]]:
    """Children of ``value`` whose schema has ``flag`` set somewhere below."""
    kids: list[tuple[_Node, Any, tuple[Any, ...]]] = []
    if isinstance(value, dict):
        props = node.props or {}
        for key, item in value.items():
            sub = props.get(key) if key in props else node.addl
            if sub is not None and getattr(sub, flag):
                kids.append((sub, item, (*path, key if key in props else _Key(key))))
    elif isinstance(value, list) and node.items is not None and getattr(node.items, flag):
        kids.extend((node.items, item, (*path, i)) for i, item in enumerate(value))
    return kids


def _check_embedded(node: _Node, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    if node.embedded and isinstance(value, dict):
        for key in ("apiVersion", "kind"):
            field = _fpath((*path, key))
            if key not in value:
                out.append(make_cause(REQUIRED, field, detail="must not be empty"))
            elif not isinstance(value[key], str):
                out.append(make_cause(INVALID, field, value=value[key], detail="must be a string"))
            elif not value[key]:
                out.append(make_cause(INVALID, field, value="", detail="must not be empty"))
    for sub, item, sub_path in _walk_kids(node, value, path, "deep_embedded"):
        _check_embedded(sub, item, sub_path, out)


def _identity(value: Any) -> Any:
    if isinstance(value, dict | list):
        return ("compound", go_json(value))
    return (type(value).__name__, value)


def _check_lists(node: _Node, value: Any, path: tuple[Any, ...], out: list[Cause]) -> None:
    if isinstance(value, list) and node.list_type in ("set", "map"):
        if node.list_type == "set":
            keys = value
        elif any(item is not None and not isinstance(item, dict) for item in value):
            index, bad = next((i, x) for i, x in enumerate(value) if not isinstance(x, dict | None))
            detail = "must be an object for an array of list-type map"
            out.append(make_cause(INVALID, _fpath((*path, index)), value=bad, detail=detail))
            keys = []
        else:
            keys = [_map_key(node, item) for item in value]
        seen: dict[Any, int] = {}
        for i, key in enumerate(keys):
            ident = _identity(key)
            seen[ident] = seen.get(ident, 0) + 1
            if seen[ident] == 2:
                out.append(make_cause(DUPLICATE, _fpath((*path, i)), value=key))
    for sub, item, sub_path in _walk_kids(node, value, path, "deep_lists"):
        _check_lists(sub, item, sub_path, out)


def _map_key(node: _Node, item: Any) -> dict[str, Any]:
    item = item or {}
    return {k: item[k] for k in node.map_keys if k in item}


# --- phase 3: x-kubernetes-validations ----------------------------------------------------

_BLOCKED = make_cause(
    INVALID,
    _NIL,
    value=None,
    detail="some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation",
)


def _check_rules(
    node: _Node, value: Any, old: Any, path: tuple[Any, ...], out: list[Cause]
) -> None:
    if value is None:
        return
    for rule in node.rules:
        if rule.program.uses_old_self and old is _ABSENT:
            continue
        _run_rule(node, rule, value, old, path, out)
    correlated = old if not node.atomic_map else _ABSENT
    olds = _old_items(node, old) if isinstance(value, list) else None
    for sub, item, sub_path in _walk_kids(node, value, path, "deep_rules"):
        if olds is not None:
            sub_old = olds.get(_identity(_map_key(node, item)), _ABSENT)
        elif isinstance(correlated, dict):
            sub_old = correlated.get(sub_path[-1], _ABSENT)
        else:
            sub_old = _ABSENT
        _check_rules(sub, item, sub_old, sub_path, out)


def _old_items(node: _Node, old: Any) -> dict[Any, Any]:
    """Old list items correlatable with new ones (only ``x-kubernetes-list-type: map``)."""
    if node.list_type != "map" or not isinstance(old, list):
        return {}
    return {_identity(_map_key(node, x)): x for x in old if isinstance(x, dict)}


def _run_rule(
    node: _Node, rule: _Rule, value: Any, old: Any, path: tuple[Any, ...], out: list[Cause]
) -> None:
    old_value = None if old is _ABSENT else old
    try:
        result = rule.program.evaluate(value, old_value)
    except CelError as err:
        text = str(err)
        if text.startswith("no such overload"):
            detail = (
                f"'{text}': call arguments did not match a supported operator, function or "
                f"macro signature for rule: {rule.error_string}"
            )
        else:
            detail = f"{text} evaluating rule: {rule.error_string}"
        out.append(make_cause(INVALID, _fpath(path), value=node.type, detail=detail))
        return
    if result is True:
        return
    detail = rule.default_detail
    if rule.message_expr is not None:
        try:
            message = rule.message_expr.evaluate(value, old_value)
        except CelError:
            message = None
        if isinstance(message, str) and message.strip() and "\n" not in message:
            detail = message.strip()
    shown = _OMIT if node.type in ("object", "array") else value
    field = _fpath((*path, *rule.field_path))
    if rule.reason == FORBIDDEN or rule.reason == REQUIRED:
        out.append(make_cause(rule.reason, field, detail=detail))
    elif rule.reason == DUPLICATE:
        out.append(make_cause(DUPLICATE, field, value=shown))
    else:
        out.append(make_cause(INVALID, field, value=shown, detail=detail))


# --- pruning and defaulting ---------------------------------------------------------------

_ROOT_META = frozenset({"apiVersion", "kind", "metadata"})


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _prune(node: _Node, value: Any, *, resource: bool) -> Any:
    if isinstance(value, list):
        if node.items is None:
            return _copy(value) if node.preserve else value
        return [_prune(node.items, item, resource=node.items.embedded) for item in value]
    if not isinstance(value, dict):
        return value
    props, out = node.props or {}, {}
    for key, item in value.items():
        if resource and key in _ROOT_META:
            out[key] = _copy(item)
        elif key in props:
            out[key] = _prune(props[key], item, resource=props[key].embedded)
        elif node.addl is not None:
            out[key] = _prune(node.addl, item, resource=node.addl.embedded)
        elif node.preserve:
            out[key] = _copy(item)
    return out


def _default(node: _Node, value: Any, *, root: bool = False) -> None:
    if isinstance(value, dict):
        props = node.props or {}
        for key, sub in props.items():
            if root and key == "metadata":
                continue
            if key not in value or (value[key] is None and not sub.nullable):
                if sub.has_default:
                    value[key] = _copy(sub.default)
                elif key in value:
                    del value[key]
        if node.addl is not None:
            for key in [k for k, v in value.items() if v is None and k not in props]:
                if node.addl.has_default and not node.addl.nullable:
                    value[key] = _copy(node.addl.default)
                elif not node.addl.nullable:
                    del value[key]
        for key, item in value.items():
            child = props.get(key) if key in props else node.addl
            if child is not None and child.deep_defaults and not (root and key == "metadata"):
                _default(child, item)
    elif isinstance(value, list) and node.items is not None:
        items = node.items
        for i, item in enumerate(value):
            if item is None and items.has_default and not items.nullable:
                value[i] = _copy(items.default)
            elif items.deep_defaults:
                _default(items, item)


# --- public API ---------------------------------------------------------------------------


class CompiledSchema:
    """A compiled ``openAPIV3Schema``; build once per CRD version and reuse.

    Raises :class:`UnsupportedRule` if an ``x-kubernetes-validations`` rule falls outside
    the CEL subset (run :func:`check_crd_schema` first to get a 422-ready message).
    """

    __slots__ = ("_root", "raw")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.raw = schema
        self._root = _Node(schema, "openAPIV3Schema")

    @property
    def has_rules(self) -> bool:
        """Whether any node carries ``x-kubernetes-validations``."""
        return self._root.deep_rules

    def validate(self, obj: Any, *, old: Any = None) -> list[Cause]:
        """Causes for ``obj`` in apiserver order; ``old`` enables transition rules."""
        out: list[Cause] = []
        _check(self._root, obj, (), out)
        if self._root.deep_embedded:
            _check_embedded(self._root, obj, (), out)
        if self._root.deep_lists:
            _check_lists(self._root, obj, (), out)
        if self._root.deep_rules:
            if any(cause.type in _BLOCKING for cause in out):
                out.append(_BLOCKED)
            else:
                _check_rules(self._root, obj, _ABSENT if old is None else old, (), out)
        return out

    def prune(self, obj: Any) -> Any:
        """A copy of ``obj`` without fields the schema does not know."""
        return _prune(self._root, obj, resource=True)

    def default(self, obj: Any) -> Any:
        """A copy of ``obj`` with defaults applied (and non-nullable nulls dropped)."""
        result = _copy(obj)
        _default(self._root, result, root=True)
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


# --- CRD registration checks (apiextensions validation + structural schema) --------------

_KNOWN_KEYWORDS = frozenset(
    {
        "id", "$schema", "$ref", "description", "type", "format", "title", "default",
        "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
        "pattern", "maxItems", "minItems", "uniqueItems", "multipleOf", "enum",
        "maxProperties", "minProperties", "required", "items", "allOf", "oneOf", "anyOf",
        "not", "properties", "additionalProperties", "patternProperties", "dependencies",
        "additionalItems", "definitions", "externalDocs", "example", "nullable",
        "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
        "x-kubernetes-map-type", "x-kubernetes-validations",
    }
)  # fmt: skip
_UNSUPPORTED_KEYWORDS: tuple[str, ...] = ("id", "additionalItems", "patternProperties")
_UNSUPPORTED_KEYWORDS += ("definitions", "dependencies", "$ref")
_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_REASONS = (DUPLICATE, FORBIDDEN, INVALID, REQUIRED)
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


@dataclass(frozen=True, slots=True)
class _Ctx:
    """Where a schema node sits, for the context-dependent registration checks."""

    root: bool = False
    meta: bool = False  # inside root/embedded apiVersion, kind or metadata
    no_defaults: str = ""  # reason defaults are forbidden here
    uncorrelatable: str = ""  # path that makes oldSelf unusable here


def check_crd_schema(schema: Any, *, path: str = "openAPIV3Schema") -> list[str]:
    """Registration errors for ``schema`` as ``<path>: <message>`` strings ([] if fine)."""
    return [str(cause) for cause in crd_schema_causes(schema, path=path)]


def crd_schema_causes(schema: Any, *, path: str = "openAPIV3Schema") -> list[Cause]:
    """Registration errors for ``schema`` as causes, in apiserver order.

    Paths use the CRD field path (``openAPIV3Schema.properties[spec].type``); pass
    ``path="spec.versions[0].schema.openAPIV3Schema"`` to get the server's full path.
    CEL rules and defaults are only checked once the schema itself is sound.
    """
    if not _is_map(schema):
        return [make_cause(REQUIRED, path, detail="must be an object")]
    out: list[Cause] = []
    _check_api(schema, path, _Ctx(root=True), out)
    structural: list[Cause] = []
    _check_structural(schema, path, "root", structural)
    out.extend(sorted(structural, key=str))
    if not out:
        _check_rules_compile(schema, path, _Ctx(root=True), out)
    if not out:
        _check_defaults(schema, path, out)
    return out


def _children(raw: Mapping[str, Any], path: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(kind, path, schema) for every sub-schema of ``raw``."""
    kids: list[tuple[str, str, Mapping[str, Any]]] = []
    for name, sub in (
        (raw.get("properties") or {}).items() if _is_map(raw.get("properties")) else ()
    ):
        if _is_map(sub):
            kids.append(("property", f"{path}.properties[{name}]", sub))
    for key in ("additionalProperties", "items", "not"):
        if _is_map(raw.get(key)):
            kids.append((key, f"{path}.{key}", raw[key]))
    for key in _JUNCTORS:
        subs = raw.get(key)
        for i, sub in enumerate(subs if isinstance(subs, list) else ()):
            if _is_map(sub):
                kids.append((key, f"{path}.{key}[{i}]", sub))
    return kids


def _check_api(raw: Mapping[str, Any], path: str, ctx: _Ctx, out: list[Cause]) -> None:
    _check_keywords(raw, path, ctx, out)
    _check_list_keywords(raw, path, out)
    _check_rule_fields(raw, path, out)
    list_type = raw.get("x-kubernetes-list-type")
    for kind, sub_path, sub in _children(raw, path):
        sub_ctx = _Ctx(uncorrelatable=ctx.uncorrelatable)
        if kind == "property":
            name = sub_path[len(path) + 12 : -1]
            resource = ctx.root or raw.get("x-kubernetes-embedded-resource") is True
            meta = ctx.meta or (resource and name in _ROOT_META)
            reason = f"in top-level {name}" if ctx.root and name in _ROOT_META else ctx.no_defaults
            atomic = raw.get("x-kubernetes-map-type") == "atomic"
            sub_ctx = _Ctx(False, meta, reason, ctx.uncorrelatable or (path if atomic else ""))
        elif kind == "items" and list_type != "map":
            sub_ctx = _Ctx(uncorrelatable=ctx.uncorrelatable or path, no_defaults=ctx.no_defaults)
        elif kind == "additionalProperties" and ctx.meta:
            sub_ctx = _Ctx(False, True, "inside additionalProperties applying to object metadata")
        _check_api(sub, sub_path, sub_ctx, out)


def _check_keywords(raw: Mapping[str, Any], path: str, ctx: _Ctx, out: list[Cause]) -> None:
    for key in raw:
        if key not in _KNOWN_KEYWORDS:
            out.append(
                make_cause(FORBIDDEN, f"{path}.{key}", detail=f"unknown field {go_quote(key)}")
            )
    kind = raw.get("type")
    if kind == "null":
        detail = "type cannot be set to null, use nullable as an alternative"
        out.append(make_cause(FORBIDDEN, f"{path}.type", detail=detail))
    elif kind is not None and kind not in _TYPES:
        detail = "supported values: " + ", ".join(go_quote(t) for t in _TYPES)
        out.append(make_cause(NOT_SUPPORTED, f"{path}.type", value=kind, detail=detail))
    if "default" in raw and (ctx.no_defaults or ctx.root):
        detail = "must not be set" + (f" {ctx.no_defaults}" if ctx.no_defaults else "")
        out.append(make_cause(FORBIDDEN, f"{path}.default", detail=detail))
    for key in _UNSUPPORTED_KEYWORDS:
        if raw.get(key) not in (None, "", {}, []):
            out.append(make_cause(FORBIDDEN, f"{path}.{key}", detail=f"{key} is not supported"))
    if isinstance(raw.get("items"), list):
        detail = "items must be a schema object and not an array"
        out.append(make_cause(FORBIDDEN, f"{path}.items", detail=detail))
    if raw.get("uniqueItems") is True:
        detail = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        out.append(make_cause(FORBIDDEN, f"{path}.uniqueItems", detail=detail))
    addl = raw.get("additionalProperties")
    if addl is not None and raw.get("properties") and (addl is False or _is_map(addl)):
        detail = "additionalProperties and properties are mutual exclusive"
        out.append(make_cause(FORBIDDEN, f"{path}.additionalProperties", detail=detail))
    if raw.get("x-kubernetes-preserve-unknown-fields") is False:
        field = f"{path}.x-kubernetes-preserve-unknown-fields"
        out.append(make_cause(INVALID, field, value=False, detail="must be true or undefined"))
    if ctx.meta and raw.get("x-kubernetes-embedded-resource") is True:
        field = f"{path}.x-kubernetes-embedded-resource"
        out.append(make_cause(FORBIDDEN, field, detail="must not be used inside of resource meta"))


def _type_required(raw: Mapping[str, Any], path: str, detail: str, out: list[Cause]) -> None:
    kind = raw.get("type") or ""
    if kind:
        out.append(make_cause(INVALID, f"{path}.type", value=kind, detail=detail))
    else:
        out.append(make_cause(REQUIRED, f"{path}.type", detail=detail))


def _check_list_keywords(raw: Mapping[str, Any], path: str, out: list[Cause]) -> None:
    list_type, keys = raw.get("x-kubernetes-list-type"), raw.get("x-kubernetes-list-map-keys") or []
    map_type = raw.get("x-kubernetes-map-type")
    if map_type is not None and raw.get("type") != "object":
        _type_required(raw, path, "must be object if x-kubernetes-map-type is specified", out)
    if map_type is not None and map_type not in ("atomic", "granular"):
        detail = 'supported values: "atomic", "granular"'
        field = f"{path}.x-kubernetes-map-type"
        out.append(make_cause(NOT_SUPPORTED, field, value=map_type, detail=detail))
    if list_type is not None and raw.get("type") != "array":
        _type_required(raw, path, "must be array if x-kubernetes-list-type is specified", out)
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        detail = 'supported values: "atomic", "set", "map"'
        field = f"{path}.x-kubernetes-list-type"
        out.append(make_cause(NOT_SUPPORTED, field, value=list_type, detail=detail))
    if keys and list_type != "map":
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        field = f"{path}.x-kubernetes-list-type"
        out.append(
            make_cause(INVALID, field, value=list_type, detail=detail)
            if list_type
            else make_cause(REQUIRED, field, detail=detail)
        )
    items = raw.get("items") if _is_map(raw.get("items")) else None
    if list_type in ("set", "map") and items is not None and items.get("nullable") is True:
        detail = f"cannot be nullable when x-kubernetes-list-type is {list_type}"
        out.append(make_cause(FORBIDDEN, f"{path}.items.nullable", detail=detail))
    if list_type == "map":
        _check_map_list(raw, path, list(keys), items, out)


def _check_map_list(
    raw: Mapping[str, Any], path: str, keys: list[Any], items: Any, out: list[Cause]
) -> None:
    if not keys:
        detail = "must not be empty if x-kubernetes-list-type is map"
        out.append(make_cause(REQUIRED, f"{path}.x-kubernetes-list-map-keys", detail=detail))
    if items is None:
        detail = "must have a schema if x-kubernetes-list-type is map"
        out.append(make_cause(REQUIRED, f"{path}.items", detail=detail))
        return
    if items.get("type") != "object":
        detail = "must be object if parent array's x-kubernetes-list-type is map"
        out.append(
            make_cause(INVALID, f"{path}.items.type", value=items.get("type"), detail=detail)
        )
        return
    props, required = items.get("properties") or {}, items.get("required") or []
    field = f"{path}.x-kubernetes-list-map-keys"
    for i, key in enumerate(keys):
        prop = props.get(key)
        if not _is_map(prop):
            detail = "entries must all be names of item properties"
            out.append(make_cause(INVALID, field, value=keys, detail=detail))
            continue
        prop_path = f"{path}.items.properties[{key}]"
        if prop.get("type") in ("array", "object"):
            detail = "must be a scalar type if parent array's x-kubernetes-list-type is map"
            out.append(make_cause(INVALID, f"{prop_path}.type", value="object", detail=detail))
        if key in keys[:i]:
            detail = "must not contain duplicate entries"
            out.append(make_cause(INVALID, field, value=keys, detail=detail))
        if key not in required and "default" not in prop:
            detail = (
                "this property is in x-kubernetes-list-map-keys, so it must have a default "
                "or be a required property"
            )
            out.append(make_cause(REQUIRED, f"{prop_path}.default", detail=detail))
        if prop.get("nullable") is True:
            detail = "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"
            out.append(make_cause(FORBIDDEN, f"{prop_path}.nullable", detail=detail))


def _check_rule_fields(raw: Mapping[str, Any], path: str, out: list[Cause]) -> None:
    rules = raw.get("x-kubernetes-validations")
    node: _Node | None = None
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        where = f"{path}.x-kubernetes-validations[{i}]"
        rule = rule if _is_map(rule) else {}
        text, message = rule.get("rule"), rule.get("message")
        if not _is_str(text) or not text.strip():
            out.append(make_cause(REQUIRED, f"{where}.rule", detail="rule is not specified"))
        elif _is_str(message) and message and not message.strip():
            detail = "message must be non-empty if specified"
            out.append(make_cause(INVALID, f"{where}.message", value=message, detail=detail))
        elif _is_str(message) and re.search(r"[\n\r]", message.strip()):
            detail = "message must not contain line breaks"
            out.append(make_cause(INVALID, f"{where}.message", value=message, detail=detail))
        elif re.search(r"[\n\r]", text.strip()) and not (message or "").strip():
            detail = "message must be specified if rule contains line breaks"
            out.append(make_cause(REQUIRED, f"{where}.message", detail=detail))
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            detail = "supported values: " + ", ".join(go_quote(r) for r in _REASONS)
            out.append(make_cause(NOT_SUPPORTED, f"{where}.reason", value=reason, detail=detail))
        field_path = rule.get("fieldPath")
        if field_path not in (None, ""):
            node = node or _Node(
                {k: v for k, v in raw.items() if k != "x-kubernetes-validations"}, path
            )
            if _rule_field_path(node, field_path) is None:
                detail = "fieldPath must be a valid path"
                out.append(
                    make_cause(INVALID, f"{where}.fieldPath", value=field_path, detail=detail)
                )


def _check_rules_compile(raw: Mapping[str, Any], path: str, ctx: _Ctx, out: list[Cause]) -> None:
    rules = raw.get("x-kubernetes-validations")
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        where = f"{path}.x-kubernetes-validations[{i}]"
        shown = {
            k: rule[k] for k in ("rule", "message", "messageExpression", "reason") if k in rule
        }
        for key in ("rule", "messageExpression"):
            if not _is_str(rule.get(key)):
                continue
            try:
                program = compile_rule(rule[key])
            except UnsupportedRule as err:
                detail = f"compilation failed: {err}"
                out.append(
                    Cause(
                        INVALID, f"{where}.{key}", f"Invalid value: {json.dumps(shown)}: {detail}"
                    )
                )
                continue
            if key == "rule" and program.uses_old_self and ctx.uncorrelatable:
                detail = f"oldSelf cannot be used on the uncorrelatable portion of the schema within {ctx.uncorrelatable}"
                out.append(make_cause(INVALID, f"{where}.rule", value=rule[key], detail=detail))
    list_type = raw.get("x-kubernetes-list-type")
    for kind, sub_path, sub in _children(raw, path):
        blocked = ctx.uncorrelatable
        if (kind == "items" and list_type != "map") or (
            kind == "property" and raw.get("x-kubernetes-map-type") == "atomic"
        ):
            blocked = blocked or path
        _check_rules_compile(sub, sub_path, _Ctx(uncorrelatable=blocked), out)


def _check_defaults(raw: Mapping[str, Any], path: str, out: list[Cause]) -> None:
    if "default" in raw:
        node = _Node(raw, path)
        value = raw["default"]
        for cause in CompiledSchema(raw).validate(value):
            inner = "" if cause.field == _NIL else "." + cause.field
            out.append(Cause(cause.type, f"{path}.default{inner}", cause.message))
        if _prune(node, value, resource=node.embedded) != value:
            detail = "must not have unknown fields"
            out.append(make_cause(INVALID, f"{path}.default", value=value, detail=detail))
    for _kind, sub_path, sub in _children(raw, path):
        _check_defaults(sub, sub_path, out)


def _check_structural(raw: Mapping[str, Any], path: str, level: str, out: list[Cause]) -> None:
    kind = raw.get("type") or ""
    embedded = raw.get("x-kubernetes-embedded-resource") is True
    int_or_string = raw.get("x-kubernetes-int-or-string") is True
    preserve = raw.get("x-kubernetes-preserve-unknown-fields") is True
    if kind == "array" and "items" not in raw:
        out.append(make_cause(REQUIRED, f"{path}.items", detail="must be specified"))
    for child, sub_path, sub in _children(raw, path):
        if child in ("property", "items", "additionalProperties"):
            _check_structural(sub, sub_path, "item" if child == "items" else "field", out)
    if "additionalProperties" in raw and level == "root":
        detail = "must not be used at the root"
        out.append(make_cause(FORBIDDEN, f"{path}.additionalProperties", detail=detail))
    for key in ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"):
        if int_or_string and raw.get(key) is True:
            detail = "must be false if x-kubernetes-int-or-string is true"
            out.append(make_cause(INVALID, f"{path}.{key}", value=True, detail=detail))
    _check_value_validation(raw, path, out, nested=False)
    if embedded and kind != "object":
        _type_required(raw, path, "must be object if x-kubernetes-embedded-resource is true", out)
    elif not kind and not int_or_string and not preserve:
        where = {"root": "at the root", "item": "for specified array items"}
        detail = "must not be empty " + where.get(level, "for specified object fields")
        out.append(make_cause(REQUIRED, f"{path}.type", detail=detail))
    if embedded and "additionalProperties" in raw:
        detail = "must not be used if x-kubernetes-embedded-resource is set"
        out.append(make_cause(FORBIDDEN, f"{path}.additionalProperties", detail=detail))
    if level == "root" and kind and kind != "object":
        out.append(
            make_cause(INVALID, f"{path}.type", value=kind, detail="must be object at the root")
        )
    _check_resource_fields(raw, path, level == "root", embedded, out)
    if embedded and not preserve and not raw.get("properties"):
        detail = (
            "must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields"
        )
        out.append(make_cause(REQUIRED, f"{path}.properties", detail=detail))
    for junctor, sub_path, sub in _children(raw, path):
        if junctor in (*_JUNCTORS, "not"):
            _check_complete(sub, raw, path, sub_path, out)


def _check_resource_fields(
    raw: Mapping[str, Any], path: str, root: bool, embedded: bool, out: list[Cause]
) -> None:
    props = _map_of(raw, "properties")
    for key in ("kind", "apiVersion"):
        sub = props.get(key)
        if (root or embedded) and _is_map(sub) and sub.get("type") != "string":
            field = f"{path}.properties[{key}].type"
            out.append(
                make_cause(INVALID, field, value=sub.get("type") or "", detail="must be string")
            )
    meta = props.get("metadata")
    if not _is_map(meta):
        return
    meta_path = f"{path}.properties[metadata]"
    if (root or embedded) and meta.get("type") != "object":
        field = f"{meta_path}.type"
        out.append(
            make_cause(INVALID, field, value=meta.get("type") or "", detail="must be object")
        )
    if root:
        names = set(meta.get("properties") or {})
        extra = set(meta) - {"type", "default", "properties"}
        if extra or not names <= {"name", "generateName"}:
            detail = (
                "must not specify anything other than name and generateName, but metadata is "
                "implicitly specified"
            )
            out.append(make_cause(FORBIDDEN, meta_path, detail=detail))


def _is_int_or_string_any_of(raw: Any) -> bool:
    return _is_map(raw) and raw.get("anyOf") == _INT_OR_STRING_ANY_OF


def _check_value_validation(
    raw: Mapping[str, Any], path: str, out: list[Cause], *, nested: bool
) -> None:
    """Junctor contents must only restrict values; mirrors k8s validateValueValidation."""
    skip_any_of = _is_int_or_string_any_of(raw)
    all_of = raw.get("allOf") if isinstance(raw.get("allOf"), list) else []
    for junctor, sub_path, sub in _children(raw, path):
        if junctor == "anyOf" and skip_any_of:
            continue
        if junctor in (*_JUNCTORS, "not"):
            skip_first = junctor == "allOf" and sub_path.endswith("[0]") and bool(all_of)
            _check_nested(
                sub, sub_path, out, skip_any_of=skip_first and _is_int_or_string_any_of(sub)
            )
    pattern = raw.get("pattern")
    if _is_str(pattern):
        try:
            re.compile(pattern)
        except re.error as err:
            detail = f"must be a valid regular expression, but isn't: {err}"
            out.append(make_cause(INVALID, f"{path}.pattern", value=pattern, detail=detail))
    del nested


def _check_nested(
    raw: Mapping[str, Any], path: str, out: list[Cause], *, skip_any_of: bool
) -> None:
    for junctor, sub_path, sub in _children(raw, path):
        if junctor == "anyOf" and skip_any_of:
            continue
        if junctor in ("property", "items", "not", *_JUNCTORS):
            _check_nested(sub, sub_path, out, skip_any_of=False)
        if junctor == "additionalProperties":
            continue
    for key, detail in _NESTED_FORBIDDEN:
        if raw.get(key) not in (None, False, "", [], {}):
            out.append(make_cause(FORBIDDEN, f"{path}.{key}", detail=detail))
    if _is_map(raw.get("properties")) and "metadata" in raw["properties"]:
        detail = "must not be specified in a nested context"
        out.append(make_cause(FORBIDDEN, f"{path}.properties[metadata]", detail=detail))
    _check_value_validation(raw, path, out, nested=True)


def _check_complete(
    nested: Mapping[str, Any],
    struct: Mapping[str, Any] | None,
    s_path: str,
    v_path: str,
    out: list[Cause],
) -> None:
    """Every field/item named inside a junctor must also be specified structurally."""
    if struct is None:
        out.append(make_cause(REQUIRED, s_path, detail=f"because it is defined in {v_path}"))
        return
    for junctor, sub_path, sub in _children(nested, v_path):
        if junctor in (*_JUNCTORS, "not"):
            _check_complete(sub, struct, s_path, sub_path, out)
    if _is_map(nested.get("items")):
        items = struct.get("items") if _is_map(struct.get("items")) else None
        _check_complete(nested["items"], items, f"{s_path}.items", f"{v_path}.items", out)
    props, nested_props = _map_of(struct, "properties"), _map_of(nested, "properties")
    for key, sub in nested_props.items():
        if _is_map(sub):
            sub_struct = props.get(key) if _is_map(props.get(key)) else None
            sub_s = f"{s_path}.properties[{key}]"
            _check_complete(sub, sub_struct, sub_s, f"{v_path}.properties[{key}]", out)
