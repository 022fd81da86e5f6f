"""A request as a data plane sees it, and what it is routed to. Pure.

`Request` is the input of every routing function; `Routing` their answer: the backends
(Service names) and each one's share in percent, mirrors, the object and rule that decided
it, the response headers it adds (Set-Cookie), and an HTTP status when the data plane answers
itself (404: no route matches; 500: a rule whose backends all weigh 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Destination", "Header", "Mirror", "Request", "Routing", "Rule"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """An HTTP request (or a TCP connection: `protocol="tcp"`). Header names are
    case-insensitive; cookies are read from `cookies` and from a `Cookie` header alike
    (Gateway API, NGINX and Istio match them through the header). A query string in `path`
    is moved to `query`. `port` is the destination port (else the one in `host`, if any);
    `source_labels` and `source_namespace` describe the sending workload in a mesh (Istio
    `sourceLabels`, `sourceNamespace`): empty for a request from outside."""

    host: str = ""
    path: str = "/"
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    scheme: str = "http"
    protocol: str = "http"  # "http" or "tcp"
    port: int | None = None
    source_labels: Mapping[str, str] = field(default_factory=dict)
    source_namespace: str = ""

    def __post_init__(self) -> None:
        path, sep, raw = self.path.partition("?")
        if sep:
            pairs = (part.partition("=") for part in raw.split("&") if part)
            parsed = {k: v for k, _, v in pairs}
            object.__setattr__(self, "path", path or "/")
            object.__setattr__(self, "query", {**parsed, **self.query})

    @property
    def hostname(self) -> str:
        """The host without a port, lower case."""
        host = self.host.lower()
        if host.startswith("["):  # IPv6 literal
            return host.split("]")[0] + "]"
        return host.rpartition(":")[0] if host.count(":") == 1 else host

    @property
    def target_port(self) -> int | None:
        """`port`, else the port written in `host`; None when neither says."""
        if self.port is not None:
            return self.port
        tail = self.host.rpartition("]")[2] if self.host.startswith("[") else self.host
        _, sep, digits = tail.rpartition(":")
        return int(digits) if sep and digits.isdigit() and tail.count(":") == 1 else None

    def header(self, name: str) -> str | None:
        """The header's value (None when absent); `Cookie` includes `cookies`."""
        wanted = name.lower()
        values = [v for k, v in self.headers.items() if k.lower() == wanted]
        if wanted != "cookie":
            return ", ".join(values) if values else None
        if self.cookies:
            values.append("; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        return "; ".join(values) if values else None

    def cookie(self, name: str) -> str | None:
        """The cookie's value, from `cookies` or the `Cookie` header; None when absent."""
        if name in self.cookies:
            return self.cookies[name]
        for k, v in self.headers.items():
            if k.lower() != "cookie":
                continue
            for part in v.split(";"):
                key, sep, value = part.strip().partition("=")
                if sep and key == name:
                    return value
        return None


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Destination:
    """A backend Service and its share of the requests like this one, in percent.
    `response_headers`: what the backendRef adds to its responses (the rule's own are in
    `Routing.response_headers`)."""

    service: str
    percent: float
    weight: int = 0
    response_headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class Mirror:
    """A copy of `percent` % of these requests sent to `service` (responses discarded)."""

    service: str
    percent: float


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a request goes. `destinations` is empty when `status` is an error the data plane
    answers itself (404 no route, 500 no backend with a weight, 503 nothing to serve)."""

    destinations: tuple[Destination, ...] = ()
    mirrors: tuple[Mirror, ...] = ()
    enforced_by: str = ""
    status: int = 200
    reason: str = ""
    response_headers: tuple[Header, ...] = ()  # the rule's own, whatever the backend

    def percent(self, service: str) -> float:
        return sum(d.percent for d in self.destinations if d.service == service)

    def mirrored(self, service: str) -> float:
        return sum(m.percent for m in self.mirrors if m.service == service)

    def headers_from(self, service: str) -> tuple[Header, ...]:
        """Response headers of a response served by `service`."""
        own = [h for d in self.destinations if d.service == service for h in d.response_headers]
        return (*self.response_headers, *own)

    def set_cookies(self, service: str) -> tuple[str, ...]:
        return tuple(h.value for h in self.headers_from(service) if h.name.lower() == "set-cookie")


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a router object, for display: its matches (one readable line each; any of
    them selects the rule) and where the requests it selects go."""

    index: int
    matches: tuple[str, ...]
    routing: Routing
    label: str = ""  # how to name it when "rule <index>" does not fit: "http[0]", "tcp[0]"
