"""A button per voice profile that makes its Assist pipeline (again)."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .assist_pipelines import async_create_pipeline
from .entity import VoiceProfileEntity, async_add_profile_entities
from .models import OpenAIConfigEntry

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OpenAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the button of each voice profile."""
    async_add_profile_entities(entry, async_add_entities, CreatePipelineButton)


class CreatePipelineButton(VoiceProfileEntity, ButtonEntity):
    """Makes an Assist pipeline named after the profile, with its three entities."""

    _attr_translation_key = "create_pipeline"
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, entry: OpenAIConfigEntry, subentry: ConfigSubentry) -> None:
        super().__init__(entry, subentry, "create_pipeline")

    async def async_press(self) -> None:
        """Make the pipeline."""
        await async_create_pipeline(self.hass, self.profile)
