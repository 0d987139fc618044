"""What every entity of a voice profile shares: the profile's device and its name."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_MODEL, DEFAULT_MODEL, DOMAIN, SUBENTRY_VOICE
from .models import OpenAIConfigEntry
from .realtime.profile import VoiceProfile


class VoiceProfileEntity(Entity):
    """An entity of a voice profile, on the profile's device."""

    _attr_has_entity_name = True

    def __init__(self, entry: OpenAIConfigEntry, subentry: ConfigSubentry, key: str) -> None:
        self._entry = entry
        self._profile_id = subentry.subentry_id
        # The satellite keeps the bare subentry id it always had.
        self._attr_unique_id = (
            subentry.subentry_id if key == "satellite" else (f"{subentry.subentry_id}_{key}")
        )
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer="OpenAI",
            model=subentry.data.get(CONF_MODEL, DEFAULT_MODEL),
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def profile(self) -> VoiceProfile:
        """The profile's settings as they are now."""
        return VoiceProfile.from_subentry(self._entry.subentries[self._profile_id])


@callback
def async_add_profile_entities(
    entry: OpenAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    entity: Callable[[OpenAIConfigEntry, ConfigSubentry], Entity],
) -> None:
    """Add a platform's entity for each voice profile, on the profile's subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_VOICE:
            async_add_entities([entity(entry, subentry)], config_subentry_id=subentry.subentry_id)
