"""The conversation agent of a voice profile: its model answering in text, for Assist."""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal, override

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import MATCH_ALL
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import chat_session
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import OpenAIError
from .const import DOMAIN
from .entity import VoiceProfileEntity, async_add_profile_entities
from .errors import api_failure
from .models import OpenAIConfigEntry
from .pipeline.text_session import TextConversation

PARALLEL_UPDATES = 0
MAX_OPEN_CONVERSATIONS = 8  # text sessions kept open at once; the oldest is closed first


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OpenAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one conversation agent per voice profile."""
    async_add_profile_entities(entry, async_add_entities, OpenAIConversationEntity)


class OpenAIConversationEntity(VoiceProfileEntity, conversation.ConversationEntity):
    """The profile's Realtime model, with its instructions and tools, answering in text."""

    _attr_name = None
    _attr_translation_key = "conversation"
    _attr_supports_streaming = True

    def __init__(self, entry: OpenAIConfigEntry, subentry: ConfigSubentry) -> None:
        super().__init__(entry, subentry, "conversation")
        if self.profile.llm_api_ids:
            self._attr_supported_features = conversation.ConversationEntityFeature.CONTROL
        self._sessions: OrderedDict[str, TextConversation] = OrderedDict()

    @property
    @override
    def supported_languages(self) -> list[str] | Literal["*"]:
        """Any language: the model answers in the user's."""
        return MATCH_ALL

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Close every open text session."""
        sessions, self._sessions = list(self._sessions.values()), OrderedDict()
        for session in sessions:
            await session.async_close()

    @override
    async def _async_handle_message(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        """Answer with the profile's model in the conversation's own Realtime session."""
        profile = self.profile
        try:
            await chat_log.async_provide_llm_data(
                user_input.as_llm_context(DOMAIN),
                profile.llm_api_ids or None,
                profile.prompt,
                user_input.extra_system_prompt,
            )
        except conversation.ConverseError as err:
            return err.as_conversation_result()
        session = self._session_for(chat_log.conversation_id)
        try:
            await session.async_respond(chat_log, self.entity_id)
        except OpenAIError as err:
            raise api_failure(self.hass, self._entry, err) from err
        return conversation.async_get_result_from_chat_log(user_input, chat_log)

    def _session_for(self, conversation_id: str) -> TextConversation:
        """Return the conversation's session: kept for follow-ups, closed when the chat ends."""
        if (session := self._sessions.get(conversation_id)) is not None:
            self._sessions.move_to_end(conversation_id)
            return session
        manager = self._entry.runtime_data.manager
        session = TextConversation(
            self._entry.runtime_data.client,
            self.profile.model,
            lambda usage: manager.add_usage(self._profile_id, usage),
        )
        self._sessions[conversation_id] = session
        if (current := chat_session.current_session.get()) is not None:
            current.async_on_cleanup(self._closer(conversation_id))
        while len(self._sessions) > MAX_OPEN_CONVERSATIONS:
            _, oldest = self._sessions.popitem(last=False)
            self.hass.async_create_task(oldest.async_close())
        return session

    def _closer(self, conversation_id: str) -> CALLBACK_TYPE:
        @callback
        def close() -> None:
            if (session := self._sessions.pop(conversation_id, None)) is not None:
                self.hass.async_create_task(session.async_close())

        return close
