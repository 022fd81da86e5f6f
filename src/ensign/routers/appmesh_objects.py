"""The App Mesh objects the `appmesh` routers write for one split. Pure.

Two API versions, one set of builders parametrised by `MeshApi` (the version table in
`ensign.routers.appmesh`). Names (§3.1, §3.7 of the behaviour notes; `<ns>` is the canary's
namespace):

- VirtualNodes `<apex>-primary` and `<apex>-canary`: one listener on `service.port`, DNS
  service discovery of the matching generated Service, one backend per `service.backends`
  entry, and access logs to `/dev/stdout` when the Canary carries the annotation
  `appmesh.flagger.app/accesslog: enabled`.
  - v1beta2: `podSelector.matchLabels` picks the primary's or the canary's pods (see
    `PodSelectors`); DNS hostname `<apex>-primary.<ns>.svc.cluster.local`; a backend is a
    `virtualServiceRef` by name (same namespace), or `virtualServiceARN` for an `arn:`
    string.
  - v1beta1 (the pre-1.0 controller): `meshName` (`service.meshName`, when set); DNS
    `hostName` `<apex>-primary.<ns>`; a backend is a `virtualServiceName`.
- Routing (v1beta2): VirtualRouters `<apex>` (the weighted split) and `<apex>-canary` (all
  traffic to the canary node, so load tests can address the canary alone), each with one
  listener on `service.port`; VirtualServices `<apex>` and `<apex>-canary` whose `awsName`
  is `<apex>.<ns>` / `<apex>-canary.<ns>` (the names clients call) and whose provider is the
  router of the same name.
- Routing (v1beta1): VirtualServices named `<apex>.<ns>` and `<apex>-canary.<ns>`, each
  embedding its virtual router (`virtualRouter.name` `<apex>` / `<apex>-canary`, listener on
  `service.port`) and its `routes`, with `meshName` when set.

Routes: one route named after the router, matching the URI prefix of the first
`service.match` entry that has one (App Mesh routes on prefixes; else `/`), with weighted
targets primary then canary. The route key is `httpRoute` (v1beta2) or `http` (v1beta1);
a gRPC service (`service.portName` containing `grpc`, or `appProtocol: grpc`; v1beta2
only) gets a `grpcRoute` whose A/B conditions are metadata matches.

A/B (`analysis.match` with `split.matched_only`): the `<apex>` router has one route
`<apex>-a` per match entry (the entry's headers, and on v1beta2 its exact query
parameters; priority 10), weighted primary/canary, then `<apex>-b` (priority 20) sending
the rest to the primary (weights 100/0). Further entries are named `<apex>-a-2`, ... (any
entry selects the canary, as in Istio; Flagger folds every entry's headers into one route,
which then needs all of them). Without `matched_only`, the single weighted route.

Timeouts and retries (v1beta2; App Mesh durations are `{unit: ms, value}`):
- `service.timeout` → the route's `timeout.perRequest` and the listener's
  `timeout.<http|grpc>.perRequest` on both virtual nodes (Envoy's 15 s default applies
  otherwise). v1beta1 routes have no timeout: `RouteError`.
- `service.retries` → `retryPolicy`: `maxRetries` = `attempts` (no policy when attempts is
  0 or unset), `perRetryTimeout` = `perTryTimeout` (else 15 s, App Mesh requires one),
  events from `retryOn` (comma-separated): App Mesh names kept (`server-error`,
  `gateway-error`, `client-error`, `stream-error`; `connection-error` goes to
  `tcpRetryEvents`), Envoy/Istio names mapped (`5xx` → server-error, `retriable-4xx` →
  client-error, `reset`/`connect-failure`/`refused-stream` → connection-error), others
  dropped; none left → `server-error`, `gateway-error`. v1beta1 writes the same policy in
  its own shape (`perRetryTimeoutMillis`).
- `service.backendTimeout` has no App Mesh counterpart: `RouteError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ensign.model.canary import Canary, ServiceSpec
from ensign.model.durations import parse_duration_ns
from ensign.routers.metadata import JSON
from ensign.routers.objects import dicts
from ensign.routers.protocol import RouteError, Split

ACCESS_LOG_ANNOTATION: Final = "appmesh.flagger.app/accesslog"
ACCESS_LOG_PATH: Final = "/dev/stdout"
DEFAULT_PER_RETRY_MS: Final = 15_000
AB_PRIORITY: Final = 10
DEFAULT_PRIORITY: Final = 20
HTTP_EVENTS: Final = ("server-error", "gateway-error", "client-error", "stream-error")
TCP_EVENTS: Final = ("connection-error",)
EVENT_ALIASES: Final[Mapping[str, str]] = {
    "5xx": "server-error",
    "retriable-4xx": "client-error",
    "reset": "connection-error",
    "connect-failure": "connection-error",
    "refused-stream": "connection-error",
}
DEFAULT_EVENTS: Final = ("server-error", "gateway-error")
STRING_KINDS: Final = ("exact", "prefix", "suffix", "regex")
AB_FIELDS: Final = frozenset({"headers", "queryParams", "name"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MeshApi:
    """What differs between the App Mesh API versions Flagger writes."""

    version: str  # "v1beta1" or "v1beta2"

    @property
    def v1beta2(self) -> bool:
        return self.version == "v1beta2"


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSelectors:
    """`podSelector.matchLabels` of the primary and canary virtual nodes (v1beta2)."""

    primary: Mapping[str, str]
    canary: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Names:
    apex: str
    primary: str
    canary: str
    namespace: str

    @classmethod
    def of(cls, canary: Canary) -> Names:
        return cls(
            apex=canary.spec.apex_service_name,
            primary=canary.spec.primary_service_name,
            canary=canary.spec.canary_service_name,
            namespace=canary.namespace or "",
        )

    @property
    def canary_router(self) -> str:
        return f"{self.apex}-canary"


def require_service(canary: Canary) -> ServiceSpec:
    service = canary.spec.service
    if service is None:
        raise RouteError(f"canary {canary.key} has no spec.service")
    return service


def protocol_of(service: ServiceSpec, api: MeshApi) -> str:
    """`grpc` for a gRPC port (v1beta2), else `http`."""
    grpc = "grpc" in service.port_name.lower() or (service.app_protocol or "").lower() == "grpc"
    return "grpc" if grpc and api.v1beta2 else "http"


# ------------------------------------------------------------------ virtual nodes


def virtual_node_spec(
    canary: Canary, api: MeshApi, *, service_name: str, pod_selector: Mapping[str, str]
) -> JSON:
    """The spec of the virtual node for the generated Service `service_name`."""
    service = require_service(canary)
    names = Names.of(canary)
    protocol = protocol_of(service, api)
    listener: JSON = {"portMapping": {"port": service.port, "protocol": protocol}}
    spec: JSON = {}
    if api.v1beta2:
        timeout = _timeout(service, api)
        if timeout is not None:
            listener["timeout"] = {protocol: timeout}
        spec["podSelector"] = {"matchLabels": dict(pod_selector)}
        spec["listeners"] = [listener]
        host = f"{service_name}.{names.namespace}.svc.cluster.local"
        spec["serviceDiscovery"] = {"dns": {"hostname": host}}
    else:
        spec.update(_mesh(service))
        spec["listeners"] = [listener]
        spec["serviceDiscovery"] = {"dns": {"hostName": f"{service_name}.{names.namespace}"}}
    backends = [_backend(b, api) for b in service.backends]
    if backends:
        spec["backends"] = backends
    if _access_log(canary):
        spec["logging"] = {"accessLog": {"file": {"path": ACCESS_LOG_PATH}}}
    return spec


def _backend(name: str, api: MeshApi) -> JSON:
    if not api.v1beta2:
        return {"virtualService": {"virtualServiceName": name}}
    if name.startswith("arn:"):
        return {"virtualService": {"virtualServiceARN": name}}
    return {"virtualService": {"virtualServiceRef": {"name": name}}}


def _access_log(canary: Canary) -> bool:
    meta = canary.raw.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return False
    return str(annotations.get(ACCESS_LOG_ANNOTATION, "")).lower() == "enabled"


def _mesh(service: ServiceSpec) -> JSON:
    """`meshName` when `service.meshName` is set (the v1beta1 controller needs it to place
    the object; without it the object is written and the controller reports it)."""
    return {"meshName": service.mesh_name} if service.mesh_name else {}


# ------------------------------------------------------------------ routes


def routes(canary: Canary, api: MeshApi, split: Split, *, router: str) -> list[JSON]:
    """The routes of router `router` (`<apex>` or `<apex>-canary`) for `split`."""
    service = require_service(canary)
    names = Names.of(canary)
    if router == names.canary_router:
        return [_route(canary, api, router, 0, 100, [], None)]
    p, c = split.routes.primary, split.routes.canary
    matches = canary.spec.effective_analysis.match
    if not (matches and split.matched_only):
        return [_route(canary, api, router, p, c, [], None)]
    out = []
    for index, entry in enumerate(matches):
        name = f"{names.apex}-a" if index == 0 else f"{names.apex}-a-{index + 1}"
        conditions = _ab_conditions(entry, service, api, index)
        out.append(_route(canary, api, name, p, c, conditions, AB_PRIORITY))
    out.append(_route(canary, api, f"{names.apex}-b", 100, 0, [], DEFAULT_PRIORITY))
    return out


def _route(
    canary: Canary,
    api: MeshApi,
    name: str,
    primary: int,
    canary_weight: int,
    conditions: list[tuple[str, JSON]],
    priority: int | None,
) -> JSON:
    service = require_service(canary)
    names = Names.of(canary)
    protocol = protocol_of(service, api)
    if api.v1beta2:
        targets = [
            {"virtualNodeRef": {"name": names.primary}, "weight": primary},
            {"virtualNodeRef": {"name": names.canary}, "weight": canary_weight},
        ]
    else:
        targets = [
            {"virtualNodeName": names.primary, "weight": primary},
            {"virtualNodeName": names.canary, "weight": canary_weight},
        ]
    match: JSON = {}
    if protocol == "grpc":
        metadata = [cond for key, cond in conditions if key == "headers"]
        if metadata:
            match["metadata"] = metadata
    else:
        match["prefix"] = _prefix(service)
        for key in ("headers", "queryParameters"):
            found = [cond for k, cond in conditions if k == key]
            if found:
                match[key] = found
    body: JSON = {"match": match, "action": {"weightedTargets": targets}}
    retry = _retry_policy(service, api)
    if retry is not None:
        body["retryPolicy"] = retry
    timeout = _timeout(service, api)
    if timeout is not None:
        body["timeout"] = timeout
    key = ("grpcRoute" if protocol == "grpc" else "httpRoute") if api.v1beta2 else "http"
    route: JSON = {"name": name, key: body}
    if priority is not None:
        route["priority"] = priority
    return route


def _prefix(service: ServiceSpec) -> str:
    for entry in dicts(service.raw.get("match")):
        uri = entry.get("uri")
        if isinstance(uri, Mapping) and isinstance(uri.get("prefix"), str) and uri["prefix"]:
            return str(uri["prefix"])
    return "/"


def _ab_conditions(
    entry: Mapping[str, object], service: ServiceSpec, api: MeshApi, index: int
) -> list[tuple[str, JSON]]:
    where = f"spec.analysis.match[{index}]"
    unsupported = sorted(str(k) for k, v in entry.items() if v and k not in AB_FIELDS)
    if unsupported:
        raise RouteError(
            f"App Mesh routes cannot match on {', '.join(unsupported)} ({where});"
            " only headers and query parameters"
        )
    out: list[tuple[str, JSON]] = []
    headers = entry.get("headers")
    for name, cond in headers.items() if isinstance(headers, Mapping) else ():
        header: JSON = {"name": str(name)}
        method = _string_match(cond, f"{where}.headers.{name}")
        if method:
            header["match"] = method
        out.append(("headers", header))
    query = entry.get("queryParams")
    for name, cond in query.items() if isinstance(query, Mapping) else ():
        method = _string_match(cond, f"{where}.queryParams.{name}")
        if not api.v1beta2 or set(method) != {"exact"}:
            raise RouteError(
                f"App Mesh {api.version} routes cannot match query parameter {name} this way"
                f" ({where}.queryParams); v1beta2 matches exact values only"
            )
        out.append(("queryParameters", {"name": str(name), "match": method}))
    if not out:
        raise RouteError(f"{where} has no header or query parameter condition")
    if protocol_of(service, api) == "grpc" and any(k != "headers" for k, _ in out):
        raise RouteError(f"gRPC routes match metadata (headers) only ({where})")
    return out


def _string_match(cond: object, where: str) -> JSON:
    """An Istio StringMatch as an App Mesh match method; {} asks only for presence."""
    if not isinstance(cond, Mapping):
        return {}
    set_kinds = [k for k in STRING_KINDS if cond.get(k) not in (None, "")]
    if len(set_kinds) > 1:
        raise RouteError(f"{where} sets more than one of {', '.join(STRING_KINDS)}")
    return {set_kinds[0]: str(cond[set_kinds[0]])} if set_kinds else {}


def _retry_policy(service: ServiceSpec, api: MeshApi) -> JSON | None:
    retries = service.raw.get("retries")
    if not isinstance(retries, Mapping):
        return None
    attempts = retries.get("attempts")
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts <= 0:
        return None
    per_try = retries.get("perTryTimeout")
    per_try_ms = (
        _milliseconds(str(per_try), "service.retries.perTryTimeout")
        if per_try
        else DEFAULT_PER_RETRY_MS
    )
    http_events: list[str] = []
    tcp_events: list[str] = []
    for raw in str(retries.get("retryOn") or "").split(","):
        event = EVENT_ALIASES.get(raw.strip(), raw.strip())
        bucket = (
            http_events if event in HTTP_EVENTS else tcp_events if event in TCP_EVENTS else None
        )
        if bucket is not None and event not in bucket:
            bucket.append(event)
    if not http_events and not tcp_events:
        http_events = list(DEFAULT_EVENTS)
    policy: JSON = {"maxRetries": attempts}
    if api.v1beta2:
        policy["perRetryTimeout"] = {"unit": "ms", "value": per_try_ms}
    else:
        policy["perRetryTimeoutMillis"] = per_try_ms
    if http_events:
        policy["httpRetryEvents"] = http_events
    if tcp_events:
        policy["tcpRetryEvents"] = tcp_events
    return policy


def _timeout(service: ServiceSpec, api: MeshApi) -> JSON | None:
    if service.backend_timeout:
        raise RouteError(
            "service.backendTimeout is not supported by App Mesh (use service.timeout)"
        )
    if not service.timeout:
        return None
    if not api.v1beta2:
        raise RouteError(
            "service.timeout is not supported by App Mesh v1beta1 routes"
            " (provider appmesh:v1beta2 sets it)"
        )
    return {
        "perRequest": {"unit": "ms", "value": _milliseconds(service.timeout, "service.timeout")}
    }


def _milliseconds(text: str, where: str) -> int:
    try:
        nanoseconds = parse_duration_ns(text)
    except ValueError as error:
        raise RouteError(f"{where}: {error}") from error
    if nanoseconds < 0:
        raise RouteError(f"{where} must not be negative (got {text!r})")
    return nanoseconds // 1_000_000


# ------------------------------------------------------------------ routers and services


def virtual_router_spec(canary: Canary, api: MeshApi, split: Split, *, router: str) -> JSON:
    """v1beta2 VirtualRouter `router`."""
    service = require_service(canary)
    listener = {"portMapping": {"port": service.port, "protocol": protocol_of(service, api)}}
    return {"listeners": [listener], "routes": routes(canary, api, split, router=router)}


def virtual_service_spec(canary: Canary, api: MeshApi, split: Split, *, router: str) -> JSON:
    """The VirtualService fronting `router`: v1beta2 points at the VirtualRouter of that
    name; v1beta1 embeds the router and its routes."""
    service = require_service(canary)
    names = Names.of(canary)
    if api.v1beta2:
        return {
            "awsName": f"{router}.{names.namespace}",
            "provider": {"virtualRouter": {"virtualRouterRef": {"name": router}}},
        }
    listener = {"portMapping": {"port": service.port, "protocol": protocol_of(service, api)}}
    return {
        **_mesh(service),
        "virtualRouter": {"name": router, "listeners": [listener]},
        "routes": routes(canary, api, split, router=router),
    }
