"""Who receives an alert: per-canary providers, secrets, severity filters, the global notifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ensign.alerting import Destination, NotifierConfigError, destinations
from ensign.alerting import global_notifier as build_global
from ensign.model import AlertProviderType, Severity

from .conftest import SECRET_PATH, TOKEN, make_canary, provider_body

SLACK_URL = f"https://hooks.slack.com{SECRET_PATH}"


class World:
    """In-memory AlertProviders and Secrets keyed by (namespace, name)."""

    def __init__(self) -> None:
        self.providers: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}

    def add(self, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        self.providers[(meta["namespace"], meta["name"])] = body

    def provider(self, namespace: str, name: str) -> Mapping[str, object] | None:
        return self.providers.get((namespace, name))

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.secrets.get((namespace, name))

    def route(
        self, canary: Any, severity: Severity, **kw: Any
    ) -> tuple[list[Destination], list[str]]:
        return destinations(
            canary,
            severity,
            lookup_provider=self.provider,
            lookup_secret=self.secret,
            global_notifier=kw.get("global_notifier"),
        )


GLOBAL = Destination(
    type=AlertProviderType.SLACK,
    url=SLACK_URL,
    token=TOKEN,
    channel="ops",
    username="flagger",
    label="global Slack notifier",
)


# -- global notifier from flags ------------------------------------------------------------


def test_no_url_means_no_global_notifier() -> None:
    assert build_global() is None
    assert build_global(slack_channel="ops") is None


def test_slack_global_notifier_from_flags() -> None:
    notifier = build_global(
        slack_url=SLACK_URL,
        slack_token=TOKEN,
        slack_proxy_url="http://proxy.local:3128",
        slack_channel="ops",
    )
    assert notifier == Destination(
        type=AlertProviderType.SLACK,
        url=SLACK_URL,
        token=TOKEN,
        proxy="http://proxy.local:3128",
        channel="ops",
        username="flagger",
        label="global Slack notifier",
    )
    assert notifier.summary() == "Slack notifications enabled for https://hooks.slack.com"
    assert SECRET_PATH not in repr(notifier) and TOKEN not in repr(notifier)


def test_msteams_wins_when_its_url_is_set() -> None:
    notifier = build_global(
        slack_url=SLACK_URL,
        slack_channel="ops",
        msteams_url="https://outlook.office.com/webhook/XYZ",
        msteams_proxy_url="http://proxy.local:3128",
    )
    assert notifier is not None
    assert notifier.type is AlertProviderType.MSTEAMS
    assert notifier.url == "https://outlook.office.com/webhook/XYZ"
    assert notifier.proxy == "http://proxy.local:3128"
    assert notifier.token == ""


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"slack_url": SLACK_URL, "slack_channel": ""}, "-slack-channel"),
        ({"slack_url": SLACK_URL, "slack_channel": "ops", "slack_user": ""}, "-slack-user"),
        ({"slack_url": "hooks.slack.com/x", "slack_channel": "ops"}, "-slack-url"),
        (
            {"slack_url": SLACK_URL, "slack_channel": "ops", "slack_proxy_url": "nope"},
            "-slack-proxy-url",
        ),
        ({"msteams_url": "outlook/x"}, "-msteams-url"),
        ({"msteams_url": "https://o.example/x", "msteams_proxy_url": "::"}, "-msteams-proxy-url"),
    ],
)
def test_unusable_global_settings_fail_naming_the_flag(flags: dict[str, str], named: str) -> None:
    with pytest.raises(NotifierConfigError) as caught:
        build_global(**flags)
    assert named in str(caught.value)


# -- routing -------------------------------------------------------------------------------


def test_global_notifier_gets_every_severity_when_the_canary_has_no_alerts() -> None:
    world = World()
    for severity in Severity:
        found, errors = world.route(make_canary(), severity, global_notifier=GLOBAL)
        assert errors == []
        assert found == [
            Destination(
                type=AlertProviderType.SLACK,
                url=SLACK_URL,
                token=TOKEN,
                channel="ops",
                username="flagger",
                label="global Slack notifier",
            )
        ]
    assert world.route(make_canary(), Severity.INFO) == ([], [])


def test_canary_alerts_replace_the_global_notifier() -> None:
    world = World()
    world.add(provider_body("team", address="https://chat.example/team"))
    canary = make_canary(
        alerts=[{"name": "a", "severity": "error", "providerRef": {"name": "team"}}]
    )
    found, errors = world.route(canary, Severity.INFO, global_notifier=GLOBAL)
    assert (found, errors) == ([], [])
    found, errors = world.route(canary, Severity.ERROR, global_notifier=GLOBAL)
    assert [d.url for d in found] == ["https://chat.example/team"]


@pytest.mark.parametrize(
    ("entry", "receives"),
    [
        ("info", {Severity.INFO, Severity.WARN, Severity.ERROR}),
        ("warn", {Severity.WARN, Severity.ERROR}),
        ("error", {Severity.ERROR}),
        ("", {Severity.INFO, Severity.WARN, Severity.ERROR}),  # Ensign: empty means info
        (None, {Severity.INFO, Severity.WARN, Severity.ERROR}),
    ],
)
def test_severity_filter(entry: str | None, receives: set[Severity]) -> None:
    world = World()
    world.add(provider_body("team", address="https://chat.example/team"))
    alert: dict[str, Any] = {"name": "a", "providerRef": {"name": "team"}}
    if entry is not None:
        alert["severity"] = entry
    canary = make_canary(alerts=[alert])
    got = {severity for severity in Severity if world.route(canary, severity)[0]}
    assert got == receives


def test_provider_defaults_and_namespaces() -> None:
    world = World()
    world.add(provider_body("local", type="discord", address="https://discord.example/api/1/x"))
    world.add(
        provider_body(
            "shared",
            "flagger-system",
            type="rocket",
            address="https://rocket.example/hooks/x",
            channel="deploys",
            username="bot",
            proxy="http://proxy.local:3128",
        )
    )
    canary = make_canary(
        alerts=[
            {"name": "a", "providerRef": {"name": "local"}},
            {"name": "b", "providerRef": {"name": "shared", "namespace": "flagger-system"}},
        ]
    )
    found, errors = world.route(canary, Severity.WARN)
    assert errors == []
    assert found == [
        Destination(
            type=AlertProviderType.DISCORD,
            url="https://discord.example/api/1/x",
            channel="general",
            username="flagger",
            label="alert provider local.test (discord)",
        ),
        Destination(
            type=AlertProviderType.ROCKET,
            url="https://rocket.example/hooks/x",
            proxy="http://proxy.local:3128",
            channel="deploys",
            username="bot",
            label="alert provider shared.flagger-system (rocket)",
        ),
    ]


def test_secret_ref_supplies_address_and_token() -> None:
    world = World()
    world.add(provider_body("slack", secretRef={"name": "slack-hook"}))
    world.secrets[("test", "slack-hook")] = {"address": SLACK_URL, "token": TOKEN}
    canary = make_canary(alerts=[{"name": "a", "providerRef": {"name": "slack"}}])
    found, errors = world.route(canary, Severity.INFO)
    assert errors == []
    assert [(d.url, d.token) for d in found] == [(SLACK_URL, TOKEN)]


def test_token_is_kept_for_slack_only() -> None:
    world = World()
    world.add(provider_body("teams", type="msteams", secretRef={"name": "hook"}))
    world.secrets[("test", "hook")] = {"address": "https://o.example/x", "token": TOKEN}
    canary = make_canary(alerts=[{"name": "a", "providerRef": {"name": "teams"}}])
    found, _ = world.route(canary, Severity.INFO)
    assert [(d.url, d.token) for d in found] == [("https://o.example/x", "")]


def test_unresolvable_entries_are_reported_and_the_rest_still_delivered() -> None:
    world = World()
    world.add(provider_body("good", address="https://chat.example/good"))
    world.add(provider_body("nosecret", secretRef={"name": "absent"}))
    world.add(provider_body("nokey", secretRef={"name": "tokenonly"}))
    world.secrets[("test", "tokenonly")] = {"token": TOKEN}
    world.add(provider_body("badurl", address=f"hooks.slack.com{SECRET_PATH}"))
    world.add(provider_body("badsecret", secretRef={"name": "relative"}))
    world.secrets[("test", "relative")] = {"address": f"hooks.slack.com{SECRET_PATH}"}
    world.add(provider_body("bad type", type="pager"))
    names = ["missing", "nosecret", "nokey", "badurl", "badsecret", "bad type", "good"]
    canary = make_canary(alerts=[{"name": n, "providerRef": {"name": n}} for n in names])
    found, errors = world.route(canary, Severity.ERROR)
    assert [d.label for d in found] == ["alert provider good.test (slack)"]
    assert len(errors) == 6
    missing, nosecret, nokey, badurl, badsecret, badtype = errors
    assert missing == "alert provider missing.test: AlertProvider not found"
    assert nosecret == "alert provider nosecret.test: Secret test/absent not found"
    assert "'address'" in nokey and "test/tokenonly" in nokey
    assert badurl.startswith("alert provider badurl.test: invalid AlertProvider: spec.address")
    assert badsecret == (
        "alert provider badsecret.test: invalid Slack webhook URL: must be an absolute http(s) URL"
    )
    assert "spec.type" in badtype
    for text in errors:
        assert "SECRET" not in text


def test_a_failing_lookup_is_reported_not_raised() -> None:
    def broken(namespace: str, name: str) -> Mapping[str, object] | None:
        raise RuntimeError("cache not synced")

    canary = make_canary(alerts=[{"name": "a", "providerRef": {"name": "p"}}])
    found, errors = destinations(
        canary,
        Severity.INFO,
        lookup_provider=broken,
        lookup_secret=lambda ns, n: None,
        global_notifier=None,
    )
    assert found == []
    assert errors == ["alert provider p.test: lookup failed: RuntimeError"]
