"""A small, pure-Python subset of CEL for CRD ``x-kubernetes-validations`` rules.

Supported: the variables ``self`` and ``oldSelf``; int (decimal/hex), double, string,
bool and null literals; list literals; field selection (``self.a.b``, with the
Kubernetes ``__dash__``-style escapes) and indexing (``self[0]``, ``self['k']``);
``has(x.f)``; ``size(x)`` / ``x.size()``; ``x.startsWith(s)``, ``x.endsWith(s)``,
``x.contains(s)``, ``x.matches(re)``; ``int()``, ``double()``, ``string()``; the macros
``all``, ``exists``, ``exists_one``, ``map`` and ``filter``; the operators
``! - * / % + - < <= > >= == != in && || ?:``.

Anything else (map literals, uints, bytes, timestamps, optionals, other functions or
identifiers) raises :class:`UnsupportedRule` when the rule is compiled, so a CRD using
it is rejected at registration instead of its rule silently passing.  Runtime errors
raise :class:`CelError` whose text mirrors cel-go (``no such key: x``, ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CelError", "Program", "UnsupportedRule", "compile_rule"]

Env = dict[str, Any]
Fn = Callable[[Env], Any]

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_RESERVED = frozenset(
    {
        "as", "break", "const", "continue", "else", "false", "for", "function", "if", "import",
        "in", "let", "loop", "package", "namespace", "null", "return", "true", "var", "void",
        "while",
    }
)  # fmt: skip
_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<float>\d*\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)"
    r"|(?P<int>0[xX][0-9a-fA-F]+u?|\d+u?)"
    r"|(?P<str>'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[<>!+\-*/%?:.,()\[\]{}])"
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_FIELD_ESC = re.compile(r"__(underscores|dot|dash|slash)__")
_FIELD_UNESC = {"underscores": "__", "dot": ".", "dash": "-", "slash": "/"}
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_RELOPS = frozenset({"<", "<=", ">", ">=", "==", "!=", "in"})


class UnsupportedRule(ValueError):
    """The rule does not parse, or uses CEL outside the supported subset."""


class CelError(Exception):
    """A runtime evaluation error; ``str()`` is the cel-go style message."""


def _overload() -> CelError:
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
    if v < _INT_MIN or v > _INT_MAX:
        raise CelError("integer overflow")
    return v


def _compare(a: Any, b: Any) -> int:
    ka, kb = _kind(a), _kind(b)
    if not ((ka in _NUM and kb in _NUM) or (ka == kb and ka in ("string", "bool"))):
        raise _overload()
    return -1 if a < b else (1 if a > b else 0)


def _arith(op: str, a: Any, b: Any) -> Any:
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        raise _overload()
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
        raise _overload()
    if op in "/%" and b == 0:
        raise CelError("division by zero" if op == "/" else "modulus by zero")
    if op == "/":
        quotient = abs(a) // abs(b)
        return _check_int(quotient if (a < 0) == (b < 0) else -quotient)
    if op == "%":
        return int(math.fmod(a, b)) if abs(a) < 2**52 else a - b * int(a / b)
    return _check_int(a + b if op == "+" else (a - b if op == "-" else a * b))


def _size(v: Any) -> int:
    if _kind(v) in ("string", "list", "map"):
        return len(v)
    raise _overload()


def _to_int(v: Any) -> int:
    kind = _kind(v)
    if kind == "int":
        return int(v)
    if kind == "double" and math.isfinite(v):
        return _check_int(int(v))
    if kind == "string" and re.fullmatch(r"[+-]?\d+", v):
        return _check_int(int(v))
    raise CelError("no such overload" if kind != "string" else f"cannot convert {v!r} to int")


def _to_double(v: Any) -> float:
    kind = _kind(v)
    if kind in _NUM:
        return float(v)
    if kind == "string":
        try:
            return float(v)
        except ValueError:
            raise CelError(f"cannot convert {v!r} to double") from None
    raise _overload()


def _to_string(v: Any) -> str:
    kind = _kind(v)
    if kind == "bool":
        return "true" if v else "false"
    if kind in ("string", "int"):
        return str(v)
    if kind == "double":
        return repr(v)
    raise _overload()


def _select(operand: Fn, name: str) -> Fn:
    def select(env: Env) -> Any:
        obj = operand(env)
        if not isinstance(obj, dict):
            raise _overload()
        try:
            return obj[name]
        except KeyError:
            raise CelError(f"no such key: {name}") from None

    return select


def _index(operand: Fn, key_fn: Fn) -> Fn:
    def index(env: Env) -> Any:
        obj, key = operand(env), key_fn(env)
        if isinstance(obj, list):
            if _kind(key) == "double" and key.is_integer():
                key = int(key)
            if _kind(key) != "int":
                raise _overload()
            if 0 <= key < len(obj):
                return obj[key]
            raise CelError(f"index out of bounds: {key}")
        if isinstance(obj, dict):
            if isinstance(key, str) and key in obj:
                return obj[key]
            raise CelError(f"no such key: {key}")
        raise _overload()

    return index


def _logic(is_and: bool, left: Fn, right: Fn) -> Fn:
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
        raise _overload()

    return logic


def _binary(op: str, left: Fn, right: Fn) -> Fn:
    if op == "==":
        return lambda env: cel_equal(left(env), right(env))
    if op == "!=":
        return lambda env: not cel_equal(left(env), right(env))
    if op == "in":
        return lambda env: _contains(right(env), left(env))
    if op in _RELOPS:
        accept = _ORDER_ACCEPT[op]
        return lambda env: _compare(left(env), right(env)) in accept
    return lambda env: _arith(op, left(env), right(env))


_ORDER_ACCEPT = {"<": (-1,), "<=": (-1, 0), ">": (1,), ">=": (1, 0)}


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, list):
        return any(cel_equal(item, x) for x in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    raise _overload()


def _iterate(coll: Any) -> list[Any]:
    if isinstance(coll, list):
        return coll
    if isinstance(coll, dict):
        return list(coll)
    raise _overload()


def _macro(name: str, target: Fn, var: str, body: Fn) -> Fn:
    def run(env: Env) -> Any:
        items = _iterate(target(env))
        saved = env.get(var, _UNSET)
        try:
            return _MACRO_IMPL[name](items, var, body, env)
        finally:
            if saved is _UNSET:
                env.pop(var, None)
            else:
                env[var] = saved

    return run


_UNSET = object()


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
            error = error or _overload()
    if error is not None:
        raise error
    return not want


def _exists_one(items: list[Any], var: str, body: Fn, env: Env) -> bool:
    hits = 0
    for item in items:
        env[var] = item
        result = body(env)
        if not isinstance(result, bool):
            raise _overload()
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
            raise _overload()
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


def _string_method(name: str, target: Fn, arg: Fn, literal: Any) -> Fn:
    if name == "matches":
        pattern = _regex(literal) if isinstance(literal, str) else None

        def matches(env: Env) -> bool:
            subject, pat = target(env), arg(env)
            if not (isinstance(subject, str) and isinstance(pat, str)):
                raise _overload()
            return (pattern or _regex(pat, runtime=True)).search(subject) is not None

        return matches
    method = {"startsWith": str.startswith, "endsWith": str.endswith, "contains": str.__contains__}
    impl = method[name]

    def call(env: Env) -> bool:
        subject, other = target(env), arg(env)
        if not (isinstance(subject, str) and isinstance(other, str)):
            raise _overload()
        return bool(impl(subject, other))

    return call


def _regex(pattern: str, *, runtime: bool = False) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        if runtime:
            raise CelError(f"invalid regular expression: {err}") from None
        raise UnsupportedRule(f"invalid regular expression {pattern!r}: {err}") from None


def _unescape_string(body: str) -> str:
    def repl(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc[0] in "xuU":
            return chr(int(esc[1:], 16))
        if esc[0] in "01234567" and len(esc) == 3:
            return chr(int(esc, 8))
        if esc in _SIMPLE_ESC:
            return _SIMPLE_ESC[esc]
        if esc in "\\'\"`?":
            return esc
        raise UnsupportedRule(f"invalid escape sequence \\{esc}")

    return _ESCAPE.sub(repl, body)


def unescape_field(name: str) -> str:
    """Undo the Kubernetes escaping of property names that are not CEL identifiers."""
    if "__" not in name:
        return name
    if name.startswith("__") and name.endswith("__") and name[2:-2] in _RESERVED:
        return name[2:-2]
    return _FIELD_ESC.sub(lambda m: _FIELD_UNESC[m.group(1)], name)


@dataclass(frozen=True, slots=True)
class _Expr:
    fn: Fn
    select: tuple[Fn, str] | None = None
    literal: Any = _UNSET


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled rule; call :meth:`evaluate` with ``self`` (and ``oldSelf``)."""

    source: str
    uses_old_self: bool
    fn: Fn

    def evaluate(self, value: Any, old: Any = None) -> Any:
        """Evaluate the rule; raises :class:`CelError` on evaluation errors."""
        env: Env = {"self": value, "oldSelf": old}
        try:
            return self.fn(env)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError, RecursionError) as err:
            raise CelError(f"internal error: {err}") from None


def compile_rule(source: str) -> Program:
    """Parse ``source`` into a :class:`Program`, or raise :class:`UnsupportedRule`."""
    parser = _Parser(source)
    expr = parser.parse()
    return Program(source=source, uses_old_self=parser.uses_old_self, fn=expr.fn)


class _Parser:
    """Recursive-descent parser that emits closures directly."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.pos = 0
        self.scope: list[str] = []
        self.uses_old_self = False

    def parse(self) -> _Expr:
        expr = self._ternary()
        if self._peek() is not None:
            self._fail(f"unexpected {self._peek()!r}")
        return expr

    def _fail(self, what: str) -> None:
        offset = self.tokens[self.pos][2] if self.pos < len(self.tokens) else len(self.source)
        raise UnsupportedRule(f"{what} at offset {offset} (supported: a small CEL subset)")

    def _peek(self, ahead: int = 0) -> str | None:
        i = self.pos + ahead
        return self.tokens[i][1] if i < len(self.tokens) else None

    def _accept(self, text: str) -> bool:
        if self._peek() == text and self.tokens[self.pos][0] in ("op", "ident"):
            self.pos += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._accept(text):
            self._fail(f"expected {text!r}")

    def _ternary(self) -> _Expr:
        cond = self._logical("||")
        if not self._accept("?"):
            return cond
        yes = self._logical("||")
        self._expect(":")
        no = self._ternary()
        c, y, n = cond.fn, yes.fn, no.fn

        def ternary(env: Env) -> Any:
            test = c(env)
            if not isinstance(test, bool):
                raise _overload()
            return y(env) if test else n(env)

        return _Expr(ternary)

    def _logical(self, op: str) -> _Expr:
        left = self._logical("&&") if op == "||" else self._relation()
        while self._accept(op):
            right = self._logical("&&") if op == "||" else self._relation()
            left = _Expr(_logic(op == "&&", left.fn, right.fn))
        return left

    def _relation(self) -> _Expr:
        left = self._binary_level(0)
        while self._peek() in _RELOPS and self.tokens[self.pos][0] != "str":
            op = self.tokens[self.pos][1]
            self.pos += 1
            left = _Expr(_binary(op, left.fn, self._binary_level(0).fn))
        return left

    def _binary_level(self, level: int) -> _Expr:
        ops = ("+", "-") if level == 0 else ("*", "/", "%")
        left = self._binary_level(1) if level == 0 else self._unary()
        while self._peek() in ops and self.tokens[self.pos][0] == "op":
            op = self.tokens[self.pos][1]
            self.pos += 1
            right = self._binary_level(1) if level == 0 else self._unary()
            left = _Expr(_binary(op, left.fn, right.fn))
        return left

    def _unary(self) -> _Expr:
        if self._accept("!"):
            inner = self._unary().fn

            def negate(env: Env) -> bool:
                value = inner(env)
                if not isinstance(value, bool):
                    raise _overload()
                return not value

            return _Expr(negate)
        if self._accept("-"):
            operand = self._unary()
            if isinstance(operand.literal, int | float) and not isinstance(operand.literal, bool):
                value = -operand.literal
                return _Expr(lambda env: value, literal=value)
            return _Expr(_binary("-", lambda env: 0, operand.fn))
        return self._member()

    def _member(self) -> _Expr:
        expr = self._primary()
        while True:
            if self._accept("."):
                name = self._ident()
                if self._peek() == "(":
                    expr = self._method(expr, name)
                else:
                    field = unescape_field(name)
                    expr = _Expr(_select(expr.fn, field), select=(expr.fn, field))
            elif self._accept("["):
                key = self._ternary()
                self._expect("]")
                expr = _Expr(_index(expr.fn, key.fn))
            else:
                return expr

    def _ident(self) -> str:
        if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "ident":
            self._fail("expected an identifier")
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def _args(self) -> list[_Expr]:
        self._expect("(")
        args: list[_Expr] = []
        while not self._accept(")"):
            if args:
                self._expect(",")
            args.append(self._ternary())
        return args

    def _method(self, target: _Expr, name: str) -> _Expr:
        if name in _MACROS:
            self._expect("(")
            var = self._ident()
            self._expect(",")
            self.scope.append(var)
            body = self._ternary()
            self.scope.pop()
            self._expect(")")
            return _Expr(_macro(name, target.fn, var, body.fn))
        if name not in ("size", "startsWith", "endsWith", "contains", "matches"):
            self._fail(f"unsupported function {name}()")
        args = self._args()
        if name == "size" and not args:
            fn = target.fn
            return _Expr(lambda env: _size(fn(env)))
        if name in ("startsWith", "endsWith", "contains", "matches") and len(args) == 1:
            return _Expr(_string_method(name, target.fn, args[0].fn, args[0].literal))
        self._fail(f"wrong number of arguments to {name}()")
        raise AssertionError  # pragma: no cover

    def _primary(self) -> _Expr:
        if self.pos >= len(self.tokens):
            self._fail("unexpected end of expression")
        kind, text, _ = self.tokens[self.pos]
        self.pos += 1
        if kind in ("int", "float", "str"):
            value = _literal(kind, text)
            return _Expr(lambda env: value, literal=value)
        if kind == "ident":
            return self._named(text)
        if text == "(":
            inner = self._ternary()
            self._expect(")")
            return _Expr(inner.fn, select=inner.select)
        if text == "[":
            return self._list()
        self.pos -= 1
        self._fail(f"unsupported syntax {text!r}")
        raise AssertionError  # pragma: no cover

    def _list(self) -> _Expr:
        items: list[Fn] = []
        while not self._accept("]"):
            if items:
                self._expect(",")
                if self._accept("]"):
                    break
            items.append(self._ternary().fn)
        return _Expr(lambda env: [item(env) for item in items])

    def _named(self, name: str) -> _Expr:
        constants = {"true": True, "false": False, "null": None}
        if name in constants:
            value = constants[name]
            return _Expr(lambda env: value, literal=value)
        if self._peek() == "(":
            return self._function(name)
        if name not in self.scope and name not in ("self", "oldSelf"):
            self.pos -= 1
            self._fail(f"undeclared reference to {name!r}")
        self.uses_old_self |= name == "oldSelf"
        return _Expr(lambda env: env[name])

    def _function(self, name: str) -> _Expr:
        if name == "has":
            args = self._args()
            if len(args) != 1 or args[0].select is None:
                self._fail("has() requires a field selection argument")
            operand, field = args[0].select or (args[0].fn, "")

            def has(env: Env) -> bool:
                obj = operand(env)
                if not isinstance(obj, dict):
                    raise _overload()
                return field in obj

            return _Expr(has)
        conversions: dict[str, Callable[[Any], Any]] = {
            "size": _size,
            "int": _to_int,
            "double": _to_double,
            "string": _to_string,
        }
        if name not in conversions:
            self._fail(f"unsupported function {name}()")
        args = self._args()
        if len(args) != 1:
            self._fail(f"{name}() takes exactly one argument")
        impl, arg = conversions[name], args[0].fn
        return _Expr(lambda env: impl(arg(env)))


def _literal(kind: str, text: str) -> Any:
    if kind == "float":
        return float(text)
    if kind == "int":
        if text.endswith("u"):
            raise UnsupportedRule(f"unsigned integer literal {text} is not supported")
        value = int(text, 0) if text.lower().startswith("0x") else int(text)
        if value > _INT_MAX:
            raise UnsupportedRule(f"integer literal {text} overflows int64")
        return value
    return _unescape_string(text[1:-1])


def _tokenize(source: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise UnsupportedRule(f"unexpected character {source[pos]!r} at offset {pos}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group(), pos))
        pos = match.end()
    for i, (kind, text, offset) in enumerate(tokens):
        if kind == "str" and i and tokens[i - 1][0] == "ident" and tokens[i - 1][2] + 1 == offset:
            raise UnsupportedRule(f"string prefix {tokens[i - 1][1]!r} is not supported")
        if kind == "ident" and text == "in":
            tokens[i] = ("op", "in", offset)
    return tokens
