"""Webhook calls: Flagger-compatible payloads and an HTTP caller that never raises.

`payload` builds the JSON bodies (pure); `client` sends them (does I/O) and reports every
outcome, success or failure, as a `HookResult` value the engine can act on.
"""

from ensign.webhooks.client import (
    DEFAULT_TIMEOUT_SECONDS,
    HookResult,
    HttpWebhookCaller,
    WebhookCaller,
)
from ensign.webhooks.payload import EVENT_RESERVED_KEYS, event_payload, webhook_payload

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "EVENT_RESERVED_KEYS",
    "HookResult",
    "HttpWebhookCaller",
    "WebhookCaller",
    "event_payload",
    "webhook_payload",
]
