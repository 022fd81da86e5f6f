"""MetricTemplate and AlertProvider as typed, defaulted, immutable values. Pure.

Shapes follow Flagger's `flagger.app/v1beta1` CRDs (§1.2 and §1.3 of the behaviour notes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_ALERT_USERNAME = "flagger"
DEFAULT_ALERT_CHANNEL = "general"


class MetricProviderType(StrEnum):
    """Metric backends a MetricTemplate can query (the CRD enum)."""

    PROMETHEUS = "prometheus"
    INFLUXDB = "influxdb"
    DATADOG = "datadog"
    EXTERNALMETRICS = "externalmetrics"
    STACKDRIVER = "stackdriver"
    CLOUDWATCH = "cloudwatch"
    NEWRELIC = "newrelic"
    GRAPHITE = "graphite"
    DYNATRACE = "dynatrace"
    KEPTN = "keptn"
    SPLUNK = "splunk"


ADDRESS_REQUIRED: frozenset[MetricProviderType] = frozenset(
    {
        MetricProviderType.PROMETHEUS,
        MetricProviderType.INFLUXDB,
        MetricProviderType.GRAPHITE,
        MetricProviderType.DYNATRACE,
        MetricProviderType.SPLUNK,
    }
)
"""Provider types whose client cannot be built without `spec.provider.address` (§5.5)."""


class AlertProviderType(StrEnum):
    """Chat services an AlertProvider can post to."""

    SLACK = "slack"
    MSTEAMS = "msteams"
    DISCORD = "discord"
    ROCKET = "rocket"
    GCHAT = "gchat"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricProviderSpec:
    """`spec.provider` of a MetricTemplate; `secret_ref` is a Secret in the template's namespace."""

    type: MetricProviderType
    address: str | None = None
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    secret_ref: str | None = None
    region: str | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricTemplate:
    """A parsed MetricTemplate; `query` is a Go text/template string rendered per check."""

    name: str
    namespace: str | None
    provider: MetricProviderSpec
    query: str
    raw: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertProvider:
    """A parsed AlertProvider. Exactly one of `address` and `secret_ref` is set."""

    name: str
    namespace: str | None
    type: AlertProviderType
    address: str | None = None
    secret_ref: str | None = None
    proxy: str | None = None
    channel: str = DEFAULT_ALERT_CHANNEL
    username: str = DEFAULT_ALERT_USERNAME
    raw: Mapping[str, object] = field(default_factory=dict)
