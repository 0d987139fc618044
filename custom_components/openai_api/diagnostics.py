"""Diagnostics: the entry's settings with every secret redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant

from .const import (
    CONF_ORGANIZATION,
    CONF_PHONE_USER,
    CONF_PROJECT,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
)
from .models import OpenAIConfigEntry

# The webhook id is the secret part of the incoming-call URL; the phone user is an HA user id.
TO_REDACT = {
    CONF_API_KEY,
    CONF_ORGANIZATION,
    CONF_PROJECT,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    CONF_PHONE_USER,
    "value",
    "authorization",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: OpenAIConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    manager = entry.runtime_data.manager
    return {
        "entry": {
            "title": entry.title,
            "version": f"{entry.version}.{entry.minor_version}",
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "subentries": [
            {
                "subentry_id": sub.subentry_id,
                "subentry_type": sub.subentry_type,
                "title": sub.title,
                "data": async_redact_data(dict(sub.data), TO_REDACT),
                "usage": manager.profile_usage(sub.subentry_id).as_dict(),
            }
            for sub in entry.subentries.values()
        ],
        # Calls HA holds: ids, state and usage only; user ids stay out.
        "calls": [call.as_dict() for call in manager.calls],
    }
