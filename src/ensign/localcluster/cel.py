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

The tokenizer and parser live in :mod:`cel_parser`; value semantics, operators and
macros in :mod:`cel_runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ensign.localcluster.cel_parser import Parser
from ensign.localcluster.cel_runtime import CelError, Env, Fn, UnsupportedRule

__all__ = ["CelError", "Program", "UnsupportedRule", "compile_rule"]


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
    parser = Parser(source)
    expr = parser.parse()
    return Program(source=source, uses_old_self=parser.uses_old_self, fn=expr.fn)
