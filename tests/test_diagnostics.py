"""Diagnostics never contain the key or account identifiers."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from simulator import RealtimeSimulator

from .conftest import API_KEY, make_entry
from .voice_helpers import Voice


async def test_diagnostics_redacts_secrets(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, simulator: RealtimeSimulator
) -> None:
    """The API key, organization and project are redacted; the host is kept."""
    entry = make_entry(simulator, organization="org_secret", project="proj_secret")
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            "webhook_id": "hook_secret_id",
            "webhook_secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0",
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    dumped = json.dumps(diagnostics)
    for secret in (API_KEY, "org_secret", "proj_secret", "hook_secret_id", "whsec_c2Vj"):
        assert secret not in dumped
    assert diagnostics["entry"]["data"]["api_key"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["base_url"] == simulator.base_url


@pytest.fixture
async def diagnostics_component(hass: HomeAssistant) -> None:
    """Diagnostics registers HTTP views: set it up before a client freezes the router."""
    assert await async_setup_component(hass, "diagnostics", {})


async def test_diagnostics_show_live_calls_without_secrets(
    hass: HomeAssistant,
    diagnostics_component: None,
    hass_client: ClientSessionGenerator,
    test_light: str,
    voice: Voice,
    loaded_entry: MockConfigEntry,
) -> None:
    """Live calls appear with their id, state and usage; no key, no user id."""
    _peer, call_id, _call = await voice.connect()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    [call] = diagnostics["calls"]
    assert call["call_id"] == call_id
    assert call["mode"] == "relay"
    assert call["state"] == "idle"
    assert diagnostics["subentries"][0]["usage"]["responses"] == 0
    dumped = json.dumps(diagnostics)
    assert API_KEY not in dumped
    for user in await hass.auth.async_get_users():
        assert user.id not in dumped
