"""The load tester's HTTP API (aiohttp) and its lifecycle. Does I/O.

`create_app` builds the application from a `LoadTesterConfig`; `LoadTesterServer` runs it on
`host:port` (port 0 picks a free one); `run_until_signalled` serves until SIGINT or SIGTERM.
See the package docstring for the API and its differences from Flagger's load tester.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import os
import re
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from ensign.loadtester.gates import DEFAULT_MAX_OPEN, GateKind, GateStore, TooManyGates
from ensign.loadtester.runner import (
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_OUTPUT,
    DEFAULT_TIMEOUT,
    CommandResult,
    CommandRunner,
)
from ensign.loadtester.tasks import (
    Payload,
    Plan,
    Policy,
    RequestError,
    parse_payload,
    parse_task,
    plan,
)

log = logging.getLogger("ensign.loadtester")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9090
"""Flagger's `-port` default (its manifests pass 8080)."""
DEFAULT_MAX_BODY = 64 * 1024
"""Largest accepted request body in bytes."""
TOKEN_ENV = "ENSIGN_LOADTESTER_TOKEN"
"""Environment variable holding the bearer token (never passed on to commands)."""

APPROVED: Final = "Approved"
FORBIDDEN: Final = "Forbidden"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadTesterConfig:
    """Everything the server needs; the defaults run no commands and bind to loopback.

    `token` (when set) must accompany every request but `/healthz`; `namespace_regexp`
    (when set) must match the payload namespace (Go `MatchString`: a search, not anchored);
    `env` is the environment of commands (None: the server's, minus `TOKEN_ENV`);
    `shutdown_timeout` is how long in-flight requests may finish when stopping.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    policy: Policy = field(default_factory=Policy)
    token: str | None = None
    namespace_regexp: str = ""
    timeout: float = DEFAULT_TIMEOUT
    max_body: int = DEFAULT_MAX_BODY
    max_output: int = DEFAULT_MAX_OUTPUT
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    max_open_gates: int = DEFAULT_MAX_OPEN
    env: dict[str, str] | None = None
    shutdown_timeout: float = 10.0


def create_app(config: LoadTesterConfig) -> web.Application:
    """The aiohttp application serving the load tester API under `config`."""
    api = _Api(config)
    app = web.Application(
        client_max_size=config.max_body, middlewares=[_guard(config.token, config.max_body)]
    )
    app.router.add_route("*", "/healthz", api.healthz)
    app.router.add_route("*", "/gate/approve", api.approve)
    app.router.add_route("*", "/gate/halt", api.halt)
    for kind in GateKind:
        app.router.add_route("*", f"/{kind.value}/check", api.check(kind))
        app.router.add_route("*", f"/{kind.value}/open", api.change(kind, opened=True))
        app.router.add_route("*", f"/{kind.value}/close", api.change(kind, opened=False))
    app.router.add_post("/", api.task)
    app[_API_KEY] = api

    async def close_runner(_: web.Application) -> None:
        await api.runner.aclose()

    app.on_cleanup.append(close_runner)
    return app


class _Api:
    def __init__(self, config: LoadTesterConfig) -> None:
        self.config = config
        self.gates = GateStore(max_open=config.max_open_gates)
        env = config.env
        if env is None:
            env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
        self.runner = CommandRunner(
            timeout=config.timeout,
            max_output=config.max_output,
            max_concurrent=config.max_concurrent,
            env=env,
        )
        self._namespaces = re.compile(config.namespace_regexp) if config.namespace_regexp else None

    # ------------------------------------------------------------------ plain endpoints

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def approve(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def halt(self, request: web.Request) -> web.Response:
        return web.Response(status=403, text=FORBIDDEN)

    # ------------------------------------------------------------------ gates

    def check(self, kind: GateKind) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                payload = await self._payload(request)
            except RequestError as exc:
                return _refusal(exc)
            if self.gates.is_open(kind, payload.name, payload.namespace):
                return web.Response(text=APPROVED)
            return web.Response(status=403, text=FORBIDDEN)

        return handler

    def change(self, kind: GateKind, *, opened: bool) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            try:
                payload = await self._payload(request)
                if opened:
                    self.gates.open(kind, payload.name, payload.namespace)
                else:
                    self.gates.close(kind, payload.name, payload.namespace)
            except RequestError as exc:
                return _refusal(exc)
            except TooManyGates as exc:
                return web.Response(status=429, text=str(exc))
            log.info(
                "%s gate %s for %s.%s",
                kind.value,
                "opened" if opened else "closed",
                payload.name,
                payload.namespace,
            )
            return web.Response(status=202)

        return handler

    # ------------------------------------------------------------------ tasks

    async def task(self, request: web.Request) -> web.Response:
        try:
            payload = await self._payload(request)
            work = plan(parse_task(payload), self.config.policy)
        except RequestError as exc:
            return _refusal(exc)
        if not work.task.synchronous and self.runner.is_running(work.key):
            log.info("command skipped %s is already running", work.task.cmd)
            return web.Response(status=202, text="command skipped: already running")
        slot = self.runner.reserve()
        if slot is None:
            limit = self.runner.max_concurrent
            return web.Response(status=429, text=f"too many commands running (limit {limit})")
        if not work.task.synchronous:
            log.info("command starting %s", work.task.cmd)
            self.runner.start(work.key, work.argv, slot, lambda result: _finished(work, result))
            return web.Response(status=202)
        result = await self.runner.run(work.argv, slot)
        _finished(work, result, always_log=True)
        if not result.ok:
            text = f"command {work.task.cmd} failed: {result.text()}: {result.error}"
            return web.Response(status=500, text=text)
        return web.Response(text=result.text() if work.task.return_output else "")

    # ------------------------------------------------------------------ helpers

    async def _payload(self, request: web.Request) -> Payload:
        payload = parse_payload(await request.read())
        if self._namespaces is not None and not self._namespaces.search(payload.namespace):
            raise RequestError(403, FORBIDDEN)
        return payload


_API_KEY: web.AppKey[_Api] = web.AppKey("ensign.loadtester.api", _Api)


def _finished(work: Plan, result: CommandResult, *, always_log: bool = False) -> None:
    target = f"{work.task.payload.name}.{work.task.payload.namespace}"
    if result.ok:
        log.info("command finished %s (%s, %.2fs)", work.task.cmd, target, result.elapsed)
    else:
        log.warning("command failed %s (%s): %s", work.task.cmd, target, result.error)
    if always_log or work.task.log_output:
        log.info("command output %s: %s", work.task.cmd, result.text().rstrip("\n"))


def _refusal(exc: RequestError) -> web.Response:
    return web.Response(status=exc.status, text=exc.reason)


def _guard(token: str | None, max_body: int) -> Middleware:
    """Middleware: the token (when configured), then the declared body size."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token and request.path != "/healthz" and not authorised(request, token):
            return web.Response(
                status=401,
                text="Unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="ensign-loadtester"'},
            )
        declared = request.content_length
        if declared is not None and declared > max_body:
            raise web.HTTPRequestEntityTooLarge(
                max_size=max_body, actual_size=declared, headers={"Connection": "close"}
            )
        return await handler(request)

    return guard


def authorised(request: web.Request, token: str) -> bool:
    """Whether the request carries `token`: `Bearer <token>`, or Basic auth with it as password.

    Basic auth lets a plain webhook URL carry the token (`http://x:<token>@host/...`): neither
    Flagger nor Ensign can add headers to webhook calls, but both send URL credentials.
    """
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        offered = value.encode()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        offered = decoded.partition(b":")[2]
    else:
        return False
    return hmac.compare_digest(offered, token.encode())


# ---------------------------------------------------------------------------- lifecycle


class LoadTesterServer:
    """The API listening on `config.host:config.port` (0: a free port, see `port`)."""

    def __init__(self, config: LoadTesterConfig) -> None:
        self.config = config
        self.app = create_app(config)
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}"

    @property
    def gates(self) -> GateStore:
        return self.app[_API_KEY].gates

    @property
    def runner(self) -> CommandRunner:
        return self.app[_API_KEY].runner

    async def start(self) -> LoadTesterServer:
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.config.shutdown_timeout,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> LoadTesterServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve(config: LoadTesterConfig, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then stop and kill running commands."""
    async with LoadTesterServer(config) as server:
        policy = config.policy
        log.info(
            "Starting Ensign load tester API on %s (commands %s, shell %s)",
            server.url,
            "on" if policy.allow_commands else "off",
            "on" if policy.allow_shell else "off",
        )
        await stop.wait()
    log.info("load tester stopped")


async def run_until_signalled(config: LoadTesterConfig) -> None:
    """`serve` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(config, stop)
