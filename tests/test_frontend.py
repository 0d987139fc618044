"""The card is served by the integration and loaded on every dashboard."""

from __future__ import annotations

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator


async def test_card_is_served_and_registered(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, simulator: object
) -> None:
    """With the frontend loaded, the card's module URL is added and the file is served."""
    assert await async_setup_component(hass, "frontend", {})
    from .conftest import make_entry

    entry: MockConfigEntry = make_entry(simulator)  # type: ignore[arg-type]
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    urls = [u for u in hass.data[DATA_EXTRA_MODULE_URL].urls if "openai_api" in u]
    assert urls == ["/openai_api_static/openai-realtime-voice-card.js?v=0.1.0"]

    client = await hass_client()
    resp = await client.get(urls[0])
    assert resp.status == 200
    assert "openai-realtime-voice-card" in await resp.text()


async def test_card_served_without_frontend(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, loaded_entry: MockConfigEntry
) -> None:
    """Without the frontend integration the module is still served (for manual resources)."""
    client = await hass_client()
    resp = await client.get("/openai_api_static/openai-realtime-voice-card.js")
    assert resp.status == 200


def test_card_module_matches_the_backend() -> None:
    """The card defines its elements, registers in the card picker, and speaks every command."""
    from pathlib import Path
    import re

    from custom_components.openai_api import websocket_api
    from custom_components.openai_api.frontend import CARD_FILE

    source = (Path(websocket_api.__file__).parent / "frontend" / CARD_FILE).read_text()
    assert 'const CARD = "openai-realtime-voice-card";' in source
    assert "const EDITOR = `${CARD}-editor`;" in source
    assert "window.customCards" in source
    for handler in (
        websocket_api.ws_connect,
        websocket_api.ws_ephemeral,
        websocket_api.ws_attach,
        websocket_api.ws_hangup,
    ):
        assert f'type: "{handler._ws_command}"' in source  # type: ignore[attr-defined]
    # The module must load as is in a browser: no imports of packages, no build step.
    assert not re.search(r"^\s*(import|export)\b", source, re.MULTILINE)
    assert "require(" not in source
