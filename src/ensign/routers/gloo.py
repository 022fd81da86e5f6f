"""The Gloo Edge router (`provider: gloo`, and `-mesh-provider` values starting `gloo`): two
Upstreams and a RouteTable. Pure.

The router owns, in the canary's namespace (§3.7 of the behaviour notes):

- Upstreams `<ns>-<apex>-primaryupstream-<port>` and `<ns>-<apex>-canaryupstream-<port>`
  (`gloo.solo.io/v1`): kube upstreams for the generated Services `<apex>-primary` and
  `<apex>-canary` (`kube: {serviceName, serviceNamespace, servicePort: service.port,
  selector}`, the selector copied from the Service), with the settings of the Upstream named
  by `spec.upstreamRef` copied over: its labels, and `sslConfig`, `circuitBreakers`,
  `connectionConfig`, `loadBalancerConfig`, `useHttp2`, `initialStreamWindowSize`,
  `initialConnectionWindowSize`, `httpProxyHostname`;
- the RouteTable `<apex>` (`gateway.solo.io/v1`) that the user's Gloo VirtualService
  delegates to: one route with `inheritablePathMatchers: true` (the path comes from the
  delegating VirtualService) and `routeAction.multi.destinations` to the two Upstreams with
  the split's weights.

A/B (`analysis.match` and `split.matched_only`): the weighted route carries one matcher per
`analysis.match` entry (its headers, and its `method.exact` as `methods`), and a second
route without matchers sends everything else to the primary Upstream (weights 100/0).

The Services are read from the object view (they are reconciled before the router in every
tick). An Upstream whose Service does not exist yet is not written in that render (it comes
with the next one), so a fresh canary never holds on its own Services.

Comparison (the caller renders at the split in force): an Upstream is replaced when its
labels, its `kube` service fields (name, namespace, port, selector) or one of the copied
settings differ from what is rendered; other fields the live object carries (Gloo's
discovery writes `kube.serviceSpec`, `discoveryMetadata`, ...) are left alone and kept on a
replace. The RouteTable is compared whole, empty values dropped, with its labels and
annotations (`service.apex` ones plus the Flux opt-out keys, merged over the live ones).

Reading back: route 0's destinations must name both Upstreams (else `RouteTable <apex>.<ns>
destinations not found`); both weights 0 raise Flagger's `RoutingRule <apex>.<ns> update
failed: no valid weights`. `mirrored` is always False.

Where Ensign differs from Flagger, on purpose:

- Flagger keeps only `loadBalancerConfig` in sync after creating an Upstream; Ensign keeps
  every field it renders in sync (the `kube` fields, the copied settings and labels), so a
  change to the `upstreamRef` Upstream (or a new service port's selector) reaches the
  canary's Upstreams.
- Flagger writes a single route for A/B, so the requests that do not match the headers find
  no route in the RouteTable at all; Ensign adds the default route to the primary.
- Flagger flattens every `analysis.match` entry into one matcher (all must match); Ensign
  writes one matcher per entry (Gloo ORs matchers), as Flagger's docs describe.
- Flagger writes a `prefix` or `suffix` header value as an empty value, which Gloo reads as
  "the header is present"; Ensign writes the equivalent regex (`<prefix>.*`, `.*<suffix>`).
- Match conditions Gloo cannot get from the mapping (`uri`, `queryParams`, `sourceLabels`,
  a method other than `exact`) raise `RouteError` naming the field; Flagger drops them.
- A missing `upstreamRef` Upstream raises `RouteError` (Flagger: a query error).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ensign.engine.weights import FULL, Routes
from ensign.kube.kinds import GLOO_ROUTETABLE, GLOO_UPSTREAM, SERVICE, Kind
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.contour import no_valid_weights, require_service
from ensign.routers.metadata import JSON, owner_reference
from ensign.routers.objects import (
    apex_object_change,
    dicts,
    drop_empty,
    is_int,
    live_labels,
    new_object,
    replaced,
)
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
    "COPIED_SETTINGS",
    "GLOO_CAPABILITIES",
    "GlooRouter",
    "gloo_match_errors",
    "route_table_spec",
    "upstream_names",
]

GLOO_CAPABILITIES: Final = CAPABILITIES[Provider.GLOO]
COPIED_SETTINGS: Final = (
    "sslConfig",
    "circuitBreakers",
    "connectionConfig",
    "loadBalancerConfig",
    "useHttp2",
    "initialStreamWindowSize",
    "initialConnectionWindowSize",
    "httpProxyHostname",
)
"""Upstream spec fields copied from the `upstreamRef` Upstream (Flagger's list)."""
KUBE_FIELDS: Final = ("serviceName", "serviceNamespace", "servicePort", "selector")


def upstream_names(canary: Canary) -> tuple[str, str]:
    """`<ns>-<apex>-primaryupstream-<port>` and `<ns>-<apex>-canaryupstream-<port>`."""
    service = require_service(canary, Provider.GLOO.value)
    base = f"{canary.namespace or ''}-{canary.spec.apex_service_name}"
    return (
        f"{base}-primaryupstream-{service.port}",
        f"{base}-canaryupstream-{service.port}",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class GlooRouter:
    """Router for `provider: gloo`."""

    name: str = field(default=Provider.GLOO.value, init=False)
    capabilities: frozenset[Capability] = field(default=GLOO_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(GLOO_UPSTREAM, GLOO_ROUTETABLE), init=False)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The RouteTable `<apex>`, the two Upstreams, the Services `<apex>-primary` and
        `<apex>-canary`, and the `upstreamRef` Upstream when set."""
        namespace = canary.namespace or ""
        primary, canary_upstream = upstream_names(canary)
        out = [
            ObjectRef(
                kind=GLOO_ROUTETABLE, namespace=namespace, name=canary.spec.apex_service_name
            ),
            ObjectRef(kind=GLOO_UPSTREAM, namespace=namespace, name=primary),
            ObjectRef(kind=GLOO_UPSTREAM, namespace=namespace, name=canary_upstream),
            ObjectRef(kind=SERVICE, namespace=namespace, name=canary.spec.primary_service_name),
            ObjectRef(kind=SERVICE, namespace=namespace, name=canary.spec.canary_service_name),
        ]
        ref = canary.spec.upstream_ref
        if ref is not None:
            out.append(
                ObjectRef(kind=GLOO_UPSTREAM, namespace=ref.namespace or namespace, name=ref.name)
            )
        return tuple(out)

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """The weights of the two Upstreams in route 0; None without the RouteTable."""
        namespace = canary.namespace or ""
        apex = canary.spec.apex_service_name
        live = objects.get(GLOO_ROUTETABLE, namespace, apex)
        if live is None:
            return None
        where = f"RouteTable {apex}.{namespace}"
        routes = dicts((live.get("spec") or {}).get("routes"))
        destinations = _destinations(routes[0]) if routes else []
        primary_name, canary_name = upstream_names(canary)
        weights: dict[object, object] = {}
        for entry in destinations:
            upstream = (entry.get("destination") or {}).get("upstream") or {}
            weights[upstream.get("name")] = entry.get("weight", 0)
        if len(destinations) < 2 or primary_name not in weights or canary_name not in weights:
            raise RouteError(f"{where} destinations not found")
        primary, canary_weight = weights[primary_name], weights[canary_name]
        if not (is_int(primary) and is_int(canary_weight)):
            raise RouteError(
                f"{where} has malformed weights for {primary_name} and {canary_name}"
                f" (got {primary!r} and {canary_weight!r})"
            )
        if primary == 0 and canary_weight == 0:
            raise RouteError(f"RoutingRule {apex}.{namespace} update failed: no valid weights")
        try:
            return Routes(primary=primary, canary=canary_weight)
        except ValueError as error:
            raise RouteError(f"{where} has malformed weights: {error}") from error

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create or update the Upstreams (once their Services exist) and the RouteTable
        where they differ from what `split` and the spec ask for; nothing when they match."""
        table_spec = route_table_spec(canary, split)  # raises before anything is written
        settings, labels = _reference_settings(canary, objects)
        changes: list[ObjectChange] = []
        names = upstream_names(canary)
        services = (canary.spec.primary_service_name, canary.spec.canary_service_name)
        for upstream, service_name in zip(names, services, strict=True):
            change = _upstream_change(
                canary,
                objects,
                upstream,
                service_name,
                settings=settings,
                labels=labels,
                canary_uid=canary_uid,
            )
            if change is not None:
                changes.append(change)
        change = apex_object_change(
            GLOO_ROUTETABLE, canary, objects, canary_uid=canary_uid, spec=table_spec
        )
        if change is not None:
            changes.append(change)
        return tuple(changes)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the Upstreams and the RouteTable are owned by the Canary."""
        return ()


def route_table_spec(canary: Canary, split: Split) -> JSON:
    """The whole RouteTable spec for `split`."""
    no_valid_weights(canary, split.routes)
    primary, canary_upstream = upstream_names(canary)
    namespace = canary.namespace or ""
    match = canary.spec.effective_analysis.match
    errors = gloo_match_errors(match)
    if errors:
        path, message = errors[0]
        raise RouteError(f"{path}: {message}")

    def route(matchers: list[JSON], primary_weight: int, canary_weight: int) -> JSON:
        out: JSON = {}
        if matchers:
            out["matchers"] = matchers
        out["inheritablePathMatchers"] = True
        out["routeAction"] = {
            "multi": {
                "destinations": [
                    _destination(primary, namespace, primary_weight),
                    _destination(canary_upstream, namespace, canary_weight),
                ]
            }
        }
        return out

    weights = split.routes
    if match and split.matched_only:
        matchers = [_matcher(entry) for entry in match]
        routes = [route(matchers, weights.primary, weights.canary), route([], FULL, 0)]
    else:
        routes = [route([], weights.primary, weights.canary)]
    return {"routes": routes}


def gloo_match_errors(match: Sequence[Mapping[str, object]]) -> tuple[tuple[str, str], ...]:
    """(field path, message) for each part of `analysis.match` the Gloo router cannot
    express: anything but `headers` (exact, prefix, suffix, regex) and `method.exact`."""
    out: list[tuple[str, str]] = []
    for index, entry in enumerate(match):
        at = f"spec.analysis.match[{index}]"
        for key in entry:
            if key not in ("headers", "method"):
                out.append((f"{at}.{key}", f"matching on {key} is not supported by provider gloo"))
        method = entry.get("method")
        if method is not None:
            fields = method if isinstance(method, Mapping) else {}
            if not fields.get("exact"):
                others = [str(key) for key in fields if fields.get(key)]
                where = f"{at}.method" + (f".{others[0]}" if others else "")
                out.append((where, "only an exact method is supported by provider gloo"))
        headers = entry.get("headers")
        if not isinstance(headers, Mapping):
            continue
        for name, cond in headers.items():
            fields = cond if isinstance(cond, Mapping) else {}
            if not any(fields.get(key) for key in ("exact", "prefix", "suffix", "regex")):
                out.append(
                    (
                        f"{at}.headers.{name}",
                        "a header condition needs an exact, prefix, suffix or regex value",
                    )
                )
    return tuple(out)


def _matcher(entry: Mapping[str, object]) -> JSON:
    headers: list[JSON] = []
    raw = entry.get("headers")
    for name, cond in (raw if isinstance(raw, Mapping) else {}).items():
        assert isinstance(cond, Mapping)
        if cond.get("exact"):
            headers.append({"name": str(name), "value": str(cond["exact"])})
        elif cond.get("regex"):
            headers.append({"name": str(name), "value": str(cond["regex"]), "regex": True})
        elif cond.get("prefix"):
            value = re.escape(str(cond["prefix"])) + ".*"
            headers.append({"name": str(name), "value": value, "regex": True})
        else:
            value = ".*" + re.escape(str(cond["suffix"]))
            headers.append({"name": str(name), "value": value, "regex": True})
    out: JSON = {}
    if headers:
        out["headers"] = headers
    method = entry.get("method")
    if isinstance(method, Mapping) and method.get("exact"):
        out["methods"] = [str(method["exact"])]
    return out


def _destination(upstream: str, namespace: str, weight: int) -> JSON:
    return {
        "destination": {"upstream": {"name": upstream, "namespace": namespace}},
        "weight": weight,
    }


def _reference_settings(canary: Canary, objects: ObjectView) -> tuple[JSON, dict[str, str]]:
    """The copied spec settings and the labels of the `upstreamRef` Upstream."""
    ref = canary.spec.upstream_ref
    if ref is None:
        return {}, {}
    namespace = ref.namespace or canary.namespace or ""
    upstream = objects.get(GLOO_UPSTREAM, namespace, ref.name)
    if upstream is None:
        raise RouteError(f"spec.upstreamRef: Upstream {ref.name}.{namespace} not found")
    spec = upstream.get("spec") or {}
    settings = {
        key: copy.deepcopy(spec[key])
        for key in COPIED_SETTINGS
        if key in spec and spec[key] not in (None, [], {})
    }
    raw_labels = (upstream.get("metadata") or {}).get("labels") or {}
    labels = {str(k): str(v) for k, v in raw_labels.items()}
    return settings, labels


def _upstream_change(
    canary: Canary,
    objects: ObjectView,
    name: str,
    service_name: str,
    *,
    settings: JSON,
    labels: dict[str, str],
    canary_uid: str,
) -> ObjectChange | None:
    namespace = canary.namespace or ""
    service = objects.get(SERVICE, namespace, service_name)
    if service is None:
        return None  # the Services come first in a tick: written by the next render
    selector = (service.get("spec") or {}).get("selector") or {}
    kube: JSON = {
        "serviceName": service_name,
        "serviceNamespace": namespace,
        "servicePort": require_service(canary, Provider.GLOO.value).port,
    }
    if selector:
        kube["selector"] = {str(k): str(v) for k, v in selector.items()}
    live = objects.get(GLOO_UPSTREAM, namespace, name)
    if live is None:
        body = new_object(
            GLOO_UPSTREAM,
            name=name,
            namespace=namespace,
            spec={"kube": kube, **settings},
            labels=labels,
            owner=owner_reference(canary, canary_uid=canary_uid),
        )
        return CreateObject(kind=GLOO_UPSTREAM, body=body)
    live_spec = dict(live.get("spec") or {})
    live_kube = live_spec.get("kube") or {}
    same_kube = all(drop_empty(live_kube.get(k)) == drop_empty(kube.get(k)) for k in KUBE_FIELDS)
    same_settings = all(
        drop_empty(live_spec.get(k)) == drop_empty(settings.get(k)) for k in COPIED_SETTINGS
    )
    if same_kube and same_settings and live_labels(live) == labels:
        return None
    spec: JSON = {k: copy.deepcopy(v) for k, v in live_spec.items() if k not in COPIED_SETTINGS}
    spec["kube"] = {
        **{k: copy.deepcopy(v) for k, v in live_kube.items() if k not in KUBE_FIELDS},
        **kube,
    }
    spec.update(settings)
    annotations = dict((live.get("metadata") or {}).get("annotations") or {})
    body = replaced(live, spec, kind=GLOO_UPSTREAM, labels=labels, annotations=annotations)
    if not annotations:
        body["metadata"].pop("annotations", None)
    return ReplaceObject(kind=GLOO_UPSTREAM, body=body)


def _destinations(route: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    action = route.get("routeAction")
    multi = action.get("multi") if isinstance(action, Mapping) else None
    return dicts(multi.get("destinations")) if isinstance(multi, Mapping) else []
