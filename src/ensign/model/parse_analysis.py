"""Parse and check `spec.analysis`: stepping, metrics, webhooks, alerts, session affinity. Pure.

Checks that need only the analysis live here; checks against the provider or the target live
in `parse_spec`. Every problem is appended to the shared error list; see `parse.parse_canary`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ensign.model.analysis import (
    BUILTIN_METRICS,
    DEFAULT_COOKIE_MAX_AGE,
    DEFAULT_INTERVAL,
    DEFAULT_METRIC_INTERVAL,
    DEFAULT_READY_THRESHOLD,
    MIN_INTERVAL_SECONDS,
    Alert,
    Analysis,
    HookType,
    MetricCheck,
    ProviderRef,
    SameSite,
    SessionAffinity,
    Severity,
    TemplateRef,
    ThresholdRange,
    Webhook,
)
from ensign.model.fields import Fields, number_text, show

ANALYSIS_FIELDS = frozenset(
    {
        "interval",
        "threshold",
        "iterations",
        "maxWeight",
        "stepWeight",
        "stepWeights",
        "stepWeightPromotion",
        "mirror",
        "mirrorWeight",
        "primaryReadyThreshold",
        "canaryReadyThreshold",
        "match",
        "sessionAffinity",
        "metrics",
        "webhooks",
        "alerts",
    }
)
METRIC_FIELDS = frozenset(
    {"name", "interval", "threshold", "thresholdRange", "query", "templateRef", "templateVariables"}
)
WEBHOOK_FIELDS = frozenset(
    {"name", "type", "url", "timeout", "retries", "metadata", "muteAlert", "disableTLS"}
)
ALERT_FIELDS = frozenset({"name", "severity", "providerRef"})
SESSION_AFFINITY_FIELDS = frozenset(
    {
        "cookieName",
        "primaryCookieName",
        "maxAge",
        "domain",
        "path",
        "sameSite",
        "httpOnly",
        "partitioned",
        "secure",
    }
)
STEPPING_FIELDS = ("iterations", "stepWeight", "stepWeights")
_DNS_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
HEADER_MATCH_KINDS = ("exact", "prefix", "suffix", "regex")


def parse_analysis(fields: Fields) -> Analysis:
    """Build the defaulted `Analysis` at `fields`, recording every problem found."""
    fields.known(ANALYSIS_FIELDS)
    interval = fields.duration("interval")
    interval_text, interval_seconds = interval or (DEFAULT_INTERVAL, 60.0)
    threshold = _positive(fields, "threshold")
    iterations = _positive(fields, "iterations")
    step_weight = _percent(fields, "stepWeight")
    max_weight = _percent(fields, "maxWeight")
    mirror = fields.boolean("mirror")
    mirror_weight = _percent(fields, "mirrorWeight")
    if mirror_weight and not mirror:
        fields.error("mirrorWeight", "requires mirror: true")
    match = _match(fields)
    _check_stepping(fields, has_match=bool(match))
    if step_weight and max_weight and step_weight > max_weight:
        fields.error(
            "stepWeight",
            f"must not be above maxWeight (got {step_weight} > {max_weight}): the first step"
            " would already pass the maximum",
        )
    return Analysis(
        interval=interval_text,
        interval_seconds=max(MIN_INTERVAL_SECONDS, interval_seconds),
        threshold=threshold or 1,
        iterations=iterations or 0,
        max_weight=max_weight or 100,
        step_weight=step_weight or 0,
        step_weights=_step_weights(fields),
        step_weight_promotion=_percent(fields, "stepWeightPromotion") or 0,
        mirror=mirror,
        mirror_weight=mirror_weight or 0,
        primary_ready_threshold=_ready_threshold(fields, "primaryReadyThreshold"),
        canary_ready_threshold=_ready_threshold(fields, "canaryReadyThreshold"),
        match=match,
        session_affinity=_session_affinity(fields),
        metrics=_metrics(fields),
        webhooks=_webhooks(fields),
        alerts=_alerts(fields),
    )


def _positive(fields: Fields, key: str) -> int | None:
    """An integer where 0 means "unset" (Flagger's zero value) and negatives are mistakes."""
    value = fields.integer(key)
    if value is not None and value < 0:
        fields.error(key, f"must be > 0 (got {value})")
        return None
    return value


def _percent(fields: Fields, key: str) -> int | None:
    """A traffic percentage where 0 means "unset"."""
    value = _positive(fields, key)
    if value is not None and value > 100:
        fields.error(key, f"must be between 1 and 100 (got {value})")
        return None
    return value


def _ready_threshold(fields: Fields, key: str) -> int:
    value = fields.integer(key)
    if value is None:
        return DEFAULT_READY_THRESHOLD
    if not 0 <= value <= 100:
        fields.error(key, f"must be between 0 and 100 (got {value})")
        return DEFAULT_READY_THRESHOLD
    return value


def _step_weights(fields: Fields) -> tuple[int, ...]:
    """Explicit weights: each 1..100 and strictly increasing (Ensign; Flagger caps at 100)."""
    weights: list[int] = []
    for index, item in enumerate(fields.items("stepWeights")):
        at = f"stepWeights[{index}]"
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int):
            fields.error(at, f"must be an integer (got {show(item)})")
            continue
        if not 1 <= item <= 100:
            fields.error(at, f"must be between 1 and 100 (got {item})")
        elif weights and item <= weights[-1]:
            fields.error(
                at, f"must be greater than the previous step (got {item} after {weights[-1]})"
            )
        weights.append(item)
    return tuple(weights)


def _is_set(fields: Fields, key: str) -> bool:
    """Present and not Flagger's zero value (0 or an empty list)."""
    value = fields.raw(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return True  # the wrong type is reported by the field's own check
    return value != 0 and value != []


def _check_stepping(fields: Fields, *, has_match: bool) -> None:
    chosen = [key for key in STEPPING_FIELDS if _is_set(fields, key)]
    if not chosen:
        fields.error(None, "set one of iterations, stepWeight or stepWeights")
    elif len(chosen) > 1:
        got = " and ".join((", ".join(chosen[:-1]), chosen[-1]))
        fields.error(None, f"set only one of iterations, stepWeight or stepWeights (got {got})")
    if has_match and not _is_set(fields, "iterations"):
        fields.error("match", "requires iterations (A/B testing runs for a number of iterations)")


def _match(fields: Fields) -> tuple[dict[str, object], ...]:
    found: list[dict[str, object]] = []
    for _, entry in fields.objects("match"):
        headers = entry.obj("headers")
        if headers is not None:
            for header, condition in headers.body.items():
                if not isinstance(condition, Mapping):
                    headers.error(header, f"must be an object (got {show(condition)})")
                    continue
                kinds = [kind for kind in HEADER_MATCH_KINDS if condition.get(kind) is not None]
                if len(kinds) != 1:
                    headers.error(header, "set exactly one of exact, prefix, suffix or regex")
        found.append(dict(entry.body))
    return tuple(found)


def _session_affinity(fields: Fields) -> SessionAffinity | None:
    nested = fields.obj("sessionAffinity")
    if nested is None:
        return None
    nested.known(SESSION_AFFINITY_FIELDS)
    cookie = nested.string("cookieName", required=True)
    primary = nested.string("primaryCookieName") or None
    if cookie and primary == cookie:
        nested.error("primaryCookieName", f"must differ from cookieName (both are {cookie})")
    max_age = nested.integer("maxAge")
    if max_age is not None and max_age < 0:
        nested.error("maxAge", f"must be > 0 (got {max_age})")
    return SessionAffinity(
        cookie_name=cookie or "",
        primary_cookie_name=primary,
        max_age=max_age if max_age and max_age > 0 else DEFAULT_COOKIE_MAX_AGE,
        domain=nested.string("domain") or None,
        path=nested.string("path") or None,
        same_site=nested.choice("sameSite", SameSite),
        http_only=nested.boolean("httpOnly"),
        partitioned=nested.boolean("partitioned"),
        secure=nested.boolean("secure"),
    )


def _unique_name(entry: Fields, *, seen: dict[str, int], index: int, section: str) -> str:
    name = entry.string("name", required=True)
    if name is None:
        return ""
    if name in seen:
        entry.error("name", f"must be unique ({name} is also used by {section}[{seen[name]}])")
    else:
        seen[name] = index
    return name


def _metrics(fields: Fields) -> tuple[MetricCheck, ...]:
    seen: dict[str, int] = {}
    checks: list[MetricCheck] = []
    for index, entry in fields.objects("metrics"):
        entry.known(METRIC_FIELDS)
        name = _unique_name(entry, seen=seen, index=index, section="metrics")
        interval = entry.duration("interval")
        query = entry.string("query") or None
        template_ref = _template_ref(entry)
        threshold = entry.number("threshold")
        threshold_range = _threshold_range(entry)
        _check_metric_source(entry, name=name, query=query)
        # A template metric may instead be judged against the primary (an `ensign.dev/judge`
        # annotation on its MetricTemplate); the runtime checks that when it reads the template.
        unbounded = not entry.has("threshold") and not entry.has("thresholdRange")
        if unbounded and template_ref is None:
            entry.error(None, "set thresholdRange (or the deprecated threshold)")
        checks.append(
            MetricCheck(
                name=name,
                interval=interval[0] if interval else DEFAULT_METRIC_INTERVAL,
                threshold_range=threshold_range,
                threshold=threshold,
                query=query,
                template_ref=template_ref,
                template_variables=entry.string_map("templateVariables"),
            )
        )
    return tuple(checks)


def _check_metric_source(entry: Fields, *, name: str, query: str | None) -> None:
    """Exactly one of a builtin name, a templateRef or an inline query says what to measure."""
    sources: list[str] = []
    if name in BUILTIN_METRICS:
        sources.append(f"builtin name {name}")
    if entry.has("templateRef"):
        sources.append("templateRef")
    if query:
        sources.append("query")
    if not sources:
        entry.error(
            None,
            "set either templateRef or a builtin name (request-success-rate, request-duration)"
            " or query",
        )
    elif len(sources) > 1:
        got = " and ".join(sources)
        entry.error(None, f"set only one of templateRef, query or a builtin name (got {got})")


def _template_ref(entry: Fields) -> TemplateRef | None:
    nested = entry.obj("templateRef")
    if nested is None:
        return None
    nested.known({"name", "namespace", "apiVersion", "kind"})
    name = nested.string("name", required=True)
    namespace = nested.string("namespace") or None
    if name and not _DNS_SUBDOMAIN.match(name):
        nested.error("name", f"must be a valid Kubernetes object name (got {name!r})")
    if namespace and not _DNS_LABEL.match(namespace):
        nested.error("namespace", f"must be a valid namespace name (got {namespace!r})")
    nested.string("apiVersion")
    nested.string("kind")
    return TemplateRef(name=name or "", namespace=namespace)


def _threshold_range(entry: Fields) -> ThresholdRange | None:
    nested = entry.obj("thresholdRange")
    if nested is None:
        return None
    nested.known({"min", "max"})
    low, high = nested.number("min"), nested.number("max")
    if not nested.has("min") and not nested.has("max"):
        nested.error(None, "set min, max or both")
    elif low is not None and high is not None and low > high:
        nested.error(None, f"min ({number_text(low)}) is greater than max ({number_text(high)})")
    return ThresholdRange(min=low, max=high)


def _webhooks(fields: Fields) -> tuple[Webhook, ...]:
    seen: dict[str, int] = {}
    hooks: list[Webhook] = []
    for index, entry in fields.objects("webhooks"):
        entry.known(WEBHOOK_FIELDS)
        name = _unique_name(entry, seen=seen, index=index, section="webhooks")
        url = entry.url("url", required=True)
        hook_type = HookType.ROLLOUT if entry.raw("type") == "" else entry.choice("type", HookType)
        timeout = entry.duration("timeout")
        retries = entry.integer("retries")
        if retries is not None and retries < 0:
            entry.error("retries", f"must be >= 0 (got {retries})")
        hooks.append(
            Webhook(
                name=name,
                url=url or "",
                type=hook_type or HookType.ROLLOUT,
                timeout=timeout[0] if timeout else None,
                retries=max(retries or 0, 0),
                mute_alert=entry.boolean("muteAlert"),
                disable_tls=entry.boolean("disableTLS"),
                metadata=entry.string_map("metadata"),
            )
        )
    return tuple(hooks)


def _alerts(fields: Fields) -> tuple[Alert, ...]:
    seen: dict[str, int] = {}
    alerts: list[Alert] = []
    for index, entry in fields.objects("alerts"):
        entry.known(ALERT_FIELDS)
        name = _unique_name(entry, seen=seen, index=index, section="alerts")
        # Ensign: an empty severity means info, as Flagger documents; Flagger's code sends nothing.
        severity = (
            Severity.INFO if entry.raw("severity") == "" else entry.choice("severity", Severity)
        )
        ref = entry.obj("providerRef", required=True)
        provider_name, provider_namespace = "", None
        if ref is not None:
            ref.known({"name", "namespace"})
            provider_name = ref.string("name", required=True) or ""
            provider_namespace = ref.string("namespace") or None
        alerts.append(
            Alert(
                name=name,
                severity=severity or Severity.INFO,
                provider_ref=ProviderRef(name=provider_name, namespace=provider_namespace),
            )
        )
    return tuple(alerts)
