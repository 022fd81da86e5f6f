"""New Relic Insights NRQL queries. Does I/O.

As Flagger: `GET <address>/v1/accounts/<id>/query?nrql=<query> SINCE <10 x interval>
seconds ago` with the `X-Query-Key` header. Flagger reads only `results[0].result`, the key
NRQL uses for arithmetic over aggregates; Ensign also accepts a `results[0]` holding exactly
one number under any key (`{"average": 12.5}`) or one level of nesting
(`{"percentile": {"99": 310}}`), since that is how a single aggregate comes back. Several
numbers is an error ("ambiguous"); null, no results or an empty object is "no data".

The account id is an identifier and appears in the URL; the query key never leaves the
header. New Relic has no samples here (`supports_samples` is False).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from urllib.parse import quote

import httpx2

from ensign.metricproviders.base import NoData, ProviderConfig, ProviderError, Window
from ensign.metricproviders.wire import LOOKBACK_INTERVALS, ProviderHttp, base_url, required_secret
from ensign.model import MetricProviderType

DEFAULT_ADDRESS = "https://insights-api.newrelic.com"
ACCOUNT_ID = "newrelic_account_id"
QUERY_KEY = "newrelic_query_key"


class NewRelicProvider:
    """New Relic Insights query API; one value per query."""

    type: ClassVar[MetricProviderType] = MetricProviderType.NEWRELIC
    supports_samples: ClassVar[bool] = False

    def __init__(self, config: ProviderConfig, *, client: httpx2.AsyncClient | None = None) -> None:
        account = required_secret(config.credentials, ACCOUNT_ID, "newrelic")
        query_key = required_secret(config.credentials, QUERY_KEY, "newrelic")
        base = base_url(config, default=DEFAULT_ADDRESS)
        self._url = f"{base}/v1/accounts/{quote(account, safe='')}/query"
        self._headers = {"X-Query-Key": query_key, "Accept": "application/json"}
        self._since = int(LOOKBACK_INTERVALS * config.interval_seconds)
        self._http = ProviderHttp(config, client=client, secrets=(query_key,))

    async def value(self, query: str, *, now: datetime) -> float:
        nrql = f"{query} SINCE {self._since} seconds ago"
        answer = self._http.as_dict(
            await self._http.send_json(
                "GET", self._url, params={"nrql": nrql}, headers=self._headers
            ),
            "response",
        )
        if "error" in answer:
            raise self._http.error(f"query failed: {answer['error']}")
        results = self._http.as_list(answer.get("results") or [], "results")
        if not results:
            raise NoData("newrelic returned no results")
        first = results[0]
        if isinstance(first, dict) and "result" in first:
            value = self._http.as_float(first["result"], "results[0].result")
        else:
            value = self._sole_number(first)
        if value is None:
            raise NoData("newrelic returned a null result")
        return value

    async def samples(self, query: str, window: Window) -> list[float]:
        raise ProviderError("newrelic does not return samples")

    async def aclose(self) -> None:
        await self._http.aclose()

    def _sole_number(self, first: object) -> float | None:
        """The one number in `results[0]` (at most one level deep), None when empty/null."""
        found = self._http.as_dict(first, "results[0]")
        if len(found) == 1:
            inner = next(iter(found.values()))
            if isinstance(inner, dict):
                found = inner
        if not found:
            return None
        if len(found) > 1:
            names = ", ".join(sorted(found))
            raise self._http.error(
                f"results[0] holds several values ({names}); select one, e.g. with `AS result`"
            )
        return self._http.as_float(next(iter(found.values())), "results[0]")
