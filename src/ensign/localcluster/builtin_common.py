"""Shared pieces of built-in defaulting/validation: causes, Go value rendering, name rules. Pure.

The apiserver renders a bad value the way Go's `fmt` does (`%q` for strings, `%v` for numbers,
`%#v` for maps, slices and structs), so messages carry Go syntax such as
`map[string]string{"app":"web"}`; the helpers here reproduce that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from ensign.localcluster.errors import StatusCause

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"

IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"

Obj = dict[str, Any]
Causes = list[StatusCause]


# --- causes ---------------------------------------------------------------------------------


def required(path: str, detail: str = "") -> StatusCause:
    return StatusCause(REQUIRED, _with_detail("Required value", detail), path)


def forbidden(path: str, detail: str) -> StatusCause:
    return StatusCause(FORBIDDEN, _with_detail("Forbidden", detail), path)


def too_long(path: str, limit: int) -> StatusCause:
    return StatusCause(TOO_LONG, f"Too long: must have at most {limit} bytes", path)


def invalid(path: str, value: Any, detail: str) -> StatusCause:
    """`Invalid value: <value>: detail`; `value` is a Python value or a pre-rendered `GoRepr`."""
    return StatusCause(INVALID, _with_detail(f"Invalid value: {go_value(value)}", detail), path)


def duplicate(path: str, value: Any) -> StatusCause:
    return StatusCause(DUPLICATE, f"Duplicate value: {go_value(value)}", path)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> StatusCause:
    quoted = ", ".join(go_quote(s) for s in supported)
    detail = f"supported values: {quoted}" if quoted else ""
    return StatusCause(
        NOT_SUPPORTED, _with_detail(f"Unsupported value: {go_value(value)}", detail), path
    )


def _with_detail(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


# --- Go value rendering ---------------------------------------------------------------------


class GoRepr(str):
    """A value already rendered in Go syntax (e.g. `%#v` of a struct); printed verbatim."""


_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
_ESCAPES |= {"\v": r"\v", "\\": "\\\\", '"': '\\"'}


def go_quote(s: str) -> str:
    """Go's `strconv.Quote`: printable runes kept, the rest escaped."""
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def go_value(value: Any) -> str:
    """How `field.Error` prints a bad value: strings quoted, numbers plain, None as null."""
    if isinstance(value, GoRepr):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Mapping):
        return go_string_map(value)
    if isinstance(value, list):
        return go_string_slice(value)
    return go_quote(str(value))


def go_string_map(value: Mapping[str, Any] | None) -> GoRepr:
    """`%#v` of a `map[string]string` (Go prints map keys sorted)."""
    if value is None:
        return GoRepr("map[string]string(nil)")
    body = ", ".join(f"{go_quote(k)}:{go_quote(str(value[k]))}" for k in sorted(value))
    return GoRepr("map[string]string{" + body + "}")


def go_string_slice(value: list[Any] | None) -> GoRepr:
    """`%#v` of a `[]string`."""
    if value is None:
        return GoRepr("[]string(nil)")
    return GoRepr("[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}")


def go_label_selector(sel: Mapping[str, Any]) -> GoRepr:
    """`%#v` of a `metav1.LabelSelector`, as in the selector-immutable message."""
    labels = sel.get("matchLabels")
    exprs = sel.get("matchExpressions")
    if exprs is None:
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = [_go_requirement(e) for e in exprs if isinstance(e, Mapping)]
        rendered = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    ml = go_string_map(labels if isinstance(labels, Mapping) else None)
    return GoRepr(f"v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{rendered}}}")


def _go_requirement(expr: Mapping[str, Any]) -> str:
    values = expr.get("values")
    vals = go_string_slice(values if isinstance(values, list) else None)
    key, op = go_quote(str(expr.get("key", ""))), go_quote(str(expr.get("operator", "")))
    return f"v1.LabelSelectorRequirement{{Key:{key}, Operator:{op}, Values:{vals}}}"


# --- small accessors ------------------------------------------------------------------------


def get_in(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... or None when any step is missing or not a mapping."""
    cur = obj
    for key in keys:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# --- name / label rules (apimachinery/pkg/util/validation) -----------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile(r"\A(?:" + fmt + r")\Z")


_RE = {
    "label": _full(DNS1123_LABEL_FMT),
    "subdomain": _full(DNS1123_SUBDOMAIN_FMT),
    "dns1035": _full(DNS1035_LABEL_FMT),
    "key": _full(LABEL_KEY_FMT),
    "value": _full(LABEL_VALUE_FMT),
    "config": _full(CONFIG_KEY_FMT),
}


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's `RegexError`, including its double space between examples."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _RE["label"].match(value):
        if _RE["subdomain"].match(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _RE["subdomain"].match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _RE["dns1035"].match(value):
        errs.append(regex_error(_DNS1035_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def path_segment_name(value: str) -> list[str]:
    """`path.IsValidPathSegmentName` (RBAC names, HPA target names)."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


def label_key(value: str) -> list[str]:
    """`IsQualifiedName` / `IsLabelKey`."""
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        example = regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        suffix = " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        return ["a valid label key " + example + suffix]
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(parts[0]))
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _RE["key"].match(name):
        example = regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        errs.append("name part " + example)
    return errs


def label_value(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _RE["value"].match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def config_key(value: str) -> list[str]:
    """`IsConfigMapKey`: ConfigMap and Secret data keys."""
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _RE["config"].match(value):
        errs.append(
            regex_error(_CONFIG_KEY_MSG, CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name")
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def port_name(value: str) -> list[str]:
    """`IsValidPortName` (IANA_SVC_NAME): container port names, named target ports."""
    errs = [max_len_error(15)] if len(value) > 15 else []
    if not re.fullmatch(r"[-a-z0-9]+", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def port_num(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def check_labels(labels: Any, path: str) -> Causes:
    """`ValidateLabels`: every cause sits on the map's path itself, not on the key."""
    causes: Causes = []
    for key in sorted(as_dict(labels)):
        causes += [invalid(path, key, m) for m in label_key(key)]
        val = labels[key]
        if isinstance(val, str):
            causes += [invalid(path, val, m) for m in label_value(val)]
    return causes


def check_annotations(annotations: Any, path: str) -> Causes:
    causes: Causes = []
    total = 0
    for key in sorted(as_dict(annotations)):
        causes += [invalid(path, key, m) for m in label_key(key.lower())]
        total += len(key) + len(str(annotations[key]))
    if total > 256 * 1024:
        causes.append(too_long(path, 256 * 1024))
    return causes


def nonnegative(obj: Any, path: str, *keys: str) -> Causes:
    value = get_in(obj, *keys)
    return [invalid(path, value, NEGATIVE)] if is_int(value) and value < 0 else []
