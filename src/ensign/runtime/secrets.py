"""Secrets as text, read from the watch cache: credentials for metric providers and alert
providers. The values are never logged; callers pass them straight to the HTTP client."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from ensign.runtime.cache import Caches


def decoded_data(secret: Mapping[str, object]) -> dict[str, str]:
    """A Secret's `data` decoded to UTF-8 text (`stringData` too, for objects that were not
    normalised by an apiserver); undecodable values are left out."""
    out: dict[str, str] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, value in data.items():
            try:
                out[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        out.update({str(k): str(v) for k, v in string_data.items()})
    return out


class SecretReader:
    """`(namespace, name) → decoded data`, or None when the Secret is not in the cache."""

    def __init__(self, caches: Caches) -> None:
        self.caches = caches

    def __call__(self, namespace: str, name: str) -> dict[str, str] | None:
        secret = self.caches["Secret"].get(namespace, name)
        return None if secret is None else decoded_data(secret)
