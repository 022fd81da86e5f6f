"""The SMI router (`linkerd`, `osm`, `smi:v1alpha1`, `smi:v1alpha2`, `smi:v1alpha3`): one
TrafficSplit. Pure.

The router owns the TrafficSplit `<apex>` in the canary's namespace (§3.7 of the behaviour
notes):

    spec:
      service: <first service.hosts entry, else the apex>
      backends:
      - {service: <apex>-canary, weight: <canary weight>}
      - {service: <apex>-primary, weight: <primary weight>}

The SMI versions differ only as data (`SMI_VERSIONS`): the TrafficSplit kind, and the weight
format: v1alpha1 weights are Kubernetes quantities (written as strings, `"90"`), v1alpha2
and v1alpha3 weights are integers. `linkerd` writes v1alpha1 and `osm` v1alpha2, as in
Flagger. A `-mesh-provider` value may carry a mesh suffix (`smi:v1alpha3:istio`): the only
mesh that changes anything is `istio`, for which a canary with `service.gateways` gets the
annotation `VirtualService.v1alpha3.networking.istio.io/spec.gateways` (the gateways as a
JSON list), which Istio's SMI adapter copies to the VirtualService it generates.

Metadata: labels are `service.apex.labels`; annotations are `service.apex.annotations`, the
Flux opt-out keys and the gateways annotation, merged over the annotations already on the
live TrafficSplit (keys Ensign does not set are kept; a stale gateways annotation is
dropped); a controller owner reference ties a new TrafficSplit to the Canary.

Comparison: the caller renders at the split in force, so no weight-ignoring diff is needed
(Flagger ignores weights in its diff and, on any other spec change, resets them to 100/0;
Ensign keeps them). v1alpha1 weights are compared as quantities (`"90"`, `90` and `"90000m"`
are the same weight), so a value the API server or a user wrote in another form is not
rewritten on every tick.

Reading back: the weights of the backends `<apex>-primary` and `<apex>-canary` (a backend
that is missing weighs 0). Both 0 → `RouteError` with Flagger's message `TrafficSplit
<apex>.<ns> does not contain routes for <apex>-primary and <apex>-canary`. SMI weights are
relative (Linkerd and OSM share traffic in proportion), so weights that do not sum to 100
(`"500m"`/`"500m"`, or `1`/`3`) are read as the percentages they stand for (50/50, 75/25,
rounded to whole percents); Flagger reads them as raw integers (and `"500m"` as 1).

Only weights: A/B testing, mirroring and session affinity are refused by the model (the
providers' capability rows have none of them), as Flagger ignores them.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

from ensign.engine.weights import FULL, Routes
from ensign.kube.kinds import (
    TRAFFICSPLIT_V1ALPHA1,
    TRAFFICSPLIT_V1ALPHA2,
    TRAFFICSPLIT_V1ALPHA3,
    Kind,
)
from ensign.model.canary import Canary, Provider
from ensign.model.capabilities import CAPABILITIES, base_provider
from ensign.routers.metadata import JSON
from ensign.routers.objects import apex_object_change, changes, dicts, drop_empty
from ensign.routers.protocol import (
    Capability,
    ObjectChange,
    ObjectRef,
    ObjectView,
    RouteError,
    Split,
)

__all__ = [
    "ISTIO_GATEWAYS_ANNOTATION",
    "SMI_PROVIDERS",
    "SMI_VERSIONS",
    "SmiRouter",
    "SmiVersion",
    "mesh_of",
    "parse_quantity",
    "trafficsplit_spec",
]

ISTIO_GATEWAYS_ANNOTATION: Final = "VirtualService.v1alpha3.networking.istio.io/spec.gateways"
"""Istio's SMI adapter copies this JSON list to the generated VirtualService's gateways."""
ISTIO_MESH: Final = "istio"


@dataclass(frozen=True, slots=True, kw_only=True)
class SmiVersion:
    """What one SMI API version writes: the TrafficSplit kind and the weight format."""

    kind: Kind
    quantity_weights: bool
    """v1alpha1: weights are quantities, written as strings; later versions: integers."""


V1ALPHA1: Final = SmiVersion(kind=TRAFFICSPLIT_V1ALPHA1, quantity_weights=True)
V1ALPHA2: Final = SmiVersion(kind=TRAFFICSPLIT_V1ALPHA2, quantity_weights=False)
V1ALPHA3: Final = SmiVersion(kind=TRAFFICSPLIT_V1ALPHA3, quantity_weights=False)

SMI_VERSIONS: Final[Mapping[Provider, SmiVersion]] = MappingProxyType(
    {
        Provider.LINKERD: V1ALPHA1,
        Provider.SMI_V1ALPHA1: V1ALPHA1,
        Provider.SMI_V1ALPHA2: V1ALPHA2,
        Provider.SMI_V1ALPHA3: V1ALPHA3,
        Provider.OSM: V1ALPHA2,
    }
)
"""The version table: the TrafficSplit each provider writes."""

SMI_PROVIDERS: Final = tuple(SMI_VERSIONS)


def mesh_of(provider: str) -> str:
    """The target mesh a provider string names: `linkerd` and `osm` themselves, the suffix of
    `smi:<version>:<mesh>`, else "" (Flagger's `targetMesh`)."""
    base = base_provider(provider)
    if base in (Provider.LINKERD, Provider.OSM):
        return base.value
    if base is not None and provider.startswith(f"{base.value}:"):
        return provider[len(base.value) + 1 :]
    return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmiRouter:
    """Router for the SMI providers; owns the TrafficSplit `<apex>`."""

    name: str
    """The provider string, suffix included (`smi:v1alpha3:istio`)."""
    version: SmiVersion
    capabilities: frozenset[Capability]
    mesh: str = ""

    @classmethod
    def for_provider(cls, provider: Provider | str) -> SmiRouter:
        """The router for `linkerd`, `osm`, `smi:v1alphaN` or `smi:v1alphaN:<mesh>`;
        `ValueError` for any other string."""
        text = str(provider)
        base = base_provider(text)
        if base is None or base not in SMI_VERSIONS:
            raise ValueError(f"{text!r} is not an SMI provider")
        return cls(
            name=text,
            version=SMI_VERSIONS[base],
            capabilities=CAPABILITIES[base],
            mesh=mesh_of(text),
        )

    @property
    def kind(self) -> Kind:
        return self.version.kind

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return (self.version.kind,)

    def refs(self, canary: Canary) -> tuple[ObjectRef, ...]:
        """The TrafficSplit `<apex>` in the canary's namespace."""
        return (
            ObjectRef(
                kind=self.kind,
                namespace=canary.namespace or "",
                name=canary.spec.apex_service_name,
            ),
        )

    def read_routes(self, canary: Canary, objects: ObjectView) -> Routes | None:
        """The backends' weights, as percentages; None when the TrafficSplit does not
        exist."""
        (ref,) = self.refs(canary)
        live = objects.get(ref.kind, ref.namespace, ref.name)
        if live is None:
            return None
        where = f"TrafficSplit {ref.name}.{ref.namespace}"
        primary_name = canary.spec.primary_service_name
        canary_name = canary.spec.canary_service_name
        weights: dict[str, Decimal] = {}
        for backend in dicts((live.get("spec") or {}).get("backends")):
            service = backend.get("service")
            if service not in (primary_name, canary_name):
                continue
            raw = backend.get("weight", 0)
            try:
                value = self.weight_value(raw)
            except ValueError as error:
                raise RouteError(
                    f"{where} backend {service} has a malformed weight: {error}"
                ) from None
            if value < 0:
                raise RouteError(f"{where} backend {service} has a negative weight: {raw!r}")
            weights[str(service)] = value
        primary = weights.get(primary_name, Decimal(0))
        canary_weight = weights.get(canary_name, Decimal(0))
        total = primary + canary_weight
        if total == 0:
            raise RouteError(
                f"{where} does not contain routes for {primary_name} and {canary_name}"
            )
        share = (canary_weight * FULL / total).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return Routes(primary=FULL - int(share), canary=int(share))

    def weight_value(self, raw: object) -> Decimal:
        """A live weight as a number (`ValueError` when it is not one of this version's)."""
        if self.version.quantity_weights:
            return parse_quantity(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return Decimal(raw)
        raise ValueError(f"expected an integer, got {raw!r}")

    def render(
        self, canary: Canary, objects: ObjectView, split: Split, *, canary_uid: str
    ) -> tuple[ObjectChange, ...]:
        """Create the TrafficSplit, replace it when its spec, labels or annotations differ
        from what `split` and the spec ask for, or nothing when it already matches."""
        spec = trafficsplit_spec(canary, split, quantity_weights=self.version.quantity_weights)
        change = apex_object_change(
            self.kind,
            canary,
            objects,
            canary_uid=canary_uid,
            spec=spec,
            annotations=self.mesh_annotations(canary),
            # the gateways annotation is Ensign's to set or drop, not a live key to keep
            keep_live_annotation=lambda key: key != ISTIO_GATEWAYS_ANNOTATION,
            spec_matches=self.spec_matches,
        )
        return changes(change)

    def finalize(self, canary: Canary, objects: ObjectView) -> tuple[ObjectChange, ...]:
        """Nothing: the TrafficSplit is owned by the Canary and garbage-collected with it."""
        return ()

    def mesh_annotations(self, canary: Canary) -> dict[str, str]:
        """The Istio gateways annotation, when the target mesh is istio and the canary lists
        `service.gateways`."""
        service = canary.spec.service
        if self.mesh != ISTIO_MESH or service is None or not service.gateways:
            return {}
        return {
            ISTIO_GATEWAYS_ANNOTATION: json.dumps(list(service.gateways), separators=(",", ":"))
        }

    def spec_matches(self, live: object, rendered: JSON) -> bool:
        """The live TrafficSplit spec equals the rendered one, both `comparable`."""
        return bool(
            self.comparable(live if isinstance(live, Mapping) else {}) == self.comparable(rendered)
        )

    def comparable(self, spec: Mapping[str, Any]) -> object:
        """The spec with empty values dropped and v1alpha1 weights read as quantities."""
        out = drop_empty(spec)
        if self.version.quantity_weights and isinstance(out, dict):
            for backend in out.get("backends") or ():
                if isinstance(backend, dict) and "weight" in backend:
                    # A malformed weight is left as written: it differs from any rendered one.
                    with contextlib.suppress(ValueError):
                        backend["weight"] = parse_quantity(backend["weight"])
        return out


def trafficsplit_spec(canary: Canary, split: Split, *, quantity_weights: bool) -> JSON:
    """`spec.service` (the first `service.hosts` entry, else the apex) and the two backends,
    canary first as Flagger writes them."""
    service = canary.spec.service
    hosts = service.hosts if service is not None else ()
    weights: tuple[object, object] = (split.routes.canary, split.routes.primary)
    if quantity_weights:
        weights = (str(split.routes.canary), str(split.routes.primary))
    return {
        "service": hosts[0] if hosts else canary.spec.apex_service_name,
        "backends": [
            {"service": canary.spec.canary_service_name, "weight": weights[0]},
            {"service": canary.spec.primary_service_name, "weight": weights[1]},
        ],
    }


_QUANTITY: Final = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?$"
)
_BINARY: Final = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL: Final = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(raw: object) -> Decimal:
    """A Kubernetes quantity (`"100"`, `"500m"`, `"1k"`, `"1Ki"`, `"1e3"`, or a number) as a
    Decimal; `ValueError` when it is not one."""
    if isinstance(raw, bool):
        raise ValueError(f"not a quantity: {raw!r}")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(str(raw))
    text = str(raw).strip() if isinstance(raw, str) else ""
    found = _QUANTITY.match(text)
    if found is None:
        raise ValueError(f"not a quantity: {raw!r}")
    try:
        number = Decimal(found["number"])
    except InvalidOperation:
        raise ValueError(f"not a quantity: {raw!r}") from None
    suffix = found["suffix"] or ""
    if suffix in _BINARY:
        return number * Decimal(1024 ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    if suffix:
        return number.scaleb(int(Decimal(suffix[1:])))
    return number
