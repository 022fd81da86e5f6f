"""The JSON body each chat service expects, and the checks its settings must pass (§6.4). Pure.

Bodies match Flagger's byte for byte in content (key order aside), including the empty
`icon_url` of the Slack-style bodies, so existing webhook integrations and bridges keep
working. Error texts never contain the webhook URL: for Slack, Discord and Google Chat the
URL itself is the credential.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ensign.alerting.catalogue import AlertMessage
from ensign.model import AlertProviderType, Severity

GCHAT_IMAGE_URL = "https://flagger.app/favicon.png"
"""Header image of Google Chat cards (Flagger's)."""
MSTEAMS_CONTEXT = "http://schema.org/extensions"
GREY = "#848484"

_DISPLAY_NAMES: dict[AlertProviderType, str] = {
    AlertProviderType.SLACK: "Slack",
    AlertProviderType.MSTEAMS: "MS Teams",
    AlertProviderType.DISCORD: "Discord",
    AlertProviderType.ROCKET: "Rocket",
    AlertProviderType.GCHAT: "Google Chat",
}
_NEEDS_USER_AND_CHANNEL = frozenset(
    {AlertProviderType.SLACK, AlertProviderType.DISCORD, AlertProviderType.ROCKET}
)


class NotifierConfigError(ValueError):
    """A chat destination whose settings cannot work (bad URL, missing channel or username)."""


def display_name(provider_type: AlertProviderType) -> str:
    """The service's name as users know it, for logs and error texts."""
    return _DISPLAY_NAMES[provider_type]


def is_http_url(value: str) -> bool:
    """An absolute `http://` or `https://` URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`: the part that is safe to log (paths hold secrets)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not parts.hostname:
        return "<invalid URL>"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def validate(
    provider_type: AlertProviderType,
    *,
    url: str,
    channel: str,
    username: str,
    proxy: str | None = None,
) -> None:
    """Raise `NotifierConfigError` when Flagger would refuse to build this notifier.

    Slack, Discord and Rocket need a username and a channel; every service needs an absolute
    http(s) URL. Ensign also checks the proxy URL up front (Flagger fails on every post).
    """
    name = display_name(provider_type)
    if not is_http_url(url):
        raise NotifierConfigError(f"invalid {name} webhook URL: must be an absolute http(s) URL")
    if provider_type in _NEEDS_USER_AND_CHANNEL:
        if not username:
            raise NotifierConfigError(f"empty {name} username")
        if not channel:
            raise NotifierConfigError(f"empty {name} channel")
    if proxy and not is_http_url(proxy):
        raise NotifierConfigError(f"invalid {name} proxy URL: must be an absolute http(s) URL")


def post_url(provider_type: AlertProviderType, url: str) -> str:
    """Where to POST: Discord gets `/slack` appended so it accepts the Slack-style body."""
    if provider_type is not AlertProviderType.DISCORD:
        return url
    parts = urlsplit(url)
    if parts.path.endswith("/slack"):
        return url
    path = parts.path.rstrip("/") + "/slack"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def payload(
    provider_type: AlertProviderType, msg: AlertMessage, *, channel: str, username: str
) -> dict[str, object]:
    """The JSON body for `provider_type`; `channel`/`username` matter for Slack-style bodies."""
    if provider_type is AlertProviderType.MSTEAMS:
        return _msteams(msg)
    if provider_type is AlertProviderType.GCHAT:
        return _gchat(msg)
    error = msg.severity is Severity.ERROR
    if provider_type is AlertProviderType.ROCKET:
        color = "#FF0000" if error else "#0076D7"
    else:
        color = "danger" if error else "good"
    return _slack_style(msg, channel=channel, username=username, color=color)


def _subject(msg: AlertMessage) -> str:
    return f"{msg.name}.{msg.namespace}"


def _slack_style(
    msg: AlertMessage, *, channel: str, username: str, color: str
) -> dict[str, object]:
    """Slack's legacy attachment body; Discord's `/slack` endpoint and Rocket.Chat take it too."""
    attachment: dict[str, object] = {
        "color": color,
        "author_name": _subject(msg),
        "text": msg.message,
        "mrkdwn_in": ["text"],
        "fields": [{"title": title, "value": value, "short": False} for title, value in msg.fields],
    }
    return {
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": ":rocket:",
        "attachments": [attachment],
    }


def _msteams(msg: AlertMessage) -> dict[str, object]:
    """An Office 365 connector MessageCard with the fields as facts."""
    return {
        "@type": "MessageCard",
        "@context": MSTEAMS_CONTEXT,
        "themeColor": "FF0000" if msg.severity is Severity.ERROR else "0076D7",
        "summary": _subject(msg),
        "sections": [
            {
                "activityTitle": msg.message,
                "activitySubtitle": _subject(msg),
                "facts": [{"name": title, "value": value} for title, value in msg.fields],
            }
        ],
    }


def _gchat(msg: AlertMessage) -> dict[str, object]:
    """A Google Chat card: the message, then one section per field."""

    def paragraph(html: str) -> dict[str, object]:
        return {"widgets": [{"textParagraph": {"text": html}}]}

    def grey(text: str) -> str:
        return f"<font color={GREY}><strong>{text}</strong></font>"

    sections = [paragraph(grey(msg.message))]
    sections.extend(paragraph(f"{title}<br>{grey(value)}") for title, value in msg.fields)
    return {
        "cards": [
            {
                "header": {
                    "title": "Flagger",
                    "subtitle": _subject(msg),
                    "imageUrl": GCHAT_IMAGE_URL,
                },
                "sections": sections,
            }
        ]
    }
