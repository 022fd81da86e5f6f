"""AWS credentials and request signing for CloudWatch, by botocore. Does I/O.

botocore is the optional extra `ensign[aws]` (about 30 MB of service models), imported
only when a CloudWatch provider is built, so a controller without CloudWatch templates
never loads it. Without it, building a CloudWatch provider is a `ProviderConfigError`
that names what to install.

Where the credentials come from:

- The template Secret's keys `aws_access_key_id`, `aws_secret_access_key` and optional
  `aws_session_token` (a Secret with only one of the two keys is an error naming the
  other, rather than a silent switch to the chain).
- Otherwise the standard AWS chain, as the AWS SDK Flagger uses: the environment
  (`AWS_ACCESS_KEY_ID`...), IRSA web identity (`AWS_ROLE_ARN` +
  `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged with STS `AssumeRoleWithWebIdentity`, regional
  STS in the template's region; `AWS_ENDPOINT_URL_STS` overrides the endpoint), profiles
  and `credential_process` in the shared files, EKS Pod Identity and ECS task roles (the
  container credentials URI, `AWS_CONTAINER_CREDENTIALS_FULL_URI` with
  `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`), then the EC2 instance role (IMDS).

The chain is resolved once per process for a region and an environment (every `AWS_*`
variable), and shared by the providers built for each analysis, so temporary credentials
are fetched once and refreshed by botocore as they near expiry (15 minutes before).
botocore is synchronous: resolving and refreshing run in a worker thread
(`asyncio.to_thread`), never on the event loop; metric queries already run outside the
tick slots. Signing (SigV4, by botocore's signer) is pure computation.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ensign.metricproviders.base import ProviderConfigError, ProviderError

if TYPE_CHECKING:
    from botocore.credentials import Credentials

ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"
SESSION_TOKEN = "aws_session_token"

INSTALL_HINT = (
    "the cloudwatch provider needs botocore, which is not installed: install Ensign with "
    "its AWS extra (pip install 'ensign[aws]')"
)
NO_CREDENTIALS = (
    "cloudwatch found no AWS credentials: set the secret keys 'aws_access_key_id' and "
    "'aws_secret_access_key' (optional 'aws_session_token'), or give the controller "
    "credentials through the standard AWS chain: IRSA (AWS_ROLE_ARN and "
    "AWS_WEB_IDENTITY_TOKEN_FILE), EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI and "
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), the environment variables AWS_ACCESS_KEY_ID "
    "and AWS_SECRET_ACCESS_KEY, a profile, or an instance role"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsKeys:
    """One frozen set of keys to sign a request with."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in an error message or a log line."""
        return (self.secret_access_key, self.session_token or "")


def require_botocore() -> None:
    """Import botocore, or raise `ProviderConfigError` naming the extra to install.

    botocore's DEBUG logs carry request and response bodies (a web identity token, STS
    answers with secret keys); unless someone chose a level for the `botocore` logger, it
    is raised to INFO so that a DEBUG root logger does not print credentials.
    """
    try:
        import botocore  # noqa: F401
    except ImportError:
        raise ProviderConfigError(INSTALL_HINT) from None
    botocore_logger = logging.getLogger("botocore")
    if botocore_logger.level == logging.NOTSET:
        botocore_logger.setLevel(logging.INFO)


def secret_keys(secret: Mapping[str, str] | None) -> AwsKeys | None:
    """The Secret's keys when it names an access key; None to use the AWS chain."""
    data = secret or {}
    if not (data.get(ACCESS_KEY_ID) or data.get(SECRET_ACCESS_KEY)):
        return None
    for key in (ACCESS_KEY_ID, SECRET_ACCESS_KEY):
        if not data.get(key):
            raise ProviderConfigError(f"secret key {key!r} is missing for cloudwatch")
    return AwsKeys(
        access_key_id=data[ACCESS_KEY_ID],
        secret_access_key=data[SECRET_ACCESS_KEY],
        session_token=data.get(SESSION_TOKEN) or None,
    )


ChainKey = tuple[str, tuple[tuple[str, str], ...]]

_chains: dict[ChainKey, Credentials] = {}
"""The resolved chain per (region, AWS_* environment), shared by every provider."""


def _chain_key(region: str) -> ChainKey:
    return region, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))


def _resolve_chain(region: str) -> Credentials | None:
    """Blocking: the standard chain's credentials (files, STS, HTTP), or None."""
    import botocore.session
    from botocore.credentials import create_credential_resolver

    session = botocore.session.Session()
    return create_credential_resolver(session, region_name=region).load_credentials()


def _freeze(credentials: Credentials) -> AwsKeys:
    """Blocking: the current keys, refreshed first when they near expiry."""
    frozen = credentials.get_frozen_credentials()
    if not frozen.access_key or not frozen.secret_key:
        raise ProviderConfigError(NO_CREDENTIALS)
    return AwsKeys(
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token or None,
    )


class AwsCredentialSource:
    """A provider's credentials: the Secret's keys, or the shared AWS chain."""

    def __init__(self, secret: Mapping[str, str] | None, *, region: str) -> None:
        require_botocore()
        self._static = secret_keys(secret)
        self._region = region

    @property
    def static_secrets(self) -> tuple[str, ...]:
        return self._static.secrets if self._static is not None else ()

    async def keys(self) -> AwsKeys:
        """The keys to sign with now; raises `ProviderConfigError` when the chain finds
        none and `ProviderError` when fetching or refreshing them fails."""
        if self._static is not None:
            return self._static
        from botocore.exceptions import BotoCoreError, ClientError

        key = _chain_key(self._region)
        try:
            credentials = _chains.get(key)
            if credentials is None:
                credentials = await asyncio.to_thread(_resolve_chain, self._region)
                if credentials is None:
                    raise ProviderConfigError(NO_CREDENTIALS)
                credentials = _chains.setdefault(key, credentials)
            return await asyncio.to_thread(_freeze, credentials)
        except (BotoCoreError, ClientError, RuntimeError, ValueError, OSError) as exc:
            raise ProviderError(
                f"cloudwatch: getting AWS credentials failed: {type(exc).__name__}: {exc}"
            ) from None


def sign_request(
    *,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: AwsKeys,
    region: str,
    service: str,
) -> dict[str, str]:
    """`headers` plus what signs a POST with SigV4 (`X-Amz-Date`, `X-Amz-Security-Token`
    with temporary keys, `Authorization`), by botocore's signer."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    credentials = ReadOnlyCredentials(
        keys.access_key_id, keys.secret_access_key, keys.session_token
    )
    SigV4Auth(credentials, service, region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}
