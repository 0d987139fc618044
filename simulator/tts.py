"""`POST /audio/speech`: the simulator's voice saying the input, in the format asked for.

The audio is the formant voice of speech.py (its pitch follows the voice's name) at 24 kHz
mono, and `speed` stretches it as the API's does. Formats (`response_format`, default mp3):

    pcm    raw 24 kHz signed 16-bit little-endian mono, as the API documents it
    wav    the same PCM under a WAV header (exact sizes: the whole text is synthesized first)
    mp3    MPEG-2 Layer III at 24 kHz (LAME, through PyAV, which aiortc already needs)
    opus   Opus in Ogg;  aac   AAC in ADTS;  flac   native FLAC

`stream_format` "audio" (the default) streams the bytes with chunked transfer encoding;
"sse" sends `speech.audio.delta` events (base64 of the same bytes) then `speech.audio.done`
with usage. The spec names `application/octet-stream` for the audio and `text/event-stream`
for the events, and the simulator sends those types.

Timing (at `pace` 1): the first bytes after `FIRST_BYTE` seconds, then the audio as fast as
the API generates it, `GENERATION_SPEED` times real time, in pieces of `PIECE_SECONDS`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
import io
import json
import struct
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from . import chat, speech
from .errors import ApiError

RATE = 24000
FIRST_BYTE = 0.2
GENERATION_SPEED = 4.0
PIECE_SECONDS = 0.1
AUDIO_TYPE = "application/octet-stream"
EVENTS_TYPE = "text/event-stream"
# response_format -> (PyAV container, codec) for the compressed formats.
_CODECS = {
    "mp3": ("mp3", "libmp3lame"),
    "opus": ("ogg", "libopus"),
    "aac": ("adts", "aac"),
    "flac": ("flac", "flac"),
}
_NO_SSE = ("tts-1", "tts-1-hd")  # "`sse` is not supported for `tts-1` or `tts-1-hd`"


@dataclass(frozen=True)
class Piece:
    """Bytes to send, and how much audio they hold (what the API takes to generate them)."""

    data: bytes
    seconds: float


def refusal(body: dict[str, Any]) -> ApiError | None:
    """What the API refuses beyond the schema: SSE for the models that cannot stream it."""
    if body.get("stream_format") == "sse" and body["model"] in _NO_SSE:
        return ApiError(
            f"stream_format 'sse' is not supported for the model '{body['model']}'.",
            "stream_format",
            "invalid_value",
        )
    return None


def voice_name(voice: Any) -> str:
    """A voice's name (a custom voice object's `id`)."""
    return str(voice.get("id") if isinstance(voice, dict) else voice)


def render(body: dict[str, Any]) -> tuple[bytes, float]:
    """The whole audio of a request in its format, and its length in seconds."""
    spoken = speech.synthesize(
        body["input"], voice=voice_name(body["voice"]), speed=float(body.get("speed", 1.0))
    )
    samples = speech.resample(spoken.samples, speech.SAMPLE_RATE, RATE)
    pcm = speech.pcm16(samples)
    kind = body.get("response_format", "mp3")
    seconds = len(samples) / RATE
    if kind == "pcm":
        return pcm, seconds
    if kind == "wav":
        return wav_header(len(pcm)) + pcm, seconds
    return encode(samples, kind), seconds


def pieces(data: bytes, seconds: float) -> list[Piece]:
    """The audio cut as the API streams it: a piece per `PIECE_SECONDS` of sound."""
    count = max(1, round(seconds / PIECE_SECONDS))
    step = -(-len(data) // count)
    step += step % 2  # whole 16-bit samples in every piece of PCM
    cuts = range(0, len(data), step)
    return [Piece(data[i : i + step], seconds * len(data[i : i + step]) / len(data)) for i in cuts]


def events(body: dict[str, Any], data: bytes, seconds: float) -> Iterator[Piece]:
    """The SSE form: a `speech.audio.delta` per piece, then `speech.audio.done` with usage."""
    for piece in pieces(data, seconds):
        delta = {"type": "speech.audio.delta", "audio": _b64(piece.data)}
        yield Piece(_sse(delta), piece.seconds)
    inputs = chat.tokens(body["input"], str(body.get("instructions", "")))
    outputs = max(1, round(seconds * 20))  # roughly what the API counts for its audio
    usage = {"input_tokens": inputs, "output_tokens": outputs, "total_tokens": inputs + outputs}
    yield Piece(_sse({"type": "speech.audio.done", "usage": usage}), 0.0)


def wav_header(data_bytes: int, rate: int = RATE) -> bytes:
    """A 44-byte header for 16-bit mono PCM of `data_bytes` bytes."""
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def encode(samples: npt.NDArray[np.floating], kind: str) -> bytes:
    """24 kHz mono audio compressed as `kind` (mp3, opus, aac, flac), in its usual container."""
    container, codec = _CODECS[kind]
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream: Any = muxer.add_stream(codec, rate=RATE)  # an audio stream (PyAV types it loosely)
        stream.layout = "mono"
        step = RATE // 50
        for start in range(0, len(pcm), step):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + step].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            frame.pts = start
            muxer.mux(stream.encode(frame))
        muxer.mux(stream.encode(None))
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()
