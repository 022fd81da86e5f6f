"""The attributes of a session-affinity `Set-Cookie` header, shared by the routers that
write one (Gateway API, Istio). Pure."""

from __future__ import annotations

from ensign.model.analysis import SessionAffinity


def cookie_attributes(affinity: SessionAffinity) -> str:
    """`; Domain=…; Path=…; SameSite=…; HttpOnly; Secure; Partitioned`, each when set."""
    parts = []
    if affinity.domain:
        parts.append(f"; Domain={affinity.domain}")
    if affinity.path:
        parts.append(f"; Path={affinity.path}")
    if affinity.same_site is not None:
        parts.append(f"; SameSite={affinity.same_site.value}")
    if affinity.http_only:
        parts.append("; HttpOnly")
    if affinity.secure:
        parts.append("; Secure")
    if affinity.partitioned:
        parts.append("; Partitioned")
    return "".join(parts)
