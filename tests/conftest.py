"""Shared fixtures: a Home Assistant test instance, the local Realtime simulator, entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

# Import our package before the harness's own `custom_components` so HA finds this one.
import custom_components.openai_api  # noqa: F401
from custom_components.openai_api.const import CONF_BASE_URL, DOMAIN, SUBENTRY_VOICE
from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE
from simulator import RealtimeSimulator
from simulator.webrtc import cancel_stray_ice_tasks

from .simulator_helpers import gateway_options
from .voice_helpers import Voice, async_setup_test_light

API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
async def auto_enable_custom_integrations(
    hass: HomeAssistant, enable_custom_integrations: None
) -> None:
    """Let HA load integrations from custom_components/, with the core integration set up.

    `conversation` (a dependency through assist_satellite) needs `homeassistant` for exposed
    entities, as it has in a real instance.
    """
    assert await async_setup_component(hass, "homeassistant", {})


@pytest.fixture
async def simulator(
    socket_enabled: None, request: pytest.FixtureRequest
) -> AsyncIterator[RealtimeSimulator]:
    """Run the Realtime API simulator on loopback for one test.

    It takes the key as OpenAI does, unless the test places it like a compatible gateway (a
    header or query parameter of its own): see `simulator_helpers.gateway_options`.
    """
    async with RealtimeSimulator(api_key=API_KEY, **gateway_options(request)) as sim:
        yield sim
    await cancel_stray_ice_tasks()


def make_entry(
    sim: RealtimeSimulator,
    *,
    profiles: dict[str, dict[str, Any]] | None = None,
    **data: Any,
) -> MockConfigEntry:
    """Return an account entry that points at the simulator, with voice profiles by title."""
    if profiles is None:
        profiles = {"Voice assistant": DEFAULT_PROFILE}
    return MockConfigEntry(
        domain=DOMAIN,
        title="OpenAI",
        data={CONF_API_KEY: API_KEY, CONF_BASE_URL: sim.base_url, **data},
        subentries_data=[
            ConfigSubentryData(
                data=profile, subentry_type=SUBENTRY_VOICE, title=title, unique_id=None
            )
            for title, profile in profiles.items()
        ],
    )


@pytest.fixture
def config_entry(simulator: RealtimeSimulator) -> MockConfigEntry:
    """An account entry pointing at the simulator (not yet added)."""
    return make_entry(simulator)


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """The account entry, set up."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
async def test_light(hass: HomeAssistant) -> str:
    """A light the Assist API may control."""
    return await async_setup_test_light(hass)


@pytest.fixture
async def voice(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    test_light: str,
    hass_ws_client: WebSocketGenerator,
) -> AsyncIterator[Voice]:
    """HA with a voice profile, a light, and a logged-in websocket client."""
    v = Voice(hass, await hass_ws_client(hass), simulator)
    yield v
    await v.close()
    if loaded_entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(loaded_entry.entry_id)
