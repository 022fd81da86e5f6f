"""A small, strict renderer for the subset of Helm's Go templates that charts/ensign uses.

There is no helm binary on the machines this project runs on, so the chart's tests render it
with this module and parse the result. It implements only what the chart needs, with Go's and
Helm's semantics, and raises `TemplateError` on anything else, so a template cannot quietly use
syntax that this renderer would get wrong:

* actions `{{ pipeline }}`, with `{{-` / `-}}` trimming the whitespace (newlines included)
  before / after the action, and comments `{{/* ... */}}`;
* `{{ if pipeline }}`, `{{ else if pipeline }}`, `{{ else }}`, `{{ end }}`; truthiness as in
  Go (false, 0, "", empty list/map and nil are false);
* pipelines `a | f x | g`, where the piped value is the last argument; parenthesised
  sub-pipelines; string and integer literals;
* fields `.Values.a.b`, `.Release.Name|Namespace|Service`, `.Chart.Name|Version|AppVersion`;
  a missing key is an error here (Helm would print `<no value>` or fail later);
* functions `default`, `quote`, `toYaml`, `indent`, `nindent`, `not`, `and`, `or`, `eq`.

Not supported (an error): `range`, `with`, `define`/`include`/`template`, variables, `.Files`,
`.Capabilities`, `tpl`, `required`, and every other Sprig function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


class TemplateError(Exception):
    """The template uses syntax outside the supported subset, or a value is missing."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r'\s*(?:(\()|(\))|(\|)|("(?:[^"\\]|\\.)*")|(-?\d+)|(\.[A-Za-z0-9_.]+)|([A-Za-z_]\w*))'
)


# ------------------------------------------------------------------------------ parsing


@dataclass
class _Text:
    text: str


@dataclass
class _Output:
    expr: Any


@dataclass
class _If:
    branches: list[tuple[Any, list[Any]]] = field(default_factory=list)
    otherwise: list[Any] = field(default_factory=list)


def _lex(source: str) -> list[tuple[str, str]]:
    """Split into ("text", s) and ("action", body) items, applying the trim markers."""
    items: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        items.append(("text", text))
        body = m.group(2).strip()
        if "{{" in body:
            raise TemplateError(f"nested action in {m.group(0)!r}")
        items.append(("action", body))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = source[pos:]
    items.append(("text", tail.lstrip(" \t\r\n") if trim_next else tail))
    return items


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"unsupported syntax at {expr[pos:]!r} in {expr!r}")
        kinds = ("(", ")", "|", "str", "int", "field", "ident")
        for kind, value in zip(kinds, m.groups(), strict=True):
            if value is not None:
                out.append((kind, value))
                break
        pos = m.end()
    return out


class _ExprParser:
    def __init__(self, expr: str) -> None:
        self.source = expr
        self.toks = _tokens(expr)
        self.i = 0

    def parse(self) -> Any:
        node = self.pipeline()
        if self.i != len(self.toks):
            raise TemplateError(f"unexpected {self.toks[self.i][1]!r} in {self.source!r}")
        return node

    def pipeline(self) -> Any:
        cmds = [self.command()]
        while self.i < len(self.toks) and self.toks[self.i][0] == "|":
            self.i += 1
            cmds.append(self.command())
        return ("pipe", cmds)

    def command(self) -> Any:
        operands = []
        while self.i < len(self.toks) and self.toks[self.i][0] not in ("|", ")"):
            operands.append(self.operand())
        if not operands:
            raise TemplateError(f"empty command in {self.source!r}")
        return operands

    def operand(self) -> Any:
        kind, value = self.toks[self.i]
        self.i += 1
        if kind == "(":
            node = self.pipeline()
            if self.i >= len(self.toks) or self.toks[self.i][0] != ")":
                raise TemplateError(f"unclosed ( in {self.source!r}")
            self.i += 1
            return node
        if kind == "str":
            return ("lit", json.loads(value))
        if kind == "int":
            return ("lit", int(value))
        if kind == "field":
            return ("field", value)
        if kind == "ident":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value not in FUNCTIONS:
                raise TemplateError(f"unsupported function or keyword {value!r} in {self.source!r}")
            return ("func", value)
        raise TemplateError(f"unexpected {value!r} in {self.source!r}")


def _parse(source: str) -> list[Any]:
    root: list[Any] = []
    stack: list[tuple[_If, list[Any]]] = []
    current = root
    for kind, value in _lex(source):
        if kind == "text":
            if value:
                current.append(_Text(value))
            continue
        if value.startswith("/*"):
            if not value.endswith("*/"):
                raise TemplateError(f"bad comment {value!r}")
            continue
        word, _, rest = value.partition(" ")
        if word == "if":
            node = _If()
            body: list[Any] = []
            node.branches.append((_ExprParser(rest).parse(), body))
            current.append(node)
            stack.append((node, current))
            current = body
        elif word == "else":
            if not stack:
                raise TemplateError("else without if")
            node = stack[-1][0]
            if rest.startswith("if "):
                body = []
                node.branches.append((_ExprParser(rest[3:]).parse(), body))
                current = body
            elif rest.strip():
                raise TemplateError(f"unsupported else clause {value!r}")
            else:
                current = node.otherwise
        elif word == "end":
            if not stack:
                raise TemplateError("end without if")
            current = stack.pop()[1]
        elif word in (
            "range",
            "with",
            "define",
            "include",
            "template",
            "block",
        ) or value.startswith("$"):
            raise TemplateError(f"unsupported action {value!r}")
        else:
            current.append(_Output(_ExprParser(value).parse()))
    if stack:
        raise TemplateError("if without end")
    return root


# ------------------------------------------------------------------------------ evaluation


def truthy(value: Any) -> bool:
    """Go template truthiness."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) > 0
    return True


def _to_yaml(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=False, sort_keys=True)).rstrip("\n")


def _indent(n: int, text: Any) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in str(text).split("\n"))


def _default(fallback: Any, value: Any = None) -> Any:
    return value if truthy(value) else fallback


def _quote(value: Any) -> str:
    return json.dumps(_format(value))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "default": _default,
    "quote": _quote,
    "toYaml": _to_yaml,
    "indent": _indent,
    "nindent": lambda n, text: "\n" + _indent(n, text),
    "not": lambda value: not truthy(value),
    "and": lambda *values: next((v for v in values if not truthy(v)), values[-1]),
    "or": lambda *values: next((v for v in values if truthy(v)), values[-1]),
    "eq": lambda a, b: a == b,
}


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TemplateError(f"cannot print {type(value).__name__} {value!r}; use toYaml")


class _Evaluator:
    def __init__(self, context: Mapping[str, Any], name: str) -> None:
        self.context = context
        self.name = name

    def field(self, path: str) -> Any:
        node: Any = self.context
        for part in path.strip(".").split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise TemplateError(f"{self.name}: no value at {path}")
            node = node[part]
        return node

    def operand(self, node: Any) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "field":
            return self.field(node[1])
        if kind == "pipe":
            return self.pipeline(node)
        raise TemplateError(f"{self.name}: function {node[1]} used as a value")

    def pipeline(self, node: Any) -> Any:
        result: Any = None
        for index, command in enumerate(node[1]):
            head = command[0]
            args = [self.operand(a) for a in command[1:]] if head[0] == "func" else None
            if head[0] == "func":
                assert args is not None
                if index > 0:
                    args.append(result)
                try:
                    result = FUNCTIONS[head[1]](*args)
                except TypeError as exc:
                    raise TemplateError(f"{self.name}: {head[1]}: {exc}") from None
            else:
                if len(command) > 1 or index > 0:
                    raise TemplateError(f"{self.name}: a value cannot take arguments")
                result = self.operand(head)
        return result

    def render(self, nodes: list[Any]) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Output):
                out.append(_format(self.pipeline(node.expr)))
            else:
                assert isinstance(node, _If)
                for cond, body in node.branches:
                    if truthy(self.pipeline(cond)):
                        out.append(self.render(body))
                        break
                else:
                    out.append(self.render(node.otherwise))
        return "".join(out)


def render(source: str, context: Mapping[str, Any], *, name: str = "template") -> str:
    """Render one template with `context` (keys Values, Release, Chart)."""
    return _Evaluator(context, name).render(_parse(source))


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's `--set`/`-f` merge: maps merge recursively, anything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_values(out[key], value)
        else:
            out[key] = value
    return out
