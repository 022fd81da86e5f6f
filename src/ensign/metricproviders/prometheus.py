"""Prometheus: the builtin metrics' backend and the `prometheus` MetricTemplate provider. Does I/O.

`value` is Flagger's instant query: GET `<address path>/api/v1/query` with the whitespace
of the query collapsed and no `time` parameter, so the server evaluates at its own clock as
Flagger does; the answer must be one number (the last series wins when a vector has
several, a range vector is an error). `samples` is a range query over a window, for
Ensign's comparative judge. Credentials come from the template's Secret: `token` (Bearer)
or `username` + `password` (Basic). Secret values never appear in an exception message:
every message goes through `ProviderHttp.redact`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx2

from ensign.metricproviders.base import (
    NoData,
    ProviderConfig,
    ProviderConfigError,
    ProviderError,
    Window,
)
from ensign.metricproviders.wire import ProviderHttp, basic_authorization
from ensign.model import MetricProviderType

_WHITESPACE = re.compile(r"\s+")
_ADDRESS_FIELDS = "spec.provider.address / --metrics-server"
TOKEN = "token"
USERNAME = "username"
PASSWORD = "password"


def collapse_whitespace(query: str) -> str:
    """The query as Flagger sends it: every whitespace run (newlines too) as one space."""
    return _WHITESPACE.sub(" ", query).strip()


class PrometheusProvider:
    """A Prometheus HTTP API client answering rendered PromQL with numbers.

    A `client` passed in is used as is (its TLS settings win over `insecure_skip_verify`)
    and is not closed by `aclose`.
    """

    type: ClassVar[MetricProviderType] = MetricProviderType.PROMETHEUS
    supports_samples: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        base, url_password = _base_url(config.address)
        credentials = dict(config.credentials or {})
        authorization = _authorization(credentials)
        self._query_url = base + "/api/v1/query"
        self._range_url = base + "/api/v1/query_range"
        self._headers = [
            (name, value) for name, values in (config.headers or {}).items() for value in values
        ]
        if authorization:
            self._headers.append(("Authorization", authorization))
        secrets = [*credentials.values(), url_password, authorization.partition(" ")[2]]
        self._http = ProviderHttp(config, client=client, secrets=[s for s in secrets if s])

    async def value(self, query: str, *, now: datetime) -> float:
        """The single value of an instant query; raises NoData or ProviderError.

        `now` is not sent: Flagger lets Prometheus evaluate at its own clock.
        """
        data = await self._data(self._query_url, [("query", collapse_whitespace(query))])
        result_type = data.get("resultType")
        result = data.get("result")
        if result_type == "scalar":
            return self._number(result, "data.result")
        if result_type == "matrix":
            raise self._http.error(
                "query returned multiple values (a range vector); use an instant query"
            )
        if result_type != "vector":
            raise self._http.error(f"unexpected response: resultType {str(result_type)[:20]!r}")
        entries = [
            self._http.as_dict(entry, f"data.result[{i}]")
            for i, entry in enumerate(self._http.as_list(result, "data.result"))
        ]
        if any("values" in entry for entry in entries):
            raise self._http.error("query returned multiple values")
        if not entries:
            raise NoData("prometheus query returned no series")
        return self._number(entries[-1].get("value"), f"data.result[{len(entries) - 1}].value")

    async def samples(self, query: str, window: Window) -> list[float]:
        """Every non-NaN point in `window`, across all series, oldest first."""
        params = [
            ("query", collapse_whitespace(query)),
            ("start", _timestamp(window.start)),
            ("end", _timestamp(window.end)),
            ("step", repr(float(window.step_seconds))),
        ]
        data = await self._data(self._range_url, params)
        points: list[tuple[float, float]] = []
        for i, raw in enumerate(self._http.as_list(data.get("result"), "data.result")):
            entry = self._http.as_dict(raw, f"data.result[{i}]")
            pairs = entry["values"] if "values" in entry else [entry.get("value")]
            for j, pair in enumerate(self._http.as_list(pairs, f"data.result[{i}].values")):
                what = f"data.result[{i}].values[{j}]"
                timestamp, text = self._pair(pair, what)
                number = self._http.as_float(text, what)
                if number is not None:
                    points.append((self._http.as_float(timestamp, what) or 0.0, number))
        if not points:
            raise NoData("prometheus query returned no samples in the window")
        points.sort(key=lambda point: point[0])
        return [number for _, number in points]

    async def healthy(self) -> None:
        """Flagger's availability check: `vector(1)` must answer 1; raises ProviderError."""
        try:
            answer = await self.value("vector(1)", now=datetime.now(UTC))
        except (NoData, ProviderError) as exc:
            raise ProviderError(f"prometheus not available: {exc}") from None
        if answer != 1:
            raise ProviderError(f"prometheus not available: vector(1) answered {answer}")

    async def aclose(self) -> None:
        """Close the HTTP client if this provider created it."""
        await self._http.aclose()

    async def _data(self, url: str, params: list[tuple[str, str]]) -> dict[str, object]:
        """The `data` object of a successful API answer."""
        answer = self._http.as_dict(
            await self._http.send_json("GET", url, params=params, headers=self._headers), "response"
        )
        if answer.get("status") != "success":
            detail = str(answer.get("error", ""))[:200]
            raise self._http.error(
                f"query failed with status {str(answer.get('status'))[:20]!r}: {detail}"
            )
        return self._http.as_dict(answer.get("data"), "data")

    def _pair(self, raw: object, what: str) -> tuple[object, object]:
        """A `[timestamp, "value"]` sample."""
        pair = self._http.as_list(raw, what)
        if len(pair) != 2:
            raise self._http.error(f"unexpected response: {what} is not a [timestamp, value] pair")
        return pair[0], pair[1]

    def _number(self, raw: object, what: str) -> float:
        """An instant sample's value; NaN (and null) mean no data, as in Flagger."""
        number = self._http.as_float(self._pair(raw, what)[1], what)
        if number is None:
            raise NoData("prometheus query returned NaN")
        return number


def _base_url(address: str | None) -> tuple[str, str]:
    """The validated address without a trailing slash (its path is kept, so the API paths
    go below it), and the password in its user-info, if any, to keep out of messages."""
    if not address or not address.strip():
        raise ProviderConfigError(f"prometheus address is empty: set {_ADDRESS_FIELDS}")
    try:
        parts = urlsplit(address.strip())
        hostname = parts.hostname
        password = parts.password or ""
    except ValueError:
        raise ProviderConfigError(
            f"prometheus address ({_ADDRESS_FIELDS}) is not a valid URL"
        ) from None
    if parts.scheme not in ("http", "https") or not hostname:
        shown = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        raise ProviderConfigError(
            f"prometheus address ({_ADDRESS_FIELDS}) is not an http(s) URL: {shown!r}"
        )
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return base, password


def _authorization(credentials: Mapping[str, str]) -> str:
    """The Authorization header value the Secret asks for ("" without a Secret).

    As Flagger: a `token` key means Bearer; otherwise a non-empty Secret must hold both
    `username` and `password` (Basic). The error names the missing key, never a value.
    """
    if TOKEN in credentials:
        return f"Bearer {credentials[TOKEN]}"
    if not credentials:
        return ""
    for key in (USERNAME, PASSWORD):
        if key not in credentials:
            raise ProviderConfigError(
                f"prometheus credentials: the Secret named by spec.provider.secretRef has no {key!r} key (it needs {TOKEN!r}, or {USERNAME!r} and {PASSWORD!r})"
            )
    return basic_authorization(credentials[USERNAME], credentials[PASSWORD])


def _timestamp(moment: datetime) -> str:
    """A Unix timestamp for the API; naive datetimes are taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return repr(aware.timestamp())
