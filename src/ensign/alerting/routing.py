"""Who receives an alert: the canary's own alert providers, else the global notifier. Pure.

Rules (§6.1, §6.2): a canary with `analysis.alerts` entries gets alerts only through them,
each entry filtering by severity (`Alert.wants`: info gets everything, warn gets warn and
error, error gets error) and naming an AlertProvider in `providerRef.namespace` or the
canary's namespace. A provider with `secretRef` takes its URL from the Secret's `address`
key and its bearer token from the optional `token` key (sent to Slack only). A canary with
no entries gets every alert through the global notifier, when one is configured.

Unresolvable entries (missing provider or Secret, invalid provider) are reported as texts
for the log, never raised: a broken chat setup must not stop a rollout.

Differences from Flagger:
- An entry with an empty `severity` is parsed as `info` by the model (Flagger's docs say so;
  its code sends such an entry nothing).
- A global Slack notifier without `-slack-channel` or `-slack-user` is a start-up error
  (`global_notifier` raises); Flagger logs `Notifier empty Slack channel` and silently sends
  nothing for the life of the process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ensign.alerting.formats import (
    NotifierConfigError,
    display_name,
    is_http_url,
    origin,
    validate,
)
from ensign.model import (
    Alert,
    AlertProviderType,
    Canary,
    InvalidSpec,
    Severity,
    parse_alert_provider,
)

ProviderLookup = Callable[[str, str], Mapping[str, object] | None]
"""`(namespace, name)` → the AlertProvider body from the cache, or None when absent."""
SecretLookup = Callable[[str, str], Mapping[str, str] | None]
"""`(namespace, name)` → the Secret's data, base64-decoded to text, or None when absent."""

SECRET_ADDRESS_KEY = "address"
SECRET_TOKEN_KEY = "token"
_URL_PATHS = ("address", "proxy")


@dataclass(frozen=True, slots=True, kw_only=True)
class Destination:
    """One resolved place to post an alert; `label` names it in logs and errors.

    `url`, `token` and `proxy` stay out of `repr`: a webhook URL is itself a credential.
    """

    type: AlertProviderType
    url: str = field(repr=False)
    token: str = field(default="", repr=False)
    proxy: str = field(default="", repr=False)
    channel: str = ""
    username: str = ""
    label: str = ""

    def summary(self) -> str:
        """The start-up log line, naming only the service and the URL's scheme and host."""
        return f"{display_name(self.type)} notifications enabled for {origin(self.url)}"


GLOBAL_LABEL = "global {} notifier"


def global_notifier(
    *,
    slack_url: str = "",
    slack_token: str = "",
    slack_proxy_url: str = "",
    slack_user: str = "flagger",
    slack_channel: str = "",
    msteams_url: str = "",
    msteams_proxy_url: str = "",
) -> Destination | None:
    """The global notifier (the controller-wide destination of the `-slack-*` / `-msteams-*`
    flags) from the flag values; None when no URL is set.

    MS Teams wins when `-msteams-url` is set. Raises `NotifierConfigError` naming the flag to
    fix (see the module docstring for why this is fatal in Ensign).
    """
    if msteams_url:
        _check_url(msteams_url, flag="-msteams-url")
        _check_url(msteams_proxy_url, flag="-msteams-proxy-url")
        return Destination(
            type=AlertProviderType.MSTEAMS,
            url=msteams_url,
            proxy=msteams_proxy_url,
            label=GLOBAL_LABEL.format(display_name(AlertProviderType.MSTEAMS)),
        )
    if not slack_url:
        return None
    _check_url(slack_url, flag="-slack-url")
    _check_url(slack_proxy_url, flag="-slack-proxy-url")
    for value, flag in ((slack_user, "-slack-user"), (slack_channel, "-slack-channel")):
        if not value:
            raise NotifierConfigError(
                f"global Slack notifications need {flag} (it is empty); set it, or unset "
                "-slack-url to turn global notifications off"
            )
    return Destination(
        type=AlertProviderType.SLACK,
        url=slack_url,
        token=slack_token,
        proxy=slack_proxy_url,
        channel=slack_channel,
        username=slack_user,
        label=GLOBAL_LABEL.format(display_name(AlertProviderType.SLACK)),
    )


def destinations(
    canary: Canary,
    severity: Severity,
    *,
    lookup_provider: ProviderLookup,
    lookup_secret: SecretLookup,
    global_notifier: Destination | None,
) -> tuple[list[Destination], list[str]]:
    """Where an alert of `severity` about `canary` goes, and why some entries cannot get it."""
    alerts = canary.spec.effective_analysis.alerts
    if not alerts:
        if global_notifier is None:
            return [], []
        return [global_notifier], []
    found: list[Destination] = []
    errors: list[str] = []
    for alert in alerts:
        if not alert.wants(severity):
            continue
        try:
            found.append(_resolve(alert, canary, lookup_provider, lookup_secret))
        except _Unresolved as problem:
            errors.append(str(problem))
    return found, errors


class _Unresolved(Exception):
    """An alert entry that cannot be delivered; the text is safe to log."""


def _resolve(
    alert: Alert,
    canary: Canary,
    lookup_provider: ProviderLookup,
    lookup_secret: SecretLookup,
) -> Destination:
    namespace = alert.provider_ref.namespace or canary.namespace or ""
    name = alert.provider_ref.name
    label = f"alert provider {name}.{namespace}"
    try:
        body = lookup_provider(namespace, name)
    except Exception as exc:
        raise _Unresolved(f"{label}: lookup failed: {type(exc).__name__}") from None
    if body is None:
        raise _Unresolved(f"{label}: AlertProvider not found")
    try:
        provider = parse_alert_provider(body)
    except InvalidSpec as invalid:
        problems = "; ".join(_safe_problem(error.path, error.message) for error in invalid.errors)
        raise _Unresolved(f"{label}: invalid AlertProvider: {problems}") from None
    url = provider.address or ""
    token = ""
    if provider.secret_ref:
        try:
            secret = lookup_secret(namespace, provider.secret_ref)
        except Exception as exc:
            raise _Unresolved(
                f"{label}: Secret {provider.secret_ref} lookup failed: {type(exc).__name__}"
            ) from None
        if secret is None:
            raise _Unresolved(f"{label}: Secret {namespace}/{provider.secret_ref} not found")
        if SECRET_ADDRESS_KEY not in secret:
            raise _Unresolved(
                f"{label}: Secret {namespace}/{provider.secret_ref} has no "
                f"{SECRET_ADDRESS_KEY!r} key (the webhook URL)"
            )
        url = secret[SECRET_ADDRESS_KEY]
        token = secret.get(SECRET_TOKEN_KEY, "")
    proxy = provider.proxy or ""
    try:
        validate(
            provider.type,
            url=url,
            channel=provider.channel,
            username=provider.username,
            proxy=proxy,
        )
    except NotifierConfigError as exc:
        raise _Unresolved(f"{label}: {exc}") from None
    return Destination(
        type=provider.type,
        url=url,
        token=token if provider.type is AlertProviderType.SLACK else "",
        proxy=proxy,
        channel=provider.channel,
        username=provider.username,
        label=f"{label} ({provider.type})",
    )


def _safe_problem(path: str, message: str) -> str:
    """A parse problem without the offending value when it is a URL (URLs hold secrets)."""
    if path.endswith(_URL_PATHS):
        message = message.split(" (got ", 1)[0]
    return f"{path}: {message}" if path else message


def _check_url(value: str, *, flag: str) -> None:
    if value and not is_http_url(value):
        raise NotifierConfigError(f"{flag} must be an absolute http(s) URL")
