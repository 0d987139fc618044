"""What the voice profile form offers in its lists (free text is allowed where names grow)."""

from __future__ import annotations

from .schema.contract import EAGERNESS, NOISE_REDUCTION_TYPES, TURN_DETECTION_TYPES

REALTIME_MODELS = (
    "gpt-realtime",
    "gpt-realtime-1.5",
    "gpt-realtime-2",
    "gpt-realtime-mini",
    "gpt-audio-1.5",
    "gpt-audio-mini",
)
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
TTS_MODELS = ("gpt-4o-mini-tts", "tts-1", "tts-1-hd")
TRANSCRIPTION_MODELS = (
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe",
    "gpt-4o-transcribe-diarize",
    "whisper-1",
)

__all__ = [
    "EAGERNESS",
    "NOISE_REDUCTION_TYPES",
    "REALTIME_MODELS",
    "TRANSCRIPTION_MODELS",
    "TTS_MODELS",
    "TURN_DETECTION_TYPES",
    "VOICES",
]
