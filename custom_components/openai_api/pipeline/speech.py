"""Text to speech with `POST /audio/speech`: the exact text in the profile's voice, streamed.

Why not a Realtime response: asked to read a text verbatim, a Realtime model may still
paraphrase, and every reading is a second paid response. `/audio/speech` speaks exactly its
input, takes the same voice names (`marin`, `cedar`, …) and streams its audio (the benchmarks
compare the two: see benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
import re
import struct
from typing import Any

from ..api import OpenAIClient

PCM_RATE = 24000  # what /audio/speech sends as `pcm`: 24 kHz, 16-bit, mono
MAX_INPUT = 4096  # characters per request, as the API allows
# Speak a sentence as soon as it is complete; never wait for more than this many characters.
# Full stops, including the CJK ones (U+3002, U+FF01, U+FF1F).
SENTENCE_END = re.compile(r"(?<=[.!?;:\u3002\uff01\uff1f])\s+|\n+")
MAX_PIECE = 400


def wav_header(rate: int = PCM_RATE) -> bytes:
    """Return a WAV header for 16-bit mono PCM of unknown length (for streaming)."""
    size = 0xFFFFFFFF - 36  # "as long as the stream", as streaming WAV writers do
    return (
        b"RIFF"
        + struct.pack("<I", size + 36)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", size)
    )


def _split(buffer: str) -> tuple[list[str], str]:
    """Return the complete pieces of `buffer` and the incomplete rest."""
    *done, rest = SENTENCE_END.split(buffer)
    pieces = [piece.strip() for piece in done if piece.strip()]
    while len(rest) > MAX_PIECE:  # a very long sentence: cut at a word
        cut = rest.rfind(" ", 0, MAX_PIECE)
        cut = cut if cut > 0 else MAX_PIECE
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].lstrip()
    return pieces, rest


async def sentences(text: AsyncIterable[str]) -> AsyncIterator[str]:
    """Split streamed text into speakable pieces as soon as each is complete."""
    rest = ""
    async for chunk in text:
        pieces, rest = _split(rest + chunk)
        for piece in pieces:
            yield piece
    if rest.strip():
        yield rest.strip()


async def async_speak(
    client: OpenAIClient,
    text: AsyncIterable[str],
    *,
    model: str,
    voice: str,
    speed: float,
    response_format: str,
) -> AsyncIterator[bytes]:
    """Yield the audio of `text`, piece by piece, in `response_format` (`mp3`, `wav`, `pcm`).

    WAV is PCM from the API under one header of ours: WAV files cannot be concatenated.
    """
    api_format = "pcm" if response_format == "wav" else response_format
    if response_format == "wav":
        yield wav_header()
    async for piece in sentences(text):
        for start in range(0, len(piece), MAX_INPUT):
            body: dict[str, Any] = {
                "model": model,
                "input": piece[start : start + MAX_INPUT],
                "voice": voice,
                "response_format": api_format,
            }
            if speed != 1.0:
                body["speed"] = speed
            async for chunk in client.stream_speech(body):
                yield chunk
