"""Strategic merge patch metadata as data: per-kind :class:`FieldRule` tables. Pure.

Each row is a dotted path with the ``patchStrategy``/``patchMergeKey`` struct tags of the
Go types in k8s.io/api.  Paths step through list fields transparently:
``spec.containers.env`` is the ``env`` field of every element of ``spec.containers``.

Facts checked against k8s.io/api (core/v1, apps/v1, autoscaling/v2 types.go):

* ``PodSpec.tolerations`` has **no** ``patchStrategy`` tag, so a strategic merge patch
  *replaces* the whole list (as the kubectl-patch task page demonstrates).
* ``PodSpec.volumes``/``resourceClaims`` are ``merge,retainKeys``; ``DeploymentSpec.strategy``
  is ``retainKeys``; ``NamespaceSpec.finalizers`` has no tag (replace).
* ``HorizontalPodAutoscalerSpec.metrics`` is atomic (replace); ``status.conditions`` merges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

Strategy = Literal["", "merge", "replace"]


MERGE: Final = "merge"
REPLACE: Final = "replace"


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One row of a schema table: the patch metadata of the field at ``path``."""

    path: str
    strategy: Strategy = ""
    merge_key: str | None = None
    retain_keys: bool = False


def _under(prefix: str, rules: Iterable[FieldRule]) -> tuple[FieldRule, ...]:
    return tuple(
        FieldRule(f"{prefix}.{r.path}", r.strategy, r.merge_key, r.retain_keys) for r in rules
    )


_OBJECT_META: Final = (
    FieldRule("finalizers", MERGE),
    FieldRule("ownerReferences", MERGE, "uid"),
)
_CONTAINER: Final = (
    FieldRule("ports", MERGE, "containerPort"),
    FieldRule("env", MERGE, "name"),
    FieldRule("volumeMounts", MERGE, "mountPath"),
    FieldRule("volumeDevices", MERGE, "devicePath"),
)
_POD_SPEC: Final = (
    FieldRule("volumes", MERGE, "name", retain_keys=True),
    FieldRule("initContainers", MERGE, "name"),
    FieldRule("containers", MERGE, "name"),
    FieldRule("ephemeralContainers", MERGE, "name"),
    FieldRule("imagePullSecrets", MERGE, "name"),
    FieldRule("hostAliases", MERGE, "ip"),
    FieldRule("topologySpreadConstraints", MERGE, "topologyKey"),
    FieldRule("resourceClaims", MERGE, "name", retain_keys=True),
    FieldRule("schedulingGates", MERGE, "name"),
    # tolerations, readinessGates, affinity terms ...: no tag -> replace (the default).
    *_under("initContainers", _CONTAINER),
    *_under("containers", _CONTAINER),
    *_under("ephemeralContainers", _CONTAINER),
)
_POD_STATUS: Final = (
    FieldRule("conditions", MERGE, "type"),
    FieldRule("podIPs", MERGE, "ip"),
    FieldRule("hostIPs", MERGE, "ip"),
    FieldRule("resourceClaimStatuses", MERGE, "name", retain_keys=True),
)
_STATUS_CONDITIONS: Final = (FieldRule("status.conditions", MERGE, "type"),)
_META: Final = _under("metadata", _OBJECT_META)
_POD_TEMPLATE: Final = (
    *_under("spec.template.metadata", _OBJECT_META),
    *_under("spec.template.spec", _POD_SPEC),
)

KIND_RULES: Final[Mapping[tuple[str, str, str], tuple[FieldRule, ...]]] = {
    ("", "v1", "Pod"): (*_META, *_under("spec", _POD_SPEC), *_under("status", _POD_STATUS)),
    ("", "v1", "Service"): (*_META, FieldRule("spec.ports", MERGE, "port"), *_STATUS_CONDITIONS),
    ("", "v1", "ConfigMap"): _META,
    ("", "v1", "Secret"): _META,
    ("", "v1", "Namespace"): (*_META, *_STATUS_CONDITIONS),
    ("", "v1", "Event"): _META,
    ("apps", "v1", "Deployment"): (
        *_META,
        FieldRule("spec.strategy", retain_keys=True),
        *_POD_TEMPLATE,
        *_STATUS_CONDITIONS,
    ),
    ("apps", "v1", "DaemonSet"): (*_META, *_POD_TEMPLATE, *_STATUS_CONDITIONS),
    ("apps", "v1", "ReplicaSet"): (*_META, *_POD_TEMPLATE, *_STATUS_CONDITIONS),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): (*_META, *_STATUS_CONDITIONS),
    ("autoscaling", "v1", "Scale"): _META,
    ("networking.k8s.io", "v1", "Ingress"): _META,
    ("coordination.k8s.io", "v1", "Lease"): _META,
}
