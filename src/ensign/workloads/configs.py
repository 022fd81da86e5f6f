"""ConfigMap/Secret tracking and the `-primary` copies (Flagger's config tracker). Pure.

The target's pod spec names ConfigMaps and Secrets (volumes, projected sources, env
`valueFrom`, `envFrom`; containers and init containers). Each referenced object that exists
and is trackable gets a checksum in `status.trackedConfigs` (`configmap/<n>` / `secret/<n>`)
and a copy `<n>-primary` owned by the Canary; the primary's pod spec points at the copies,
so the primary keeps the old configuration while the canary runs the new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ensign.workloads.errors import WorkloadError
from ensign.workloads.meta import (
    CANARY_API_VERSION,
    CANARY_KIND,
    JSON,
    PRIMARY_SUFFIX,
    canary_owner_reference,
    child,
    include_by_prefix,
    items,
    namespace_of,
    thaw,
)

TRACKING_ANNOTATION = "flagger.app/config-tracking"
TRACKED_SECRET_TYPES = frozenset(
    {"Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"}
)


class ConfigKind(StrEnum):
    """Kinds of tracked config; the value is the `trackedConfigs` key prefix."""

    CONFIGMAP = "configmap"
    SECRET = "secret"


_KINDS = frozenset(kind.value for kind in ConfigKind)
_RESOURCE = {ConfigKind.CONFIGMAP: "configmaps", ConfigKind.SECRET: "secrets"}
_API_KIND = {ConfigKind.CONFIGMAP: "ConfigMap", ConfigKind.SECRET: "Secret"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigRef:
    """One referenced config. `optional` only when every reference to it says `optional: true`."""

    kind: ConfigKind
    name: str
    optional: bool = False

    @property
    def key(self) -> str:
        """The `status.trackedConfigs` key, e.g. `configmap/podinfo-config`."""
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class ConfigRefs:
    """The configs a pod spec references, one entry per (kind, name), in first-seen order."""

    refs: tuple[ConfigRef, ...] = ()

    def __iter__(self) -> Iterator[ConfigRef]:
        return iter(self.refs)

    def __len__(self) -> int:
        return len(self.refs)


# A reference site: (kind, holder of the name, key of the name inside the holder).
_Site = tuple[ConfigKind, Mapping[str, Any], str]


def _volume_sites(pod_spec: Mapping[str, Any]) -> Iterator[_Site]:
    for volume in items(pod_spec.get("volumes")):
        if isinstance(volume.get("configMap"), Mapping):
            yield ConfigKind.CONFIGMAP, volume["configMap"], "name"
        if isinstance(volume.get("secret"), Mapping):
            yield ConfigKind.SECRET, volume["secret"], "secretName"
        for source in items(child(volume, "projected").get("sources")):
            if isinstance(source.get("configMap"), Mapping):
                yield ConfigKind.CONFIGMAP, source["configMap"], "name"
            if isinstance(source.get("secret"), Mapping):
                yield ConfigKind.SECRET, source["secret"], "name"


def _container_sites(container: Mapping[str, Any]) -> Iterator[_Site]:
    for env in items(container.get("env")):
        value_from = child(env, "valueFrom")
        if isinstance(value_from.get("configMapKeyRef"), Mapping):
            yield ConfigKind.CONFIGMAP, value_from["configMapKeyRef"], "name"
        elif isinstance(value_from.get("secretKeyRef"), Mapping):
            yield ConfigKind.SECRET, value_from["secretKeyRef"], "name"
    for env_from in items(container.get("envFrom")):
        if isinstance(env_from.get("configMapRef"), Mapping):
            yield ConfigKind.CONFIGMAP, env_from["configMapRef"], "name"
        elif isinstance(env_from.get("secretRef"), Mapping):
            yield ConfigKind.SECRET, env_from["secretRef"], "name"


def _sites(pod_spec: Mapping[str, Any]) -> Iterator[_Site]:
    yield from _volume_sites(pod_spec)
    for field in ("containers", "initContainers"):
        for container in items(pod_spec.get(field)):
            yield from _container_sites(container)


def referenced_configs(pod_spec: Mapping[str, Any]) -> ConfigRefs:
    """Every ConfigMap/Secret the pod spec references (Flagger's scan, incl. init containers).

    A config referenced both optionally and mandatorily is mandatory.
    """
    optional: dict[tuple[ConfigKind, str], bool] = {}
    for kind, holder, name_key in _sites(pod_spec):
        name = holder.get(name_key)
        if not isinstance(name, str) or not name:
            continue
        is_optional = holder.get("optional") is True
        optional[(kind, name)] = optional.get((kind, name), True) and is_optional
    return ConfigRefs(
        tuple(
            ConfigRef(kind=kind, name=name, optional=opt) for (kind, name), opt in optional.items()
        )
    )


def go_json(value: Any) -> bytes:
    """`value` encoded like Go's `encoding/json.Marshal` for maps of strings.

    Sorted keys, no whitespace, UTF-8, and Go's HTML-safe escapes of `<`, `>`, `&`, U+2028
    and U+2029. A missing map (`None`) encodes as `null`, as a nil Go map does.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text.encode("utf-8")


def config_checksum(obj: Mapping[str, Any]) -> str:
    """Flagger's checksum: first 8 bytes of SHA-256 over the JSON of `data`, as 16 hex chars.

    `binaryData` is ignored (as in Flagger). Secret `data` values are the base64 strings of
    the API representation, which is exactly how Go encodes `map[string][]byte`.
    """
    return hashlib.sha256(go_json(obj.get("data"))).digest()[:8].hex()


def is_tracked(obj: Mapping[str, Any], *, kind: str) -> bool:
    """False when tracking is disabled by annotation or the Secret type is not trackable.

    Disabled: annotation `flagger.app/config-tracking` starting with `disable`. Trackable
    Secret types: Opaque (also assumed when `type` is missing), basic-auth, ssh-auth, tls.
    """
    annotation = child(obj, "metadata", "annotations").get(TRACKING_ANNOTATION)
    if isinstance(annotation, str) and annotation.startswith("disable"):
        return False
    if kind == ConfigKind.SECRET:
        return str(obj.get("type") or "Opaque") in TRACKED_SECRET_TYPES
    return True


def tracked_configs(
    refs: ConfigRefs,
    objects: Mapping[tuple[str, str], Mapping[str, Any] | None],
    *,
    namespace: str = "",
) -> dict[str, str]:
    """`status.trackedConfigs` for `refs`, given the objects fetched as `(kind, name) -> obj`.

    A missing (absent or `None`) mandatory config raises `WorkloadError`
    (`configmap <n>.<ns> get query error: configmaps "<n>" not found`); missing optional and
    untracked configs are skipped.
    """
    result: dict[str, str] = {}
    for ref in refs:
        obj = objects.get((ref.kind, ref.name))
        if obj is None:
            if ref.optional:
                continue
            raise WorkloadError(
                f"{ref.kind} {ref.name}.{namespace} get query error: "
                f'{_RESOURCE[ref.kind]} "{ref.name}" not found'
            )
        if is_tracked(obj, kind=ref.kind):
            result[ref.key] = config_checksum(obj)
    return result


def tracked_keys(tracked: Mapping[str, str]) -> set[tuple[ConfigKind, str]]:
    """The `(kind, name)` pairs of a `trackedConfigs` map (input of `rewrite_config_refs`)."""
    keys: set[tuple[ConfigKind, str]] = set()
    for key in tracked:
        kind, _, name = key.partition("/")
        if kind in _KINDS:
            keys.add((ConfigKind(kind), name))
    return keys


def rewrite_config_refs(pod_spec: Mapping[str, Any], tracked: Collection[tuple[str, str]]) -> JSON:
    """A copy of `pod_spec` whose references to tracked configs point at `<name>-primary`.

    Untracked references (ignored Secrets, disabled tracking, missing optional configs)
    are left alone, so the primary shares those objects with the target. `tracked` holds
    `(kind, name)` pairs with kind `configmap`/`secret` (see `tracked_keys`).
    """
    result: JSON = thaw(pod_spec)
    wanted = {(str(kind), name) for kind, name in tracked}
    for kind, holder, name_key in _sites(result):
        name = holder.get(name_key)
        if isinstance(holder, dict) and isinstance(name, str) and (str(kind), name) in wanted:
            holder[name_key] = name + PRIMARY_SUFFIX
    return result


def render_config_copy(
    source: Mapping[str, Any],
    *,
    canary: Mapping[str, Any],
    include_label_prefixes: Sequence[str],
    kind: str | None = None,
) -> JSON:
    """The `<name>-primary` copy of a tracked ConfigMap/Secret, owned by `canary`.

    Labels are filtered by the include prefixes; `data` is copied (Secrets also copy
    `type`); `binaryData` and annotations are not copied. `kind` defaults to `source.kind`.
    Use `merge_owner_references` before writing over an existing copy.
    """
    api_kind = kind or str(source.get("kind") or "")
    if api_kind.lower() not in _KINDS:
        raise WorkloadError(f"cannot copy {api_kind or 'object'}: not a ConfigMap or Secret")
    meta = child(source, "metadata")
    copy: JSON = {
        "apiVersion": "v1",
        "kind": _API_KIND[ConfigKind(api_kind.lower())],
        "metadata": {
            "name": f"{meta.get('name', '')}{PRIMARY_SUFFIX}",
            "namespace": namespace_of(canary, source),
            "labels": include_by_prefix(meta.get("labels"), include_label_prefixes),
            "ownerReferences": [canary_owner_reference(canary)],
        },
    }
    if source.get("data") is not None:
        copy["data"] = thaw(source["data"])
    if api_kind.lower() == ConfigKind.SECRET and source.get("type") is not None:
        copy["type"] = source["type"]
    return copy


def _is_other_canary(ref: Mapping[str, Any], uid: Any) -> bool:
    group = str(ref.get("apiVersion", "")).partition("/")[0]
    return (
        ref.get("kind") == CANARY_KIND
        and group == CANARY_API_VERSION.partition("/")[0]
        and ref.get("uid") != uid
    )


def merge_owner_references(desired: Mapping[str, Any], existing: Mapping[str, Any] | None) -> JSON:
    """`desired` plus the owner refs of `existing` that belong to other Canaries.

    The other Canaries' refs are re-added as non-controller refs (one per uid), so a config
    shared by several canaries is garbage-collected only when the last one goes.
    """
    result: JSON = thaw(desired)
    owners: list[JSON] = result.setdefault("metadata", {}).setdefault("ownerReferences", [])
    controller = next((ref for ref in owners if ref.get("controller") is True), {})
    seen = {ref.get("uid") for ref in owners}
    for ref in items(child(existing, "metadata").get("ownerReferences")):
        if _is_other_canary(ref, controller.get("uid")) and ref.get("uid") not in seen:
            seen.add(ref.get("uid"))
            owners.append({**thaw(ref), "controller": False})
    return result


def configs_changed(current: Mapping[str, str], recorded: Mapping[str, str] | None) -> bool:
    """Flagger's `HasConfigChanged`: compare current checksums with `status.trackedConfigs`.

    Nothing now and nothing recorded → unchanged; something now and no record → changed;
    different counts → changed; any checksum different (or key missing) → changed.
    """
    if recorded is None:
        return len(current) > 0
    if len(current) != len(recorded):
        return True
    return any(recorded.get(key) != checksum for key, checksum in current.items())


def changed_config_keys(
    current: Mapping[str, str], recorded: Mapping[str, str] | None
) -> list[str]:
    """Keys (`<type>/<name>`) whose checksum differs from the record, for the log line."""
    previous = recorded or {}
    return sorted(key for key, checksum in current.items() if previous.get(key) != checksum)
