"""Text to speech for Assist pipelines: the profile's voice, streamed sentence by sentence."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, override

from homeassistant.components import tts
from homeassistant.components.tts.entity import TTSAudioRequest
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import OpenAIError
from .choices import VOICES
from .entity import VoiceProfileEntity, async_add_profile_entities
from .errors import api_failure
from .models import OpenAIConfigEntry
from .pipeline.languages import LANGUAGES
from .pipeline.speech import async_speak

PARALLEL_UPDATES = 0
# What the surfaces ask for: mp3 for browsers and ESPHome, WAV for VoIP, raw PCM for Wyoming.
FORMATS = {"mp3": "mp3", "wav": "wav", "raw": "pcm", "pcm": "pcm", "flac": "flac", "opus": "opus"}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OpenAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one text-to-speech entity per voice profile."""
    async_add_profile_entities(entry, async_add_entities, OpenAITextToSpeech)


async def _only(text: str) -> AsyncGenerator[str]:
    yield text


class OpenAITextToSpeech(VoiceProfileEntity, tts.TextToSpeechEntity):
    """Speaks exactly the text it is given, in the profile's voice."""

    _attr_translation_key = "tts"
    _attr_supported_languages = LANGUAGES
    _attr_default_language = "en-US"  # the models speak the text's own language
    _attr_supported_options = [tts.ATTR_VOICE, tts.ATTR_PREFERRED_FORMAT]  # noqa: RUF012

    def __init__(self, entry: OpenAIConfigEntry, subentry: ConfigSubentry) -> None:
        super().__init__(entry, subentry, "tts")

    @property
    @override
    def default_options(self) -> dict[str, Any]:
        """The profile's voice, as mp3."""
        return {tts.ATTR_VOICE: self.profile.voice, tts.ATTR_PREFERRED_FORMAT: "mp3"}

    @callback
    @override
    def async_get_supported_voices(self, language: str) -> list[tts.Voice]:
        """Return the built-in voices, the profile's first."""
        own = self.profile.voice
        names = [own, *(v for v in VOICES if v != own)]
        return [tts.Voice(name, name) for name in names]

    def _audio(self, text: AsyncGenerator[str], options: dict[str, Any]) -> tuple[str, Any]:
        profile = self.profile
        extension = FORMATS.get(str(options.get(tts.ATTR_PREFERRED_FORMAT) or "mp3"), "mp3")
        audio = async_speak(
            self._entry.runtime_data.client,
            text,
            model=profile.tts_model,
            voice=str(options.get(tts.ATTR_VOICE) or profile.voice),
            speed=profile.speed,
            response_format=extension,
        )
        return ("pcm" if extension == "pcm" else extension), self._translated(audio)

    async def _translated(self, audio: AsyncIterator[bytes]) -> AsyncGenerator[bytes]:
        try:
            async for chunk in audio:
                yield chunk
        except OpenAIError as err:
            raise api_failure(self.hass, self._entry, err) from err

    @override
    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> tts.TtsAudioType:
        """Speak a whole message (for callers that do not stream)."""
        extension, audio = self._audio(_only(message), options)
        return extension, b"".join([chunk async for chunk in audio])

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> tts.TTSAudioResponse:
        """Speak text while it is still being written: each sentence as soon as it is whole."""
        extension, audio = self._audio(request.message_gen, request.options)
        return tts.TTSAudioResponse(extension, audio)
