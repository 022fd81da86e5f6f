"""NGINX Ingresses (a main Ingress and its canary) read as ingress-nginx reads them. Pure.

- The main Ingresses (those without `<prefix>/canary: "true"`) route a request to the backend
  of the rule whose host and path match it: a rule without host matches every host,
  `*.example.com` matches exactly one label below example.com; path types `Exact`, `Prefix`
  (on `/`-separated segments) and `ImplementationSpecific` (a plain string prefix, as an
  nginx `location`); an exact path wins over a prefix, a longer prefix over a shorter one.
  An Ingress's `defaultBackend` serves what no rule matches.
- A canary Ingress takes part when one of its rules has the same host and path as the main
  rule that matched; it then decides, in ingress-nginx's order (`balancer.lua`,
  `route_to_alternative_balancer`):
  1. `canary-by-header`: when the request carries that header. With
     `canary-by-header-value`, that exact value goes to the canary and any other falls
     through; else with `canary-by-header-pattern`, a regex search hit goes to the canary
     and a miss falls through; else `always` → canary, `never` → main, others fall through.
  2. `canary-by-cookie`: `always` → canary, `never` → main, others fall through.
  3. `canary-weight` out of `canary-weight-total` (100 unless set higher).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ensign.traffic.manifest import annotations_of, integer, qualified_name, search
from ensign.traffic.request import Destination, Request, Routing, Rule

__all__ = [
    "DEFAULT_PREFIX",
    "IngressPath",
    "best_path",
    "canary_policy",
    "ingress_paths",
    "is_canary",
    "route_ingress",
    "rules_of_ingress",
]

JSON = Mapping[str, Any]
DEFAULT_PREFIX = "nginx.ingress.kubernetes.io"


@dataclass(frozen=True, slots=True)
class IngressPath:
    """One `spec.rules[].http.paths[]` entry of an Ingress, with the rule's host."""

    ingress: JSON
    host: str
    path: str
    kind: str
    service: str


def is_canary(ingress: JSON, prefix: str = DEFAULT_PREFIX) -> bool:
    return annotations_of(ingress).get(f"{prefix}/canary") == "true"


def route_ingress(
    ingresses: Iterable[JSON], request: Request, *, prefix: str = DEFAULT_PREFIX
) -> Routing:
    """Where `request` goes through these Ingresses (one namespace, one ingress class)."""
    items = list(ingresses)
    mains = [i for i in items if not is_canary(i, prefix)]
    hit = best_path([p for i in mains for p in ingress_paths(i)], request)
    if hit is None:
        default = next((i for i in mains if _default_backend(i)), None)
        if default is None:
            return Routing(status=404, reason="no Ingress rule matches the request")
        where = f"Ingress {qualified_name(default)} defaultBackend"
        return Routing((Destination(_default_backend(default), 100.0, 100),), enforced_by=where)
    main = f"Ingress {qualified_name(hit.ingress)} host {hit.host or '*'} path {hit.path}"
    for canary in (i for i in items if is_canary(i, prefix)):
        twin = next(
            (p for p in ingress_paths(canary) if (p.host, p.path) == (hit.host, hit.path)),
            None,
        )
        if twin is not None:
            return _decide(canary, twin.service, hit.service, request, prefix)
    return Routing((Destination(hit.service, 100.0, 100),), enforced_by=main)


def canary_policy(ingress: JSON, prefix: str = DEFAULT_PREFIX) -> Mapping[str, str]:
    """The canary annotations without `<prefix>/canary-` (`weight`: "10", `by-header`: ...)."""
    start = f"{prefix}/canary-"
    return {k[len(start) :]: v for k, v in annotations_of(ingress).items() if k.startswith(start)}


def rules_of_ingress(
    ingress: JSON, *, main_service: str = "", prefix: str = DEFAULT_PREFIX
) -> tuple[Rule, ...]:
    """For display. A main Ingress: one rule per host and path. A canary Ingress: its policy
    as rules in evaluation order (header, cookie, weight), `main_service` taking what the
    canary does not."""
    if not is_canary(ingress, prefix):
        return tuple(
            Rule(
                i,
                (f"host {p.host or '*'} {p.kind} {p.path}",),
                Routing(
                    (Destination(p.service, 100.0, 100),),
                    enforced_by=f"Ingress {qualified_name(ingress)}",
                ),
            )
            for i, p in enumerate(ingress_paths(ingress))
        )
    paths = ingress_paths(ingress)
    canary = paths[0].service if paths else ""
    where = f"Ingress {qualified_name(ingress)}"
    policy = canary_policy(ingress, prefix)
    out: list[tuple[str, Routing]] = []

    def to(service: str, how: str) -> Routing:
        return Routing((Destination(service, 100.0, 100),), enforced_by=f"{where} {how}")

    header = policy.get("by-header", "")
    if header:
        how = f"canary-by-header {header}"
        if policy.get("by-header-value"):
            out.append((f"header {header}={policy['by-header-value']}", to(canary, how)))
        elif policy.get("by-header-pattern"):
            out.append((f"header {header} ~ {policy['by-header-pattern']}", to(canary, how)))
        else:
            out.append((f"header {header}=always", to(canary, how)))
            out.append((f"header {header}=never", to(main_service, how)))
    cookie = policy.get("by-cookie", "")
    if cookie:
        how = f"canary-by-cookie {cookie}"
        out.append((f"cookie {cookie}=always", to(canary, how)))
        out.append((f"cookie {cookie}=never", to(main_service, how)))
    out.append(("any other request", _weighted(ingress, canary, main_service, prefix)))
    return tuple(Rule(i, (text,), routing) for i, (text, routing) in enumerate(out))


def _decide(canary: JSON, to_canary: str, to_main: str, request: Request, prefix: str) -> Routing:
    where = f"Ingress {qualified_name(canary)}"
    policy = canary_policy(canary, prefix)

    def to(service: str, how: str) -> Routing:
        return Routing((Destination(service, 100.0, 100),), enforced_by=f"{where} {how}")

    header = policy.get("by-header", "")
    sent = request.header(header) if header else None
    if sent is not None:
        how = f"canary-by-header {header}"
        value, pattern = policy.get("by-header-value", ""), policy.get("by-header-pattern", "")
        if value:
            if sent == value:
                return to(to_canary, how)
        elif pattern:
            if search(pattern, sent):
                return to(to_canary, how)
        elif sent == "always":
            return to(to_canary, how)
        elif sent == "never":
            return to(to_main, how)
    cookie = policy.get("by-cookie", "")
    eaten = request.cookie(cookie) if cookie else None
    if eaten in ("always", "never"):
        return to(to_canary if eaten == "always" else to_main, f"canary-by-cookie {cookie}")
    return _weighted(canary, to_canary, to_main, prefix)


def _weighted(canary: JSON, to_canary: str, to_main: str, prefix: str) -> Routing:
    policy = canary_policy(canary, prefix)
    weight, total = integer(policy.get("weight")), integer(policy.get("weight-total"))
    total = total if total > 100 else 100
    share = min(max(100.0 * weight / total, 0.0), 100.0)
    how = f"canary-weight {weight}/{total}"
    return Routing(
        (
            Destination(to_main, 100.0 - share, total - weight),
            Destination(to_canary, share, weight),
        ),
        enforced_by=f"Ingress {qualified_name(canary)} {how}",
    )


def best_path(paths: Sequence[IngressPath], request: Request) -> IngressPath | None:
    """The path that takes `request`, as ingress-nginx picks it; None when none matches."""
    found = [p for p in paths if _host_ok(p.host, request.hostname) and _path_ok(p, request.path)]
    if not found:
        return None
    # Exact beats prefix; then the longest path; a named host beats a catch-all rule.
    return min(found, key=lambda p: (p.kind != "Exact", -len(p.path), not p.host))


def _host_ok(rule_host: str, host: str) -> bool:
    if not rule_host:
        return True
    if rule_host.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == rule_host[2:]
    return host == rule_host.lower()


def _path_ok(p: IngressPath, path: str) -> bool:
    if p.kind == "Exact":
        return path == p.path
    if p.kind == "Prefix":
        prefix = p.path.rstrip("/")
        return not prefix or path == prefix or path.startswith(prefix + "/")
    return path.startswith(p.path)


def ingress_paths(ingress: JSON) -> list[IngressPath]:
    """Every path of the Ingress that names a backend Service."""
    out = []
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        host = str(rule.get("host") or "").lower()
        for p in (rule.get("http") or {}).get("paths") or []:
            service = ((p.get("backend") or {}).get("service") or {}).get("name")
            if service:
                kind = str(p.get("pathType") or "ImplementationSpecific")
                out.append(
                    IngressPath(ingress, host, str(p.get("path") or "/"), kind, str(service))
                )
    return out


def _default_backend(ingress: JSON) -> str:
    backend = (ingress.get("spec") or {}).get("defaultBackend") or {}
    return str((backend.get("service") or {}).get("name") or "")
