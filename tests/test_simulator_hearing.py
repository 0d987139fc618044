"""What the simulator hears in audio: a phrase in tones, else speech, else nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulator import hearing, speech

from .simulator_helpers import (
    SPEECH_WAV,
    TURN_OFF_WAV,
    phrase_pcm,
    read_wav,
    speech_wav,
    wav_bytes,
)

PHRASES = ["Turn off the test light", "What time is it?", "Mach das Licht aus, bitte: ÄÖÜ €"]


def _linear_16k_to_24k(samples: np.ndarray) -> np.ndarray:
    """HA's pipeline upsampling: linear interpolation, three samples for every two."""
    positions = np.arange(0, len(samples) - 1, 2 / 3)
    return np.interp(positions, np.arange(len(samples)), samples)


@pytest.mark.parametrize("phrase", PHRASES)
def test_a_phrase_in_tones_is_heard(phrase: str) -> None:
    assert hearing.hear(hearing.encode(phrase)) == phrase
    # Written at 16 kHz and upsampled as HA's pipeline does, at any level.
    upsampled = _linear_16k_to_24k(hearing.encode(phrase, 16000))
    assert hearing.hear(upsampled * 0.1, 24000) == phrase
    assert hearing.hear(hearing.encode(phrase, 8000), 8000) == phrase  # telephone audio


@pytest.mark.parametrize("phrase", PHRASES)
def test_speech_around_the_code_does_not_count(phrase: str) -> None:
    said_before = speech.resample(speech.synthesize("Hello there").samples, 48000, 24000)
    audio = np.concatenate([said_before, hearing.speech_with_phrase(phrase)])
    assert hearing.hear(audio) == phrase


def test_speech_without_a_code_is_the_default_phrase() -> None:
    voice = speech.resample(speech.synthesize("Switch off the fan").samples, 48000, 24000)
    assert hearing.hear(voice) == hearing.DEFAULT_PHRASE == "Turn on the test light"
    noise = np.random.default_rng(1).normal(0, 0.05, 24000)
    assert hearing.hear(noise) == hearing.DEFAULT_PHRASE  # loud sound the API would try to read


def test_silence_and_clicks_are_nothing() -> None:
    assert hearing.hear(np.zeros(24000)) == ""
    assert hearing.hear(np.zeros(10)) == ""
    click = np.concatenate([np.zeros(2400), np.full(120, 0.5), np.zeros(2400)])
    assert hearing.hear(click) == ""
    quiet_speech = speech.resample(speech.synthesize("Hello").samples, 48000, 24000) * 0.01
    assert hearing.hear(quiet_speech) == ""  # below -40 dBFS


def test_a_broken_code_is_speech() -> None:
    """A start mark without an end, or half a byte: not a phrase, only sound."""
    code = hearing.encode("Hello there")
    assert hearing.hear(code[: len(code) // 2]) == hearing.DEFAULT_PHRASE
    tone = hearing._tone(hearing.NIBBLE_HZ[3], hearing.TONE_SECONDS, 24000)
    start = hearing._tone(hearing.START_HZ, hearing.MARK_SECONDS, 24000)
    end = hearing._tone(hearing.END_HZ, hearing.MARK_SECONDS, 24000)
    gap = np.zeros(480)
    three_nibbles = [start, gap, tone, gap, tone, gap, tone, gap, end]
    assert hearing.hear(np.concatenate(three_nibbles)) == hearing.DEFAULT_PHRASE


def _mu_law_encode(samples: np.ndarray) -> bytes:
    """G.711 μ-law, written out from the standard (the simulator only decodes)."""
    pcm = np.clip(samples * 32768, -32635, 32635).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.abs(pcm) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def _a_law_encode(samples: np.ndarray) -> bytes:
    pcm = np.clip(samples * 32768, -32767, 32767).astype(np.int32) >> 3
    sign = np.where(pcm >= 0, 0x80, 0)
    magnitude = np.abs(pcm)
    exponent = np.where(magnitude < 32, 0, np.floor(np.log2(np.maximum(magnitude, 1))) - 4)
    exponent = exponent.astype(np.int32)
    mantissa = np.where(exponent == 0, magnitude >> 1, magnitude >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8).tobytes()


@pytest.mark.parametrize(
    ("encode", "decode", "kind"),
    [
        (_mu_law_encode, hearing._mu_law, "audio/pcmu"),
        (_a_law_encode, hearing._a_law, "audio/pcma"),
    ],
)
def test_g711_audio_is_decoded(encode: Any, decode: Any, kind: str) -> None:
    ramp = np.linspace(-0.9, 0.9, 801)
    assert np.max(np.abs(decode(encode(ramp)) - ramp)) < 0.02
    assert hearing.hear_pcm(encode(hearing.encode("Hall", 8000)), {"type": kind}) == "Hall"


def test_pcm_audio_is_decoded() -> None:
    pcm = speech.pcm16(hearing.encode("Hall"))
    assert hearing.hear_pcm(pcm, {"type": "audio/pcm", "rate": 24000}) == "Hall"
    assert hearing.hear_pcm(pcm + b"\x00") == "Hall"  # an odd byte is dropped


def test_the_fixtures_say_what_they_are_named() -> None:
    for path, heard in (
        (SPEECH_WAV, hearing.DEFAULT_PHRASE),
        (TURN_OFF_WAV, "Turn off the test light"),
    ):
        pcm, rate = read_wav(path)
        assert rate == 16000
        assert 2.0 <= len(pcm) / 2 / rate <= 6.0
        assert hearing.hear(hearing.pcm16_to_float(pcm), rate) == heard
        # As HA's pipeline passes it on: upsampled to 24 kHz.
        upsampled = _linear_16k_to_24k(hearing.pcm16_to_float(pcm))
        assert hearing.hear(upsampled, 24000) == heard


def test_helpers_make_audio_for_any_phrase() -> None:
    pcm = phrase_pcm("Open the garage", lead=0.5, tail=1.0)
    assert pcm[: 2 * 8000] == bytes(2 * 8000)
    assert hearing.hear(hearing.pcm16_to_float(pcm), 16000) == "Open the garage"
    tones_only = phrase_pcm("Open the garage", 24000, voice=False)
    assert hearing.hear_pcm(tones_only) == "Open the garage"
    assert speech_wav("Hello").startswith(b"RIFF")
    assert wav_bytes(b"\x00\x00", 8000)[24:28] == (8000).to_bytes(4, "little")
