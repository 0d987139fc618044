"""Runtime data of a config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .api import OpenAIClient
from .realtime.manager import CallManager

type OpenAIConfigEntry = ConfigEntry[OpenAIRuntimeData]


@dataclass(slots=True)
class OpenAIRuntimeData:
    """What a loaded account entry holds while it runs."""

    client: OpenAIClient
    manager: CallManager
