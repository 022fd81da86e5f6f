"""The `nginx` provider: a canary Ingress for ingress-nginx (§3.4 of the behaviour notes). Pure.

The user's Ingress (`spec.ingressRef`) keeps pointing at the apex Service, which selects the
primary pods, and is never written. The router owns a second Ingress, `<ingressRef>-canary`:
a copy of the user's whose HTTP path backends on the apex Service point at `<apex>-canary`,
annotated with ingress-nginx's canary annotations (`P` is the `-ingress-annotations-prefix`
flag, `nginx.ingress.kubernetes.io` by default):

- weights: `P/canary: "true"` and `P/canary-weight: "<canary weight>"`;
- A/B testing (`analysis.match`, applied to the matching requests only): `P/canary-by-header`
  with `P/canary-by-header-value` (an `exact` header) or `P/canary-by-header-pattern` (a
  `regex` header), and `P/canary-by-cookie` (the `cookie` header's `exact` value is the cookie
  name; ingress-nginx routes requests whose cookie is `always`). ingress-nginx tries the header
  first, then the cookie, so a header and a cookie select the canary when either matches;
- a canary weight of 0 puts the annotations back as at creation (`P/canary: "true"`,
  `P/canary-weight: "0"`, no header or cookie keys).

The canary Ingress's annotations are the user's minus `kubectl.kubernetes.io/last-applied-
configuration` and minus every key containing `P/canary`, plus the Flux opt-out keys, plus
the split's annotations. Its labels are copied from the user's Ingress when it is created;
it carries a controller owner reference to the Canary, so it is garbage-collected with it.

Where Ensign differs from Flagger, on purpose:

- Flagger drops stale annotations in its A/B path by comparing annotation *values*, not keys,
  so an old `canary-by-header` (or `-value`, `-pattern`, `-by-cookie`) key survives a change
  of `analysis.match` and keeps routing on the old condition. Ensign rebuilds the canary
  annotations from scratch on every render, so stale keys never survive.
- Flagger updates only the canary Ingress's `spec` when reconciling and touches its
  annotations only when setting routes. Ensign renders at the split read back every tick,
  so annotations and spec are both kept in line with the user's Ingress and the split, and
  nothing is written when they already match (a spec change never resets the weight).
- Flagger silently ignores the match conditions ingress-nginx cannot express (`uri`,
  `method`, `queryParams`, `sourceLabels`, `prefix`/`suffix` header values, a second header
  name, where the last header wins). Ensign raises `RouteError` naming the field instead
  (`nginx_match_errors` lists them, so a spec can be checked up front), as it does for a
  partial weight on the matching requests only, which the annotations cannot say either.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ensign.engine.weights import FULL, Routes
from ensign.kube.kinds import INGRESS, Kind
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.metadata import FLUX_OPT_OUT, JSON, owner_reference
from ensign.routers.objects import annotations_of, changes, new_object, replaced
from ensign.routers.protocol import (
    Capability,
    CreateObject,
    ObjectChange,
    ObjectRef,
    ObjectView,
    ReplaceObject,
    RouteError,
    Split,
)

__all__ = [
    "DEFAULT_ANNOTATIONS_PREFIX",
    "LAST_APPLIED",
    "NGINX_CAPABILITIES",
    "HeaderRoute",
    "NginxRouter",
    "canary_ingress_change",
    "canary_ingress_name",
    "header_route",
    "nginx_match_errors",
]

NGINX_CAPABILITIES: Final = CAPABILITIES[Provider.NGINX]
DEFAULT_ANNOTATIONS_PREFIX: Final = "nginx.ingress.kubernetes.io"
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
COOKIE_HEADER: Final = "cookie"
_MATCH_PATH: Final = "analysis.match"


def canary_ingress_name(ingress_name: str) -> str:
    """The name of the Ingress the router owns: `<ingressRef.name>-canary`."""
    return f"{ingress_name}-canary"


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderRoute:
    """What the NGINX canary annotations can match on: one header and one cookie.

    `header` is the header name, with either `header_value` (exact) or `header_pattern`
    (regex); `cookie` is the cookie name. Empty strings mean "not set".
    """

    header: str = ""
    header_value: str = ""
    header_pattern: str = ""
    cookie: str = ""

    @property
    def empty(self) -> bool:
        return not (self.header or self.cookie)


def _unsupported(path: str, what: str) -> tuple[str, str]:
    return (path, f"{what} is not supported by provider nginx")


def _scan_match(
    match: tuple[Mapping[str, object], ...],
) -> tuple[HeaderRoute, list[tuple[str, str]]]:
    """The header route the matches ask for, and (field path, message) for what NGINX lacks."""
    errors: list[tuple[str, str]] = []
    header: tuple[str, str, str] | None = None  # (name, kind, value)
    cookie: str | None = None
    for index, entry in enumerate(match):
        base = f"{_MATCH_PATH}[{index}]"
        for key, value in entry.items():
            if key in ("headers", "name") or value in (None, "", {}, [], False):
                continue
            errors.append(_unsupported(f"{base}.{key}", f"matching on {key}"))
        headers = entry.get("headers")
        if not isinstance(headers, Mapping):
            continue
        for raw_name, condition in headers.items():
            name = str(raw_name)
            path = f"{base}.headers.{name}"
            if not isinstance(condition, Mapping):
                errors.append((path, "must be an object"))
                continue
            kinds = [(k, v) for k, v in condition.items() if v is not None]
            if len(kinds) != 1:
                errors.append((path, "set exactly one of exact, prefix, suffix or regex"))
                continue
            kind, raw_value = kinds[0]
            kind = str(kind)
            value = str(raw_value)
            if name.lower() == COOKIE_HEADER:
                if kind != "exact":
                    errors.append(
                        _unsupported(f"{path}.{kind}", f"a {kind} cookie condition (use exact)")
                    )
                elif cookie is not None and cookie != value:
                    errors.append(
                        _unsupported(path, f"a second cookie ({value!r} after {cookie!r})")
                    )
                else:
                    cookie = value
                continue
            if kind not in ("exact", "regex"):
                errors.append(_unsupported(f"{path}.{kind}", f"a {kind} header value"))
            elif header is not None and header != (name, kind, value):
                errors.append(
                    _unsupported(
                        path,
                        f"a second header condition (already matching header {header[0]!r})",
                    )
                )
            else:
                header = (name, kind, value)
    route = HeaderRoute(
        header=header[0] if header else "",
        header_value=header[2] if header and header[1] == "exact" else "",
        header_pattern=header[2] if header and header[1] == "regex" else "",
        cookie=cookie or "",
    )
    if not errors and match and route.empty:
        errors.append((_MATCH_PATH, "provider nginx needs a header or cookie condition"))
    return route, errors


def nginx_match_errors(match: tuple[Mapping[str, object], ...]) -> tuple[tuple[str, str], ...]:
    """(field path, message) for each part of `analysis.match` ingress-nginx cannot express."""
    return tuple(_scan_match(match)[1])


def header_route(match: tuple[Mapping[str, object], ...]) -> HeaderRoute:
    """The single header and cookie `analysis.match` routes on; `RouteError` naming the first
    field NGINX cannot express (Flagger silently ignores those)."""
    route, errors = _scan_match(match)
    if errors:
        path, message = errors[0]
        raise RouteError(f"{path}: {message}")
    return route


@dataclass(frozen=True, slots=True, kw_only=True)
class NginxRouter:
    """Router for `provider: nginx`; owns the Ingress `<ingressRef.name>-canary`."""

    annotations_prefix: str = DEFAULT_ANNOTATIONS_PREFIX
    name: str = field(default=Provider.NGINX.value, init=False)
    capabilities: frozenset[Capability] = field(default=NGINX_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(INGRESS,), init=False)

    # -- annotation keys ---------------------------------------------------------------

    def key(self, suffix: str) -> str:
        """`<prefix>/<suffix>`, e.g. `nginx.ingress.kubernetes.io/canary-weight`."""
        return f"{self.annotations_prefix}/{suffix}"

    # -- protocol ----------------------------------------------------------------------

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The user's Ingress and the canary Ingress, in the canary's namespace."""
        ref = canary.spec.ingress_ref
        if ref is None:
            return ()
        namespace = canary.namespace or ""
        return (
            ObjectRef(kind=INGRESS, namespace=namespace, name=ref.name),
            ObjectRef(kind=INGRESS, namespace=namespace, name=canary_ingress_name(ref.name)),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """From the canary Ingress's annotations; None when it does not exist yet."""
        live = objects.get(INGRESS, canary.namespace or "", canary_ingress_name(_ingress(canary)))
        if live is None:
            return None
        annotations = annotations_of(live)
        if canary.spec.effective_analysis.match and (
            self.key("canary-by-cookie") in annotations
            or self.key("canary-by-header") in annotations
        ):
            return Routes(primary=0, canary=FULL)
        weight_key = self.key("canary-weight")
        raw = annotations.get(weight_key)
        name = _name(live)
        if raw is None:
            raise RouteError(f"annotation {weight_key} not found in ingress {name}")
        try:
            weight = int(str(raw).strip())
        except ValueError:
            raise RouteError(
                f"annotation {weight_key} of ingress {name} is not an integer: {raw!r}"
            ) from None
        if not 0 <= weight <= FULL:
            raise RouteError(
                f"annotation {weight_key} of ingress {name} is outside 0..100: {weight}"
            )
        return Routes(primary=FULL - weight, canary=weight)

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the canary Ingress, or replace its annotations and spec when they differ."""
        ingress_name = _ingress(canary)
        namespace = canary.namespace or ""
        user = objects.get(INGRESS, namespace, ingress_name)
        if user is None:
            raise RouteError(f"ingress {ingress_name}.{namespace} not found")
        spec = canary_spec(user, apex=canary.spec.apex_service_name, ingress_name=ingress_name)
        annotations = self.base_annotations(user) | self.split_annotations(canary, split)
        name = canary_ingress_name(ingress_name)
        live = objects.get(INGRESS, namespace, name)
        change = canary_ingress_change(
            canary,
            live,
            name=name,
            user=user,
            spec=spec,
            annotations=annotations,
            canary_uid=canary_uid,
        )
        return changes(change)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the canary Ingress is owned by the Canary and the user's is untouched."""
        return ()

    # -- annotations -------------------------------------------------------------------

    def base_annotations(self, user: Mapping[str, Any]) -> dict[str, str]:
        """The user's annotations minus last-applied and `P/canary*` keys, plus Flux opt-out."""
        marker = self.key("canary")
        kept = {
            str(k): str(v)
            for k, v in annotations_of(user).items()
            if k != LAST_APPLIED and marker not in str(k)
        }
        return kept | dict(FLUX_OPT_OUT)

    def split_annotations(self, canary: Canary, split: Split) -> dict[str, str]:
        """The canary annotations that put `split` in force."""
        weight = split.routes.canary
        match = canary.spec.effective_analysis.match
        if weight == 0 or not (match and split.matched_only):
            if match:
                header_route(match)  # refuse an inexpressible match even while at rest
            return {self.key("canary"): "true", self.key("canary-weight"): str(weight)}
        route = header_route(match)
        if weight != FULL:
            raise RouteError(
                f"{_MATCH_PATH}: provider nginx cannot send {weight}% of the matching requests"
                " to the canary (only all or none)"
            )
        out = {self.key("canary"): "true"}
        if route.cookie:
            out[self.key("canary-by-cookie")] = route.cookie
        if route.header:
            out[self.key("canary-by-header")] = route.header
        if route.header_value:
            out[self.key("canary-by-header-value")] = route.header_value
        if route.header_pattern:
            out[self.key("canary-by-header-pattern")] = route.header_pattern
        return out


def canary_ingress_change(
    canary: Canary,
    live: Mapping[str, Any] | None,
    *,
    name: str,
    user: Mapping[str, Any],
    spec: JSON,
    annotations: dict[str, str],
    canary_uid: str,
) -> ObjectChange | None:
    """Create the canary Ingress `name` (with the user Ingress's labels), or
    replace its annotations and spec when they differ (compared as written: both come from
    the user's Ingress); its labels and the rest of the live object are kept."""
    if live is None:
        body = new_object(
            INGRESS,
            name=name,
            namespace=canary.namespace or "",
            spec=spec,
            labels=copy.deepcopy(dict((user.get("metadata") or {}).get("labels") or {})),
            annotations=annotations,
            owner=owner_reference(canary, canary_uid=canary_uid),
        )
        return CreateObject(kind=INGRESS, body=body)
    if dict(annotations_of(live)) == annotations and (live.get("spec") or {}) == spec:
        return None
    body = replaced(live, spec, kind=None, labels=None, annotations=annotations)
    return ReplaceObject(kind=INGRESS, body=body)


def canary_spec(user: Mapping[str, Any], *, apex: str, ingress_name: str) -> JSON:
    """The user's Ingress spec with every HTTP path backend on `apex` moved to `<apex>-canary`."""
    spec: JSON = copy.deepcopy(dict(user.get("spec") or {}))
    found = False
    for rule in spec.get("rules") or ():
        http = rule.get("http") if isinstance(rule, dict) else None
        for path in (http.get("paths") if isinstance(http, dict) else None) or ():
            backend = path.get("backend") if isinstance(path, dict) else None
            service = backend.get("service") if isinstance(backend, dict) else None
            if isinstance(service, dict) and service.get("name") == apex:
                service["name"] = f"{apex}-canary"
                found = True
    if not found:
        raise RouteError(f"backend {apex} not found in ingress {ingress_name}")
    return spec


def _ingress(canary: Canary) -> str:
    ref = canary.spec.ingress_ref
    if ref is None or not ref.name:
        raise RouteError("ingress selector is empty")
    return ref.name


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
