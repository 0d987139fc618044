"""The voice satellite: one entity per voice profile, a view of that profile's live calls."""

from __future__ import annotations

from typing import Any

from homeassistant.components.assist_pipeline import PipelineEvent
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnswer,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityFeature,
)
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_MODEL, DEFAULT_MODEL, DOMAIN, SUBENTRY_VOICE
from .models import OpenAIConfigEntry
from .realtime.session import RealtimeCall

PARALLEL_UPDATES = 0
ANSWER_TIMEOUT = 30.0  # seconds the user has to start answering a question

# When several calls of one profile are live, the busiest state wins.
_STATE_ORDER = (
    AssistSatelliteState.RESPONDING,
    AssistSatelliteState.PROCESSING,
    AssistSatelliteState.LISTENING,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OpenAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one satellite per voice profile."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_VOICE:
            async_add_entities(
                [OpenAIVoiceSatellite(entry, subentry)], config_subentry_id=subentry.subentry_id
            )


class OpenAIVoiceSatellite(AssistSatelliteEntity):
    """Shows the live Realtime calls of a voice profile and speaks into them."""

    _attr_has_entity_name = True
    _attr_name = None
    _attr_translation_key = "voice"
    _attr_supported_features = (
        AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION
    )

    def __init__(self, entry: OpenAIConfigEntry, subentry: ConfigSubentry) -> None:
        self._entry = entry
        self._profile_id = subentry.subentry_id
        self._attr_unique_id = subentry.subentry_id
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer="OpenAI",
            model=subentry.data.get(CONF_MODEL, DEFAULT_MODEL),
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def _calls(self) -> list[RealtimeCall]:
        return self._entry.runtime_data.manager.calls_for(self._profile_id)

    async def async_added_to_hass(self) -> None:
        """Follow the profile's calls."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._entry.runtime_data.manager.async_listen(self._profile_id, self._async_update)
        )

    @callback
    def _async_update(self) -> None:
        states = {call.state for call in self._calls}
        state = next((s for s in _STATE_ORDER if s in states), AssistSatelliteState.IDLE)
        self._set_state(state)  # writes the state (and the attributes below)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Live calls and usage totals of the profile."""
        calls = self._calls
        return {
            "call_count": len(calls),
            "call_ids": [c.call_id for c in calls if c.call_id],
            "usage": self._entry.runtime_data.manager.profile_usage(self._profile_id).as_dict(),
        }

    @callback
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """No wake words: a Realtime call listens while it is open."""
        return AssistSatelliteConfiguration(
            available_wake_words=[], active_wake_words=[], max_active_wake_words=0
        )

    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Nothing to configure."""

    @callback
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """Not used: audio goes to OpenAI over WebRTC, not through an Assist pipeline."""

    def _live_call(self) -> RealtimeCall:
        calls = [c for c in self._calls if c.sideband_connected] or self._calls
        if not calls:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="no_live_session",
                translation_placeholders={"entity_id": self.entity_id},
            )
        return calls[-1]

    async def async_internal_announce(
        self,
        message: str | None = None,
        media_id: str | None = None,
        preannounce: bool = True,
        preannounce_media_id: str | None = None,
    ) -> None:
        """Speak `message` into the newest live call (media is not supported)."""
        await self._live_call().async_speak(self._text(message, media_id))

    async def async_internal_start_conversation(
        self,
        start_message: str | None = None,
        start_media_id: str | None = None,
        extra_system_prompt: str | None = None,
        preannounce: bool = True,
        preannounce_media_id: str | None = None,
    ) -> None:
        """Speak `start_message` and keep listening for the answer."""
        await self._live_call().async_speak(
            self._text(start_message, start_media_id, extra_system_prompt),
            extra_instructions=extra_system_prompt,
        )

    async def async_internal_ask_question(
        self,
        question: str | None = None,
        question_media_id: str | None = None,
        preannounce: bool = True,
        preannounce_media_id: str | None = None,
        answers: list[dict[str, Any]] | None = None,
    ) -> AssistSatelliteAnswer | None:
        """Ask in the live call; the answer is the user's next transcript, matched to `answers`."""
        call = self._live_call()
        text = await call.async_ask(
            self._text(question, question_media_id), answer_within=ANSWER_TIMEOUT
        )
        if text is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="no_answer",
                translation_placeholders={"entity_id": self.entity_id},
            )
        if not answers:
            return AssistSatelliteAnswer(id=None, sentence=text)
        return self._question_response_to_answer(text, answers)

    def _text(self, message: str | None, media_id: str | None, fallback: str | None = None) -> str:
        if message:
            return message
        if fallback:
            return fallback
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="message_required",
            translation_placeholders={"media_id": media_id or "-"},
        )
