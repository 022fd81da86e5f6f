"""Session-affinity cookies: derived, not drawn at random. Pure.

Flagger draws `<cookieName>=<10 random letters>` once per run (§2.12.4 of the behaviour
notes), so a controller restart between drawing the cookie and persisting it can hand two
different cookies to clients. Ensign derives the value from the canary's uid and the revision
under analysis (the primary cookie from the uid alone, as Flagger keeps it for the canary's
whole life), so replaying a tick after a crash renders exactly the same cookie.

The cookies live in the status (`sessionAffinityCookie`, `primarySessionAffinityCookie`,
`previousSessionAffinityCookie`), and `next_cookies` says what they become when a split is
put in force:
- canary weight > 0: the canary cookie of this run (and the primary cookie, when asked for);
- canary weight 0: the canary cookie, if any, becomes the previous one (its clients are told
  to drop it), and is cleared.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass

from ensign.model.analysis import SessionAffinity

LETTERS = string.ascii_letters
COOKIE_LENGTH = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class AffinityCookies:
    """Session-affinity cookies as `<name>=<value>` strings; "" when unset."""

    canary: str = ""
    primary: str = ""
    previous: str = ""


NO_COOKIES = AffinityCookies()


def cookie_value(*parts: str) -> str:
    """Ten letters derived from `parts` (Flagger's cookie alphabet and length)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return "".join(LETTERS[byte % len(LETTERS)] for byte in digest[:COOKIE_LENGTH])


def next_cookies(
    current: AffinityCookies,
    affinity: SessionAffinity | None,
    *,
    canary_weight: int,
    uid: str,
    revision: str,
) -> AffinityCookies:
    """The cookies once a split with `canary_weight` is in force."""
    if affinity is None:
        return current
    if canary_weight <= 0:
        if not current.canary:
            return current
        return AffinityCookies(canary="", primary=current.primary, previous=current.canary)
    canary = current.canary or f"{affinity.cookie_name}={cookie_value(uid, revision)}"
    primary = current.primary
    if affinity.primary_cookie_name and not primary:
        primary = f"{affinity.primary_cookie_name}={cookie_value(uid, 'primary')}"
    return AffinityCookies(canary=canary, primary=primary, previous=current.previous)
