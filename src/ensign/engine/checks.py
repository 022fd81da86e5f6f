"""Metric checks: a measured value (or its absence) → a `MetricOutcome` with Flagger's event
text and Ensign's explanation. Pure.

The runtime measures (queries a provider, runs the judge) and calls these functions; the
engine then decides from the outcomes. Threshold semantics and event texts follow §5.1 of
the behaviour notes: `thresholdRange` bounds are inclusive; without it the deprecated
`threshold` is a minimum for the success rate and a maximum for everything else (so a
template metric with neither fails on any positive value, as in Flagger).
"""

from __future__ import annotations

from enum import StrEnum

from ensign.engine.observations import CheckVerdict, MetricOutcome
from ensign.model import MetricCheck, format_duration


class Source(StrEnum):
    """Where a check's number comes from; it decides units, defaults and event texts."""

    SUCCESS_RATE = "request-success-rate"
    DURATION = "request-duration"
    QUERY = "query"  # deprecated inline PromQL
    TEMPLATE = "template"


def source_of(check: MetricCheck) -> Source:
    if check.template_ref is not None:
        return Source.TEMPLATE
    if check.query:
        return Source.QUERY
    if check.name == Source.DURATION:
        return Source.DURATION
    return Source.SUCCESS_RATE


def go_float(value: float) -> str:
    """Go's `%v` of a float64: the shortest exact spelling, no trailing `.0`."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _shown(source: Source, value: float) -> str:
    if source is Source.SUCCESS_RATE:
        return f"{value:.2f}%"
    if source is Source.DURATION:
        return format_duration(value / 1000)
    return f"{value:.2f}"


def _bound(source: Source, bound: float) -> str:
    if source is Source.SUCCESS_RATE:
        return f"{go_float(bound)}%"
    if source is Source.DURATION:
        return format_duration(bound / 1000)
    return go_float(bound)


def _limits(check: MetricCheck, source: Source) -> tuple[float | None, float | None]:
    """(min, max) the value must respect, from thresholdRange or the deprecated threshold."""
    if check.threshold_range is not None:
        return check.threshold_range.min, check.threshold_range.max
    threshold = check.threshold if check.threshold is not None else 0.0
    if source is Source.SUCCESS_RATE:
        return threshold, None
    return None, threshold


def describe_limits(check: MetricCheck, source: Source) -> str:
    low, high = _limits(check, source)
    parts = []
    if low is not None:
        parts.append(f"min {_bound(source, low)}")
    if high is not None:
        parts.append(f"max {_bound(source, high)}")
    return ", ".join(parts) or "no bounds"


def measured(
    check: MetricCheck, source: Source, value: float, *, name: str, namespace: str
) -> MetricOutcome:
    """Compare a value with the check's bounds. Durations are in ms, truncated as Flagger."""
    if source is Source.DURATION:
        value = float(int(value))
    low, high = _limits(check, source)
    shown = _shown(source, value)
    threshold = describe_limits(check, source)
    gauge = value / 1000 if source is Source.DURATION else value
    builtin = source in (Source.SUCCESS_RATE, Source.DURATION)
    label = {
        Source.SUCCESS_RATE: "success rate",
        Source.DURATION: "request duration",
    }.get(source, check.name)
    failure = ""
    if low is not None and value < low:
        failure = f"< {_bound(source, low)}"
        why = f"{check.name} {shown} is below the minimum {_bound(source, low)}"
    elif high is not None and value > high:
        failure = f"> {_bound(source, high)}"
        why = f"{check.name} {shown} is above the maximum {_bound(source, high)}"
    if failure:
        return MetricOutcome(
            name=check.name,
            verdict=CheckVerdict.FAILED,
            message=why,
            event=f"Halt {name}.{namespace} advancement {label} {shown} {failure}",
            value=value,
            threshold=threshold,
            builtin=builtin,
            gauge=gauge,
        )
    return MetricOutcome(
        name=check.name,
        verdict=CheckVerdict.PASSED,
        message=f"{check.name} {shown} is within {threshold}",
        value=value,
        threshold=threshold,
        builtin=builtin,
        gauge=gauge,
    )


def no_data(
    check: MetricCheck,
    source: Source,
    detail: str,
    *,
    name: str,
    namespace: str,
    target: str,
    provider: str,
) -> MetricOutcome:
    """The query answered with no values: a failed check, explained as "no data"."""
    if source in (Source.SUCCESS_RATE, Source.DURATION):
        event = (
            f"Halt advancement no values found for {provider} metric {check.name} "
            f"probably {target}.{namespace} is not receiving traffic"
        )
        event += f": {detail}" if detail else ""
    elif source is Source.QUERY:
        event = f"Halt advancement no values found for metric: {check.name}"
    else:
        event = f"Halt advancement no values found for custom metric: {check.name}: {detail}"
    return MetricOutcome(
        name=check.name,
        verdict=CheckVerdict.NO_DATA,
        message=f"{check.name}: no data ({detail or 'the query returned no values'}); "
        f"is {target}.{namespace} receiving traffic?",
        event=event,
        threshold=describe_limits(check, source),
        builtin=source in (Source.SUCCESS_RATE, Source.DURATION),
    )


def provider_error(
    check: MetricCheck, source: Source, detail: str, *, event: str = ""
) -> MetricOutcome:
    """The provider could not answer (after one retry): a failed check, explained as an error."""
    if not event:
        if source in (Source.SUCCESS_RATE, Source.DURATION):
            event = f"Prometheus query failed: {detail}"
        else:
            event = f"Metric query failed for {check.name}: {detail}"
    return MetricOutcome(
        name=check.name,
        verdict=CheckVerdict.ERROR,
        message=f"{check.name}: provider error: {detail}",
        event=event,
        threshold=describe_limits(check, source),
        builtin=source in (Source.SUCCESS_RATE, Source.DURATION),
    )


def compared(
    check: MetricCheck,
    *,
    outcome: str,
    canary: float,
    primary: float,
    samples: int,
    summary: str,
    judge: str,
    name: str,
    namespace: str,
) -> MetricOutcome:
    """A comparison of canary with primary by the judge: `outcome` is pass, fail or
    inconclusive; `summary` is the judge's sentence."""
    verdict = {
        "pass": CheckVerdict.PASSED,
        "fail": CheckVerdict.FAILED,
        "inconclusive": CheckVerdict.INCONCLUSIVE,
    }[outcome]
    event = ""
    if verdict is CheckVerdict.FAILED:
        event = f"Halt {name}.{namespace} advancement {check.name} canary is worse than primary: {summary}"
    return MetricOutcome(
        name=check.name,
        verdict=verdict,
        message=f"{check.name}: {summary}",
        event=event,
        value=canary,
        primary_value=primary,
        threshold=judge,
        samples=samples,
        gauge=canary,
    )
