"""Leader election and sharding settings: defaults, Lease naming, the CLI flags."""

from __future__ import annotations

import re
import socket

import click
import pytest

from ensign.cli import build_settings, main
from ensign.kube.client import LightkubeApi
from ensign.runtime.app import Controller, Settings
from ensign.testing.harness import Harness
from tests.leader._support import holder, lease


def test_defaults_are_flaggers() -> None:
    s = Settings()
    assert s.leader_election is True
    assert (s.lease_duration, s.renew_deadline, s.retry_period) == (60.0, 15.0, 5.0)
    assert (s.lease_namespace, s.lease) == ("kube-system", "ensign-leader-election")


@pytest.mark.parametrize(
    ("settings", "namespace", "name"),
    [
        (Settings(namespace="apps"), "apps", "ensign-leader-election"),
        (Settings(leader_election_namespace="ensign"), "ensign", "ensign-leader-election"),
        (
            Settings(namespace="apps", leader_election_namespace="x"),
            "apps",
            "ensign-leader-election",
        ),
        (Settings(shard="a"), "kube-system", "ensign-leader-election-a"),
        (Settings(shard="b", lease_name="mine"), "kube-system", "mine-b"),
    ],
)
def test_lease_location(settings: Settings, namespace: str, name: str) -> None:
    assert (settings.lease_namespace, settings.lease) == (namespace, name)


def _params(*argv: str) -> dict[str, object]:
    command = main.commands["controller"]
    with command.make_context("controller", list(argv)) as ctx:
        return dict(ctx.params)


def test_cli_flags_reach_the_settings() -> None:
    s = build_settings(_params(), env={})
    assert s.leader_election and s.lease_duration == 60.0 and s.shard == ""
    s = build_settings(
        _params(
            "--leader-election-namespace=ensign",
            "--leader-election-lease-duration=30",
            "--leader-election-renew-deadline=10",
            "--leader-election-retry-period=2",
            "--shard=a",
            "--canary-selector=shard=a",
        ),
        env={},
    )
    assert (s.leader_election_namespace, s.lease_duration, s.renew_deadline) == ("ensign", 30, 10)
    assert (s.retry_period, s.shard, s.canary_selector, s.lease) == (
        2,
        "a",
        "shard=a",
        "ensign-leader-election-a",
    )
    assert build_settings(_params("--disable-leader-election"), env={}).leader_election is False


def test_cli_rejects_impossible_timings() -> None:
    with pytest.raises(click.BadParameter, match="retry period < renew deadline"):
        build_settings(_params("--leader-election-renew-deadline=90"), env={})
    # with election off the timings do not matter
    build_settings(
        _params("--disable-leader-election", "--leader-election-renew-deadline=90"), env={}
    )


async def test_a_default_controller_elects_itself_with_a_flagger_identity() -> None:
    async with Harness(start_controller=False) as h:
        api = LightkubeApi.from_dict(h.cluster.kubeconfig())
        controller = Controller(api, Settings(serve_http=False))
        try:
            await controller.start()
            assert controller.is_leader  # start() returns after the first campaign attempt
            identity = holder(h)
            assert re.fullmatch(re.escape(socket.gethostname()) + r"_[0-9a-f-]{36}", identity)
            assert lease(h)["spec"]["leaseDurationSeconds"] == 60
        finally:
            await controller.stop()
            await api.close()
        assert holder(h) == ""  # released on stop
