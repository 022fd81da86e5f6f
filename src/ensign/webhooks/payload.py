"""JSON bodies sent to webhooks, in Flagger's `CanaryWebhookPayload` shape (§4.2, §4.5). Pure.

Every hook receives `{"name", "namespace", "phase", "checksum", "metadata"}`; `metadata` is
left out when empty, as Go's `omitempty` does. Metadata keys are emitted in sorted order, the
order Go's `encoding/json` uses for maps, so the serialised bytes match Flagger's too.
"""

from __future__ import annotations

from collections.abc import Mapping

Payload = dict[str, str | dict[str, str]]
"""A webhook body ready for `json.dumps`."""

EVENT_MESSAGE_KEY = "eventMessage"
EVENT_TYPE_KEY = "eventType"
EVENT_TIMESTAMP_KEY = "timestamp"
EVENT_RESERVED_KEYS = frozenset({EVENT_MESSAGE_KEY, EVENT_TYPE_KEY, EVENT_TIMESTAMP_KEY})
"""Metadata keys an `event` hook always receives; a hook's own keys never override them."""


def webhook_payload(
    *,
    name: str,
    namespace: str,
    phase: str,
    checksum: str,
    metadata: Mapping[str, str] | None,
) -> Payload:
    """The body for a gating hook: the canary's identity, the phase passed and the hook metadata.

    `phase` is whatever the caller says (§4.3 table), not necessarily `status.phase`;
    `checksum` identifies the configuration under test.
    """
    payload: Payload = {
        "name": name,
        "namespace": namespace,
        "phase": phase,
        "checksum": checksum,
    }
    if metadata:
        payload["metadata"] = {key: metadata[key] for key in sorted(metadata)}
    return payload


def event_payload(
    *,
    name: str,
    namespace: str,
    phase: str,
    checksum: str,
    message: str,
    event_type: str,
    timestamp_ms: int,
    metadata: Mapping[str, str] | None,
) -> Payload:
    """The body for an `event` hook (or the global event webhook) carrying one event.

    `metadata` always holds `eventMessage`, `eventType` (`Normal` or `Warning`) and
    `timestamp` (Unix milliseconds as a decimal string); the hook's own metadata keys are
    added unless they collide with those three, in which case the reserved value wins.
    """
    merged = {
        key: value for key, value in (metadata or {}).items() if key not in EVENT_RESERVED_KEYS
    }
    merged[EVENT_MESSAGE_KEY] = message
    merged[EVENT_TYPE_KEY] = event_type
    merged[EVENT_TIMESTAMP_KEY] = str(timestamp_ms)
    return webhook_payload(
        name=name, namespace=namespace, phase=phase, checksum=checksum, metadata=merged
    )
