"""The typed Canary model: parsing, defaulting and cross-field validation. Pure.

Entry points are `parse_canary`, `parse_metric_template` and `parse_alert_provider`; they
return frozen values or raise `InvalidSpec` listing every `SpecError` found.
"""

from ensign.model.analysis import (
    BUILTIN_METRICS,
    Alert,
    Analysis,
    HookType,
    MetricCheck,
    ProviderRef,
    SameSite,
    SessionAffinity,
    Severity,
    Strategy,
    TemplateRef,
    ThresholdRange,
    Webhook,
)
from ensign.model.canary import (
    AutoscalerKind,
    AutoscalerRef,
    Canary,
    CanarySpec,
    ObjectRef,
    Provider,
    ScalerReplicas,
    ServiceSpec,
    TargetKind,
    TargetRef,
    TrafficDistribution,
)
from ensign.model.durations import format_duration, parse_duration
from ensign.model.errors import InvalidSpec, SpecError
from ensign.model.parse import (
    canary_errors,
    parse_alert_provider,
    parse_canary,
    parse_metric_template,
)
from ensign.model.resources import (
    AlertProvider,
    AlertProviderType,
    MetricProviderSpec,
    MetricProviderType,
    MetricTemplate,
)

__all__ = [
    "BUILTIN_METRICS",
    "Alert",
    "AlertProvider",
    "AlertProviderType",
    "Analysis",
    "AutoscalerKind",
    "AutoscalerRef",
    "Canary",
    "CanarySpec",
    "HookType",
    "InvalidSpec",
    "MetricCheck",
    "MetricProviderSpec",
    "MetricProviderType",
    "MetricTemplate",
    "ObjectRef",
    "Provider",
    "ProviderRef",
    "SameSite",
    "ScalerReplicas",
    "ServiceSpec",
    "SessionAffinity",
    "Severity",
    "SpecError",
    "Strategy",
    "TargetKind",
    "TargetRef",
    "TemplateRef",
    "ThresholdRange",
    "TrafficDistribution",
    "Webhook",
    "canary_errors",
    "format_duration",
    "parse_alert_provider",
    "parse_canary",
    "parse_duration",
    "parse_metric_template",
]
