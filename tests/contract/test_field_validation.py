"""`fieldValidation` on writes: unknown fields are dropped (Ignore), dropped with one
`Warning: 299 - "unknown field \\"<path>\\""` header each (Warn, the default since 1.27), or
refused with 400 BadRequest (Strict). Built-in kinds name the field as Go's strict decoder
does (`strict decoding error: unknown field "spec.foo"`); custom resources as the schema
does (`.spec.foo: field not declared in schema`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract._support import Kube, assert_status_response, install_widgets


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def dep(name: str) -> dict[str, Any]:
    from tests.contract._support import deployment

    body: dict[str, Any] = deployment(name).to_dict()
    body["spec"]["foo"] = 1
    body["spec"]["template"]["spec"]["containers"][0]["bar"] = "x"
    return body


async def test_strict_refuses_unknown_fields_of_a_builtin_kind(kube: Kube) -> None:
    response = await kube.http.post(
        kube.path("apps/v1", "deployments"), params={"fieldValidation": "Strict"}, json=dep("s")
    )
    body = assert_status_response(response, 400, "BadRequest")
    message = body["message"]
    assert message.startswith(
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
    ), message
    assert 'unknown field "spec.foo"' in message
    assert 'unknown field "spec.template.spec.containers[0].bar"' in message
    assert (await kube.http.get(kube.path("apps/v1", "deployments", "s"))).status_code == 404


@pytest.mark.parametrize("policy", ["Warn", ""])
async def test_warn_sends_a_warning_header_per_unknown_field(kube: Kube, policy: str) -> None:
    params = {"fieldValidation": policy} if policy else {}
    response = await kube.http.post(
        kube.path("v1", "configmaps"), params=params, json=configmap("w", data={}, junk=1)
    )
    assert response.status_code == 201, response.text
    assert response.headers.get_list("Warning") == ['299 - "unknown field \\"junk\\""']
    assert "junk" not in response.json()
    response = await kube.http.post(
        kube.path("apps/v1", "deployments"), params=params, json=dep("w")
    )
    assert response.status_code == 201, response.text
    assert sorted(response.headers.get_list("Warning")) == [
        '299 - "unknown field \\"spec.foo\\""',
        '299 - "unknown field \\"spec.template.spec.containers[0].bar\\""',
    ]
    assert "foo" not in response.json()["spec"]


async def test_ignore_drops_unknown_fields_silently(kube: Kube) -> None:
    response = await kube.http.post(
        kube.path("v1", "configmaps"),
        params={"fieldValidation": "Ignore"},
        json=configmap("i", junk=1),
    )
    assert response.status_code == 201, response.text
    assert "Warning" not in response.headers
    assert "junk" not in response.json()
    known = await kube.http.post(kube.path("v1", "configmaps"), json=configmap("k", data={}))
    assert "Warning" not in known.headers


async def test_custom_resources_follow_their_schema(kube: Kube) -> None:
    res = await install_widgets(kube)
    api_version = res._api_info.resource.api_version
    path = kube.path(api_version, "widgets")
    widget = {
        "apiVersion": api_version,
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "shade": "blue"},
    }
    strict = await kube.http.post(path, params={"fieldValidation": "Strict"}, json=widget)
    body = assert_status_response(strict, 400, "BadRequest")
    assert ".spec.shade: field not declared in schema" in body["message"]
    warned = await kube.http.post(path, params={"fieldValidation": "Warn"}, json=widget)
    assert warned.status_code == 201, warned.text
    assert warned.headers.get_list("Warning") == ['299 - "unknown field \\"spec.shade\\""']
    assert warned.json()["spec"] == {"size": 1}
    patched = await kube.http.patch(
        f"{path}/w",
        params={"fieldValidation": "Strict"},
        json={"spec": {"hue": 3}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_status_response(patched, 400, "BadRequest")
