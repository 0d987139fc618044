"""Speech to text over a Realtime transcription session, streamed as the audio arrives."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterable, Callable
from typing import Any

from ..api import OpenAIClient, OpenAIResponseError
from .resample import Upsampler
from .socket import RealtimeSocket

# Send audio in pieces of about 100 ms at 24 kHz: small enough to keep the server close behind
# the speaker, large enough not to flood the socket with events.
APPEND_BYTES = 4800
TRANSCRIPT_TIMEOUT = 30.0


def transcription_session(model: str, language: str | None) -> dict[str, object]:
    """Return the `session.update` of a transcription session whose caller commits."""
    transcription: dict[str, object] = {"model": model}
    if language:
        transcription["language"] = language
    return {
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": transcription,
                    # HA's pipeline finds the end of speech itself and ends the stream.
                    "turn_detection": None,
                }
            },
        },
    }


async def async_transcribe(
    client: OpenAIClient,
    audio: AsyncIterable[bytes],
    *,
    model: str,
    language: str | None,
    on_usage: Callable[[Any], None] = lambda usage: None,
) -> str:
    """Stream 16 kHz PCM to a transcription session; return the transcript once committed.

    `on_usage` gets the transcription's `usage` as the API sent it.
    """
    # One utterance, bounded by the timeouts below: no heartbeat needed.
    socket = await RealtimeSocket.open(client, heartbeat=None, intent="transcription")
    try:
        await socket.send(transcription_session(model, language))
        event = await _stream(socket, audio)
    except BaseException:
        await socket.close()
        raise
    # The pipeline waits for the transcript, not for the close handshake (a round trip).
    _close_soon(socket)
    on_usage(event.get("usage"))
    transcript = event.get("transcript")
    return transcript if isinstance(transcript, str) else ""


_closing: set[asyncio.Task[None]] = set()  # closes under way (a task needs a reference)


def _close_soon(socket: RealtimeSocket) -> None:
    task = asyncio.get_running_loop().create_task(socket.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _stream(socket: RealtimeSocket, audio: AsyncIterable[bytes]) -> dict[str, Any]:
    """Send the audio, commit, and wait for the transcript's event."""
    upsampler = Upsampler()
    buffer = bytearray()
    async for chunk in audio:
        buffer += upsampler.feed(chunk)
        while len(buffer) >= APPEND_BYTES:
            await _append(socket, bytes(buffer[:APPEND_BYTES]))
            del buffer[:APPEND_BYTES]
    buffer += upsampler.flush()
    if buffer:
        await _append(socket, bytes(buffer))
    await socket.send({"type": "input_audio_buffer.commit"})
    return await _transcript(socket)


async def _append(socket: RealtimeSocket, pcm: bytes) -> None:
    await socket.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
    )


async def _transcript(socket: RealtimeSocket) -> dict[str, Any]:
    while True:
        event = await socket.receive(TRANSCRIPT_TIMEOUT)
        kind = event.get("type")
        if kind == "conversation.item.input_audio_transcription.completed":
            return event
        if kind == "conversation.item.input_audio_transcription.failed":
            error = event["error"] if isinstance(event.get("error"), dict) else {}
            raise OpenAIResponseError(str(error.get("message") or "Transcription failed"))
