"""Call a canary's webhooks for the engine's probes and for post-rollout side effects. Does I/O.

Gate hooks of one type run in spec order and stop at the first failure, as in Flagger. Each
answer becomes a `HookOutcome` whose detail names the URL, HTTP status and attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ensign.engine.observations import HookOutcome
from ensign.model import Canary, HookType, Webhook
from ensign.runtime.observe import Observed
from ensign.webhooks.client import HookResult, WebhookCaller
from ensign.webhooks.payload import event_payload, webhook_payload
from ensign.workloads.revision import webhook_checksum

log = logging.getLogger(__name__)
EventSink = Callable[[Canary, dict[str, Any], str, bool], Coroutine[Any, Any, None]]


def outcome(hook: Webhook, result: HookResult) -> HookOutcome:
    return HookOutcome(
        name=hook.name,
        url=hook.url,
        ok=result.ok,
        detail=result.describe(),
        http_status=result.status,
        attempts=result.attempts,
    )


class HookRunner:
    def __init__(self, caller: WebhookCaller, *, event_webhook: str = "") -> None:
        self.caller = caller
        self.events: EventSink | None = None
        self.calls = 0
        self.event_webhook = event_webhook
        self.clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)

    async def forward_event(
        self, canary: Canary, body: dict[str, Any], message: str, warning: bool
    ) -> None:
        """Send an event to the canary's `event` hooks, or else to the global event webhook.

        Delivery errors are logged and otherwise ignored, as in Flagger.
        """
        status = (body.get("status") or {}) if isinstance(body.get("status"), dict) else {}
        await self.forward(
            canary,
            message,
            warning=warning,
            phase=str(status.get("phase") or ""),
            checksum=webhook_checksum(
                tracked_configs=status.get("trackedConfigs"),
                last_applied=status.get("lastAppliedSpec"),
            ),
        )

    async def forward(
        self, canary: Canary, message: str, *, warning: bool, phase: str, checksum: str
    ) -> None:
        """Post one event to the event hooks (Flagger's payload), the canary's `phase` and
        `checksum` as given; failures are logged."""
        hooks = canary.spec.effective_analysis.webhooks_of(HookType.EVENT)
        if not hooks and self.event_webhook:
            hooks = (Webhook(name="events", url=self.event_webhook, type=HookType.EVENT),)
        for hook in hooks:
            payload = event_payload(
                name=canary.name,
                namespace=canary.namespace or "",
                phase=phase,
                checksum=checksum,
                message=message,
                event_type="Warning" if warning else "Normal",
                timestamp_ms=self.clock_ms(),
                metadata=hook.metadata,
            )
            result = await self.caller.call(hook, dict(payload))
            if not result.ok:
                log.warning("error sending event to webhook: %s", result.describe())

    def payload(
        self, canary: Canary, observed: Observed, phase: str, hook: Webhook
    ) -> dict[str, Any]:
        status = observed.snapshot.status
        return dict(
            webhook_payload(
                name=canary.name,
                namespace=canary.namespace or "",
                phase=phase,
                checksum=webhook_checksum(
                    tracked_configs=status.tracked_configs, last_applied=status.last_applied_spec
                ),
                metadata=hook.metadata,
            )
        )

    async def gate(
        self, canary: Canary, observed: Observed, *, hook_type: HookType, phase: str
    ) -> tuple[HookOutcome, ...]:
        """Answers for the hooks of `hook_type` in spec order, stopping after the first failure
        (for rollback hooks: after the first success, which signals a rollback)."""
        out: list[HookOutcome] = []
        for hook in canary.spec.effective_analysis.webhooks_of(hook_type):
            self.calls += 1
            result = await self.caller.call(hook, self.payload(canary, observed, phase, hook))
            out.append(outcome(hook, result))
            # Gates stop at the first refusal; rollback hooks at the first one that signals.
            if result.ok == (hook_type == HookType.ROLLBACK):
                break
        return tuple(out)

    async def side_effect(
        self, canary: Canary, observed: Observed, *, hook_type: HookType, phase: str
    ) -> None:
        """Post-rollout hooks: results become events; the first failure skips the rest."""
        for hook in canary.spec.effective_analysis.webhooks_of(hook_type):
            self.calls += 1
            result = await self.caller.call(hook, self.payload(canary, observed, phase, hook))
            if self.events is None:
                continue
            if result.ok:
                await self.events(
                    canary, observed.body, f"Post-rollout check {hook.name} passed", False
                )
            else:
                await self.events(
                    canary,
                    observed.body,
                    f"Post-rollout hook {hook.name} failed {result.describe()}",
                    True,
                )
                break

    async def post_rollout(
        self, canary: Canary, *, hook_type: HookType, phase: str, checksum: str
    ) -> list[tuple[str, str, bool]]:
        """Post-rollout hooks for the outbox: (hook name, event message, warning) of each
        result, in spec order; the first failure skips the rest. Events are the caller's."""
        out: list[tuple[str, str, bool]] = []
        for hook in canary.spec.effective_analysis.webhooks_of(hook_type):
            self.calls += 1
            payload = webhook_payload(
                name=canary.name,
                namespace=canary.namespace or "",
                phase=phase,
                checksum=checksum,
                metadata=hook.metadata,
            )
            result = await self.caller.call(hook, dict(payload))
            if result.ok:
                out.append((hook.name, f"Post-rollout check {hook.name} passed", False))
            else:
                message = f"Post-rollout hook {hook.name} failed {result.describe()}"
                out.append((hook.name, message, True))
                break
        return out
