"""The resource types the local cluster serves: built-in kinds as data, CRD kinds at run time. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ensign.localcluster import event_views

VERBS = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """Where the scale subresource reads and writes (JSON paths without the leading dot)."""

    spec_replicas: str = "spec.replicas"
    status_replicas: str = "status.replicas"
    label_selector: str | None = "status.selector"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceType:
    """One served resource: its names, scope, subresources and (for CRDs) its schema."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False
    scale: ScaleSpec | None = None
    builtin: bool = True
    # Extra field labels a fieldSelector may name besides metadata.name/namespace.
    field_labels: frozenset[str] = frozenset()
    # CRD-only data: the compiled schema and printer columns of this version.
    schema: Any = None
    printer_columns: tuple[dict[str, Any], ...] = field(default=())
    generation_includes_metadata: bool = False
    # Verbs this type does not serve (namespaces have no deletecollection).
    missing_verbs: frozenset[str] = frozenset()
    # Where the objects live when another group serves the same ones (events.k8s.io/v1
    # Events are core/v1 Events); None means (group, plural).
    storage: tuple[str, str] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> tuple[str, str]:
        """Objects are stored per group and plural; every version of a CRD shares them."""
        return self.storage or (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def supported_field_labels(self) -> frozenset[str]:
        base = {"metadata.name"}
        if self.namespaced:
            base.add("metadata.namespace")
        return frozenset(base) | self.field_labels

    def discovery_entries(self) -> list[dict[str, Any]]:
        """The APIResource entries of this type for the group/version resource list."""
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": [v for v in VERBS if v not in self.missing_verbs],
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        out = [main]
        if self.status:
            out.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if self.scale is not None:
            out.append(
                {
                    "name": f"{self.plural}/scale",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        return out


def _builtin(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    scale: bool = False,
    fields: tuple[str, ...] = (),
    storage: tuple[str, str] | None = None,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=("all",) if plural in _IN_ALL else (),
        status=status,
        scale=ScaleSpec() if scale else None,
        field_labels=frozenset(fields),
        missing_verbs=frozenset({"deletecollection"}) if plural == "namespaces" else frozenset(),
        storage=storage,
    )


_IN_ALL = frozenset(
    {"pods", "services", "deployments", "daemonsets", "replicasets", "horizontalpodautoscalers"}
)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        status=True,
        fields=("status.phase",),
    ),
    _builtin("", "v1", "Service", "services", short=("svc",), status=True),
    _builtin("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _builtin("", "v1", "Secret", "secrets", fields=("type",)),
    _builtin(
        "",
        "v1",
        "Event",
        "events",
        short=("ev",),
        fields=event_views.CORE_FIELD_LABELS,
    ),
    _builtin(
        "",
        "v1",
        "Pod",
        "pods",
        short=("po",),
        status=True,
        fields=("spec.nodeName", "status.phase"),
    ),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
    _builtin("", "v1", "Node", "nodes", namespaced=False, short=("no",), status=True),
    _builtin("apps", "v1", "Deployment", "deployments", short=("deploy",), status=True, scale=True),
    _builtin("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), status=True),
    _builtin("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), status=True, scale=True),
    _builtin(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        status=True,
    ),
    _builtin("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",), status=True),
    _builtin("coordination.k8s.io", "v1", "Lease", "leases"),
    _builtin(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        short=("ev",),
        fields=tuple(event_views.CORE_FIELD),
        storage=event_views.CORE,
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    _builtin(
        "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",), status=True
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        status=True,
    ),
)

# Preferred versions of the built-in groups, in discovery order.
BUILTIN_GROUP_ORDER: tuple[str, ...] = (
    "apps",
    "events.k8s.io",
    "autoscaling",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "coordination.k8s.io",
    "apiextensions.k8s.io",
)

STATUS_IGNORED_ON_CREATE = frozenset({"deployments", "daemonsets", "replicasets", "pods"})


def resource_types_from_crd(crd: dict[str, Any], schema_compiler: Any) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition as resource types."""
    spec = crd["spec"]
    names = spec["names"]
    out: list[ResourceType] = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale_spec: ScaleSpec | None = None
        if "scale" in subresources:
            sc = subresources["scale"] or {}
            scale_spec = ScaleSpec(
                spec_replicas=str(sc.get("specReplicasPath", ".spec.replicas")).lstrip("."),
                status_replicas=str(sc.get("statusReplicasPath", ".status.replicas")).lstrip("."),
                label_selector=(
                    str(sc["labelSelectorPath"]).lstrip(".")
                    if sc.get("labelSelectorPath")
                    else None
                ),
            )
        raw_schema = (version.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in subresources,
                scale=scale_spec,
                builtin=False,
                schema=schema_compiler(raw_schema) if raw_schema is not None else None,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                generation_includes_metadata=False,
            )
        )
    return out
