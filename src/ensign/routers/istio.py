"""The Istio router (`provider: istio`): a VirtualService and two DestinationRules. Pure.

The router writes, in the canary's namespace (§3.6 of the behaviour notes):

- DestinationRules `<apex>-primary` and `<apex>-canary` (`host` and `service.trafficPolicy`),
  created with a controller owner reference and the Flux opt-out annotations, replaced when
  their spec differs;
- the VirtualService `<apex>` routing between them (`istio_routes.virtual_service_spec`).
  Its labels are `service.apex.labels`; its annotations `service.apex.annotations` plus the
  Flux opt-out keys, plus the live `kubectl.kubernetes.io/last-applied-configuration` and
  `flagger.kubernetes.io/original-configuration` when present (other live annotations are
  dropped, as in Flagger).

Comparison: the caller renders at the split in force, so no weight-ignoring diff is needed
(Flagger ignores weights in its diff and, on any other spec change, resets them to 100/0;
Ensign keeps them). Specs are compared after dropping empty values (`None`, `[]`, `{}`), the
only difference a round trip through the API server makes to what the router writes, so a
render at the live split of an unchanged spec returns nothing.

Taking over a VirtualService the user created (it has no controller owner reference to this
Canary): on the first replace its spec is stored as JSON in
`flagger.kubernetes.io/original-configuration`, unless it carries kubectl's last-applied
annotation (which `finalize` restores from instead). The stored original is never
overwritten. Flagger stores the pre-update spec on *every* spec change, so after its first
change the annotation holds a Flagger-generated spec and the user's original is lost; Ensign
keeps the first one. As in Flagger, no owner reference is added to a taken-over
VirtualService: it is the user's object, it must survive the Canary so that `finalize` can
restore it, and garbage collection must never delete it.

`finalize` restores the VirtualService's spec from the last-applied annotation, else from
the stored original (and removes that annotation); an owned VirtualService without either is
garbage-collected with the Canary, as are the DestinationRules.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ensign.engine.weights import Routes
from ensign.kube.kinds import DESTINATIONRULE, VIRTUALSERVICE, Kind
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES
from ensign.routers.istio_routes import (
    destination_rule_spec,
    is_tcp,
    require_service,
    virtual_service_spec,
)
from ensign.routers.metadata import (
    FLUX_OPT_OUT,
    JSON,
    apex_metadata,
    controller_uid,
    owner_reference,
)
from ensign.routers.objects import (
    annotations_of,
    dicts,
    drop_empty,
    is_int,
    live_labels,
    new_object,
    object_change,
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
    "ISTIO_CAPABILITIES",
    "LAST_APPLIED",
    "ORIGINAL_CONFIGURATION",
    "IstioRouter",
    "normalized_spec",
]

ISTIO_CAPABILITIES: Final = CAPABILITIES[Provider.ISTIO]
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
ORIGINAL_CONFIGURATION: Final = "flagger.kubernetes.io/original-configuration"
KEPT_ANNOTATIONS: Final = (LAST_APPLIED, ORIGINAL_CONFIGURATION)
"""Live VirtualService annotations a render keeps."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IstioRouter:
    """Router for `provider: istio`."""

    name: str = field(default=Provider.ISTIO.value, init=False)
    capabilities: frozenset[Capability] = field(default=ISTIO_CAPABILITIES, init=False)
    kinds: tuple[Kind, ...] = field(default=(VIRTUALSERVICE, DESTINATIONRULE), init=False)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The VirtualService `<apex>` and the DestinationRules `<apex>-primary`/`-canary`."""
        namespace = canary.namespace or ""
        return (
            ObjectRef(kind=VIRTUALSERVICE, namespace=namespace, name=canary.spec.apex_service_name),
            ObjectRef(
                kind=DESTINATIONRULE, namespace=namespace, name=canary.spec.primary_service_name
            ),
            ObjectRef(
                kind=DESTINATIONRULE, namespace=namespace, name=canary.spec.canary_service_name
            ),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """The weights of the last route with a canary destination (TCP routes for a TCP
        service, else HTTP routes, falling back to the other kind after an `appProtocol`
        change; with session affinity, the last whose destinations carry headers: the
        weighted route); mirrored when that route has `mirror.host`. None when the
        VirtualService does not exist."""
        namespace = canary.namespace or ""
        apex = canary.spec.apex_service_name
        live = objects.get(VIRTUALSERVICE, namespace, apex)
        if live is None:
            return None
        primary_name = canary.spec.primary_service_name
        canary_name = canary.spec.canary_service_name
        where = f"VirtualService {apex}.{namespace}"
        spec = live.get("spec") or {}
        tcp = canary.spec.service is not None and is_tcp(canary.spec.service)
        # The other protocol's routes when the expected ones have no canary destination:
        # after an `appProtocol` change the split in force is still read (and re-rendered).
        candidates = _routes_to(spec.get("tcp" if tcp else "http"), canary_name) or _routes_to(
            spec.get("http" if tcp else "tcp"), canary_name
        )
        if not tcp and canary.spec.effective_analysis.session_affinity is not None:
            with_headers = [
                route
                for route in candidates
                if any(dest.get("headers") for dest in dicts(route.get("route")))
            ]
            candidates = with_headers or candidates
        chosen = candidates[-1] if candidates else {}
        weights = {_host(dest): dest.get("weight", 0) for dest in dicts(chosen.get("route"))}
        primary, canary_weight = weights.get(primary_name, 0), weights.get(canary_name, 0)
        if not (is_int(primary) and is_int(canary_weight)):
            raise RouteError(
                f"{where} has malformed weights for {primary_name} and {canary_name}"
                f" (got {primary!r} and {canary_weight!r})"
            )
        if primary == 0 and canary_weight == 0:
            raise RouteError(
                f"{where} does not contain routes for {primary_name} and {canary_name}"
            )
        mirror = chosen.get("mirror")
        mirrored = isinstance(mirror, Mapping) and bool(mirror.get("host"))
        try:
            return Routes(primary=primary, canary=canary_weight, mirrored=mirrored)
        except ValueError as error:
            raise RouteError(f"{where} has malformed weights: {error}") from error

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create or replace the DestinationRules and the VirtualService where they differ
        from what `split` and the spec ask for; nothing when they all match."""
        service = require_service(canary)
        vs_spec = virtual_service_spec(canary, split)  # raises before anything is written
        changes: list[ObjectChange] = []
        for name in (canary.spec.primary_service_name, canary.spec.canary_service_name):
            change = _destination_rule(
                canary, objects, name, destination_rule_spec(service, name), canary_uid
            )
            if change is not None:
                changes.append(change)
        change = _virtual_service(canary, objects, vs_spec, canary_uid)
        if change is not None:
            changes.append(change)
        return tuple(changes)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Restore the VirtualService's spec from kubectl's last-applied annotation, else
        from `flagger.kubernetes.io/original-configuration` (dropping that annotation);
        nothing when it has neither (an owned VirtualService is garbage-collected)."""
        namespace = canary.namespace or ""
        apex = canary.spec.apex_service_name
        live = objects.get(VIRTUALSERVICE, namespace, apex)
        if live is None:
            return ()
        annotations = annotations_of(live)
        where = f"VirtualService {apex}.{namespace}"
        if LAST_APPLIED in annotations:
            applied = _json_object(annotations[LAST_APPLIED], f"{where} annotation {LAST_APPLIED}")
            spec = applied.get("spec")
            if not isinstance(spec, Mapping):
                raise RouteError(f"{where} annotation {LAST_APPLIED} has no spec")
        elif ORIGINAL_CONFIGURATION in annotations:
            spec = _json_object(
                annotations[ORIGINAL_CONFIGURATION],
                f"{where} annotation {ORIGINAL_CONFIGURATION}",
            )
        else:
            return ()
        restored: JSON = {k: copy.deepcopy(v) for k, v in live.items() if k != "status"}
        meta: JSON = dict(restored.get("metadata") or {})
        kept = {k: v for k, v in annotations.items() if k != ORIGINAL_CONFIGURATION}
        if kept:
            meta["annotations"] = kept
        else:
            meta.pop("annotations", None)
        restored["metadata"] = meta
        restored["spec"] = copy.deepcopy(dict(spec))
        return (ReplaceObject(kind=VIRTUALSERVICE, body=restored),)


def _destination_rule(
    canary: Canary, objects: ObjectView, name: str, spec: JSON, canary_uid: str
) -> ObjectChange | None:
    """The DestinationRule `name`: the Flux opt-out keys merged over its live annotations, its
    labels left to the user."""
    namespace = canary.namespace or ""
    return object_change(
        DESTINATIONRULE,
        objects.get(DESTINATIONRULE, namespace, name),
        name=name,
        namespace=namespace,
        spec=spec,
        labels=None,
        annotations=FLUX_OPT_OUT,
        owner=owner_reference(canary, canary_uid=canary_uid),
    )


def _virtual_service(
    canary: Canary, objects: ObjectView, spec: JSON, canary_uid: str
) -> ObjectChange | None:
    """The VirtualService `<apex>`: apex labels and annotations, of the live annotations only
    `KEPT_ANNOTATIONS` (which win over the apex ones); the live spec is recorded in
    `ORIGINAL_CONFIGURATION` when Ensign takes over a VirtualService it does not own."""
    namespace = canary.namespace or ""
    name = canary.spec.apex_service_name
    meta = apex_metadata(canary.spec.service)
    labels = dict(meta.labels)
    annotations = dict(meta.annotations)
    live = objects.get(VIRTUALSERVICE, namespace, name)
    if live is None:
        body = new_object(
            VIRTUALSERVICE,
            name=name,
            namespace=namespace,
            spec=spec,
            labels=labels,
            annotations=annotations,
            owner=owner_reference(canary, canary_uid=canary_uid),
        )
        return CreateObject(kind=VIRTUALSERVICE, body=body)
    live_annotations = dict(annotations_of(live))
    annotations |= {
        key: live_annotations[key] for key in KEPT_ANNOTATIONS if key in live_annotations
    }
    live_spec = live.get("spec") or {}
    if (
        normalized_spec(live_spec) == normalized_spec(spec)
        and live_labels(live) == labels
        and live_annotations == annotations
    ):
        return None
    taken_over = controller_uid(live) != canary_uid
    if taken_over and not any(key in live_annotations for key in KEPT_ANNOTATIONS):
        annotations[ORIGINAL_CONFIGURATION] = json.dumps(live_spec, separators=(",", ":"))
    body = replaced(live, spec, kind=VIRTUALSERVICE, labels=labels, annotations=annotations)
    return ReplaceObject(kind=VIRTUALSERVICE, body=body)


def normalized_spec(spec: object) -> JSON:
    """The spec without empty values (None, [], {}), for comparing rendered and live specs."""
    cleaned = drop_empty(spec if isinstance(spec, Mapping) else {})
    return cleaned if isinstance(cleaned, dict) else {}


def _json_object(text: object, what: str) -> Mapping[str, Any]:
    try:
        parsed = json.loads(str(text))
    except ValueError as error:
        raise RouteError(f"{what} is not valid JSON: {error}") from error
    if not isinstance(parsed, Mapping):
        raise RouteError(f"{what} is not a JSON object")
    return parsed


def _routes_to(routes: object, host: str) -> list[Mapping[str, Any]]:
    """The routes with a destination on `host`, in order."""
    return [
        route
        for route in dicts(routes)
        if any(_host(dest) == host for dest in dicts(route.get("route")))
    ]


def _host(destination: Mapping[str, Any]) -> object:
    target = destination.get("destination")
    return target.get("host") if isinstance(target, Mapping) else None
