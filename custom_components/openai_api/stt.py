"""Speech to text for Assist pipelines: a Realtime transcription session per utterance."""

from __future__ import annotations

from collections.abc import AsyncIterable

from homeassistant.components import stt
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import OpenAIError
from .const import LOGGER
from .entity import VoiceProfileEntity, async_add_profile_entities
from .errors import api_failure
from .models import OpenAIConfigEntry
from .pipeline.languages import LANGUAGES, iso_639_1
from .pipeline.transcriber import async_transcribe

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: OpenAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one speech-to-text entity per voice profile."""
    async_add_profile_entities(entry, async_add_entities, OpenAISpeechToText)


class OpenAISpeechToText(VoiceProfileEntity, stt.SpeechToTextEntity):
    """Transcribes what a voice surface hears with the profile's transcription model."""

    _attr_translation_key = "stt"

    def __init__(self, entry: OpenAIConfigEntry, subentry: ConfigSubentry) -> None:
        super().__init__(entry, subentry, "stt")

    @property
    def supported_languages(self) -> list[str]:
        """The languages of OpenAI's transcription models."""
        return LANGUAGES

    @property
    def supported_formats(self) -> list[stt.AudioFormats]:
        """Raw PCM as HA's pipeline sends it (converted to 24 kHz here)."""
        return [stt.AudioFormats.WAV]

    @property
    def supported_codecs(self) -> list[stt.AudioCodecs]:
        """16-bit PCM."""
        return [stt.AudioCodecs.PCM]

    @property
    def supported_bit_rates(self) -> list[stt.AudioBitRates]:
        """16 bits per sample."""
        return [stt.AudioBitRates.BITRATE_16]

    @property
    def supported_sample_rates(self) -> list[stt.AudioSampleRates]:
        """16 kHz, as every HA voice surface sends."""
        return [stt.AudioSampleRates.SAMPLERATE_16000]

    @property
    def supported_channels(self) -> list[stt.AudioChannels]:
        """Mono."""
        return [stt.AudioChannels.CHANNEL_MONO]

    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        """Stream the audio to OpenAI as it arrives; return the user's words."""
        profile = self.profile
        manager = self._entry.runtime_data.manager
        try:
            text = await async_transcribe(
                self._entry.runtime_data.client,
                stream,
                model=profile.stt_model,
                language=iso_639_1(metadata.language),
                on_usage=lambda usage: manager.add_transcription_usage(self._profile_id, usage),
            )
        except OpenAIError as err:
            api_failure(self.hass, self._entry, err)  # starts reauth on a rejected key
            # The pipeline reports `stt-stream-failed`; the cause goes to the log.
            LOGGER.warning("Speech-to-text of %s failed: %s", profile.title, err)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        return stt.SpeechResult(text, stt.SpeechResultState.SUCCESS)
