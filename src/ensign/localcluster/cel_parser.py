"""CEL tokenizer and recursive-descent parser that compiles a rule into closures. Pure.

:class:`Parser` rejects anything outside the supported subset with
:class:`~ensign.localcluster.cel_runtime.UnsupportedRule` at compile time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ensign.localcluster.cel_runtime import (
    INT_MAX,
    RELOPS,
    UNSET,
    Env,
    Fn,
    UnsupportedRule,
    binary,
    index_value,
    logic,
    macro,
    no_overload,
    select_field,
    size,
    string_method,
    to_double,
    to_int,
    to_string,
)

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
    literal: Any = UNSET


class Parser:
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
                raise no_overload()
            return y(env) if test else n(env)

        return _Expr(ternary)

    def _logical(self, op: str) -> _Expr:
        left = self._logical("&&") if op == "||" else self._relation()
        while self._accept(op):
            right = self._logical("&&") if op == "||" else self._relation()
            left = _Expr(logic(op == "&&", left.fn, right.fn))
        return left

    def _relation(self) -> _Expr:
        left = self._binary_level(0)
        while self._peek() in RELOPS and self.tokens[self.pos][0] != "str":
            op = self.tokens[self.pos][1]
            self.pos += 1
            left = _Expr(binary(op, left.fn, self._binary_level(0).fn))
        return left

    def _binary_level(self, level: int) -> _Expr:
        ops = ("+", "-") if level == 0 else ("*", "/", "%")
        left = self._binary_level(1) if level == 0 else self._unary()
        while self._peek() in ops and self.tokens[self.pos][0] == "op":
            op = self.tokens[self.pos][1]
            self.pos += 1
            right = self._binary_level(1) if level == 0 else self._unary()
            left = _Expr(binary(op, left.fn, right.fn))
        return left

    def _unary(self) -> _Expr:
        if self._accept("!"):
            inner = self._unary().fn

            def negate(env: Env) -> bool:
                value = inner(env)
                if not isinstance(value, bool):
                    raise no_overload()
                return not value

            return _Expr(negate)
        if self._accept("-"):
            operand = self._unary()
            if isinstance(operand.literal, int | float) and not isinstance(operand.literal, bool):
                value = -operand.literal
                return _Expr(lambda env: value, literal=value)
            return _Expr(binary("-", lambda env: 0, operand.fn))
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
                    expr = _Expr(select_field(expr.fn, field), select=(expr.fn, field))
            elif self._accept("["):
                key = self._ternary()
                self._expect("]")
                expr = _Expr(index_value(expr.fn, key.fn))
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
            return _Expr(macro(name, target.fn, var, body.fn))
        if name not in ("size", "startsWith", "endsWith", "contains", "matches"):
            self._fail(f"unsupported function {name}()")
        args = self._args()
        if name == "size" and not args:
            fn = target.fn
            return _Expr(lambda env: size(fn(env)))
        if name in ("startsWith", "endsWith", "contains", "matches") and len(args) == 1:
            return _Expr(string_method(name, target.fn, args[0].fn, args[0].literal))
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
                    raise no_overload()
                return field in obj

            return _Expr(has)
        conversions: dict[str, Callable[[Any], Any]] = {
            "size": size,
            "int": to_int,
            "double": to_double,
            "string": to_string,
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
        if value > INT_MAX:
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
