"""The object store: resourceVersions, write semantics and watch history of a real apiserver.

Synchronous and in memory. Stored objects are never mutated: every write builds a new dict,
so readers may hold on to what they got. Watch subscribers are plain callbacks; the HTTP
layer turns them into streams. Admission (defaults, pruning, validation) is delegated to
`ensign.localcluster.admission`.
"""

from __future__ import annotations

import base64
import builtins
import json
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from ensign.localcluster import (
    admission,
    declared_fields,
    errors,
    event_views,
    managed_fields,
    patches,
)
from ensign.localcluster.errors import ApiError
from ensign.localcluster.kinds import BUILTIN_TYPES, ResourceType, resource_types_from_crd
from ensign.localcluster.selectors import FieldSelector, LabelSelector

JSON = dict[str, Any]
ObjectKey = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped kinds
StorageKey = tuple[str, str]  # (group, plural)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NAMESPACES: StorageKey = ("", "namespaces")
CRDS: StorageKey = ("apiextensions.k8s.io", "customresourcedefinitions")


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change, as stored in the history and handed to subscribers."""

    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    storage_key: StorageKey
    namespace: str
    obj: JSON
    old: JSON | None
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False)


Listener = Callable[[WatchEvent], None]


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    """A server-side apply: the applied configuration, its field manager and `force`."""

    config: JSON
    manager: str
    force: bool = False


@dataclass(slots=True)
class Subscription:
    storage_key: StorageKey
    listener: Listener
    active: bool = True


_LAST_SECOND: list[Any] = [None, ""]  # (epoch second, its text): many writes share a second


def rfc3339(moment: datetime) -> str:
    second = int(moment.timestamp())
    if _LAST_SECOND[0] != second:
        _LAST_SECOND[:] = [second, moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    return str(_LAST_SECOND[1])


def _meta(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def _without(obj: JSON, *keys: str) -> JSON:
    return {k: v for k, v in obj.items() if k not in keys}


@dataclass(slots=True)
class Store:
    """All objects of the local cluster and the history that watches replay."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    history_limit: int = 5_000
    _rv: int = 1
    _types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _objects: dict[StorageKey, dict[ObjectKey, JSON]] = field(default_factory=dict)
    _history: deque[WatchEvent] = field(default_factory=deque)
    _compacted_rv: int = 0
    _subscribers: dict[StorageKey, list[Subscription]] = field(default_factory=dict)
    _dependents: dict[str, set[tuple[StorageKey, ObjectKey]]] = field(default_factory=dict)
    _uids: dict[str, tuple[StorageKey, ObjectKey]] = field(default_factory=dict)
    _gc_queue: deque[str] = field(default_factory=deque)
    _terminating_namespaces: set[str] = field(default_factory=set)
    _warnings: list[str] = field(default_factory=list)
    ip_allocator: admission.ClusterIpAllocator = field(
        default_factory=lambda: admission.ClusterIpAllocator()
    )

    def __post_init__(self) -> None:
        for rt in BUILTIN_TYPES:
            self._types[(rt.group, rt.version, rt.plural)] = rt
        for name in DEFAULT_NAMESPACES:
            self.create(self.type_for("", "v1", "namespaces"), "", {"metadata": {"name": name}})

    # ----------------------------------------------------------------- types

    def type_for(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self._types.get((group, version, plural))
        if rt is None:
            raise errors.route_not_found()
        return rt

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def types(self) -> list[ResourceType]:
        return list(self._types.values())

    @property
    def resource_version(self) -> int:
        return self._rv

    # ----------------------------------------------------------------- reads

    def exists(self, rt: ResourceType, namespace: str, name: str) -> bool:
        return (namespace if rt.namespaced else "", name) in self._bucket(rt)

    def get(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        obj = self._bucket(rt).get((namespace if rt.namespaced else "", name))
        if obj is None:
            raise errors.not_found(plural=rt.plural, group=rt.group, name=name)
        return self._as_version(rt, obj)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        limit: int = 0,
        continue_token: str = "",
    ) -> tuple[list[JSON], str, int]:
        """Matching objects sorted by namespace and name, the continue token and the remainder."""
        start: ObjectKey | None = None
        if continue_token:
            start = _decode_continue(continue_token)
        bucket = self._bucket(rt)
        keys = sorted(bucket)
        items: list[JSON] = []
        remaining = 0
        next_token = ""
        for key in keys:
            if start is not None and key <= start:
                continue
            if namespace and key[0] != namespace:
                continue
            obj = bucket[key]
            if not self.matches(obj, labels, fields):
                continue
            if limit and len(items) >= limit:
                remaining += 1
                continue
            items.append(self._as_version(rt, obj))
        if remaining and items:
            last = items[-1]["metadata"]
            next_token = _encode_continue((last.get("namespace", ""), last["name"]))
        return items, next_token, remaining

    @staticmethod
    def matches(obj: JSON, labels: LabelSelector | None, fields: FieldSelector | None) -> bool:
        if labels is not None and not labels.matches(obj.get("metadata", {}).get("labels") or {}):
            return False
        return fields is None or fields.matches(obj)

    def history_since(self, storage_key: StorageKey, rv: int) -> builtins.list[WatchEvent]:
        """Events after `rv` for one storage key; 410 Gone when `rv` has been compacted."""
        if rv < self._compacted_rv:
            raise errors.gone(f"too old resource version: {rv} ({self._compacted_rv})")
        return [e for e in self._history if e.rv > rv and e.storage_key == storage_key]

    def subscribe(self, storage_key: StorageKey, listener: Listener) -> Subscription:
        sub = Subscription(storage_key, listener)
        self._subscribers.setdefault(storage_key, []).append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.active = False
        subs = self._subscribers.get(sub.storage_key, [])
        if sub in subs:
            subs.remove(sub)

    def compact(self, keep: int = 0) -> int:
        """Drop all but the newest `keep` history events; watches older than that get 410."""
        while len(self._history) > keep:
            self._compacted_rv = self._history.popleft().rv
        if not self._history:
            self._compacted_rv = self._rv
        return self._compacted_rv

    def object_count(self) -> int:
        return sum(len(b) for b in self._objects.values())

    # ---------------------------------------------------------------- writes

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: JSON,
        *,
        dry_run: bool = False,
        field_validation: str = "Ignore",
        manager: str | None = None,
        managed: builtins.list[JSON] | None = None,
    ) -> JSON:
        """`manager` records an Update in managedFields; `managed` (an Apply) replaces them."""
        meta = _meta(body)
        namespace = self._check_namespace(rt, namespace, meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{_random_suffix()}"
        name = str(meta.get("name") or "")
        self._check_kind(rt, body)
        body = _stored_form(rt, body)
        if (
            rt.status
            and rt.plural != "namespaces"
            and (not rt.builtin or rt.plural in admission.STATUS_RESET_ON_CREATE)
        ):
            body.pop("status", None)
        if rt.namespaced:
            meta["namespace"] = namespace
        self._unknown_fields(rt, admission.admit(self, rt, body, None), field_validation)
        meta = _meta(body)  # admission may have rebuilt the metadata dict
        key = (namespace if rt.namespaced else "", name)
        if key in self._bucket(rt):
            raise errors.already_exists(plural=rt.plural, group=rt.group, name=name)
        if meta.get("resourceVersion"):
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        for drop in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ):
            meta.pop(drop, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(self.clock())
        if rt.namespaced:
            meta["namespace"] = namespace
        if admission.tracks_generation(rt):
            meta["generation"] = 1
        if managed is None and manager:
            managed = managed_fields.after_update(
                None,
                body,
                manager=manager,
                api_version=rt.api_version,
                now=rfc3339(self.clock()),
                scope=self._scope(rt, ""),
            )
        if managed:
            meta["managedFields"] = managed
        if rt.storage_key == CRDS:
            body = self._establish_crd(body)
        if dry_run:  # nothing was stored, so a real server answers without a resourceVersion
            return self._as_version(rt, body)
        return self._as_version(rt, self._commit(rt, key, body, None))

    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: JSON,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Ignore",
        manager: str | None = None,
    ) -> JSON:
        if (
            not subresource
            and rt.storage_key in admission.CREATE_ON_UPDATE
            and not self.exists(rt, namespace, name)
        ):
            meta = _meta(body)
            if meta.get("name", name) != name:
                raise errors.bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the "
                    f"URL ({name})"
                )
            meta["name"] = name
            meta.pop("resourceVersion", None)
            return self.create(
                rt,
                namespace,
                body,
                dry_run=dry_run,
                field_validation=field_validation,
                manager=manager,
            )
        old = self._existing(rt, namespace, name)
        meta = _meta(body)
        if meta.get("name") and meta["name"] != name and subresource != "scale":
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        rv = meta.get("resourceVersion")
        if not rv and rt.builtin and rt.storage_key not in admission.CONDITIONAL_UPDATE_ONLY:
            rv = old["metadata"]["resourceVersion"]  # most built-ins allow unconditional updates
        if not rv:
            # The generic registry names the resource, not the kind, of a custom resource
            # here (`widgets.example.com "w" is invalid`, details.kind "widgets").
            raise errors.invalid(
                kind=rt.kind if rt.builtin else rt.plural,
                group=rt.group,
                name=name,
                causes=[
                    errors.StatusCause(
                        "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                        "metadata.resourceVersion",
                    )
                ],
            )
        self._check_precondition(rt, old, str(rv), meta.get("uid"))
        updated = self._update(
            rt,
            old,
            body,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
            manager=manager,
        )
        return self._as_version(rt, updated)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patcher: Callable[[JSON], JSON],
        *,
        subresource: str = "",
        dry_run: bool = False,
        create_if_missing: bool = False,
        field_validation: str = "Ignore",
        manager: str | None = None,
        apply: ApplyRequest | None = None,
    ) -> JSON:
        """Apply `patcher` to the current object (or its scale view) and store the result.
        With `apply` (server-side apply), ownership is checked first (409 on conflicts) and
        the fields the manager stopped applying are removed."""
        try:
            old = self._existing(rt, namespace, name)
        except ApiError:
            if not create_if_missing:
                raise
            body = patcher({})
            _meta(body).setdefault("name", name)
            plan = self._plan_apply(rt, None, apply, subresource) if apply else None
            return self.create(
                rt,
                namespace,
                body,
                dry_run=dry_run,
                field_validation=field_validation,
                manager=manager,
                managed=plan.managed if plan else None,
            )
        view = (
            admission.scale_view(rt, old) if subresource == "scale" else self._as_version(rt, old)
        )
        plan = self._plan_apply(rt, view, apply, subresource) if apply else None
        patched = patcher(view)
        if plan is not None and plan.remove:
            patched = _deep_copy(patched)  # it shares subtrees with the stored object
            managed_fields.remove_paths(patched, plan.remove)
        meta = _meta(patched)
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(plural=rt.plural, group=rt.group, name=name)
        if meta.get("name", name) != name and subresource != "scale":
            raise errors.bad_request(
                "metadata.name: Invalid value: the name cannot be changed by a patch"
            )
        self._check_precondition(rt, old, None, meta.get("uid"))
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        updated = self._update(
            rt,
            old,
            patched,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
            manager=manager,
            managed=plan.managed if plan else None,
        )
        return self._as_version(rt, updated)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> JSON:
        old = self._existing(rt, namespace, name)
        self._check_precondition(rt, old, resource_version, uid)
        if dry_run:
            return old
        key = self._key(rt, old)
        meta = old["metadata"]
        if rt.storage_key == NAMESPACES:
            return self._terminate_namespace(rt, old)
        finalizers = list(meta.get("finalizers") or [])
        if (
            propagation == "Foreground"
            and "foregroundDeletion" not in finalizers
            and self._dependents.get(meta["uid"])
        ):
            finalizers.append("foregroundDeletion")
        if propagation == "Orphan":
            self._orphan_dependents(meta["uid"])
        if finalizers:
            if meta.get("deletionTimestamp"):
                return old
            new = dict(old)
            new_meta = dict(meta)
            new_meta["finalizers"] = finalizers
            new_meta["deletionTimestamp"] = rfc3339(self.clock())
            new_meta["deletionGracePeriodSeconds"] = 0
            new["metadata"] = new_meta
            if "foregroundDeletion" in finalizers:
                self._gc_queue.append(meta["uid"])
            return self._commit(rt, key, new, old)
        return self._remove(rt, key, old)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> builtins.list[JSON]:
        items, _, _ = self.list(rt, namespace, labels=labels, fields=fields)
        out = []
        for item in items:
            meta = item["metadata"]
            try:
                out.append(self.delete(rt, meta.get("namespace", ""), meta["name"]))
            except ApiError:
                continue
        return out

    # ------------------------------------------------- controller writes (no admission)

    def put_internal(self, rt: ResourceType, body: JSON) -> JSON:
        """Create or replace an object as a built-in controller does: no admission, no
        managedFields; metadata.namespace/name in `body` say where. Answers the stored object."""
        meta = _meta(body)
        key = (str(meta.get("namespace", "")) if rt.namespaced else "", str(meta["name"]))
        old = self._bucket(rt).get(key)
        body["apiVersion"], body["kind"] = rt.api_version, rt.kind
        if old is not None:  # spec and status together, as no client can
            old_meta = old["metadata"]
            for fixed in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                if fixed in old_meta:
                    meta[fixed] = old_meta[fixed]
            if "generation" in old_meta and body.get("spec") != old.get("spec"):
                meta["generation"] = int(old_meta["generation"]) + 1
        else:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = rfc3339(self.clock())
            if admission.tracks_generation(rt):
                meta["generation"] = 1
        status = body.get("status")
        if isinstance(status, dict) and "observedGeneration" in status:
            status["observedGeneration"] = meta.get("generation", 1)
        if old is not None and body == old:
            return old
        return self._commit(rt, key, body, old)

    def delete_internal(self, rt: ResourceType, namespace: str, name: str) -> None:
        """Remove an object at once (a controller scaling pods down); absent is fine."""
        key = (namespace if rt.namespaced else "", name)
        obj = self._bucket(rt).get(key)
        if obj is not None:
            self._remove(rt, key, obj)

    # ------------------------------------------------------ garbage collection

    def collect_garbage(self) -> int:
        """Delete dependents whose owners are all gone and finish terminating namespaces."""
        deleted = 0
        while self._gc_queue:
            owner_uid = self._gc_queue.popleft()
            for storage_key, key in sorted(self._dependents.get(owner_uid, set())):
                deleted += self._collect_dependent(storage_key, key, owner_uid)
            self._finish_foreground(owner_uid)
        for ns in sorted(self._terminating_namespaces):
            deleted += self._drain_namespace(ns)
        return deleted

    def has_garbage(self) -> bool:
        return bool(self._gc_queue) or bool(self._terminating_namespaces)

    def _collect_dependent(self, storage_key: StorageKey, key: ObjectKey, owner_uid: str) -> int:
        obj = self._objects.get(storage_key, {}).get(key)
        if obj is None:
            return 0
        owners = obj["metadata"].get("ownerReferences") or []
        alive = [
            o
            for o in owners
            if o.get("uid") in self._uids
            and o.get("uid") != owner_uid
            and not self._is_deleting_uid(str(o.get("uid")))
        ]
        if alive:
            return self._strip_owner(storage_key, key, obj, owner_uid)
        rt = self._type_of_stored(storage_key, obj)
        if rt is None:
            return 0
        try:
            self.delete(rt, key[0], key[1])
        except ApiError:
            return 0
        return 1

    def _strip_owner(
        self, storage_key: StorageKey, key: ObjectKey, obj: JSON, owner_uid: str
    ) -> int:
        """A dependent with other live owners loses only the reference to the deleted one."""
        owners = obj["metadata"].get("ownerReferences") or []
        if owner_uid in self._uids or not any(o.get("uid") == owner_uid for o in owners):
            return 0
        rt = self._type_of_stored(storage_key, obj)
        if rt is None:
            return 0
        new = dict(obj)
        new["metadata"] = dict(obj["metadata"])
        new["metadata"]["ownerReferences"] = [o for o in owners if o.get("uid") != owner_uid]
        self._update(rt, obj, new, subresource="", dry_run=False, internal=True)
        return 0

    def _is_deleting_uid(self, uid: str) -> bool:
        where = self._uids.get(uid)
        if where is None:
            return True
        obj = self._objects.get(where[0], {}).get(where[1])
        return obj is None or (
            "foregroundDeletion" in (obj["metadata"].get("finalizers") or [])
            and bool(obj["metadata"].get("deletionTimestamp"))
        )

    def _finish_foreground(self, owner_uid: str) -> None:
        where = self._uids.get(owner_uid)
        if where is None or self._dependents.get(owner_uid):
            return
        obj = self._objects.get(where[0], {}).get(where[1])
        if obj is None or "foregroundDeletion" not in (obj["metadata"].get("finalizers") or []):
            return
        rt = self._type_of_stored(where[0], obj)
        if rt is None:
            return
        new = dict(obj)
        new["metadata"] = dict(obj["metadata"])
        new["metadata"]["finalizers"] = [
            f for f in obj["metadata"]["finalizers"] if f != "foregroundDeletion"
        ]
        self._update(rt, obj, new, subresource="", dry_run=False, internal=True)

    def _orphan_dependents(self, owner_uid: str) -> None:
        for storage_key, key in sorted(self._dependents.get(owner_uid, set())):
            obj = self._objects.get(storage_key, {}).get(key)
            rt = self._type_of_stored(storage_key, obj) if obj else None
            if obj is None or rt is None:
                continue
            new = dict(obj)
            new["metadata"] = dict(obj["metadata"])
            new["metadata"]["ownerReferences"] = [
                o for o in obj["metadata"].get("ownerReferences") or [] if o.get("uid") != owner_uid
            ] or None
            if new["metadata"]["ownerReferences"] is None:
                del new["metadata"]["ownerReferences"]
            self._update(rt, obj, new, subresource="", dry_run=False, internal=True)

    def _terminate_namespace(self, rt: ResourceType, old: JSON) -> JSON:
        name = old["metadata"]["name"]
        if old["metadata"].get("deletionTimestamp"):
            return old
        new = dict(old)
        new["metadata"] = dict(old["metadata"], deletionTimestamp=rfc3339(self.clock()))
        new["status"] = {"phase": "Terminating"}
        self._terminating_namespaces.add(name)
        return self._commit(rt, ("", name), new, old)

    def _drain_namespace(self, ns: str) -> int:
        removed = 0
        pending = False
        for storage_key, bucket in list(self._objects.items()):
            if storage_key == NAMESPACES:
                continue
            for key in [k for k in bucket if k[0] == ns]:
                obj = bucket[key]
                rt = self._type_of_stored(storage_key, obj)
                if rt is None:
                    continue
                if obj["metadata"].get("finalizers"):
                    pending = True
                    if not obj["metadata"].get("deletionTimestamp"):
                        self.delete(rt, ns, key[1])
                    continue
                self._remove(rt, key, obj)
                removed += 1
        if not pending:
            self._terminating_namespaces.discard(ns)
            ns_obj = self._objects.get(NAMESPACES, {}).get(("", ns))
            if ns_obj is not None:
                self._remove(self.type_for("", "v1", "namespaces"), ("", ns), ns_obj)
        return removed

    # --------------------------------------------------------------- helpers

    def _scope(self, rt: ResourceType, subresource: str) -> managed_fields.Scope:
        schema = patches.patch_schema_for(rt.group, rt.version, rt.kind) if rt.builtin else None
        return managed_fields.Scope(schema, rt.status, subresource)

    def _plan_apply(
        self, rt: ResourceType, live: JSON | None, apply: ApplyRequest, subresource: str
    ) -> managed_fields.ApplyPlan:
        return managed_fields.plan_apply(
            live,
            apply.config,
            manager=apply.manager,
            force=apply.force,
            api_version=rt.api_version,
            now=rfc3339(self.clock()),
            scope=self._scope(rt, subresource),
        )

    def take_warnings(self) -> builtins.list[str]:
        """The `Warning` header values of the last write (and forget them)."""
        out, self._warnings = self._warnings, []
        return out

    def _unknown_fields(self, rt: ResourceType, paths: builtins.list[str], policy: str) -> None:
        """Apply the request's fieldValidation to the unknown fields admission dropped."""
        if not paths or policy == "Ignore":
            return
        if policy == "Strict":
            message = declared_fields.strict_message(paths, builtin=rt.builtin)
            if rt.builtin:
                message = (
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    f"{message}"
                )
            raise errors.bad_request(message)
        self._warnings.extend(declared_fields.warning_header(p) for p in paths)

    def _bucket(self, rt: ResourceType) -> dict[ObjectKey, JSON]:
        return self._objects.setdefault(rt.storage_key, {})

    def _key(self, rt: ResourceType, obj: JSON) -> ObjectKey:
        meta = obj["metadata"]
        return (meta.get("namespace", "") if rt.namespaced else "", meta["name"])

    def _existing(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        obj = self._bucket(rt).get((namespace if rt.namespaced else "", name))
        if obj is None:
            raise errors.not_found(plural=rt.plural, group=rt.group, name=name)
        return obj

    def view(self, rt: ResourceType, obj: JSON) -> JSON:
        """A stored object as `rt`'s group and version serve it."""
        return self._as_version(rt, obj)

    def _as_version(self, rt: ResourceType, obj: JSON) -> JSON:
        if obj.get("apiVersion") == rt.api_version and obj.get("kind") == rt.kind:
            return obj
        if rt.builtin and event_views.served_as_events_v1(rt.group, rt.plural):
            return event_views.to_events_v1(obj)
        return dict(obj, apiVersion=rt.api_version, kind=rt.kind)

    def _type_of_stored(self, storage_key: StorageKey, obj: JSON) -> ResourceType | None:
        api_version = str(obj.get("apiVersion", ""))
        version = api_version.rsplit("/", 1)[-1]
        rt = self._types.get((storage_key[0], version, storage_key[1]))
        if rt is not None:
            return rt
        for (group, _, plural), candidate in self._types.items():
            if (group, plural) == storage_key:
                return candidate
        return None

    def _check_namespace(self, rt: ResourceType, namespace: str, meta: JSON) -> str:
        if not rt.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        namespace = namespace or str(body_ns or "")
        if not namespace:
            raise errors.bad_request("an empty namespace may not be set during creation")
        if ("", namespace) not in self._objects.get(NAMESPACES, {}):
            raise errors.not_found(plural="namespaces", group="", name=namespace)
        if namespace in self._terminating_namespaces:
            raise ApiError(
                403,
                "Forbidden",
                f'{rt.plural} "{meta.get("name", "")}" is forbidden: unable to create new content '
                f"in namespace {namespace} because it is being terminated",
                name=str(meta.get("name", "")),
                group=rt.group,
                kind=rt.plural,
                causes=(
                    errors.StatusCause(
                        "NamespaceTerminating",
                        f"namespace {namespace} is being terminated",
                        "metadata.namespace",
                    ),
                ),
            )
        return namespace

    @staticmethod
    def _check_kind(rt: ResourceType, body: JSON) -> None:
        kind = body.get("kind")
        api_version = body.get("apiVersion")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
                if api_version and api_version != rt.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        body["apiVersion"] = rt.api_version
        body["kind"] = rt.kind

    def _check_precondition(self, rt: ResourceType, old: JSON, rv: str | None, uid: object) -> None:
        meta = old["metadata"]
        name = meta["name"]
        if uid and uid != meta["uid"]:
            raise errors.conflict(
                plural=rt.plural,
                group=rt.group,
                name=name,
                why=f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{meta['uid']}",
            )
        if rv is not None and rv != meta["resourceVersion"]:
            raise errors.conflict(plural=rt.plural, group=rt.group, name=name)

    def _update(
        self,
        rt: ResourceType,
        old: JSON,
        new: JSON,
        *,
        subresource: str,
        dry_run: bool,
        internal: bool = False,
        field_validation: str = "Ignore",
        manager: str | None = None,
        managed: builtins.list[JSON] | None = None,
    ) -> JSON:
        """Shared tail of replace and patch: merge subresource views, admit, bump, commit."""
        # Patches share unchanged subtrees with the stored object; admission and the
        # metadata updates below write in place, so work on a private copy.
        merged = admission.merge_subresource(rt, old, _stored_form(rt, new), subresource)
        merged_meta = merged.get("metadata")
        if isinstance(merged_meta, dict) and "managedFields" in merged_meta:
            # Never copied: the server rebuilds them below, sharing what did not change.
            merged = dict(merged, metadata=_without(merged_meta, "managedFields"))
        new = _deep_copy(merged)
        new["apiVersion"] = old["apiVersion"] if rt.storage else rt.api_version
        new["kind"] = rt.kind
        meta = _meta(new)
        old_meta = old["metadata"]
        for fixed in (
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        meta.pop("managedFields", None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if not internal:
            unknown = admission.admit(self, rt, new, old, subresource=subresource)
            self._unknown_fields(rt, unknown, field_validation)
            meta = _meta(new)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise errors.invalid(
                    kind=rt.kind,
                    group=rt.group,
                    name=old_meta["name"],
                    causes=[
                        errors.StatusCause(
                            "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is "
                            "being deleted",
                            "metadata.finalizers",
                        )
                    ],
                )
        if (
            "generation" in old_meta
            and subresource != "status"
            and admission.spec_changed(rt, old, new)
        ):
            meta["generation"] = int(old_meta["generation"]) + 1
        if old_meta.get("managedFields"):
            meta["managedFields"] = old_meta["managedFields"]
        same = new == old
        if managed is not None:
            if same and managed_fields.same_owners(managed, old_meta.get("managedFields")):
                return old
            meta["managedFields"] = managed
        elif same:
            return old
        elif manager:
            meta["managedFields"] = managed_fields.after_update(
                old,
                new,
                manager=manager,
                api_version=rt.api_version,
                now=rfc3339(self.clock()),
                scope=self._scope(rt, subresource),
            )
        if not meta.get("managedFields"):
            meta.pop("managedFields", None)
        if dry_run:
            return new
        if old_meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(rt, self._key(rt, old), new, previous=old)
        return self._commit(rt, self._key(rt, old), new, old)

    def _commit(self, rt: ResourceType, key: ObjectKey, obj: JSON, old: JSON | None) -> JSON:
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        self._bucket(rt)[key] = obj
        self._index(rt, key, obj, old)
        if rt.storage_key == CRDS:
            self._register_crd(obj, old)
        self._record(
            WatchEvent(self._rv, "MODIFIED" if old else "ADDED", rt.storage_key, key[0], obj, old)
        )
        return obj

    def _remove(
        self, rt: ResourceType, key: ObjectKey, obj: JSON, previous: JSON | None = None
    ) -> JSON:
        self._rv += 1
        gone = dict(obj)
        gone["metadata"] = dict(obj["metadata"], resourceVersion=str(self._rv))
        del self._bucket(rt)[key]
        self._unindex(rt, key, previous or obj)
        uid = obj["metadata"]["uid"]
        self._uids.pop(uid, None)
        if self._dependents.get(uid):
            self._gc_queue.append(uid)
        if rt.storage_key == CRDS:
            self._unregister_crd(obj)
            self._objects.pop((obj["spec"]["group"], obj["spec"]["names"]["plural"]), None)
        self._record(WatchEvent(self._rv, "DELETED", rt.storage_key, key[0], gone, previous or obj))
        return gone

    def _record(self, event: WatchEvent) -> None:
        self._history.append(event)
        while len(self._history) > self.history_limit:
            self._compacted_rv = self._history.popleft().rv
        for sub in list(self._subscribers.get(event.storage_key, ())):
            if sub.active:
                sub.listener(event)

    def _index(self, rt: ResourceType, key: ObjectKey, obj: JSON, old: JSON | None) -> None:
        if old is not None:
            self._unindex(rt, key, old)
        self._uids[obj["metadata"]["uid"]] = (rt.storage_key, key)
        for owner in obj["metadata"].get("ownerReferences") or []:
            if owner.get("uid"):
                self._dependents.setdefault(str(owner["uid"]), set()).add((rt.storage_key, key))
                if owner["uid"] not in self._uids:
                    self._gc_queue.append(str(owner["uid"]))

    def _unindex(self, rt: ResourceType, key: ObjectKey, obj: JSON) -> None:
        for owner in obj["metadata"].get("ownerReferences") or []:
            deps = self._dependents.get(str(owner.get("uid")))
            if deps is not None:
                deps.discard((rt.storage_key, key))
                if not deps:
                    del self._dependents[str(owner.get("uid"))]

    # ---------------------------------------------------------------- CRDs

    def _establish_crd(self, crd: JSON) -> JSON:
        admission.check_crd(crd)
        names = crd["spec"]["names"]
        crd["status"] = {
            "acceptedNames": dict(names),
            "storedVersions": [
                v["name"] for v in crd["spec"].get("versions", []) if v.get("storage")
            ],
            "conditions": [
                {
                    "type": t,
                    "status": "True",
                    "reason": r,
                    "message": m,
                    "lastTransitionTime": rfc3339(self.clock()),
                }
                for t, r, m in (
                    ("NamesAccepted", "NoConflicts", "no conflicts found"),
                    ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                )
            ],
        }
        return crd

    def _register_crd(self, crd: JSON, old: JSON | None) -> None:
        if old is not None:
            self._unregister_crd(old)
        for rt in resource_types_from_crd(crd, admission.compile_crd_schema):
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def _unregister_crd(self, crd: JSON) -> None:
        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        for key in [k for k in self._types if (k[0], k[2]) == (group, plural)]:
            del self._types[key]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def _deep_copy(obj: JSON) -> JSON:
    copied: JSON = _decoder.decode(_encoder.encode(obj))
    return copied


def _stored_form(rt: ResourceType, body: JSON) -> JSON:
    """The form the store keeps (events.k8s.io/v1 Events are kept as core/v1 Events)."""
    if rt.builtin and event_views.served_as_events_v1(rt.group, rt.plural):
        return event_views.to_core(body)
    return body


def _random_suffix() -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(5))


def _encode_continue(key: ObjectKey) -> str:
    raw = json.dumps({"ns": key[0], "name": key[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> ObjectKey:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (str(data["ns"]), str(data["name"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc
