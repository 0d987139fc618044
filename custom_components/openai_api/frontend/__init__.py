"""Serve the voice card and load it on every dashboard (no HACS frontend install, no build)."""

from __future__ import annotations

from pathlib import Path

from homeassistant.components.http.server import StaticPathConfig
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration

from ..const import DOMAIN, LOGGER

CARD_FILE = "openai-realtime-voice-card.js"
URL_BASE = f"/{DOMAIN}_static"


async def async_register_card(hass: HomeAssistant) -> str:
    """Serve the card module and add it to the frontend; return its URL."""
    integration = await async_get_integration(hass, DOMAIN)
    # The version in the URL makes browsers fetch the new card after an update.
    url = f"{URL_BASE}/{CARD_FILE}?v={integration.version}"
    await hass.http.async_register_static_paths(
        [StaticPathConfig(f"{URL_BASE}/{CARD_FILE}", str(Path(__file__).parent / CARD_FILE), True)]
    )
    if "frontend" in hass.config.components:
        from homeassistant.components.frontend import add_extra_js_url  # noqa: PLC0415

        add_extra_js_url(hass, url)
    else:
        LOGGER.debug("Frontend not loaded: the voice card is served at %s only", url)
    return url
