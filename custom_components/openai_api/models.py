"""Runtime data of a config entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .api import OpenAIClient

if TYPE_CHECKING:
    from .realtime.manager import RealtimeManager

type OpenAIConfigEntry = ConfigEntry[OpenAIRuntimeData]


@dataclass(slots=True)
class OpenAIRuntimeData:
    """What a loaded account entry holds while it runs."""

    client: OpenAIClient
    manager: RealtimeManager
