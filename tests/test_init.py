"""Setup, unload and the setup-time key check."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api.const import DOMAIN
from simulator import RealtimeSimulator


async def test_setup_and_unload(
    hass: HomeAssistant, simulator: RealtimeSimulator, config_entry: MockConfigEntry
) -> None:
    """An entry loads after one authenticated call and unloads cleanly."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.LOADED
    assert [r.path for r in simulator.requests] == ["/models"]
    assert hass.services.has_service(DOMAIN, "create_realtime_client_secret")

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    # The action stays registered (it reports that no account is loaded).
    assert hass.services.has_service(DOMAIN, "create_realtime_client_secret")


async def test_rejected_key_starts_reauth(
    hass: HomeAssistant, simulator: RealtimeSimulator, config_entry: MockConfigEntry
) -> None:
    """A 401 at setup fails the entry and opens a reauth flow."""
    simulator.add_fault("/models", "401")
    config_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]


@pytest.mark.parametrize("fault", ["500", "drop", "429"])
async def test_transient_failure_retries(
    hass: HomeAssistant, simulator: RealtimeSimulator, config_entry: MockConfigEntry, fault: str
) -> None:
    """Server errors, dropped connections and rate limits at setup retry later."""
    simulator.add_fault("/models", fault, count=2)  # aiohttp retries a dropped GET once
    config_entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
