"""Flagger's metric query templating: the subset of Go `text/template` that queries use. Pure.

Flagger renders every query (builtin, inline `query`, MetricTemplate `spec.query`) with
`text/template`, `missingkey=error`, nil data, and these functions called without
arguments: `name`, `namespace`, `target`, `service`, `ingress`, `route`, `interval` and
`variables` (the metric's `templateVariables`, read as `{{ variables.key }}`).

Supported here, with Go's semantics:

- `{{ name }}` and the other functions, with or without spaces inside the braces;
- `{{ variables.key }}`; a missing key is an error, as with `missingkey=error`;
  `{{ variables }}` prints the map the way Go's fmt does (`map[a:1 b:2]`);
- trim markers `{{- ` and ` -}}`, which remove the whitespace before/after the action;
- comments `{{/* ... */}}` (also with trim markers).

Everything that Go rejects is rejected here (unknown functions, fields on strings, `.x` on
the nil data, unclosed actions). Go constructs that Flagger queries never need (pipelines,
literals, `if`/`range`, `printf`) raise `RenderError` as unsupported instead of rendering
differently from Flagger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ensign.model.analysis import MetricCheck
from ensign.model.canary import Canary

_LEFT = "{{"
_RIGHT = "}}"
_SPACE = " \t\r\n"
"""Go's template whitespace: what trim markers remove and what may follow/precede them."""

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_ACTION = re.compile(rf"(?P<dot>\.)?(?P<head>{_IDENT})(?P<fields>(?:\.{_IDENT})*)")


class RenderError(ValueError):
    """A query template that Go's `text/template` (as Flagger configures it) would refuse."""


@dataclass(frozen=True, slots=True)
class QueryModel:
    """The values a query template can use (Flagger's `MetricTemplateModel`)."""

    name: str
    namespace: str
    target: str
    service: str
    ingress: str
    route: str
    interval: str
    variables: Mapping[str, str] = field(default_factory=dict)

    def function(self, name: str) -> str | Mapping[str, str] | None:
        """The value of the template function `name`, or None when there is none."""
        functions: dict[str, str | Mapping[str, str]] = {
            "name": self.name,
            "namespace": self.namespace,
            "target": self.target,
            "service": self.service,
            "ingress": self.ingress,
            "route": self.route,
            "interval": self.interval,
            "variables": self.variables,
        }
        return functions.get(name)


def query_model(
    canary: Canary,
    check: MetricCheck,
    *,
    primary: bool = False,
    knative_revision: str | None = None,
) -> QueryModel:
    """The model Flagger renders `check`'s query with for `canary`.

    `service` is `spec.service.name` or the target's name; `ingress` and `route` fall back to
    the target's name too. `knative_revision` (the Knative Service's latest created revision,
    which only the runtime can read) replaces `route`, as Flagger does for Knative canaries.

    With `primary=True`, `target` and `service` name the primary (`<name>-primary`) so the
    same query measures the live version; Ensign's comparative judge uses this.
    """
    spec = canary.spec
    target = spec.target_ref.name
    service = spec.apex_service_name
    ingress = spec.ingress_ref.name if spec.ingress_ref is not None else target
    route = spec.route_ref.name if spec.route_ref is not None else target
    if knative_revision:
        route = knative_revision
    model = QueryModel(
        name=canary.name,
        namespace=canary.namespace or "",
        target=target,
        service=service,
        ingress=ingress,
        route=route,
        interval=check.interval,
        variables=dict(check.template_variables),
    )
    if primary:
        model = replace(model, target=f"{target}-primary", service=f"{service}-primary")
    return model


def render(template: str, model: QueryModel) -> str:
    """`template` with every action replaced by its value; raises `RenderError`."""
    out: list[str] = []
    position = 0
    trim_next = False
    while True:
        start = template.find(_LEFT, position)
        text = template[position:] if start < 0 else template[position:start]
        if trim_next:
            text = text.lstrip(_SPACE)
        if start < 0:
            out.append(text)
            return "".join(out)
        inner = start + len(_LEFT)
        trim_before = template[inner : inner + 1] == "-" and _is_space(template, inner + 1)
        if trim_before:
            text = text.rstrip(_SPACE)
            inner += 2
        out.append(text)
        action, position, trim_next = _read_action(template, start, inner)
        if action is not None:
            out.append(_evaluate(action, model))


def _is_space(template: str, index: int) -> bool:
    """Whether `template[index]` exists and is one of Go's template whitespace characters."""
    return index < len(template) and template[index] in _SPACE


def _read_action(template: str, start: int, inner: int) -> tuple[str | None, int, bool]:
    """The action text (None for a comment), the index after `}}`, and the right-trim flag."""
    if template.startswith("/*", inner):
        close = template.find("*/", inner + 2)
        if close < 0:
            raise RenderError(f"query template: unclosed comment at offset {start}")
        after = close + 2
        if template.startswith(_RIGHT, after):
            return None, after + len(_RIGHT), False
        if _is_space(template, after) and template.startswith("-" + _RIGHT, after + 1):
            return None, after + 1 + 1 + len(_RIGHT), True
        raise RenderError(
            f"query template: comment ends before closing delimiter at offset {start}"
        )
    end = template.find(_RIGHT, inner)
    if end < 0:
        raise RenderError(f"query template: unclosed action at offset {start}")
    body = template[inner:end]
    trim_after = len(body) >= 2 and body[-1] == "-" and body[-2] in _SPACE
    if trim_after:
        body = body[:-2]
    return body.strip(_SPACE), end + len(_RIGHT), trim_after


def _evaluate(action: str, model: QueryModel) -> str:
    """One action's output, with Go's error for each way it can go wrong."""
    if not action:
        raise RenderError("query template: missing value for command in {{ }}")
    match = _ACTION.fullmatch(action)
    if match is None:
        raise RenderError(f"query template: unsupported action {{{{ {action} }}}}")
    head = match.group("head")
    fields = [part for part in match.group("fields").split(".") if part]
    if match.group("dot"):
        raise RenderError(
            f'query template: nil data; no entry for key "{head}" in {{{{ {action} }}}} (use {{{{ {head} }}}} without the dot)'
        )
    value = model.function(head)
    if value is None:
        raise RenderError(f'query template: function "{head}" not defined')
    for depth, name in enumerate(fields):
        if isinstance(value, str):
            raise RenderError(
                f"query template: can't evaluate field {name} in type string in {{{{ {action} }}}}"
            )
        if name not in value:
            path = ".".join([head, *fields[: depth + 1]])
            raise RenderError(f'query template: map has no entry for key "{name}" ({path})')
        value = value[name]
    if isinstance(value, str):
        return value
    return "map[" + " ".join(f"{key}:{value[key]}" for key in sorted(value)) + "]"
