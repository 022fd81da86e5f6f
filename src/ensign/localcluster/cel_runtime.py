"""CEL runtime for the rule subset: errors, value semantics, operators and macros. Pure.

Each builder here turns already-compiled operands (closures over an environment ``Env``)
into a new closure; runtime failures raise :class:`CelError` with cel-go's wording.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

Env = dict[str, Any]
Fn = Callable[[Env], Any]


_INT_MIN, INT_MAX = -(2**63), 2**63 - 1
RELOPS = frozenset({"<", "<=", ">", ">=", "==", "!=", "in"})


class UnsupportedRule(ValueError):
    """The rule does not parse, or uses CEL outside the supported subset."""


class CelError(Exception):
    """A runtime evaluation error; ``str()`` is the cel-go style message."""


def no_overload() -> CelError:
    return CelError("no such overload")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return _KINDS.get(type(v), "unknown")


_KINDS = {bool: "bool", int: "int", float: "double", str: "string", list: "list", dict: "map"}
_NUM = frozenset({"int", "double"})


def cel_equal(a: Any, b: Any) -> bool:
    """CEL heterogeneous equality (numbers compare across int/double)."""
    ka, kb = _kind(a), _kind(b)
    if ka in _NUM and kb in _NUM:
        return bool(a == b)
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(cel_equal(x, y) for x, y in zip(a, b, strict=True))
    if ka == "map":
        return a.keys() == b.keys() and all(cel_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _check_int(v: int) -> int:
    if v < _INT_MIN or v > INT_MAX:
        raise CelError("integer overflow")
    return v


def _compare(a: Any, b: Any) -> int:
    ka, kb = _kind(a), _kind(b)
    if not ((ka in _NUM and kb in _NUM) or (ka == kb and ka in ("string", "bool"))):
        raise no_overload()
    return -1 if a < b else (1 if a > b else 0)


def _arith(op: str, a: Any, b: Any) -> Any:
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        raise no_overload()
    if op == "+" and ka in ("string", "list"):
        return a + b
    if ka == "double" and op in "+-*/":
        if op == "/":
            return (
                a / b
                if b
                else (math.copysign(math.inf, a) * math.copysign(1, b) if a else math.nan)
            )
        return a + b if op == "+" else (a - b if op == "-" else a * b)
    if ka != "int":
        raise no_overload()
    if op in "/%" and b == 0:
        raise CelError("division by zero" if op == "/" else "modulus by zero")
    if op == "/":
        quotient = abs(a) // abs(b)
        return _check_int(quotient if (a < 0) == (b < 0) else -quotient)
    if op == "%":
        return int(math.fmod(a, b)) if abs(a) < 2**52 else a - b * int(a / b)
    return _check_int(a + b if op == "+" else (a - b if op == "-" else a * b))


def size(v: Any) -> int:
    if _kind(v) in ("string", "list", "map"):
        return len(v)
    raise no_overload()


def to_int(v: Any) -> int:
    kind = _kind(v)
    if kind == "int":
        return int(v)
    if kind == "double" and math.isfinite(v):
        return _check_int(int(v))
    if kind == "string" and re.fullmatch(r"[+-]?\d+", v):
        return _check_int(int(v))
    raise CelError("no such overload" if kind != "string" else f"cannot convert {v!r} to int")


def to_double(v: Any) -> float:
    kind = _kind(v)
    if kind in _NUM:
        return float(v)
    if kind == "string":
        try:
            return float(v)
        except ValueError:
            raise CelError(f"cannot convert {v!r} to double") from None
    raise no_overload()


def to_string(v: Any) -> str:
    kind = _kind(v)
    if kind == "bool":
        return "true" if v else "false"
    if kind in ("string", "int"):
        return str(v)
    if kind == "double":
        return repr(v)
    raise no_overload()


def select_field(operand: Fn, name: str) -> Fn:
    def select(env: Env) -> Any:
        obj = operand(env)
        if not isinstance(obj, dict):
            raise no_overload()
        try:
            return obj[name]
        except KeyError:
            raise CelError(f"no such key: {name}") from None

    return select


def index_value(operand: Fn, key_fn: Fn) -> Fn:
    def index(env: Env) -> Any:
        obj, key = operand(env), key_fn(env)
        if isinstance(obj, list):
            if _kind(key) == "double" and key.is_integer():
                key = int(key)
            if _kind(key) != "int":
                raise no_overload()
            if 0 <= key < len(obj):
                return obj[key]
            raise CelError(f"index out of bounds: {key}")
        if isinstance(obj, dict):
            if isinstance(key, str) and key in obj:
                return obj[key]
            raise CelError(f"no such key: {key}")
        raise no_overload()

    return index


def logic(is_and: bool, left: Fn, right: Fn) -> Fn:
    short = not is_and  # value that decides the result on its own

    def logic(env: Env) -> Any:
        try:
            a: Any = left(env)
        except CelError as err:
            a = err
        if a is short:
            return short
        b = right(env)
        if b is short:
            return short
        if isinstance(a, CelError):
            raise a
        if a is (not short) and b is (not short):
            return not short
        raise no_overload()

    return logic


def binary(op: str, left: Fn, right: Fn) -> Fn:
    if op == "==":
        return lambda env: cel_equal(left(env), right(env))
    if op == "!=":
        return lambda env: not cel_equal(left(env), right(env))
    if op == "in":
        return lambda env: _contains(right(env), left(env))
    if op in RELOPS:
        accept = _ORDER_ACCEPT[op]
        return lambda env: _compare(left(env), right(env)) in accept
    return lambda env: _arith(op, left(env), right(env))


_ORDER_ACCEPT = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (1, 0)}


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list):
        return any(cel_equal(item, x) for x in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    raise no_overload()


def _iterate(coll: Any) -> list[Any]:
    if isinstance(coll, list):
        return coll
    if isinstance(coll, dict):
        return list(coll)
    raise no_overload()


def macro(name: str, target: Fn, var: str, body: Fn) -> Fn:
    def run(env: Env) -> Any:
        items = _iterate(target(env))
        saved = env.get(var, UNSET)
        try:
            return _MACRO_IMPL[name](items, var, body, env)
        finally:
            if saved is UNSET:
                env.pop(var, None)
            else:
                env[var] = saved

    return run


UNSET = object()


def _quantifier(items: list[Any], var: str, body: Fn, env: Env, *, want: bool) -> bool:
    error: CelError | None = None
    for item in items:
        env[var] = item
        try:
            result = body(env)
        except CelError as err:
            error = error or err
            continue
        if result is want:
            return bool(want)
        if not isinstance(result, bool):
            error = error or no_overload()
    if error is not None:
        raise error
    return not want


def _exists_one(items: list[Any], var: str, body: Fn, env: Env) -> bool:
    hits = 0
    for item in items:
        env[var] = item
        result = body(env)
        if not isinstance(result, bool):
            raise no_overload()
        hits += result
    return hits == 1


def _map(items: list[Any], var: str, body: Fn, env: Env) -> list[Any]:
    out = []
    for item in items:
        env[var] = item
        out.append(body(env))
    return out


def _filter(items: list[Any], var: str, body: Fn, env: Env) -> list[Any]:
    out = []
    for item in items:
        env[var] = item
        keep = body(env)
        if not isinstance(keep, bool):
            raise no_overload()
        if keep:
            out.append(item)
    return out


_MACRO_IMPL: dict[str, Callable[[list[Any], str, Fn, Env], Any]] = {
    "all": lambda i, v, b, e: _quantifier(i, v, b, e, want=False),
    "exists": lambda i, v, b, e: _quantifier(i, v, b, e, want=True),
    "exists_one": _exists_one,
    "map": _map,
    "filter": _filter,
}


def string_method(name: str, target: Fn, arg: Fn, literal: Any) -> Fn:
    if name == "matches":
        pattern = _regex(literal) if isinstance(literal, str) else None

        def matches(env: Env) -> bool:
            subject, pat = target(env), arg(env)
            if not (isinstance(subject, str) and isinstance(pat, str)):
                raise no_overload()
            return (pattern or _regex(pat, runtime=True)).search(subject) is not None

        return matches
    method = {"startsWith": str.startswith, "endsWith": str.endswith, "contains": str.__contains__}
    impl = method[name]

    def call(env: Env) -> bool:
        subject, other = target(env), arg(env)
        if not (isinstance(subject, str) and isinstance(other, str)):
            raise no_overload()
        return bool(impl(subject, other))

    return call


def _regex(pattern: str, *, runtime: bool = False) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        if runtime:
            raise CelError(f"invalid regular expression: {err}") from None
        raise UnsupportedRule(f"invalid regular expression {pattern!r}: {err}") from None
