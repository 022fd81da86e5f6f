"""Go-style duration strings (`1m`, `30s`, `1m30s`, `500ms`, `1.5h`) to seconds and back. Pure.

The grammar is Go's `time.ParseDuration`: an optional sign, then one or more `<number><unit>`
pairs with units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`; a bare `0` is also accepted.
Arithmetic is done in whole nanoseconds, as Go does, so fractions truncate to the nanosecond.
Policy such as Flagger's 10 s interval floor belongs to the model, not to this parser.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

_NS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3_600 * 1_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_MAX_NS = 2**63 - 1  # Go's time.Duration is an int64 count of nanoseconds
_NS_PER_S = 1_000_000_000


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; raises `ValueError` if `text` is not one."""
    return parse_duration_ns(text) / _NS_PER_S


def parse_duration_ns(text: str) -> int:
    """Whole nanoseconds in a Go duration string; raises `ValueError` if `text` is not one."""
    body = text[1:] if text[:1] in ("+", "-") else text
    sign = -1 if text[:1] == "-" else 1
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"not a duration: {text!r}")
    total = Fraction(0)
    position = 0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None:
            raise ValueError(f"not a duration: {text!r}")
        total += Fraction(match.group(1)) * _NS_PER_UNIT[match.group(2)]
        position = match.end()
    nanoseconds = int(total)
    if nanoseconds > _MAX_NS:
        raise ValueError(f"duration out of range: {text!r}")
    return sign * nanoseconds


def format_duration(seconds: float) -> str:
    """Go's `Duration.String()` spelling of `seconds`, rounded to the nanosecond, e.g. `1m30s`."""
    # From the float's shortest decimal spelling, not `seconds * 1e9`: the product rounds in
    # binary, so large values (627201784.949 s) would print as ...4.948999936s.
    nanoseconds = round(Decimal(repr(float(seconds))) * _NS_PER_S)
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    magnitude = abs(nanoseconds)
    if magnitude < _NS_PER_S:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if magnitude >= size:
                return f"{sign}{_decimal(magnitude, size)}{unit}"
    hours, rest = divmod(magnitude, _NS_PER_UNIT["h"])
    minutes, rest = divmod(rest, _NS_PER_UNIT["m"])
    text = f"{hours}h" if hours else ""
    if hours or minutes:
        text += f"{minutes}m"
    return f"{sign}{text}{_decimal(rest, _NS_PER_S)}s"


def _decimal(value: int, size: int) -> str:
    """`value / size` as a decimal without trailing zeros, computed exactly."""
    whole, fraction = divmod(value, size)
    if not fraction:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")
