"""Config flow: user, reauth and reconfigure steps with every error."""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.openai_api.api import OpenAIClient
from custom_components.openai_api.const import (
    CONF_BASE_URL,
    CONF_ORGANIZATION,
    CONF_PROJECT,
    DEFAULT_BASE_URL,
    DOMAIN,
)
from simulator import RealtimeSimulator

from .conftest import API_KEY, make_entry


async def _start(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return result


async def test_user_step_creates_entry(hass: HomeAssistant, simulator: RealtimeSimulator) -> None:
    """Key, host (trailing slash tolerated), organization and project make an entry."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_API_KEY: f" {API_KEY} ",
            CONF_BASE_URL: simulator.base_url + "/",
            CONF_ORGANIZATION: "org_123",
            CONF_PROJECT: "proj_456",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"OpenAI (127.0.0.1:{simulator.port})"
    assert result["data"] == {
        CONF_API_KEY: API_KEY,
        CONF_BASE_URL: simulator.base_url,
        CONF_ORGANIZATION: "org_123",
        CONF_PROJECT: "proj_456",
        "key_placement": "auto",
    }
    check = simulator.requests_to("/models")[-1]
    assert check.headers["Authorization"] == f"Bearer {API_KEY}"
    assert check.headers["OpenAI-Organization"] == "org_123"
    assert check.headers["OpenAI-Project"] == "proj_456"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.runtime_data.client.base_url == simulator.base_url


async def test_default_host_is_openai(hass: HomeAssistant) -> None:
    """The form proposes OpenAI's own host."""
    result = await _start(hass)
    schema = result["data_schema"].schema
    default = next(k for k in schema if k == CONF_BASE_URL).default()
    assert default == DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("fault", "errors"),
    [
        ("401", {"base": "invalid_auth"}),
        ("404", {CONF_BASE_URL: "not_found"}),
        ("500", {"base": "server_error"}),
        ("503", {"base": "server_error"}),
        ("429", {"base": "rate_limited"}),
        ("drop", {"base": "cannot_connect"}),
        ("400", {"base": "unknown"}),
        ("malformed_json", {"base": "unknown"}),
    ],
)
async def test_user_step_errors_then_recovers(
    hass: HomeAssistant, simulator: RealtimeSimulator, fault: str, errors: dict[str, str]
) -> None:
    """Each failure shows its error; the next try succeeds."""
    # aiohttp retries an idempotent request once when its reused connection drops.
    simulator.add_fault("/models", fault, count=2 if fault == "drop" else 1)
    result = await _start(hass)
    data = {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    if fault in ("500", "503"):
        assert result["description_placeholders"]["status"] == fault
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_wrong_key(hass: HomeAssistant, simulator: RealtimeSimulator) -> None:
    """A key the API rejects is invalid_auth."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "sk-wrong", CONF_BASE_URL: simulator.base_url}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    await _finish(hass, result, simulator)


async def _finish(
    hass: HomeAssistant, result: dict[str, Any], simulator: RealtimeSimulator
) -> None:
    """A flow that showed an error still ends in an entry once the input is right."""
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unreachable_host(hass: HomeAssistant, simulator: RealtimeSimulator) -> None:
    """Nothing listening is cannot_connect."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: "http://127.0.0.1:9/v1"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    await _finish(hass, result, simulator)


@pytest.mark.parametrize("url", ["ftp://example.com/v1", "not a url", "https://"])
async def test_invalid_url(hass: HomeAssistant, simulator: RealtimeSimulator, url: str) -> None:
    """A host that is not http(s) is refused without a request."""
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: url}
    )
    assert result["errors"] == {CONF_BASE_URL: "invalid_url"}
    assert simulator.requests == []
    await _finish(hass, result, simulator)


async def test_unexpected_exception(
    hass: HomeAssistant, simulator: RealtimeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in validation shows `unknown` instead of crashing the flow."""

    original = OpenAIClient.verify

    async def boom(self: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(OpenAIClient, "verify", boom)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url}
    )
    assert result["errors"] == {"base": "unknown"}
    monkeypatch.setattr(OpenAIClient, "verify", original)
    await _finish(hass, result, simulator)


async def test_entry_on_openai_is_titled_openai(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default host gives the plain title (OpenAI itself is never reached in tests)."""

    async def verified(self: Any) -> None:
        return None

    monkeypatch.setattr(OpenAIClient, "verify", verified)
    monkeypatch.setattr(
        "custom_components.openai_api.async_setup_entry", AsyncMock(return_value=True)
    )
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: DEFAULT_BASE_URL}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "OpenAI"


async def test_restricted_key_is_accepted(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """A key that may not list models (403) still authenticates."""
    simulator.add_fault("/models", "403")
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_duplicate_aborts(hass: HomeAssistant, simulator: RealtimeSimulator) -> None:
    """The same key on the same host is configured once."""
    make_entry(simulator).add_to_hass(hass)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url + "/"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_same_key_other_host_is_allowed(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """One key on two hosts is two accounts."""
    make_entry(simulator, **{CONF_BASE_URL: "https://example.invalid/v1"}).add_to_hass(hass)
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reauth(hass: HomeAssistant, simulator: RealtimeSimulator) -> None:
    """Reauth asks for a new key, rejects a bad one, stores a good one and reloads."""
    entry = make_entry(simulator, **{CONF_API_KEY: "sk-old"})
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "sk-still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_API_KEY] == API_KEY
    assert entry.data[CONF_BASE_URL] == simulator.base_url


async def test_reconfigure(hass: HomeAssistant, simulator: RealtimeSimulator) -> None:
    """Reconfigure changes host, organization and project; the key stays."""
    entry = make_entry(simulator, **{CONF_BASE_URL: "https://old.invalid/v1", CONF_PROJECT: "p"})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"

    simulator.add_fault("/models", "drop", count=2)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_URL: simulator.base_url, CONF_ORGANIZATION: "org_9"}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_URL: simulator.base_url + "/", CONF_ORGANIZATION: "org_9"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {
        CONF_API_KEY: API_KEY,
        CONF_BASE_URL: simulator.base_url,
        CONF_ORGANIZATION: "org_9",
        "key_placement": "auto",
    }
    assert entry.title == f"OpenAI (127.0.0.1:{simulator.port})"


async def test_reconfigure_onto_other_entry_aborts(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """Reconfigure cannot make two entries of the same key and host."""
    make_entry(simulator).add_to_hass(hass)
    entry = make_entry(simulator, **{CONF_BASE_URL: "https://old.invalid/v1"})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BASE_URL: simulator.base_url}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("placement", "name", "header", "query"),
    [
        ("bearer", None, ("Authorization", f"Bearer {API_KEY}"), None),
        ("api_key", None, ("api-key", API_KEY), None),
        ("header", "x-api-key", ("x-api-key", API_KEY), None),
        ("query", "key", None, ("key", API_KEY)),
    ],
)
async def test_key_placement(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    placement: str,
    name: str | None,
    header: tuple[str, str] | None,
    query: tuple[str, str] | None,
) -> None:
    """The key goes where a compatible host wants it, for every request the entry makes."""
    if placement == "header":
        simulator.accept_key_in(header=name)
    elif placement == "query":
        simulator.accept_key_in(query=name)
    data = {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url, "key_placement": placement}
    if name:
        data["key_name"] = name
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await hass.services.async_call(
        "openai_api", "create_realtime_client_secret", {}, blocking=True, return_response=True
    )
    for request in (
        simulator.requests_to("/models")[-1],
        simulator.requests_to("/realtime/client_secrets")[-1],
    ):
        if header:
            assert request.headers[header[0]] == header[1]
        if query:
            assert request.query[query[0]] == query[1]
        if placement != "bearer":
            assert "Authorization" not in request.headers
    entry = hass.config_entries.async_entries("openai_api")[0]
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("placement", "name", "error"),
    [
        ("header", None, "key_name_required"),
        ("query", "", "key_name_required"),
        ("header", "x y", "invalid_key_name"),
    ],
)
async def test_key_placement_needs_a_name(
    hass: HomeAssistant, simulator: RealtimeSimulator, placement: str, name: str | None, error: str
) -> None:
    data: dict[str, Any] = {
        CONF_API_KEY: API_KEY,
        CONF_BASE_URL: simulator.base_url,
        "key_placement": placement,
    }
    if name is not None:
        data["key_name"] = name
    result = await _start(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["errors"] == {"key_name": error}
    assert simulator.requests == []
    await _finish(hass, result, simulator)
