"""Each chat service's JSON body and settings checks (§6.4)."""

from __future__ import annotations

import pytest

from ensign.alerting import AlertMessage, NotifierConfigError, payload, post_url, validate
from ensign.model import AlertProviderType, Severity

INFO = AlertMessage(
    name="podinfo",
    namespace="test",
    message="New revision detected, progressing canary analysis.",
    severity=Severity.INFO,
    fields=(("Target", "Deployment/podinfo.test"), ("Progress deadline", "120s")),
)
ERROR = AlertMessage(
    name="podinfo",
    namespace="test",
    message="Failed checks threshold reached 5",
    severity=Severity.ERROR,
)


def slack_style(color: str, msg: AlertMessage) -> dict[str, object]:
    return {
        "channel": "deploys",
        "username": "ensign",
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [
            {
                "color": color,
                "author_name": "podinfo.test",
                "text": msg.message,
                "mrkdwn_in": ["text"],
                "fields": [
                    {"title": title, "value": value, "short": False} for title, value in msg.fields
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("provider_type", "info_color", "error_color"),
    [
        (AlertProviderType.SLACK, "good", "danger"),
        (AlertProviderType.DISCORD, "good", "danger"),
        (AlertProviderType.ROCKET, "#0076D7", "#FF0000"),
    ],
)
def test_slack_style_bodies(
    provider_type: AlertProviderType, info_color: str, error_color: str
) -> None:
    info = payload(provider_type, INFO, channel="deploys", username="ensign")
    assert info == slack_style(info_color, INFO)
    error = payload(provider_type, ERROR, channel="deploys", username="ensign")
    assert error == slack_style(error_color, ERROR)


def test_warn_is_not_coloured_as_an_error() -> None:
    warn = AlertMessage(name="a", namespace="b", message="m", severity=Severity.WARN)
    body = payload(AlertProviderType.SLACK, warn, channel="c", username="u")
    assert body["attachments"] == [
        {"color": "good", "author_name": "a.b", "text": "m", "mrkdwn_in": ["text"], "fields": []}
    ]


def test_msteams_message_card() -> None:
    body = payload(AlertProviderType.MSTEAMS, INFO, channel="ignored", username="ignored")
    assert body == {
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": "0076D7",
        "summary": "podinfo.test",
        "sections": [
            {
                "activityTitle": "New revision detected, progressing canary analysis.",
                "activitySubtitle": "podinfo.test",
                "facts": [
                    {"name": "Target", "value": "Deployment/podinfo.test"},
                    {"name": "Progress deadline", "value": "120s"},
                ],
            }
        ],
    }
    error = payload(AlertProviderType.MSTEAMS, ERROR, channel="", username="")
    assert error["themeColor"] == "FF0000"


def test_gchat_card() -> None:
    body = payload(AlertProviderType.GCHAT, INFO, channel="", username="")
    grey = "<font color=#848484><strong>{}</strong></font>"
    assert body == {
        "cards": [
            {
                "header": {
                    "title": "Flagger",
                    "subtitle": "podinfo.test",
                    "imageUrl": "https://flagger.app/favicon.png",
                },
                "sections": [
                    {"widgets": [{"textParagraph": {"text": grey.format(INFO.message)}}]},
                    {
                        "widgets": [
                            {
                                "textParagraph": {
                                    "text": "Target<br>" + grey.format("Deployment/podinfo.test")
                                }
                            }
                        ]
                    },
                    {
                        "widgets": [
                            {
                                "textParagraph": {
                                    "text": "Progress deadline<br>" + grey.format("120s")
                                }
                            }
                        ]
                    },
                ],
            }
        ]
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://discord.com/api/webhooks/1/abc", "https://discord.com/api/webhooks/1/abc/slack"),
        ("https://discord.com/api/webhooks/1/abc/", "https://discord.com/api/webhooks/1/abc/slack"),
        (
            "https://discord.com/api/webhooks/1/abc/slack",
            "https://discord.com/api/webhooks/1/abc/slack",
        ),
        (
            "https://discord.com/api/webhooks/1/abc?wait=true",
            "https://discord.com/api/webhooks/1/abc/slack?wait=true",
        ),
    ],
)
def test_discord_posts_to_the_slack_compatible_endpoint(url: str, expected: str) -> None:
    assert post_url(AlertProviderType.DISCORD, url) == expected


def test_other_services_post_to_the_url_as_given() -> None:
    url = "https://hooks.slack.com/services/T/B/X"
    for provider_type in (
        AlertProviderType.SLACK,
        AlertProviderType.MSTEAMS,
        AlertProviderType.GCHAT,
    ):
        assert post_url(provider_type, url) == url


@pytest.mark.parametrize(
    "provider_type", [AlertProviderType.SLACK, AlertProviderType.DISCORD, AlertProviderType.ROCKET]
)
def test_slack_style_services_need_username_and_channel(provider_type: AlertProviderType) -> None:
    url = "https://chat.example/hook"
    validate(provider_type, url=url, channel="general", username="flagger")
    with pytest.raises(NotifierConfigError, match="username"):
        validate(provider_type, url=url, channel="general", username="")
    with pytest.raises(NotifierConfigError, match="channel"):
        validate(provider_type, url=url, channel="", username="flagger")


@pytest.mark.parametrize("provider_type", [AlertProviderType.MSTEAMS, AlertProviderType.GCHAT])
def test_teams_and_gchat_need_no_channel(provider_type: AlertProviderType) -> None:
    validate(provider_type, url="https://chat.example/hook", channel="", username="")


@pytest.mark.parametrize(
    "url", ["", "hooks.slack.com/services/T/B/SECRETX", "ftp://host/x", "https:///nohost"]
)
def test_url_must_be_absolute_http_and_is_never_echoed(url: str) -> None:
    with pytest.raises(NotifierConfigError) as caught:
        validate(AlertProviderType.SLACK, url=url, channel="c", username="u")
    assert "SECRETX" not in str(caught.value)
    assert "Slack webhook URL" in str(caught.value)


def test_proxy_must_be_http_when_set() -> None:
    validate(AlertProviderType.GCHAT, url="http://a/b", channel="", username="", proxy="")
    with pytest.raises(NotifierConfigError, match="proxy"):
        validate(AlertProviderType.GCHAT, url="http://a/b", channel="", username="", proxy="socks")
