"""The controller's own writes, recognised when they come back as watch events.

Every object the controller writes is fed back into its cache at once, and the same version
arrives again on the watch a moment later (or, under load, just before the write's answer).
Neither is news for the canary that wrote it: waking its loop for them only buys an extra
tick that decides nothing. `OwnWrites` remembers the last few resourceVersions the
controller wrote per object, and says whether a change is one of them; `feeding_back()`
marks the synchronous feed-back of a write, so wakes it causes can be dropped. A change made
by anyone else carries a version the controller never wrote, and still wakes the loop.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

PER_OBJECT = 4
MAX_OBJECTS = 4096


class OwnWrites:
    def __init__(self) -> None:
        self._versions: OrderedDict[tuple[str, str, str], tuple[str, ...]] = OrderedDict()
        self.feeding = False
        self.recognised = 0  # changes recognised as the controller's own (tests, metrics)

    def record(self, kind: str, obj: Mapping[str, Any] | None) -> None:
        meta = (obj or {}).get("metadata") or {}
        rv = str(meta.get("resourceVersion") or "")
        if not rv:
            return
        key = (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        versions = (*self._versions.pop(key, ()), rv)[-PER_OBJECT:]
        self._versions[key] = versions
        while len(self._versions) > MAX_OBJECTS:
            self._versions.popitem(last=False)

    def is_own(self, kind: str, obj: Mapping[str, Any] | None) -> bool:
        meta = (obj or {}).get("metadata") or {}
        key = (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        return str(meta.get("resourceVersion") or "") in self._versions.get(key, ())

    @contextlib.contextmanager
    def feeding_back(self) -> Iterator[None]:
        """Around `Informer.observe(written)`: the changes it emits are our own."""
        previous, self.feeding = self.feeding, True
        try:
            yield
        finally:
            self.feeding = previous
