"""CloudWatch credentials through the standard AWS chain (botocore), against real servers
on 127.0.0.1 standing in for STS, the container credentials endpoint (EKS Pod Identity)
and CloudWatch itself; the missing extra; botocore never loaded without CloudWatch.

The fake STS and container endpoints are served by this test's event loop, and botocore
fetches from them with blocking calls: the tests can only pass because those calls run in a
worker thread, never on the loop (on the loop they would deadlock)."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from ensign.metricproviders import ProviderConfigError, ProviderError, build_provider
from ensign.metricproviders.cloudwatch import CloudWatchProvider
from ensign.model import MetricProviderType

from .conftest import NOW, Backend, SecretsHidden, Serve, config
from .test_cloudwatch import QUERY, REGION, serve_cloudwatch

ANSWER = {"MetricDataResults": [{"Id": "e1", "Values": [7.0]}]}
ROLE_ARN = "arn:aws:iam::111122223333:role/ensign-cloudwatch"
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.irsa-projected-token.sig"
POD_IDENTITY_TOKEN = "pod-identity-agent-token-0123456789"
# (access key id, secret, session token) handed out by the fake STS / container endpoint
TEMPORARY = [
    ("ASIATEMPORARYONE", "temporary/secret+one", "session-token-one"),
    ("ASIATEMPORARYTWO", "temporary/secret+two", "session-token-two"),
]
SIGNING_SECRETS = {key: secret for key, secret, _ in TEMPORARY}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no AWS credentials at all: every AWS_* variable removed, no
    shared files, no instance metadata (so nothing ever leaves 127.0.0.1). Each test's
    environment differs (tmp_path), so it resolves its own chain."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cloudwatch(address: str) -> CloudWatchProvider:
    """A provider with no Secret: the AWS chain supplies the keys."""
    return CloudWatchProvider(config(MetricProviderType.CLOUDWATCH, address=address, region=REGION))


async def query_once(address: str) -> float:
    provider = cloudwatch(address)
    try:
        return await provider.value(QUERY, now=NOW)
    finally:
        await provider.aclose()


def signed_with(backend: Backend) -> list[tuple[str, str | None]]:
    """(access key id in the Authorization header, X-Amz-Security-Token) of each request."""
    return [
        (
            seen.headers["Authorization"].split("Credential=")[1].split("/")[0],
            seen.headers.get("X-Amz-Security-Token"),
        )
        for seen in backend.seen
    ]


async def test_environment_keys_with_a_session_token_sign_the_request(
    serve: Serve, aws_env: pytest.MonkeyPatch
) -> None:
    key, secret, token = TEMPORARY[0]
    aws_env.setenv("AWS_ACCESS_KEY_ID", key)
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", secret)
    aws_env.setenv("AWS_SESSION_TOKEN", token)
    backend = await serve_cloudwatch(serve, [ANSWER], secrets=SIGNING_SECRETS)
    assert await query_once(backend.url) == 7.0
    assert signed_with(backend) == [(key, token)]
    assert "x-amz-security-token" in backend.seen[0].headers["Authorization"]


async def serve_sts(serve: Serve, *, status: int = 200) -> Backend:
    """STS answering AssumeRoleWithWebIdentity (query protocol, XML) with TEMPORARY[0]."""
    key, secret, token = TEMPORARY[0]

    async def handle(request: web.Request, body: bytes) -> web.StreamResponse:
        if status != 200:
            error = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                "<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>"
                "</Error><RequestId>r-1</RequestId></ErrorResponse>"
            )
            return web.Response(text=error, status=status, content_type="text/xml")
        result = f"""\
            <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleWithWebIdentityResult>
                <Credentials>
                  <AccessKeyId>{key}</AccessKeyId>
                  <SecretAccessKey>{secret}</SecretAccessKey>
                  <SessionToken>{token}</SessionToken>
                  <Expiration>{iso(time.time() + 3600)}</Expiration>
                </Credentials>
                <AssumedRoleUser>
                  <Arn>arn:aws:sts::111122223333:assumed-role/ensign-cloudwatch/s</Arn>
                  <AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId>
                </AssumedRoleUser>
              </AssumeRoleWithWebIdentityResult>
              <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
            </AssumeRoleWithWebIdentityResponse>"""
        return web.Response(text=textwrap.dedent(result), content_type="text/xml")

    return await serve(handle)


def use_irsa(env: pytest.MonkeyPatch, tmp_path: Path, sts: Backend) -> None:
    token_file = tmp_path / "web-identity-token"
    token_file.write_text(WEB_IDENTITY_TOKEN)
    env.setenv("AWS_ROLE_ARN", ROLE_ARN)
    env.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    env.setenv("AWS_ENDPOINT_URL_STS", sts.url)


async def test_irsa_web_identity_is_exchanged_with_sts_once_for_every_provider(
    serve: Serve, aws_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sts = await serve_sts(serve)
    use_irsa(aws_env, tmp_path, sts)
    backend = await serve_cloudwatch(serve, [ANSWER], secrets=SIGNING_SECRETS)
    # Two analyses build two providers: the temporary keys are fetched once.
    assert [await query_once(backend.url) for _ in range(2)] == [7.0, 7.0]
    key, _, token = TEMPORARY[0]
    assert signed_with(backend) == [(key, token), (key, token)]
    [exchange] = sts.seen
    form = {name: values[0] for name, values in parse_qs(exchange.body.decode()).items()}
    assert form["Action"] == "AssumeRoleWithWebIdentity"
    assert form["RoleArn"] == ROLE_ARN
    assert form["WebIdentityToken"] == WEB_IDENTITY_TOKEN
    assert form["RoleSessionName"]


async def test_a_refused_web_identity_is_a_provider_error_that_leaks_no_token(
    serve: Serve, aws_env: pytest.MonkeyPatch, tmp_path: Path, secrets_hidden: SecretsHidden
) -> None:
    sts = await serve_sts(serve, status=403)
    use_irsa(aws_env, tmp_path, sts)
    backend = await serve_cloudwatch(serve, [ANSWER], secrets=SIGNING_SECRETS)
    with pytest.raises(ProviderError, match=r"getting AWS credentials failed.*AccessDenied") as err:
        await query_once(backend.url)
    assert backend.seen == []
    secrets_hidden(WEB_IDENTITY_TOKEN, errors=[err.value])


async def serve_container_credentials(
    serve: Serve, lifetimes: list[int], expiries: list[int] | None = None
) -> Backend:
    """The container credentials endpoint: the i-th fetch (Authorization checked against
    the pod identity token) gets TEMPORARY[i], valid for lifetimes[i] seconds from then
    (whole seconds, as the Expiration is written); each expiry is appended to `expiries`."""
    fetches: list[int] = []

    async def handle(request: web.Request, _: bytes) -> web.StreamResponse:
        if request.headers.get("Authorization") != POD_IDENTITY_TOKEN:
            return web.json_response({"message": "bad token"}, status=401)
        i = min(len(fetches), len(TEMPORARY) - 1)
        fetches.append(i)
        key, secret, token = TEMPORARY[i]
        expiry = math.ceil(time.time()) + lifetimes[i]
        if expiries is not None:
            expiries.append(expiry)
        return web.json_response(
            {
                "AccessKeyId": key,
                "SecretAccessKey": secret,
                "Token": token,
                "Expiration": iso(expiry),
                "AccountId": "111122223333",
            }
        )

    return await serve(handle)


def use_pod_identity(env: pytest.MonkeyPatch, tmp_path: Path, endpoint: Backend) -> None:
    token_file = tmp_path / "eks-pod-identity-token"
    token_file.write_text(POD_IDENTITY_TOKEN)
    env.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{endpoint.url}/v1/credentials")
    env.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))


async def test_pod_identity_reads_the_container_uri_with_the_token_file(
    serve: Serve, aws_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    agent = await serve_container_credentials(serve, [3600])
    use_pod_identity(aws_env, tmp_path, agent)
    backend = await serve_cloudwatch(serve, [ANSWER], secrets=SIGNING_SECRETS)
    assert await query_once(backend.url) == 7.0
    key, _, token = TEMPORARY[0]
    assert signed_with(backend) == [(key, token)]
    assert [(seen.method, seen.path) for seen in agent.seen] == [("GET", "/v1/credentials")]


async def test_temporary_keys_are_refreshed_as_they_near_expiry(
    serve: Serve, aws_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # botocore refreshes 15 minutes (900 s) before expiry: the first keys are good for
    # 900 s + 2 s from their fetch, so they sign the first query and are due just after.
    expiries: list[int] = []
    agent = await serve_container_credentials(serve, [902, 3600], expiries)
    use_pod_identity(aws_env, tmp_path, agent)
    backend = await serve_cloudwatch(serve, [ANSWER], secrets=SIGNING_SECRETS)
    assert await query_once(backend.url) == 7.0
    await asyncio.sleep(max(0.0, expiries[0] - 900 - time.time()) + 0.2)
    assert [await query_once(backend.url) for _ in range(2)] == [7.0, 7.0]
    (one, _, one_token), (two, _, two_token) = TEMPORARY
    assert signed_with(backend) == [(one, one_token), (two, two_token), (two, two_token)]
    assert len(agent.seen) == 2  # the refreshed keys are cached again


async def test_no_credentials_anywhere_is_a_config_error_naming_the_ways(
    serve: Serve, aws_env: pytest.MonkeyPatch
) -> None:
    backend = await serve_cloudwatch(serve, [ANSWER], secrets=SIGNING_SECRETS)
    with pytest.raises(ProviderConfigError) as caught:
        await query_once(backend.url)
    message = str(caught.value)
    for way in ("aws_access_key_id", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        assert way in message
    assert backend.seen == []


def test_without_botocore_building_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)  # what `import botocore` then finds
    with pytest.raises(ProviderConfigError, match=r"pip install 'ensign\[aws\]'"):
        build_provider(config(MetricProviderType.CLOUDWATCH, region=REGION))


def test_botocore_is_imported_only_when_a_cloudwatch_provider_is_built() -> None:
    script = """
        import sys
        import ensign.cli, ensign.runtime.analysis, ensign.metricproviders.cloudwatch
        from ensign.metricproviders import ProviderConfig, build_provider
        from ensign.model import MetricProviderType
        build_provider(ProviderConfig(type=MetricProviderType.PROMETHEUS, address="http://x"))
        assert "botocore" not in sys.modules, "loaded early"
        build_provider(ProviderConfig(type=MetricProviderType.CLOUDWATCH, region="eu-west-1"))
        assert "botocore" in sys.modules
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True, timeout=60)
