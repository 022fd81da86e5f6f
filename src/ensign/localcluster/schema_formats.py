"""OpenAPI ``format`` checkers for string values (kube-openapi's strfmt registry). Pure.

:data:`FORMATS` maps a format name (dashes removed) to a predicate over the string.
"""

from __future__ import annotations

import binascii
import datetime
import ipaddress
import re
from collections.abc import Callable


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
FORMATS: dict[str, Callable[[str], bool]] = {
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
