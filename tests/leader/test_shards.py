"""Two shards split the canaries by label: each handled by exactly one, each shard with its
own Lease (`ensign-leader-election-<shard>`) and its own standby."""

from __future__ import annotations

import asyncio

from ensign.testing.harness import Harness
from tests.leader._support import NS, Replica, holder, workload

SHARDS = {"a": ("pa1", "pa2", "pa3"), "b": ("pb1", "pb2", "pb3")}
TIMEOUT = 10.0


def _replica(h: Harness, shard: str, n: int) -> Replica:
    return Replica(h, f"{shard}_{n}", shard=shard, canary_selector=f"shard={shard}")


def _handlers(replicas: list[Replica], name: str) -> set[str]:
    """The shards whose controllers wrote anything for canary `name` (its status, its
    primary, its Services, its events)."""
    return {
        r.identity.split("_")[0]
        for r in replicas
        if any(w.name == name or w.name.startswith(f"{name}-") or w.name.startswith(f"{name}.")
               for w in r.wire.writes())
    }  # fmt: skip


async def test_two_shards_split_the_canaries() -> None:
    async with Harness(start_controller=False) as h:
        await h.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        replicas = [await _replica(h, shard, n).start() for n in (1, 2) for shard in SHARDS]
        try:
            for shard, names in SHARDS.items():
                for name in names:
                    await h.apply(*workload(name, labels={"shard": shard}))
            outsider = workload("pc1", labels={"shard": "c"})  # in no shard's selector
            await h.apply(*outsider)
            for names in SHARDS.values():
                for name in names:
                    await h.wait_phase(NS, name, "Initialized", timeout=TIMEOUT)
            for names in SHARDS.values():
                h.set_image(NS, names[0], "ghcr.io/stefanprodan/podinfo:6.8.0")
            for names in SHARDS.values():
                await h.wait_phase(NS, names[0], "Succeeded", timeout=TIMEOUT)
            await asyncio.sleep(0.3)

            # one leader per shard, on the shard's own Lease; the other replica stands by
            assert holder(h, "ensign-leader-election-a") == "a_1"
            assert holder(h, "ensign-leader-election-b") == "b_1"
            assert holder(h) == ""  # no unsharded lease
            leaders = [r for r in replicas if r.leading]
            assert sorted(r.identity for r in leaders) == ["a_1", "b_1"]
            # each canary handled by exactly its shard: none by both, none by neither
            for shard, names in SHARDS.items():
                for name in names:
                    assert _handlers(replicas, name) == {shard}, name
            # each shard sees only its canaries; workloads stay unfiltered
            for r in replicas:
                shard = r.identity.split("_")[0]
                cached = {n for _, n in r.controller.caches["Canary"].cached()}
                assert cached == set(SHARDS[shard])
                assert r.controller.caches["Deployment"].get(NS, "pc1") is not None
            # outside every selector: left alone by both
            assert _handlers(replicas, "pc1") == set()
            assert h.phase(NS, "pc1") == ""
        finally:
            for r in replicas:
                await r.stop()


async def test_relabelled_canary_moves_to_the_other_shard() -> None:
    async with Harness(start_controller=False) as h:
        await h.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        a = await _replica(h, "a", 1).start()
        b = await _replica(h, "b", 1).start()
        try:
            await h.apply(*workload("moving", labels={"shard": "a"}))
            await h.wait_phase(NS, "moving", "Initialized", timeout=TIMEOUT)
            assert ("test", "moving") in a.controller.scheduler.loops

            def relabel(obj: dict[str, object]) -> dict[str, object]:
                meta = dict(obj["metadata"])  # type: ignore[call-overload]
                meta["labels"] = {"shard": "b"}
                return {**obj, "metadata": meta}

            h.patch("Canary", NS, "moving", relabel)
            await h.wait_for(
                lambda: (
                    ("test", "moving") in b.controller.scheduler.loops
                    and ("test", "moving") not in a.controller.scheduler.loops
                ),
                what="the canary to change shards",
            )
            moved = asyncio.get_running_loop().time()
            h.set_image(NS, "moving", "ghcr.io/stefanprodan/podinfo:6.8.0")
            await h.wait_phase(NS, "moving", "Succeeded", timeout=TIMEOUT)
            assert a.wire.writes(since=moved) == []
            assert b.wire.writes(since=moved)
        finally:
            await a.stop()
            await b.stop()
