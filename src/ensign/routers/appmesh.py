"""The App Mesh routers (`appmesh`: appmesh.k8s.aws/v1beta1, `appmesh:v1beta2`). Pure.

One router, parametrised by the API version (`APPMESH_APIS`): the kinds it writes and the
shape of their specs (`appmesh_objects`, whose module doc lists every object and field).
Objects, in the canary's namespace, in the order they are written (targets before what
refers to them):

- v1beta2: VirtualNodes `<apex>-primary`, `<apex>-canary`; VirtualRouters `<apex>`,
  `<apex>-canary`; VirtualServices `<apex>` (awsName `<apex>.<ns>`), `<apex>-canary`;
- v1beta1: VirtualNodes `<apex>-primary`, `<apex>-canary`; VirtualServices `<apex>.<ns>`,
  `<apex>-canary.<ns>` (each embedding its router and routes).

The capability row has `reconcile-first`: the engine renders these objects before it
creates the primary workload (§2.4 step 8), so the virtual nodes exist when the primary's
pods start and get their sidecars.

Pod selectors (v1beta2): the Canary names the target, not its selector label, so the
selectors are taken from the generated Services when they exist (`<apex>-primary`
selects `<label>: <value>-primary`, `<apex>-canary` `<label>: <value>`); before they exist
(the first, reconcile-first tick) from the target workload's `spec.selector.matchLabels`
(the first of `app`, `name`, `app.kubernetes.io/name`, the default `-selector-labels`);
failing both, `app: <target>-primary` / `app: <target>` (Flagger's fixed `app` label).

Metadata: every object gets the Flux opt-out annotations (merged over the live ones) and,
when created, a controller owner reference to the Canary; the main VirtualService also gets
`service.apex` labels and annotations.

Comparison: the caller renders at the split in force, so no weight-ignoring diff is needed
and a spec change keeps the weights (Flagger resets them to 100/0). Specs are compared after
dropping empty values and the fields the App Mesh controller fills in that Ensign does not
write (`meshRef`; `awsName` of nodes and routers, defaulted to `<name>_<ns>`).

Reading back: the weighted targets of the first route of the `<apex>` router (v1beta2) or
of the `<apex>.<ns>` VirtualService (v1beta1) that targets the canary node (the weighted
route; `<apex>-a` under A/B). None when that object does not exist; `RouteError` when both
weights are 0 (Flagger's message) or malformed. Mirroring is never reported: App Mesh
cannot mirror. The App Mesh controller's status (conditions `VirtualNodeActive`,
`VirtualRouterActive`, `VirtualServiceActive`) is not waited on, as in Flagger.

`finalize`: nothing; every object is owned by the Canary and garbage-collected with it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from ensign.engine.weights import Routes
from ensign.kube.kinds import (
    APPMESH_V1BETA1_VIRTUALNODE,
    APPMESH_V1BETA1_VIRTUALSERVICE,
    APPMESH_VIRTUALNODE,
    APPMESH_VIRTUALROUTER,
    APPMESH_VIRTUALSERVICE,
    DAEMONSET,
    DEPLOYMENT,
    SERVICE,
    Kind,
)
from ensign.model.canary import Canary, Provider, TargetKind
from ensign.model.capabilities import CAPABILITIES, base_provider
from ensign.routers.appmesh_objects import (
    MeshApi,
    Names,
    require_service,
    virtual_node_spec,
    virtual_router_spec,
    virtual_service_spec,
)
from ensign.routers.metadata import (
    FLUX_OPT_OUT,
    JSON,
    CustomMetadata,
    apex_metadata,
    owner_reference,
)
from ensign.routers.objects import dicts, drop_empty, is_int, object_change
from ensign.routers.protocol import (
    Capability,
    ObjectChange,
    ObjectRef,
    ObjectView,
    RouteError,
    Split,
)
from ensign.workloads.selector import DEFAULT_SELECTOR_LABELS

__all__ = ["APPMESH_APIS", "AppMeshApi", "AppMeshRouter"]

ROUTE_KEYS: Final = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute", "http", "tcp")
SERVER_FILLED: Final = ("meshRef",)
SERVER_FILLED_UNLESS_WRITTEN: Final = ("awsName",)


@dataclass(frozen=True, slots=True, kw_only=True)
class AppMeshApi:
    """One row of the version table: the kinds a provider string writes."""

    api: MeshApi
    virtual_node: Kind
    virtual_service: Kind
    virtual_router: Kind | None  # v1beta1 embeds the router in the VirtualService

    @property
    def kinds(self) -> tuple[Kind, ...]:
        router = (self.virtual_router,) if self.virtual_router is not None else ()
        return (self.virtual_node, *router, self.virtual_service)


APPMESH_APIS: Final[Mapping[Provider, AppMeshApi]] = MappingProxyType(
    {
        Provider.APPMESH: AppMeshApi(
            api=MeshApi(version="v1beta1"),
            virtual_node=APPMESH_V1BETA1_VIRTUALNODE,
            virtual_service=APPMESH_V1BETA1_VIRTUALSERVICE,
            virtual_router=None,
        ),
        Provider.APPMESH_V1BETA2: AppMeshApi(
            api=MeshApi(version="v1beta2"),
            virtual_node=APPMESH_VIRTUALNODE,
            virtual_service=APPMESH_VIRTUALSERVICE,
            virtual_router=APPMESH_VIRTUALROUTER,
        ),
    }
)
"""The API version table: what each provider string writes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Wanted:
    """One object to reconcile."""

    kind: Kind
    name: str
    spec: JSON
    apex_metadata: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AppMeshRouter:
    """Router for `provider: appmesh` and `appmesh:v1beta2`."""

    name: str
    table: AppMeshApi
    capabilities: frozenset[Capability]

    @classmethod
    def for_provider(cls, provider: Provider | str) -> AppMeshRouter:
        """The router for `provider` (`appmesh:v1beta2...` prefixes select v1beta2)."""
        chosen = base_provider(provider)
        if chosen not in APPMESH_APIS:
            raise ValueError(f"not an App Mesh provider: {provider!r}")
        assert chosen is not None
        return cls(name=chosen.value, table=APPMESH_APIS[chosen], capabilities=CAPABILITIES[chosen])

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return self.table.kinds

    @property
    def api(self) -> MeshApi:
        return self.table.api

    # ------------------------------------------------------------------ names

    def _weighted(self, names: Names) -> tuple[Kind, str]:
        """The object holding the weighted route."""
        if self.table.virtual_router is not None:
            return self.table.virtual_router, names.apex
        return self.table.virtual_service, f"{names.apex}.{names.namespace}"

    def _mesh_refs(self, names: Names) -> list[ObjectRef]:
        ns = names.namespace
        refs = [
            ObjectRef(kind=self.table.virtual_node, namespace=ns, name=names.primary),
            ObjectRef(kind=self.table.virtual_node, namespace=ns, name=names.canary),
        ]
        if self.table.virtual_router is not None:
            refs += [
                ObjectRef(kind=self.table.virtual_router, namespace=ns, name=names.apex),
                ObjectRef(kind=self.table.virtual_router, namespace=ns, name=names.canary_router),
                ObjectRef(kind=self.table.virtual_service, namespace=ns, name=names.apex),
                ObjectRef(kind=self.table.virtual_service, namespace=ns, name=names.canary_router),
            ]
        else:
            refs += [
                ObjectRef(kind=self.table.virtual_service, namespace=ns, name=f"{names.apex}.{ns}"),
                ObjectRef(
                    kind=self.table.virtual_service,
                    namespace=ns,
                    name=f"{names.canary_router}.{ns}",
                ),
            ]
        return refs

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The App Mesh objects, then (v1beta2, for the pod selectors) the generated
        Services `<apex>-primary`/`<apex>-canary` and the target workload."""
        names = Names.of(canary)
        refs = self._mesh_refs(names)
        if self.api.v1beta2:
            ns = names.namespace
            refs += [
                ObjectRef(kind=SERVICE, namespace=ns, name=names.primary),
                ObjectRef(kind=SERVICE, namespace=ns, name=names.canary),
            ]
            workload = _workload_kind(canary)
            if workload is not None:
                refs.append(
                    ObjectRef(kind=workload, namespace=ns, name=canary.spec.target_ref.name)
                )
        return tuple(refs)

    # ------------------------------------------------------------------ reading

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """The weights of the first route targeting the canary node; None when the object
        holding the weighted route does not exist."""
        names = Names.of(canary)
        kind, name = self._weighted(names)
        live = objects.get(kind, names.namespace, name)
        if live is None:
            return None
        where = f"{kind.kind} {name}.{names.namespace}"
        spec = live.get("spec") or {}
        chosen: Mapping[str, Any] = {}
        for route in dicts(spec.get("routes")):
            targets = _targets(route)
            if any(_node(t) == names.canary for t in targets):
                chosen = {str(_node(t)): t.get("weight", 0) for t in targets}
                break
        primary, canary_weight = chosen.get(names.primary, 0), chosen.get(names.canary, 0)
        if not (is_int(primary) and is_int(canary_weight)):
            raise RouteError(
                f"{where} has malformed weights for {names.primary} and {names.canary}"
                f" (got {primary!r} and {canary_weight!r})"
            )
        if primary == 0 and canary_weight == 0:
            raise RouteError(
                f"{where} does not contain routes for {names.primary} and {names.canary}"
            )
        try:
            return Routes(primary=primary, canary=canary_weight)
        except ValueError as error:
            raise RouteError(f"{where} has malformed weights: {error}") from error

    # ------------------------------------------------------------------ writing

    def _wanted(self, canary: Canary, objects: ObjectView, split: Split) -> list[_Wanted]:
        names = Names.of(canary)
        api = self.api
        selectors = _pod_selectors(canary, objects, names)
        out = [
            _Wanted(
                kind=self.table.virtual_node,
                name=names.primary,
                spec=virtual_node_spec(
                    canary, api, service_name=names.primary, pod_selector=selectors[0]
                ),
            ),
            _Wanted(
                kind=self.table.virtual_node,
                name=names.canary,
                spec=virtual_node_spec(
                    canary, api, service_name=names.canary, pod_selector=selectors[1]
                ),
            ),
        ]
        routers = (names.apex, names.canary_router)
        if self.table.virtual_router is not None:
            for router in routers:
                out.append(
                    _Wanted(
                        kind=self.table.virtual_router,
                        name=router,
                        spec=virtual_router_spec(canary, api, split, router=router),
                    )
                )
        for router in routers:
            name = router if api.v1beta2 else f"{router}.{names.namespace}"
            out.append(
                _Wanted(
                    kind=self.table.virtual_service,
                    name=name,
                    spec=virtual_service_spec(canary, api, split, router=router),
                    apex_metadata=router == names.apex,
                )
            )
        return out

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the missing objects and replace those whose spec, labels or annotations
        differ from what `split` and the spec ask for; nothing when all match."""
        service = require_service(canary)
        meta = apex_metadata(service)
        wanted = self._wanted(canary, objects, split)  # raises before anything is written
        changes: list[ObjectChange] = []
        for item in wanted:
            change = _reconcile(
                canary, objects, item, meta if item.apex_metadata else None, canary_uid
            )
            if change is not None:
                changes.append(change)
        return tuple(changes)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the objects are owned by the Canary and garbage-collected with it."""
        return ()


def _reconcile(
    canary: Canary,
    objects: ObjectView,
    item: _Wanted,
    apex: CustomMetadata | None,
    canary_uid: str,
) -> ObjectChange | None:
    """`item` with the Flux opt-out keys merged over its live annotations, and the `apex`
    metadata when given (else its labels are left to the user); a replace keeps the fields
    the controller filled in."""
    namespace = canary.namespace or ""
    live = objects.get(item.kind, namespace, item.name)
    return object_change(
        item.kind,
        live,
        name=item.name,
        namespace=namespace,
        spec=_with_server_filled(item.spec, live),
        labels=apex.labels if apex is not None else None,
        annotations=apex.annotations if apex is not None else FLUX_OPT_OUT,
        owner=owner_reference(canary, canary_uid=canary_uid),
        spec_matches=lambda live_spec, spec: (
            normalized_spec(live_spec if isinstance(live_spec, Mapping) else {}, item.spec)
            == normalized_spec(spec, item.spec)
        ),
    )


def _with_server_filled(spec: JSON, live: Mapping[str, Any] | None) -> JSON:
    """A copy of `spec` with the server-filled fields the live object has and `spec` does
    not set (kept on a replace)."""
    live_spec = (live or {}).get("spec") or {}
    out = copy.deepcopy(spec)
    for key in (*SERVER_FILLED, *SERVER_FILLED_UNLESS_WRITTEN):
        if key in live_spec and key not in out:
            out[key] = copy.deepcopy(live_spec[key])
    return out


def normalized_spec(spec: Mapping[str, Any], rendered: Mapping[str, Any]) -> JSON:
    """`spec` without empty values and without the server-filled fields `rendered` does
    not set, for comparing a live spec with a rendered one."""
    out = drop_empty(spec)
    if not isinstance(out, dict):
        return {}
    for key in (*SERVER_FILLED, *SERVER_FILLED_UNLESS_WRITTEN):
        if key not in rendered:
            out.pop(key, None)
    return out


def _pod_selectors(
    canary: Canary, objects: ObjectView, names: Names
) -> tuple[dict[str, str], dict[str, str]]:
    """(primary, canary) pod selectors, see the module doc."""
    primary = _selector(objects.get(SERVICE, names.namespace, names.primary))
    canary_selector = _selector(objects.get(SERVICE, names.namespace, names.canary))
    if primary and canary_selector:
        return primary, canary_selector
    target = canary.spec.target_ref.name
    workload_kind = _workload_kind(canary)
    workload = (
        objects.get(workload_kind, names.namespace, target) if workload_kind is not None else None
    )
    match_labels = ((workload or {}).get("spec") or {}).get("selector") or {}
    match_labels = match_labels.get("matchLabels") if isinstance(match_labels, Mapping) else None
    if isinstance(match_labels, Mapping):
        for key in DEFAULT_SELECTOR_LABELS:
            if key in match_labels:
                value = str(match_labels[key])
                return {key: f"{value}-primary"}, {key: value}
    return {"app": f"{target}-primary"}, {"app": target}


def _selector(service: Mapping[str, Any] | None) -> dict[str, str]:
    selector = ((service or {}).get("spec") or {}).get("selector")
    if not isinstance(selector, Mapping):
        return {}
    return {str(k): str(v) for k, v in selector.items()}


def _workload_kind(canary: Canary) -> Kind | None:
    kind = canary.spec.target_ref.kind
    if kind == TargetKind.DEPLOYMENT:
        return DEPLOYMENT
    if kind == TargetKind.DAEMONSET:
        return DAEMONSET
    return None


def _targets(route: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for key in ROUTE_KEYS:
        body = route.get(key)
        if isinstance(body, Mapping):
            action = body.get("action")
            if isinstance(action, Mapping):
                return dicts(action.get("weightedTargets"))
    return []


def _node(target: Mapping[str, Any]) -> object:
    ref = target.get("virtualNodeRef")
    if isinstance(ref, Mapping):
        return ref.get("name")
    return target.get("virtualNodeName")
