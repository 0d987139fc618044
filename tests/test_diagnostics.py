"""Diagnostics never contain the key or account identifiers."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from simulator import RealtimeSimulator

from .conftest import API_KEY, make_entry


async def test_diagnostics_redacts_secrets(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, simulator: RealtimeSimulator
) -> None:
    """The API key, organization and project are redacted; the host is kept."""
    entry = make_entry(simulator, organization="org_secret", project="proj_secret")
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    dumped = json.dumps(diagnostics)
    for secret in (API_KEY, "org_secret", "proj_secret"):
        assert secret not in dumped
    assert diagnostics["entry"]["data"]["api_key"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["base_url"] == simulator.base_url
