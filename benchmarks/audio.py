"""Audio for the pipeline benchmarks: an utterance the simulator hears, as a microphone sends it.

The simulator cannot understand speech: it hears a phrase written into the audio in tones
(simulator/hearing.py), and any other speech-like audio as `hearing.DEFAULT_PHRASE`, "Turn on the
test light". The utterance here is the simulator's own voice saying that phrase, without tones,
so it is short (about 1.4 s) and sounds like speech to Home Assistant's voice activity detection
too. (The same recipe as `speech_wav` in tests/simulator_helpers.py, which the benchmarks may
not import.)

`PacedAudio` hands it out the way a satellite streams it: 20 ms frames of 16 kHz PCM, each when
it has been "recorded" (frame i at start + (i + 1) * 20 ms), and notes when the last frame went
out: the end of the audio, where the speech-to-text clocks start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import time

from custom_components.openai_api.pipeline.resample import Upsampler
from simulator import hearing, speech

RATE = 16000  # what HA's voice surfaces send
API_RATE = 24000  # what the Realtime API takes
FRAME_SECONDS = 0.02
FRAME_BYTES = int(RATE * FRAME_SECONDS) * 2
PHRASE = hearing.DEFAULT_PHRASE


def utterance(text: str = PHRASE) -> bytes:
    """16 kHz mono 16-bit PCM of the simulator's voice saying `text` (heard as PHRASE)."""
    samples = speech.resample(speech.synthesize(text).samples, speech.SAMPLE_RATE, RATE)
    return speech.pcm16(samples)


def upsampled(pcm16k: bytes) -> bytes:
    """The same audio at 24 kHz, by the integration's own upsampler (ahead of time)."""
    upsampler = Upsampler()
    return upsampler.feed(pcm16k) + upsampler.flush()


def frames(pcm: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """The audio cut in frames of `size` bytes (the last may be shorter)."""
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def api_slices(pcm16k: bytes, pcm24k: bytes) -> list[bytes]:
    """The 24 kHz audio cut to match the 16 kHz frames (three samples for every two)."""
    count = len(frames(pcm16k))
    cuts = [min(len(pcm24k), i * FRAME_BYTES * 3 // 2) for i in range(count)] + [len(pcm24k)]
    return [pcm24k[cuts[i] : cuts[i + 1]] for i in range(count)]


class PacedAudio:
    """Frames handed out in real time; `ended_at` is when the last one went out."""

    def __init__(self, chunks: list[bytes], seconds: float = FRAME_SECONDS) -> None:
        self.chunks = chunks
        self.seconds = seconds
        self.started_at = 0.0
        self.ended_at = 0.0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started_at = time.perf_counter()
        last = len(self.chunks) - 1
        for index, chunk in enumerate(self.chunks):
            delay = self.started_at + (index + 1) * self.seconds - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if index == last:
                self.ended_at = time.perf_counter()
            yield chunk
