"""Shared pieces of the simulator's own tests: an HTTP client, a sideband, spec conformance,
and audio that says something (for transcription: see simulator/hearing.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import io
import json
from pathlib import Path
import re
from typing import Any
import wave

import aiohttp
import pytest

from simulator import RealtimeSimulator, SimCall, hearing, speech
from simulator.spec import schema, server_events, validator

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_KEY_NAME = re.compile(r"[A-Za-z0-9._-]+")  # a name a gateway's key can go under
SPEECH_WAV = FIXTURES / "speech.wav"  # heard as hearing.DEFAULT_PHRASE
TURN_OFF_WAV = FIXTURES / "turn_off_the_test_light.wav"  # heard as "Turn off the test light"


def gateway_options(request: pytest.FixtureRequest) -> dict[str, str]:
    """The key placement a test wants of the `simulator` fixture (none: OpenAI's own).

    A test parametrizes the fixture indirectly with RealtimeSimulator's options
    (`@pytest.mark.parametrize("simulator", [{"key_header": "x-api-key"}], indirect=True)`), or
    calls `simulator.accept_key_in(...)` itself.
    """
    options = getattr(request, "param", None)
    if isinstance(options, dict):
        return {str(k): str(v) for k, v in options.items()}
    return {}


def headers(sim: RealtimeSimulator) -> dict[str, str]:
    """The standard key's auth header."""
    return {"Authorization": f"Bearer {sim.api_key}"}


@contextlib.asynccontextmanager
async def sideband(sim: RealtimeSimulator, call: SimCall) -> AsyncIterator[Sideband]:
    """A server-side WebSocket on a call, as HA opens it."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{sim.base_url.replace('http', 'ws')}/realtime?call_id={call.call_id}",
            headers=headers(sim),
        ) as ws,
    ):
        yield Sideband(ws)


@contextlib.asynccontextmanager
async def realtime_socket(sim: RealtimeSimulator, **query: str) -> AsyncIterator[Sideband]:
    """A WebSocket session of its own (`model=…` or `intent=transcription`), as HA opens one."""
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{sim.base_url.replace('http', 'ws')}/realtime?{qs}", headers=headers(sim)
        ) as ws,
    ):
        yield Sideband(ws)


class Sideband:
    """Send client events, read server events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def send(self, event: Any) -> None:
        await self.ws.send_str(event if isinstance(event, str) else json.dumps(event))

    async def next(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next server event of a type (events before it are kept in `events`)."""
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads((await self.ws.receive()).data)
                self.events.append(event)
                if event["type"] == kind:
                    return event

    async def until(self, kind: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Every server event up to and including the next one of a type."""
        start = len(self.events)
        await self.next(kind, timeout)
        return self.events[start:]

    async def error(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next `error` event's error."""
        return (await self.next("error", timeout))["error"]  # type: ignore[no-any-return]


def function_output(call_id: str, output: str) -> dict[str, Any]:
    """The client event that hands a function call's result (`output`, JSON) to the model."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }


def conformance_errors(event: dict[str, Any]) -> list[str]:
    """How a server event departs from its schema in the spec (empty: it conforms).

    A null in an optional field stands for "not set": the API's own examples send
    `"status_details": null`, `"usage": null`, `"include": null` where the schema has no null.
    """
    name = server_events().get(event.get("type", ""))
    if name is None:
        return [f"no server event {event.get('type')!r} in the spec"]
    return [
        f"{event['type']}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(_without_optional_nulls(event, schema(name)))
    ]


def _without_optional_nulls(value: Any, node: dict[str, Any]) -> Any:
    """Drop null members the schema does not require (recursively, through refs/anyOf)."""
    if isinstance(value, list):
        items = _resolve(node).get("items", {})
        return [_without_optional_nulls(v, items) for v in value]
    if not isinstance(value, dict):
        return value
    node = _object_schema(node, value)
    required = set(node.get("required", ()))
    properties = node.get("properties", {})
    return {
        key: _without_optional_nulls(v, properties.get(key, {}))
        for key, v in value.items()
        if v is not None or key in required
    }


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema(node["$ref"].rsplit("/", 1)[-1])
    return node


def _object_schema(node: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """The branch of a union that describes this object (by its `type`/`role`, else the first)."""
    node = _resolve(node)
    branches = [_resolve(b) for b in node.get("anyOf", ())]
    candidates = [b for b in branches if "properties" in b] or [node]
    for branch in candidates:
        fixed = {
            k: p.get("enum", [p.get("const")])
            for k, p in branch.get("properties", {}).items()
            if "const" in p or len(p.get("enum", ())) == 1
        }
        if all(value.get(k) in allowed for k, allowed in fixed.items() if k in value):
            return branch
    return candidates[0]


def phrase_pcm(
    phrase: str, rate: int = 16000, *, voice: bool = True, lead: float = 0.0, tail: float = 0.0
) -> bytes:
    """16-bit mono PCM at `rate` that the simulator hears as `phrase`.

    The phrase in tones (see simulator/hearing.py), then, with `voice`, the simulator's voice
    saying it, so that the audio sounds like speech to whatever listens on the way; `lead` and
    `tail` seconds of silence around it (a voice pipeline waits for silence after speech).
    """
    samples = hearing.speech_with_phrase(phrase, rate) if voice else hearing.encode(phrase, rate)
    return _padded(speech.pcm16(samples), rate, lead, tail)


def phrase_wav(
    phrase: str, rate: int = 16000, *, voice: bool = True, lead: float = 0.0, tail: float = 0.0
) -> bytes:
    """`phrase_pcm` as a WAV file."""
    return wav_bytes(phrase_pcm(phrase, rate, voice=voice, lead=lead, tail=tail), rate)


def speech_wav(text: str, rate: int = 16000, *, lead: float = 0.0, tail: float = 0.0) -> bytes:
    """The simulator's voice saying `text`, no code: heard as `hearing.DEFAULT_PHRASE`."""
    samples = speech.resample(speech.synthesize(text).samples, speech.SAMPLE_RATE, rate)
    return wav_bytes(_padded(speech.pcm16(samples), rate, lead, tail), rate)


def _padded(pcm: bytes, rate: int, lead: float, tail: float) -> bytes:
    return bytes(2 * round(lead * rate)) + pcm + bytes(2 * round(tail * rate))


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def read_wav(path: Path) -> tuple[bytes, int]:
    """A mono 16-bit WAV file's PCM and rate."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.readframes(wav.getnframes()), wav.getframerate()
