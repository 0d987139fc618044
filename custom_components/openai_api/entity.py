"""What every entity of a voice profile shares: the profile's device and its name."""

from __future__ import annotations

from homeassistant.config_entries import ConfigSubentry
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import CONF_MODEL, DEFAULT_MODEL, DOMAIN
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
