"""SMI TrafficSplits read as the mesh proxies (Linkerd, OSM) read them. Pure.

Semantics from the SMI Traffic Split specification (split.smi-spec.io v1alpha1..v1alpha3):

- A TrafficSplit applies to the requests addressed to its root service, `spec.service`: a
  Service name, resolved in the TrafficSplit's namespace, reached as `<name>`,
  `<name>.<ns>`, `<name>.<ns>.svc` or `<name>.<ns>.svc.cluster.local` (a port in the Host
  header is ignored); a full cluster name in `spec.service` means the same Service. When
  several apply, the oldest wins, then namespace/name order.
- Those requests are shared between `spec.backends` (Services of the same namespace) in
  proportion to their weights: integers from v1alpha2 on, Kubernetes quantities in v1alpha1
  (`"90"`, `"500m"`); a weight that cannot be read counts as 0. When every weight is 0 the
  mesh has nothing to send the request to: 503.
- v1alpha3 `matches` (references to HTTPRouteGroups) are not modelled: the split is taken to
  apply to every request to the root service (Flagger never writes them).

A request to a host no TrafficSplit claims is not routed here (`claims` says so); the mesh
sends it to the Service it names, which `model.route` answers with the apex Service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ensign.traffic.manifest import dicts, object_name, object_namespace, qualified_name
from ensign.traffic.request import Destination, Request, Routing, Rule

__all__ = ["claims", "root_of", "route_trafficsplit", "rules_of_trafficsplit"]

JSON = Mapping[str, Any]
CLUSTER_SUFFIX: Final = ".svc.cluster.local"
_QUANTITY: Final = re.compile(
    r"^(?P<number>\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_SCALE: Final = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{f"{prefix}i": Decimal(1024**power) for power, prefix in enumerate("KMGTPE", 1)},
}


def route_trafficsplit(splits: Iterable[JSON], request: Request) -> Routing:
    """Where `request` goes through `splits`; 404 when none has the request's host as its
    root service."""
    chosen = _choose(splits, request)
    if chosen is None:
        return Routing(status=404, reason=f"no TrafficSplit for host {request.hostname}")
    return _apply(chosen)


def claims(splits: Iterable[JSON], request: Request) -> bool:
    """Whether some TrafficSplit has the request's host as its root service."""
    return _choose(splits, request) is not None


def root_of(ts: JSON) -> str:
    """The root service's Service name (`spec.service`, a cluster name shortened)."""
    root = str((ts.get("spec") or {}).get("service") or "")
    return _service_name(root, object_namespace(ts))


def rules_of_trafficsplit(ts: JSON) -> tuple[Rule, ...]:
    """The split as one rule, for display: `backends: service podinfo → ...`."""
    root = str((ts.get("spec") or {}).get("service") or "")
    return (Rule(0, (f"service {root}",), _apply(ts), label="backends"),)


def _choose(splits: Iterable[JSON], request: Request) -> JSON | None:
    host = request.hostname
    found = [ts for ts in splits if host in _aliases(ts)]
    if not found:
        return None
    return min(found, key=lambda ts: (_created(ts), object_namespace(ts), object_name(ts)))


def _aliases(ts: JSON) -> set[str]:
    ns = object_namespace(ts)
    root = str((ts.get("spec") or {}).get("service") or "").lower()
    if not root:
        return set()
    name = _service_name(root, ns)
    if name != root or "." not in root:
        names = {name}
        if ns:
            names |= {f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}{CLUSTER_SUFFIX}"}
        return names
    return {root}


def _service_name(root: str, ns: str) -> str:
    """`podinfo` for `podinfo`, `podinfo.<ns>`, `podinfo.<ns>.svc` and the full name."""
    for suffix in (CLUSTER_SUFFIX, ".svc", ""):
        if ns and root.endswith(f".{ns}{suffix}"):
            return root[: -len(f".{ns}{suffix}")]
    if root.endswith(CLUSTER_SUFFIX):
        return root[: -len(CLUSTER_SUFFIX)].split(".")[0]
    return root


def _apply(ts: JSON) -> Routing:
    where = f"TrafficSplit {qualified_name(ts)}"
    backends = [b for b in dicts((ts.get("spec") or {}).get("backends")) if b.get("service")]
    weights = [_weight(b.get("weight")) for b in backends]
    total = sum(weights, Decimal(0))
    if total <= 0:
        return Routing(
            status=503, reason=f"{where} has no backend with a weight", enforced_by=where
        )
    destinations = tuple(
        Destination(
            str(b["service"]),
            float(weight * 100 / total),
            int(weight.to_integral_value()),
        )
        for b, weight in zip(backends, weights, strict=True)
    )
    return Routing(destinations, enforced_by=where)


def _weight(raw: object) -> Decimal:
    """A weight as a number: an integer, or a quantity string; 0 when it is neither."""
    if isinstance(raw, bool):
        return Decimal(0)
    if isinstance(raw, int):
        return Decimal(max(raw, 0))
    found = _QUANTITY.match(raw.strip()) if isinstance(raw, str) else None
    if found is None:
        return Decimal(0)
    try:
        number = Decimal(found["number"])
        suffix = found["suffix"] or ""
        if suffix[:1] in ("e", "E"):
            return number.scaleb(int(suffix[1:]))
        return number * _SCALE.get(suffix, Decimal(1))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _created(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")
