"""Runtime data of a config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .api import OpenAIClient
from .const import DOMAIN
from .realtime.call import RealtimeCall
from .realtime.manager import CallManager

type OpenAIConfigEntry = ConfigEntry[OpenAIRuntimeData]


@dataclass(slots=True)
class OpenAIRuntimeData:
    """What a loaded account entry holds while it runs."""

    client: OpenAIClient
    manager: CallManager


def find_held_call(hass: HomeAssistant, call_id: str) -> RealtimeCall | None:
    """Return the call HA holds by this id (live or being hung up), whichever account's."""
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        runtime_data: OpenAIRuntimeData = entry.runtime_data
        if (call := runtime_data.manager.held(call_id)) is not None:
            return call
    return None
