"""Serve the voice card and load it on every dashboard (no HACS frontend install, no build).

The card is a folder of ES modules (card/) that import each other relatively. It is served
under a path that contains a digest of its files, /openai_api_static/<digest>/, with HA's
one-month cache headers: an update that changes any module changes the folder's URL, so the
browser fetches the entry module and, through the relative imports, every module it imports
afresh, while an unchanged card stays cached across restarts and updates.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.http.server import StaticPathConfig
from homeassistant.core import HomeAssistant

from ..const import DOMAIN, LOGGER

CARD_DIR = Path(__file__).parent / "card"
CARD_FILE = "openai-realtime-voice-card.js"
URL_BASE = f"/{DOMAIN}_static"


def card_digest(folder: Path = CARD_DIR) -> str:
    """Return a short digest of the card's modules: their names and contents."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.js")):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> str:
    """Serve the card's folder and add its entry module to the frontend; return its URL."""
    folder_url = f"{URL_BASE}/{await hass.async_add_executor_job(card_digest)}"
    url = f"{folder_url}/{CARD_FILE}"
    await hass.http.async_register_static_paths(
        [StaticPathConfig(folder_url, str(CARD_DIR), cache_headers=True)]
    )
    if "frontend" in hass.config.components:
        from homeassistant.components.frontend import add_extra_js_url  # noqa: PLC0415

        add_extra_js_url(hass, url)
    else:
        LOGGER.debug("Frontend not loaded: the voice card is served at %s only", url)
    return url
