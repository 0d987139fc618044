"""The voice satellite: one entity per voice profile, a view of that profile's live calls.

Who may speak into which call: a user may announce into, start a conversation in, or ask a
question in only the calls they started; an admin, and an automation that runs without a
user, may use any live call of the profile.
"""

from __future__ import annotations

from typing import Any, override

from homeassistant.components.assist_pipeline import PipelineEvent
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnswer,
    AssistSatelliteConfiguration,
    AssistSatelliteEntity,
    AssistSatelliteEntityFeature,
)
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import VoiceProfileEntity, async_add_profile_entities
from .models import OpenAIConfigEntry
from .realtime.call import RealtimeCall

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
    async_add_profile_entities(entry, async_add_entities, OpenAIVoiceSatellite)


class OpenAIVoiceSatellite(VoiceProfileEntity, AssistSatelliteEntity):
    """Shows the live Realtime calls of a voice profile and speaks into them.

    The base class speaks through an Assist pipeline: it resolves a message to TTS media and
    moves the state itself. A Realtime call speaks text with its own voice, so the
    `async_internal_*` entry points are overridden to hand the text to the call, and the state
    is set from the calls' events with `_set_state`.
    """

    _attr_name = None
    _attr_translation_key = "voice"
    _attr_supported_features = (
        AssistSatelliteEntityFeature.ANNOUNCE | AssistSatelliteEntityFeature.START_CONVERSATION
    )
    # Ids of short-lived calls and growing counters: no use in the history database.
    _unrecorded_attributes = frozenset({"call_ids", "usage"})

    def __init__(self, entry: OpenAIConfigEntry, subentry: ConfigSubentry) -> None:
        super().__init__(entry, subentry, "satellite")

    @property
    def _calls(self) -> list[RealtimeCall]:
        return self._entry.runtime_data.manager.calls_for(self._profile_id)

    @override
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
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """Live calls and usage totals of the profile."""
        calls = self._calls
        return {
            "call_count": len(calls),
            "call_ids": [c.call_id for c in calls],
            "usage": self._entry.runtime_data.manager.profile_usage(self._profile_id).as_dict(),
        }

    @callback
    @override
    def async_get_configuration(self) -> AssistSatelliteConfiguration:
        """No wake words: a Realtime call listens while it is open."""
        return AssistSatelliteConfiguration(
            available_wake_words=[], active_wake_words=[], max_active_wake_words=0
        )

    @override
    async def async_set_configuration(self, config: AssistSatelliteConfiguration) -> None:
        """Nothing to configure."""

    @callback
    @override
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        """Not used: audio goes to OpenAI over WebRTC, not through an Assist pipeline."""

    async def _live_call(self, context: Context | None) -> RealtimeCall:
        """Return the newest live call the caller may speak into (see the module's docstring)."""
        calls = self._calls
        user_id = context.user_id if context is not None else None
        if user_id is not None:
            user = await self.hass.auth.async_get_user(user_id)
            if user is None or not user.is_admin:
                calls = [c for c in calls if c.owner.user_id == user_id]
        calls = [c for c in calls if c.sideband_connected] or calls
        if not calls:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="no_live_session",
                translation_placeholders={"entity_id": self.entity_id},
            )
        return calls[-1]

    @override
    async def async_internal_announce(
        self,
        message: str | None = None,
        media_id: str | None = None,
        preannounce: bool = True,
        preannounce_media_id: str | None = None,
    ) -> None:
        """Speak `message` into the newest live call (media is not supported)."""
        context = self._context  # the caller's, set by HA just before this call
        await (await self._live_call(context)).async_speak(self._text(message, media_id))

    @override
    async def async_internal_start_conversation(
        self,
        start_message: str | None = None,
        start_media_id: str | None = None,
        extra_system_prompt: str | None = None,
        preannounce: bool = True,
        preannounce_media_id: str | None = None,
    ) -> None:
        """Speak `start_message` with `extra_system_prompt` as context; the call listens on."""
        context = self._context
        if not start_message and not extra_system_prompt:
            self._text(start_message, start_media_id)  # raises: nothing to say
        await (await self._live_call(context)).async_speak(
            start_message or None, context=extra_system_prompt
        )

    @override
    async def async_internal_ask_question(
        self,
        question: str | None = None,
        question_media_id: str | None = None,
        preannounce: bool = True,
        preannounce_media_id: str | None = None,
        answers: list[dict[str, Any]] | None = None,
    ) -> AssistSatelliteAnswer | None:
        """Ask in the live call; the answer is the user's next transcript, matched to `answers`."""
        context = self._context
        call = await self._live_call(context)
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

    def _text(self, message: str | None, media_id: str | None) -> str:
        if message:
            return message
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="message_required",
            translation_placeholders={"media_id": media_id or "-"},
        )
