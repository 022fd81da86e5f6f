"""Events outside a decision (a refused write, a refusal to act): a webhook hears of an
Event only once the API server has it, even when the write's answer is lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from ensign.kube.api import JSON, KubeApi, NotFound, Unavailable
from ensign.model import Canary, parse_canary
from ensign.runtime.events import EventRecorder
from ensign.testing import manifests as m

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class Events:
    """Just enough of the API for Events: `lost` writes land but answer 504; `refused`
    ones do not land."""

    def __init__(self, *, lost: int = 0, refused: int = 0) -> None:
        self.stored: dict[str, JSON] = {}
        self.lost, self.refused = lost, refused

    def _fault(self) -> bool:
        if self.refused:
            self.refused -= 1
            raise Unavailable("injected", code=500)
        if self.lost:
            self.lost -= 1
            return True
        return False

    async def create(self, _kind: Any, body: JSON, **_: Any) -> JSON:
        lost = self._fault()
        self.stored[body["metadata"]["name"]] = dict(body, count=1)
        if lost:
            raise Unavailable("timed out", code=504)
        return self.stored[body["metadata"]["name"]]

    async def patch(self, _kind: Any, name: str, patch: JSON, **_: Any) -> JSON:
        lost = self._fault()
        self.stored[name] = {**self.stored[name], **patch}
        if lost:
            raise Unavailable("timed out", code=504)
        return self.stored[name]

    async def get(self, _kind: Any, name: str, **_: Any) -> JSON:
        if name not in self.stored:
            raise NotFound(name, code=404)
        return self.stored[name]


def recorder(api: Events) -> tuple[EventRecorder, list[str]]:
    forwarded: list[str] = []

    async def forward(_c: Canary, _b: JSON, message: str, _w: bool) -> None:
        forwarded.append(message)

    ticks = iter(range(1000))  # a clock that moves: each new Event gets its own name

    def clock() -> datetime:
        return NOW.replace(second=next(ticks) % 60)

    return EventRecorder(cast(KubeApi, api), clock, forward=forward), forwarded


@pytest.mark.parametrize(
    ("lost", "refused", "events", "posts"),
    [
        (0, 0, 1, 1),  # the plain case
        (1, 0, 1, 1),  # the answer was lost, the Event landed: it is forwarded
        (0, 1, 0, 0),  # refused: no Event, so no post either
    ],
)
async def test_an_event_is_forwarded_only_once_the_cluster_has_it(
    lost: int, refused: int, events: int, posts: int
) -> None:
    body = m.canary()
    api = Events(lost=lost, refused=refused)
    events_recorder, forwarded = recorder(api)
    await events_recorder.record(parse_canary(body), body, message="refused", warning=True)
    assert (len(api.stored), len(forwarded)) == (events, posts)


async def test_a_repeat_counts_on_the_event_and_is_forwarded_with_it() -> None:
    body = m.canary()
    api = Events()
    events_recorder, forwarded = recorder(api)
    canary = parse_canary(body)
    await events_recorder.record(canary, body, message="again", warning=True)
    api.refused = 1  # the count bump is refused: nothing forwarded for it
    await events_recorder.record(canary, body, message="again", warning=True)
    api.lost = 1  # the bump lands, its answer is lost: forwarded
    await events_recorder.record(canary, body, message="again", warning=True)
    # after the refused bump the recorder starts a new Event (as before); what the cluster
    # counts is what the webhooks heard
    assert sum(e["count"] for e in api.stored.values()) == len(forwarded) == 2
