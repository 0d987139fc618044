"""Minting a Realtime client secret: the action and the voice card's ephemeral mode share it."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .api import OpenAIClient
from .errors import async_call_api

RESPONSE_FIELDS = ("value", "expires_at", "session")


async def async_create_client_secret(
    hass: HomeAssistant, entry: ConfigEntry, client: OpenAIClient, payload: dict[str, Any]
) -> dict[str, Any]:
    """Mint a client secret from a validated payload; return `value`, `expires_at`, `session`.

    OpenAI errors become translated `HomeAssistantError`s; a rejected key starts reauth.
    """
    result = await async_call_api(hass, entry, client.create_client_secret(payload))
    return {key: result[key] for key in RESPONSE_FIELDS}
