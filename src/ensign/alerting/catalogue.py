"""What each alert says: Flagger's message texts, severities and fields (§6.3). Pure.

The texts are user-visible contract: people grep their chat history and filter on them, so
they match Flagger word for word. Only alerts that Flagger marks as "metadata" alerts carry
the canary's settings (target, threshold, deadline, traffic routing); every alert carries
the `Cluster` field first when `-cluster-name` is set.

Ensign additions (never sent by Flagger): `PROGRESS_DEADLINE` uses the text of Flagger's
dormant progress-deadline alert, and `ANALYSIS_FAILED` covers any other rollback the engine
wants to announce. Both are error alerts without metadata; the engine decides whether to use
them (Flagger sends nothing when a progress deadline rolls a canary back, §2.14.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from ensign.engine.actions import AlertKind as AlertKind
from ensign.model import Canary, Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertMessage:
    """One alert, independent of the chat service: rendered per provider by `formats`.

    `name`/`namespace` are the canary's (services show them as `<name>.<namespace>`);
    `fields` are ordered (title, value) pairs.
    """

    name: str
    namespace: str
    message: str
    severity: Severity
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class _Entry:
    text: str
    severity: Severity
    metadata: bool


_CATALOGUE: dict[AlertKind, _Entry] = {
    AlertKind.INITIALIZED: _Entry(
        "New {kind} detected, initialization completed.", Severity.INFO, True
    ),
    AlertKind.NEW_REVISION: _Entry(
        "New revision detected, progressing canary analysis.", Severity.INFO, True
    ),
    AlertKind.WAITING_ROLLOUT: _Entry("Canary is waiting for approval.", Severity.WARN, False),
    AlertKind.WAITING_PROMOTION: _Entry(
        "Canary promotion is waiting for approval.", Severity.WARN, False
    ),
    AlertKind.WAITING_TRAFFIC: _Entry(
        "Canary traffic increase is waiting for approval.", Severity.WARN, False
    ),
    AlertKind.MANUAL_ROLLBACK: _Entry("Rolling back manual webhook invoked", Severity.WARN, False),
    AlertKind.THRESHOLD_ROLLBACK: _Entry(
        "Failed checks threshold reached {detail}", Severity.ERROR, False
    ),
    AlertKind.FAILED_PROMOTION: _Entry(
        "Promotion failed, primary not ready: {detail}", Severity.ERROR, False
    ),
    AlertKind.SUCCEEDED: _Entry(
        "Canary analysis completed successfully, promotion finished.", Severity.INFO, False
    ),
    AlertKind.SKIPPED_SUCCEEDED: _Entry(
        "Canary analysis was skipped, promotion finished.", Severity.INFO, False
    ),
    AlertKind.PROGRESS_DEADLINE: _Entry(
        "Progress deadline exceeded {detail}", Severity.ERROR, False
    ),
    AlertKind.ANALYSIS_FAILED: _Entry(
        "Canary analysis failed, rolling back: {detail}", Severity.ERROR, False
    ),
}


def severity_of(kind: AlertKind) -> Severity:
    """The severity Flagger gives this alert (what `analysis.alerts[].severity` filters on)."""
    return _CATALOGUE[kind].severity


def alert_message(
    kind: AlertKind,
    canary: Canary,
    *,
    target_kind: str,
    cluster_name: str = "",
    detail: str = "",
) -> AlertMessage:
    """Build the alert for `kind`; `detail` is the failed-check count or the error text.

    A template that ends in `{detail}` loses its trailing space or colon when `detail` is
    empty, so a missing detail never leaves dangling punctuation in the chat message.
    """
    entry = _CATALOGUE[kind]
    text = entry.text.format(kind=target_kind, detail=detail)
    if "{detail}" in entry.text and not detail:
        text = text.rstrip(" :")
    fields: list[tuple[str, str]] = []
    if cluster_name:
        fields.append(("Cluster", cluster_name))
    if entry.metadata:
        fields.extend(metadata_fields(canary, target_kind=target_kind))
    return AlertMessage(
        name=canary.name,
        namespace=canary.namespace or "",
        message=text,
        severity=entry.severity,
        fields=tuple(fields),
    )


def metadata_fields(canary: Canary, *, target_kind: str) -> tuple[tuple[str, str], ...]:
    """Target, failed-checks threshold, progress deadline and (when known) traffic routing.

    Ensign prints the effective max weight (100 when `maxWeight` is unset; the last step for
    `stepWeights`) where Flagger prints the raw spec value, which can be 0.
    """
    spec = canary.spec
    analysis = spec.effective_analysis
    fields = [
        ("Target", f"{target_kind}/{spec.target_ref.name}.{canary.namespace or ''}"),
        ("Failed checks threshold", str(analysis.threshold)),
        ("Progress deadline", f"{spec.progress_deadline_seconds}s"),
    ]
    routing = ""
    if analysis.step_weight > 0:
        routing = f"Weight step: {analysis.step_weight} max: {analysis.effective_max_weight}"
    elif analysis.step_weights:
        steps = ",".join(str(weight) for weight in analysis.step_weights)
        routing = f"Weight steps: {steps} max: {analysis.effective_max_weight}"
    elif analysis.match:
        routing = "A/B Testing"
    elif analysis.iterations > 0:
        routing = "Blue/Green"
    if routing:
        fields.append(("Traffic routing", routing))
    return tuple(fields)
