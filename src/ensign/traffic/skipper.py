"""Ingresses read as the Skipper ingress controller reads them. Pure.

- Every Ingress path is a Skipper route (host and path matched as ingress-nginx does, see
  `ingress`), with the Ingress's `zalando.org/skipper-predicate` predicates. A route whose
  predicates contain `False()` never matches; one with `Weight(N)` outranks the routes
  without it (Flagger's canary Ingress carries `Weight(100)`, so it wins over the user's
  Ingress for the same host and path).
- The paths of one Ingress with the same host, path and path type form one route whose
  backends share the request by `zalando.org/backend-weights` (a JSON object service →
  weight); a backend missing from it gets nothing when others have a weight, and the
  backends share equally when none has one. All weights 0: equal shares, as Skipper does.
- No route: 404. Other predicates (`Header(...)`, `Method(...)`, ...) are not evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ensign.traffic.ingress import best_path, ingress_paths
from ensign.traffic.manifest import annotations_of, qualified_name
from ensign.traffic.request import Destination, Request, Routing, Rule

__all__ = ["BACKEND_WEIGHTS", "PREDICATE", "route_skipper", "rules_of_skipper"]

JSON = Mapping[str, Any]
BACKEND_WEIGHTS = "zalando.org/backend-weights"
PREDICATE = "zalando.org/skipper-predicate"
_WEIGHT = re.compile(r"^Weight\((\d+)\)$")


def route_skipper(ingresses: Iterable[JSON], request: Request) -> Routing:
    """Where `request` goes through these Ingresses (one ingress class)."""
    items = [i for i in ingresses if not _disabled(i)]
    boosted = sorted(items, key=lambda i: -_weight(i))
    for weight in dict.fromkeys(_weight(i) for i in boosted):
        tier = [i for i in boosted if _weight(i) == weight]
        hit = best_path([p for i in tier for p in ingress_paths(i)], request)
        if hit is not None:
            return _routing(hit.ingress, hit.host, hit.path, hit.kind)
    return Routing(status=404, reason="no Ingress route matches the request")


def rules_of_skipper(ingress: JSON) -> tuple[Rule, ...]:
    """For display: one rule per host, path and path type, with its backends' shares."""
    seen: dict[tuple[str, str, str], None] = {}
    for p in ingress_paths(ingress):
        seen.setdefault((p.host, p.path, p.kind), None)
    predicate = str(annotations_of(ingress).get(PREDICATE) or "").strip()
    extra = f" [{predicate}]" if predicate else ""
    return tuple(
        Rule(i, (f"host {host or '*'} {kind} {path}{extra}",), _routing(ingress, host, path, kind))
        for i, (host, path, kind) in enumerate(seen)
    )


def _routing(ingress: JSON, host: str, path: str, kind: str) -> Routing:
    services = [
        p.service for p in ingress_paths(ingress) if (p.host, p.path, p.kind) == (host, path, kind)
    ]
    services = list(dict.fromkeys(services))
    weights = _backend_weights(ingress)
    where = f"Ingress {qualified_name(ingress)} host {host or '*'} path {path}"
    known = {s: weights[s] for s in services if s in weights}
    if len(services) > 1 and weights:
        where += f" {BACKEND_WEIGHTS}"
    if not known or sum(known.values()) <= 0:
        share = 100.0 / len(services) if services else 0.0
        return Routing(tuple(Destination(s, share, 1) for s in services), enforced_by=where)
    total = sum(known.values())
    return Routing(
        tuple(Destination(s, 100.0 * known.get(s, 0) / total, known.get(s, 0)) for s in services),
        enforced_by=where,
    )


def _backend_weights(ingress: JSON) -> dict[str, int]:
    raw = annotations_of(ingress).get(BACKEND_WEIGHTS)
    try:
        parsed = json.loads(str(raw)) if raw is not None else {}
    except ValueError:
        return {}
    if not isinstance(parsed, Mapping):
        return {}
    out: dict[str, int] = {}
    for key, value in parsed.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[str(key)] = max(int(value), 0)
    return out


def _predicates(ingress: JSON) -> list[str]:
    raw = str(annotations_of(ingress).get(PREDICATE) or "")
    return [p.strip() for p in raw.split("&&") if p.strip()]


def _disabled(ingress: JSON) -> bool:
    return "False()" in _predicates(ingress)


def _weight(ingress: JSON) -> int:
    for predicate in _predicates(ingress):
        found = _WEIGHT.match(predicate)
        if found:
            return int(found.group(1))
    return 0
