"""Fault injection for tests: failed requests, latency, dropped watches, compaction. Pure data.

Rules are matched against each request's verb and resource (plural, optionally namespace
and name). The server consults `Faults.before_request` at the start of every API call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ensign.localcluster.errors import ApiError

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(slots=True, kw_only=True)
class FailureRule:
    """Fail the next `remaining` requests that match, with `code`."""

    verb: str  # get, list, watch, create, update, patch, delete, deletecollection or "*"
    resource: str  # plural, or "*"
    code: int
    remaining: int
    namespace: str | None = None
    name: str | None = None
    message: str = "injected fault"

    def matches(self, *, verb: str, resource: str, namespace: str, name: str) -> bool:
        return (
            self.remaining > 0
            and self.verb in ("*", verb)
            and self.resource in ("*", resource)
            and (self.namespace is None or self.namespace == namespace)
            and (self.name is None or self.name == name)
        )


@dataclass(slots=True, kw_only=True)
class LatencyRule:
    verb: str
    resource: str
    seconds: float

    def matches(self, *, verb: str, resource: str) -> bool:
        return self.verb in ("*", verb) and self.resource in ("*", resource)


@dataclass(slots=True)
class Faults:
    """The active fault rules of one local cluster."""

    failures: list[FailureRule] = field(default_factory=list)
    latencies: list[LatencyRule] = field(default_factory=list)
    injected: int = 0

    def fail_next(
        self,
        verb: str,
        resource: str,
        *,
        code: int = 500,
        count: int = 1,
        namespace: str | None = None,
        name: str | None = None,
        message: str = "injected fault",
    ) -> FailureRule:
        """Make the next `count` matching requests fail with HTTP `code`."""
        rule = FailureRule(
            verb=verb,
            resource=resource,
            code=code,
            remaining=count,
            namespace=namespace,
            name=name,
            message=message,
        )
        self.failures.append(rule)
        return rule

    def add_latency(self, verb: str, resource: str, seconds: float) -> LatencyRule:
        rule = LatencyRule(verb=verb, resource=resource, seconds=seconds)
        self.latencies.append(rule)
        return rule

    def clear(self) -> None:
        self.failures.clear()
        self.latencies.clear()

    def before_request(
        self, *, verb: str, resource: str, namespace: str, name: str
    ) -> tuple[float, ApiError | None]:
        """The delay to add and the error to answer with, if any rule matches."""
        delay = sum(r.seconds for r in self.latencies if r.matches(verb=verb, resource=resource))
        for rule in self.failures:
            if rule.matches(verb=verb, resource=resource, namespace=namespace, name=name):
                rule.remaining -= 1
                self.injected += 1
                self.failures = [r for r in self.failures if r.remaining > 0]
                error = ApiError(
                    rule.code,
                    _REASONS.get(rule.code, "InternalError"),
                    rule.message,
                    retry_after_seconds=1 if rule.code in (429, 503) else None,
                )
                return delay, error
        return delay, None
