"""Chat alerts about canaries: Slack, MS Teams, Discord, Rocket.Chat and Google Chat (§6).

`catalogue` (what each alert says), `formats` (each service's JSON) and `routing` (who gets
an alert) are pure; `notifier` posts over HTTP and `dispatch` ties them together without
ever blocking or failing a rollout.
"""

from ensign.alerting.catalogue import AlertKind, AlertMessage, alert_message, severity_of
from ensign.alerting.dispatch import AlertDispatcher, AlertSender, JsonPoster
from ensign.alerting.formats import NotifierConfigError, payload, post_url, validate
from ensign.alerting.notifier import Notifier, NotifyError
from ensign.alerting.routing import Destination, destinations, global_notifier

__all__ = [
    "AlertDispatcher",
    "AlertKind",
    "AlertMessage",
    "AlertSender",
    "Destination",
    "JsonPoster",
    "Notifier",
    "NotifierConfigError",
    "NotifyError",
    "alert_message",
    "destinations",
    "global_notifier",
    "payload",
    "post_url",
    "severity_of",
    "validate",
]
