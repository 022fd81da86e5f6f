"""What every metric provider is: a typed Protocol, its errors and its inputs. Pure.

A provider answers one rendered query with one number (`value`, Flagger's contract) and,
when it `supports_samples`, with every point of the series over a window (`samples`, used by
Ensign's comparative judge). "No data" and "the provider failed" are different exceptions so
that the status and the events can tell them apart.

Providers never log credentials, and never put them in an exception message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from ensign.model import MetricProviderType

DEFAULT_TIMEOUT = 5.0
"""Seconds per HTTP request, as Flagger's providers."""


class NoData(Exception):
    """The query ran but returned no values (no series, an empty series, NaN)."""


class ProviderError(Exception):
    """The provider could not answer: transport error, non-2xx answer, unparsable body."""


class ProviderConfigError(ProviderError):
    """The provider cannot be built: a missing address, region or credential key (the
    message names the field or Secret key, never its value)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A time range for a samples query: [start, end] every `step_seconds`."""

    start: datetime
    end: datetime
    step_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderConfig:
    """Everything needed to build a provider, resolved by the runtime.

    `credentials` is the decoded `data` of the template's `secretRef` Secret (empty when
    there is none). `interval_seconds` is the metric's interval (Flagger queries several
    providers over [now - 10 x interval, now]). `timeout` is per HTTP request.
    """

    type: MetricProviderType
    address: str | None = None
    headers: Mapping[str, tuple[str, ...]] | None = None
    region: str | None = None
    insecure_skip_verify: bool = False
    credentials: Mapping[str, str] | None = None
    interval_seconds: float = 60.0
    timeout: float = DEFAULT_TIMEOUT


class MetricProvider(Protocol):
    """One configured metric backend. Build it with `ensign.metricproviders.build_provider`."""

    type: ClassVar[MetricProviderType]
    supports_samples: ClassVar[bool]

    async def value(self, query: str, *, now: datetime) -> float:
        """The query's single value; raises NoData or ProviderError."""
        ...

    async def samples(self, query: str, window: Window) -> list[float]:
        """Every point of the query's series within `window`, oldest first, across all
        series returned. Raises NoData, or ProviderError (also when unsupported)."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...
