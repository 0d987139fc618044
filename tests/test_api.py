"""The HA-free API client: headers, URLs and the error envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
import aiohttp.abc
import pytest

from custom_components.openai_api.api import (
    OpenAIAuthenticationError,
    OpenAIBadRequestError,
    OpenAIClient,
    OpenAIRateLimitError,
    OpenAIResponseError,
    OpenAIServerError,
    normalize_base_url,
    refuse_redirects,
)
from simulator import RealtimeSimulator

from .conftest import API_KEY


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def test_normalize_base_url() -> None:
    assert normalize_base_url(" https://api.openai.com/v1/ ") == "https://api.openai.com/v1"


def test_websocket_url() -> None:
    client = OpenAIClient(None, "k", "https://example.openai.azure.com/openai/v1/")  # type: ignore[arg-type]
    assert client.websocket_url("/realtime", call_id="rtc_1 2") == (
        "wss://example.openai.azure.com/openai/v1/realtime?call_id=rtc_1%202"
    )
    plain = OpenAIClient(None, "k", "http://127.0.0.1:8/v1")  # type: ignore[arg-type]
    assert plain.websocket_url("/realtime", call_id="x").startswith("ws://127.0.0.1:8/v1/realtime")


class _LoopbackResolver(aiohttp.abc.AbstractResolver):
    """Resolves every host name to 127.0.0.1, so a client can use a real-looking host."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": 2,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("host", "api_key_header"),
    [("res.openai.azure.com", True), ("apim.azure-api.net", True), ("api.example.com", False)],
)
async def test_azure_hosts_get_api_key_header(
    simulator: RealtimeSimulator, host: str, api_key_header: bool
) -> None:
    """Azure hosts get the key as `api-key` too; other hosts only as a bearer token."""
    connector = aiohttp.TCPConnector(resolver=_LoopbackResolver())
    async with aiohttp.ClientSession(connector=connector) as http:
        client = OpenAIClient(http, API_KEY, f"http://{host}:{simulator.port}/v1")
        await client.list_models()
    headers = simulator.requests_to("/models")[-1].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers.get("api-key") == (API_KEY if api_key_header else None)


async def test_azure_style_host_authenticates_with_api_key_header(
    simulator: RealtimeSimulator, http: aiohttp.ClientSession
) -> None:
    """The simulator accepts `api-key` alone, as Azure does."""
    client = OpenAIClient(http, API_KEY, simulator.base_url)
    client._headers = {"api-key": API_KEY}
    assert await client.list_models()


async def test_error_envelope_fields(
    simulator: RealtimeSimulator, http: aiohttp.ClientSession
) -> None:
    client = OpenAIClient(http, API_KEY, simulator.base_url)
    simulator.add_fault("/realtime/client_secrets", "429", retry_after=12)
    with pytest.raises(OpenAIRateLimitError) as err:
        await client.create_client_secret({})
    assert err.value.retry_after == 12
    assert err.value.status == 429
    assert err.value.code == "rate_limit_exceeded"
    assert err.value.request_id and err.value.request_id.startswith("req_")

    with pytest.raises(OpenAIBadRequestError) as bad:
        await client.create_client_secret(
            {"session": {"type": "realtime", "audio": {"output": {"speed": 9}}}}
        )
    assert bad.value.param == "session.audio.output.speed"

    wrong = OpenAIClient(http, "sk-wrong", simulator.base_url)
    with pytest.raises(OpenAIAuthenticationError) as auth:
        await wrong.list_models()
    assert "sk-wrong" not in auth.value.message


async def test_redirects_are_not_followed(socket_enabled: None) -> None:
    """A redirect to another host would carry Azure's `api-key` header along: refuse it."""
    stolen: list[dict[str, str]] = []

    async def thief(request: web.Request) -> web.Response:
        stolen.append(dict(request.headers))
        return web.json_response({"object": "list", "data": []})

    thief_runner, thief_base = await _serve(thief)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{thief_base}{request.path_qs.removeprefix('/v1')}")

    runner, base = await _serve(redirect)
    port = base.rsplit(":", 1)[1].split("/")[0]
    connector = aiohttp.TCPConnector(resolver=_LoopbackResolver())
    try:
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            aiohttp.ClientSession(trace_configs=[refuse_redirects()]) as sideband,
        ):
            client = OpenAIClient(
                http,
                API_KEY,
                f"http://res.openai.azure.com:{port}/v1",
                sideband_session=sideband,
            )
            with pytest.raises(OpenAIResponseError, match="redirect"):
                await client.list_models()
            with pytest.raises(OpenAIResponseError, match="redirect"):
                await client.hangup_call("rtc_1")
            client_ws = OpenAIClient(http, API_KEY, base, sideband_session=sideband)
            with pytest.raises(OpenAIResponseError, match="redirect"):
                await client_ws.connect_sideband("rtc_1")
    finally:
        await runner.cleanup()
        await thief_runner.cleanup()
    assert stolen == []


async def test_client_without_sideband_session_makes_rest_calls_only() -> None:
    client = OpenAIClient(None, API_KEY, "http://127.0.0.1:9/v1")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        await client.connect_sideband("rtc_1")


async def _serve(handler: web.RequestHandler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "message"),
    [
        (
            502,
            b"<html>Bad gateway</html>",
            {},
            OpenAIServerError,
            "HTTP 502: <html>Bad gateway</html>",
        ),
        (500, b"", {}, OpenAIServerError, "HTTP 500"),
        (
            429,
            b"{}",
            {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
            OpenAIRateLimitError,
            "HTTP 429",
        ),
        (418, b'{"error": "teapot"}', {}, OpenAIBadRequestError, "HTTP 418"),
    ],
)
async def test_non_openai_error_bodies(
    socket_enabled: None,
    http: aiohttp.ClientSession,
    status: int,
    body: bytes,
    headers: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    """Proxies answer with HTML, empty bodies or odd envelopes: still a typed error."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, headers=headers)

    runner, base = await _serve(handler)
    try:
        with pytest.raises(error) as err:
            await OpenAIClient(http, API_KEY, base).list_models()
        assert str(err.value) == message
        if isinstance(err.value, OpenAIRateLimitError):
            assert err.value.retry_after is None
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "body",
    [b'{"object": "list"}', b'{"value": 1, "expires_at": 2, "session": {}}', b"[]"],
)
async def test_unexpected_shapes(
    socket_enabled: None, http: aiohttp.ClientSession, body: bytes
) -> None:
    """JSON that is not what the contract promises is an OpenAIResponseError."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    runner, base = await _serve(handler)
    try:
        client = OpenAIClient(http, API_KEY, base)
        with pytest.raises(OpenAIResponseError):
            await client.list_models()
        with pytest.raises(OpenAIResponseError):
            await client.create_client_secret({})
    finally:
        await runner.cleanup()
