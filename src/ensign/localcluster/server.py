"""The HTTP face of the local cluster: the Kubernetes REST protocol on 127.0.0.1. Does I/O.

One catch-all aiohttp route parses the path (`paths.parse`) and dispatches by verb to the
`Store`. Errors leave as `Status` objects with `Content-Type: application/json` exactly,
which is what lightkube needs to raise `ApiError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
import yaml
from aiohttp import web

from ensign.localcluster import (
    admission,
    declared_fields,
    discovery,
    errors,
    event_views,
    openapi,
    patches,
    paths,
    tables,
)
from ensign.localcluster.errors import ApiError
from ensign.localcluster.faults import Faults
from ensign.localcluster.kinds import ResourceType
from ensign.localcluster.selectors import (
    FieldRequirement,
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from ensign.localcluster.store import JSON, ApplyRequest, Store, WatchEvent

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
JSON_CT = "application/json"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_TRUE = frozenset({"true", "True", "1"})


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(body), status=status, headers={"Content-Type": JSON_CT})


def error_response(error: ApiError) -> web.Response:
    response = json_response(error.to_status(), status=error.code)
    if error.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


class ApiServer:
    """Request handling over a `Store`, with fault injection and watch streams."""

    def __init__(
        self,
        store: Store,
        faults: Faults,
        *,
        bookmark_interval: float = 60.0,
        default_watch_timeout: float = 1800.0,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.faults = faults
        self.bookmark_interval = bookmark_interval
        self.default_watch_timeout = default_watch_timeout
        self.on_write = on_write
        # How long a list naming a resourceVersion newer than the store's waits for it before
        # answering 504 ResourceVersionTooLarge (a real apiserver waits about 3 s).
        self.resource_version_wait = 3.0
        self.requests_served = 0
        self._watch_tasks: set[asyncio.Task[Any]] = set()
        self._expire_watches = asyncio.Event()
        self._drop_generation = 0
        self.address = ""

    def application(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # ------------------------------------------------------------ controls

    def drop_watches(self) -> None:
        """Close every open watch stream (clients see the stream end, as after a timeout)."""
        self._drop_generation += 1
        for task in list(self._watch_tasks):
            task.cancel()

    # ------------------------------------------------------------ dispatch

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests_served += 1
        path = request.path
        if path.rstrip("/") in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok", content_type="text/plain")
        if path.rstrip("/") == "/version":
            return json_response(discovery.version_info())
        if path.startswith("/openapi/v3"):
            return self._openapi(path)
        if path.startswith("/openapi/v2"):
            return error_response(errors.route_not_found())
        try:
            target = paths.parse(path)
            if target is None:
                raise errors.route_not_found()
            if not target.plural:
                return json_response(discovery.document(self.store, target, self.address))
            return await self._resource(request, target)
        except ApiError as exc:
            return error_response(exc)
        except ConnectionResetError:  # the client went away (e.g. its timeout): not our error
            log.debug("client disconnected during %s %s", request.method, path)
            raise
        except Exception as exc:  # a bug here must answer like an apiserver, not drop the socket
            log.exception("internal error serving %s %s", request.method, path)
            return error_response(
                ApiError(500, "InternalError", f"Internal error occurred: {exc!r}")
            )

    def _openapi(self, path: str) -> web.Response:
        rest = path[len("/openapi/v3") :].strip("/")
        if not rest:
            return json_response(openapi.root(self.store))
        parts = rest.split("/")
        group, version = (
            ("", parts[1])
            if parts[0] == "api" and len(parts) == 2
            else ((parts[1], parts[2]) if parts[0] == "apis" and len(parts) == 3 else ("", ""))
        )
        doc = openapi.group_version(self.store, group, version) if version else None
        if doc is None:
            return error_response(errors.route_not_found())
        return json_response(doc)

    async def _resource(self, request: web.Request, target: paths.Target) -> web.StreamResponse:
        rt = self.store.find_type(target.group, target.version, target.plural)
        if rt is None:
            raise errors.route_not_found()
        if target.namespace and not rt.namespaced:
            raise errors.route_not_found()
        if target.subresource and (
            target.subresource not in ("status", "scale")
            or (target.subresource == "status" and not rt.status)
            or (target.subresource == "scale" and rt.scale is None)
        ):
            raise errors.route_not_found()
        if (
            rt.namespaced
            and target.name == ""
            and not target.namespace
            and request.method
            in (
                "POST",
                "DELETE",
            )
        ):
            raise errors.route_not_found()
        verb = _verb(request, target)
        delay, fault = self.faults.before_request(
            verb=verb, resource=rt.plural, namespace=target.namespace, name=target.name
        )
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            raise fault
        handler = getattr(self, f"_do_{verb}")
        self.store.take_warnings()  # none left over from a write that failed
        response: web.StreamResponse = await handler(request, rt, target)
        if verb not in ("get", "list", "watch") and self.on_write is not None:
            self.on_write()
        return response

    # ------------------------------------------------------------- verbs

    async def _do_get(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.Response:
        obj = self.store.get(rt, t.namespace, t.name)
        if t.subresource == "scale":
            from ensign.localcluster.admission import scale_view

            return json_response(scale_view(rt, obj))
        if tables.wants_table(request.headers.get("Accept", "")):
            return json_response(tables.table(rt, [obj], self.store.resource_version, now()))
        return json_response(obj)

    async def _do_list(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.Response:
        q = request.query
        labels, fields = _selectors(rt, q)
        limit = _int_param(q, "limit")
        if q.get("resourceVersion", "") not in ("", "0"):
            await self._wait_for_resource_version(_parse_rv(q["resourceVersion"]))
        items, token, remaining = self.store.list(
            rt,
            t.namespace or None,
            labels=labels,
            fields=fields,
            limit=limit,
            continue_token=q.get("continue", ""),
        )
        rv = str(self.store.resource_version)
        if tables.wants_table(request.headers.get("Accept", "")):
            body = tables.table(rt, items, self.store.resource_version, now())
            body["metadata"] = _list_meta(rv, token, remaining)
            return json_response(body)
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": _list_meta(rv, token, remaining),
                "items": items,
            }
        )

    async def _wait_for_resource_version(self, wanted: int) -> None:
        """Wait (up to `resource_version_wait`) until the store has reached `wanted`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resource_version_wait
        while self.store.resource_version < wanted:
            if loop.time() >= deadline:
                raise errors.resource_version_too_large(wanted, self.store.resource_version)
            await asyncio.sleep(min(0.05, max(deadline - loop.time(), 0)))

    async def _do_create(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.Response:
        body = await _read_object(request)
        obj = self.store.create(
            rt,
            t.namespace,
            body,
            dry_run=_dry_run(request),
            field_validation=_field_validation(request),
            manager=_field_manager(request),
        )
        return self._warned(json_response(obj, status=201))  # already in rt's view

    async def _do_update(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.Response:
        body = await _read_object(request)
        existed = self.store.exists(rt, t.namespace, t.name)
        obj = self.store.replace(
            rt,
            t.namespace,
            t.name,
            body,
            subresource=t.subresource,
            dry_run=_dry_run(request),
            field_validation=_field_validation(request),
            manager=_field_manager(request),
        )
        return self._warned(self._written(rt, t, obj, created=not existed))

    async def _do_patch(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.Response:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(content_type, PATCH_TYPES)
        raw = await request.read()
        patcher, apply = _patcher(rt, t, content_type, raw, request.query)
        existed = self.store.exists(rt, t.namespace, t.name)
        obj = self.store.patch(
            rt,
            t.namespace,
            t.name,
            patcher,
            subresource=t.subresource,
            dry_run=_dry_run(request),
            create_if_missing=apply is not None,
            field_validation=_field_validation(request),
            manager=_field_manager(request),
            apply=apply,
        )
        return self._warned(self._written(rt, t, obj, created=not existed))

    async def _do_delete(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.Response:
        options = await _delete_options(request)
        preconditions = options.get("preconditions") or {}
        obj = self.store.delete(
            rt,
            t.namespace,
            t.name,
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            propagation=str(options.get("propagationPolicy") or "Background"),
            dry_run=bool(options.get("dryRun")),
        )
        immediate = not (obj.get("metadata") or {}).get("deletionTimestamp")
        answer = admission.deleted_answer(rt, self.store.view(rt, obj), immediate=immediate)
        return json_response(answer)

    async def _do_deletecollection(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.Response:
        if "deletecollection" in rt.missing_verbs:  # namespaces: 405, as kube-apiserver
            raise errors.method_not_allowed()
        labels, fields = _selectors(rt, request.query)
        items = self.store.delete_collection(rt, t.namespace or None, labels=labels, fields=fields)
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": items,
            }
        )

    def _warned(self, response: web.Response) -> web.Response:
        """Add the `Warning: 299` headers of the write just done (fieldValidation=Warn)."""
        for warning in self.store.take_warnings():
            response.headers.add("Warning", warning)
        return response

    def _written(
        self, rt: ResourceType, t: paths.Target, obj: JSON, *, created: bool = False
    ) -> web.Response:
        if t.subresource == "scale":
            return json_response(admission.scale_view(rt, obj))
        return json_response(obj, status=201 if created else 200)

    # -------------------------------------------------------------- watch

    async def _do_watch(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._watch_tasks.add(task)
        try:
            return await self._stream(request, rt, t)
        finally:
            self._watch_tasks.discard(task)

    async def _stream(
        self, request: web.Request, rt: ResourceType, t: paths.Target
    ) -> web.StreamResponse:
        q = request.query
        labels, fields = _selectors(rt, q)
        if t.name:
            fields = parse_field_selector(f"metadata.name={t.name}", rt.supported_field_labels)
        timeout = float(_int_param(q, "timeoutSeconds") or self.default_watch_timeout)
        bookmarks = q.get("allowWatchBookmarks", "") in _TRUE
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        sub = self.store.subscribe(rt.storage_key, queue.put_nowait)
        response = web.StreamResponse(headers={"Content-Type": JSON_CT})
        response.enable_chunked_encoding()
        try:
            rv = q.get("resourceVersion", "")
            initial: list[bytes] = []
            error: ApiError | None = None
            if rv in ("", "0"):
                since = self.store.resource_version
                items, _, _ = self.store.list(rt, t.namespace or None, labels=labels, fields=fields)
                initial = [self._encode_event(rt, "ADDED", o, as_table) for o in items]
            else:
                since = _parse_rv(rv)
                try:
                    backlog = self.store.history_since(rt.storage_key, since)
                except ApiError as exc:
                    error = exc
                    backlog = []
                for event in backlog:
                    line = self._event_line(rt, t, event, labels, fields, as_table)
                    if line:
                        initial.append(line)
                    since = event.rv
            await response.prepare(request)
            if error is not None:
                await _write_line(response, _encode({"type": "ERROR", "object": error.to_status()}))
                return response
            for line in initial:
                await _write_line(response, line)
            await self._pump(
                response,
                rt,
                t,
                queue,
                since=since,
                duration=timeout,
                bookmarks=bookmarks,
                labels=labels,
                fields=fields,
                as_table=as_table,
            )
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.unsubscribe(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    async def _pump(
        self,
        response: web.StreamResponse,
        rt: ResourceType,
        t: paths.Target,
        queue: asyncio.Queue[WatchEvent],
        *,
        since: int,
        duration: float,
        bookmarks: bool,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
        as_table: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        next_bookmark = loop.time() + self.bookmark_interval
        last_rv = since
        while True:
            now_t = loop.time()
            if now_t >= deadline:
                break
            wait = min(deadline, next_bookmark) - now_t if bookmarks else deadline - now_t
            try:
                if queue.empty():  # asyncio.timeout: no task per event, unlike wait_for
                    async with asyncio.timeout(max(wait, 0)):
                        event = await queue.get()
                else:
                    event = queue.get_nowait()
            except TimeoutError:
                if bookmarks and loop.time() >= next_bookmark:
                    await _write_line(response, self._bookmark(rt, last_rv))
                    next_bookmark = loop.time() + self.bookmark_interval
                continue
            if event.rv <= last_rv:
                continue
            last_rv = event.rv
            line = self._event_line(rt, t, event, labels, fields, as_table)
            if line:
                await _write_line(response, line)
        if bookmarks:
            await _write_line(response, self._bookmark(rt, max(last_rv, since)))

    def _bookmark(self, rt: ResourceType, rv: int) -> bytes:
        return _encode(
            {
                "type": "BOOKMARK",
                "object": {
                    "kind": rt.kind,
                    "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": str(rv)},
                },
            }
        )

    def _event_line(
        self,
        rt: ResourceType,
        t: paths.Target,
        event: WatchEvent,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
        as_table: bool = False,
    ) -> bytes | None:
        if t.namespace and event.namespace != t.namespace:
            return None
        new_ok = Store.matches(event.obj, labels, fields)
        old_ok = event.old is not None and Store.matches(event.old, labels, fields)
        kind = event.type
        if kind == "DELETED":
            if not (old_ok or new_ok):
                return None
        elif new_ok and not old_ok:
            kind = "ADDED"
        elif old_ok and not new_ok:
            # Leaving the selection: the watch cache sends the last matching state of the
            # object, stamped with the version of the change that made it leave.
            assert event.old is not None
            gone = dict(event.old)
            gone["metadata"] = dict(event.old["metadata"], resourceVersion=str(event.rv))
            return self._encode_event(rt, "DELETED", gone, as_table)
        elif not new_ok:
            return None
        if as_table:
            return self._encode_event(rt, kind, event.obj, as_table)
        cache_key = f"{kind} {rt.api_version}"
        line = event.encoded.get(cache_key)
        if line is None:  # encode once, however many watchers there are
            line = event.encoded[cache_key] = self._encode_event(rt, kind, event.obj, False)
        return line

    def _encode_event(self, rt: ResourceType, kind: str, obj: JSON, as_table: bool) -> bytes:
        if as_table:
            rv = int(obj.get("metadata", {}).get("resourceVersion", "0") or 0)
            return _encode({"type": kind, "object": tables.table(rt, [obj], rv, now())})
        return _encode({"type": kind, "object": self.store.view(rt, obj)})


# ---------------------------------------------------------------- helpers


def now() -> datetime:
    return datetime.now(UTC)


async def _write_line(response: web.StreamResponse, line: bytes) -> None:
    await response.write(line + b"\n")


def _verb(request: web.Request, t: paths.Target) -> str:
    method = request.method
    if method == "GET":
        if t.name and not t.legacy_watch and request.query.get("watch", "") not in _TRUE:
            return "get"
        if t.legacy_watch or request.query.get("watch", "") in _TRUE:
            return "watch"
        return "list"
    if method == "POST" and not t.name:
        return "create"
    if method == "PUT" and t.name:
        return "update"
    if method == "PATCH" and t.name:
        return "patch"
    if method == "DELETE":
        return "delete" if t.name else "deletecollection"
    raise errors.method_not_allowed()


def _int_param(q: Any, name: str) -> int:
    raw = q.get(name, "")
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError as exc:
        raise errors.bad_request(f"invalid {name}: {raw!r}") from exc


def _parse_rv(raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise errors.bad_request(
            f'Invalid value: "{raw}": resourceVersion must be an integer'
        ) from exc


def _list_meta(rv: str, token: str, remaining: int) -> JSON:
    meta: JSON = {"resourceVersion": rv}
    if token:
        meta["continue"] = token
        meta["remainingItemCount"] = remaining
    return meta


def _selectors(rt: ResourceType, q: Any) -> tuple[LabelSelector | None, FieldSelector | None]:
    try:
        labels = parse_label_selector(q["labelSelector"]) if q.get("labelSelector") else None
        fields = (
            parse_field_selector(q["fieldSelector"], rt.supported_field_labels)
            if q.get("fieldSelector")
            else None
        )
    except SelectorError as exc:
        raise errors.bad_request(str(exc)) from exc
    if fields is not None and rt.builtin and event_views.served_as_events_v1(rt.group, rt.plural):
        fields = FieldSelector(  # the events.k8s.io/v1 labels select on the stored fields
            tuple(
                FieldRequirement(event_views.CORE_FIELD.get(r.field, r.field), r.value, r.negated)
                for r in fields.requirements
            )
        )
    return labels, fields


def _field_validation(request: web.Request) -> str:
    """The request's fieldValidation policy; Warn when absent, as on a 1.27+ server."""
    policy = request.query.get("fieldValidation", "") or "Warn"
    if policy not in declared_fields.POLICIES:
        raise errors.bad_request(
            f'invalid fieldValidation directive "{policy}": must be one of '
            f"{', '.join(declared_fields.POLICIES)}"
        )
    return policy


def _field_manager(request: web.Request) -> str:
    """`?fieldManager=`, else the product name of the User-Agent (`kubectl/v1.32...` gives
    `kubectl`), as kube-apiserver names the manager of a write."""
    named = request.query.get("fieldManager", "")
    if named:
        return named
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0][:128] or "unknown"


def _dry_run(request: web.Request) -> bool:
    return request.query.get("dryRun", "") == "All"


_PROTOBUF = "application/vnd.kubernetes.protobuf"


def _reject_protobuf(content_type: str) -> None:
    if content_type.startswith(_PROTOBUF):
        raise errors.unsupported_media_type(content_type, ("application/json", "application/yaml"))


async def _read_object(request: web.Request) -> JSON:
    _reject_protobuf(request.headers.get("Content-Type", ""))
    raw = await request.read()
    body = _decode_body(raw, request.headers.get("Content-Type", ""))
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return body


def _decode_body(raw: bytes, content_type: str) -> Any:
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw)
        return _decode(raw)
    except (msgspec.DecodeError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the request body could not be decoded: {exc}") from exc


async def _delete_options(request: web.Request) -> JSON:
    raw = await request.read()
    options: JSON = {}
    if raw.strip():
        decoded = _decode_body(raw, request.headers.get("Content-Type", ""))
        if isinstance(decoded, dict):
            options = decoded
    q = request.query
    if q.get("propagationPolicy"):
        options["propagationPolicy"] = q["propagationPolicy"]
    if q.get("dryRun") == "All" or options.get("dryRun") == ["All"]:
        options["dryRun"] = True
    else:
        options.pop("dryRun", None)
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in ("Background", "Foreground", "Orphan"):
        raise errors.bad_request(
            f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
        )
    return options


def _patcher(
    rt: ResourceType, t: paths.Target, content_type: str, raw: bytes, q: Any
) -> tuple[Callable[[JSON], JSON], ApplyRequest | None]:
    """A function from the current object to the patched one, and for a server-side apply
    (which may create) what was applied by whom."""
    if content_type == "application/apply-patch+yaml":
        if not q.get("fieldManager"):
            raise errors.invalid(
                kind="PatchOptions",
                group="meta.k8s.io",
                name="",
                causes=[
                    errors.StatusCause(
                        "FieldValueRequired",
                        "Required value: is required for apply patch",
                        "fieldManager",
                    )
                ],
            )
        applied = _decode_body(raw, "yaml")
        if not isinstance(applied, dict):
            raise errors.bad_request("apply patch must be an object")
        request = ApplyRequest(applied, str(q["fieldManager"]), q.get("force", "") in _TRUE)
        return _apply_patcher(rt, applied), request
    body = _decode_body(raw, JSON_CT)
    if content_type == "application/json-patch+json":
        if not isinstance(body, list):
            raise errors.bad_request(
                "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
            )
        ops = body
        return _guard(lambda obj: patches.apply_json_patch(obj, ops)), None
    if not isinstance(body, dict):
        raise errors.bad_request("the patch body must be a JSON object")
    if content_type == "application/merge-patch+json":
        return _guard(lambda obj: patches.apply_merge_patch(obj, body)), None
    schema = patches.patch_schema_for(rt.group, rt.version, rt.kind)
    if t.subresource == "scale":
        schema = patches.patch_schema_for("autoscaling", "v1", "Scale")
    if schema is None:
        raise errors.unsupported_media_type(
            content_type,
            [c for c in PATCH_TYPES if c != "application/strategic-merge-patch+json"],
        )
    return _guard(lambda obj: patches.apply_strategic_merge_patch(obj, body, schema)), None


def _apply_patcher(rt: ResourceType, applied: JSON) -> Callable[[JSON], JSON]:
    schema = patches.patch_schema_for(rt.group, rt.version, rt.kind)

    def run(obj: JSON) -> JSON:
        if not obj:
            return applied
        if schema is not None:
            return cast(JSON, patches.apply_strategic_merge_patch(obj, applied, schema))
        return cast(JSON, patches.apply_merge_patch(obj, applied))

    return _guard(run)


def _guard(fn: Callable[[JSON], Any]) -> Callable[[JSON], JSON]:
    def run(obj: JSON) -> JSON:
        try:
            out = fn(obj)
        except patches.PatchError as exc:
            code = int(getattr(exc, "http_status", 422))
            reason = {400: "BadRequest", 413: "RequestEntityTooLarge"}.get(code, "Invalid")
            raise ApiError(code, reason, str(exc)) from exc
        if not isinstance(out, dict):
            raise errors.bad_request("the patch produced a non-object")
        return out

    return run
