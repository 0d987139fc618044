"""The Assist pipeline's stages: transcription sessions, text conversations, `/audio/speech`."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any
import wave

import aiohttp
import av
from multidict import CIMultiDict
import pytest

from simulator import RealtimeSimulator, hearing
from simulator.chat import QUESTION_REPLY
from simulator.speech import seconds as spoken_seconds

from .simulator_helpers import (
    SPEECH_WAV,
    TURN_OFF_WAV,
    Sideband,
    conformance_errors,
    function_output,
    headers,
    phrase_pcm,
    read_wav,
    realtime_socket,
)

TOOLS = [
    {"type": "function", "name": f"intent__{name}", "parameters": {"type": "object"}}
    for name in ("HassTurnOn", "HassTurnOff", "HassLightSet")
]


@pytest.fixture
def sim(simulator: RealtimeSimulator) -> RealtimeSimulator:
    """The simulator without the API's latencies: these tests look at what, not when."""
    simulator.socket_pace = 0
    simulator.speech_pace = 0
    return simulator


def _transcription_update(**transcription: Any) -> dict[str, Any]:
    """The `session.update` the integration's speech-to-text sends (pipeline/transcriber.py)."""
    return {
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-mini-transcribe", **transcription},
                    "turn_detection": None,
                }
            },
        },
    }


async def _say(ws: Sideband, pcm24: bytes) -> None:
    for start in range(0, len(pcm24), 4800):
        chunk = base64.b64encode(pcm24[start : start + 4800]).decode()
        await ws.send({"type": "input_audio_buffer.append", "audio": chunk})
    await ws.send({"type": "input_audio_buffer.commit"})


def _upsampled(pcm16k: bytes) -> bytes:
    """16 kHz to 24 kHz with the integration's own upsampler, as its speech-to-text sends it."""
    from custom_components.openai_api.pipeline.resample import Upsampler

    upsampler = Upsampler()
    return upsampler.feed(pcm16k) + upsampler.flush()


def _assert_conform(events: list[dict[str, Any]]) -> None:
    problems = [p for event in events for p in conformance_errors(event)]
    assert problems == []


# --- transcription sessions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "heard"),
    [(SPEECH_WAV, "Turn on the test light"), (TURN_OFF_WAV, "Turn off the test light")],
)
async def test_transcription_of_a_fixture(sim: RealtimeSimulator, fixture: Any, heard: str) -> None:
    """The integration's stream: update, appends, commit; the transcript the fixture carries."""
    async with realtime_socket(sim, intent="transcription") as ws:
        created = await ws.next("session.created")
        assert created["session"]["type"] == "transcription"
        await ws.send(_transcription_update(language="en"))
        updated = await ws.next("session.updated")
        assert updated["session"]["audio"]["input"]["turn_detection"] is None
        await _say(ws, _upsampled(read_wav(fixture)[0]))
        committed = await ws.next("input_audio_buffer.committed")
        done = await ws.next("conversation.item.input_audio_transcription.completed")
    deltas = [
        e["delta"]
        for e in ws.events
        if e["type"] == "conversation.item.input_audio_transcription.delta"
    ]
    assert done["transcript"] == heard == "".join(deltas)
    assert done["item_id"] == committed["item_id"]
    assert done["usage"]["type"] == "duration"
    assert not [e for e in ws.events if e["type"].startswith("response.")]  # no model answers
    _assert_conform(ws.events)
    [session] = sim.sockets
    assert session.transport == "websocket"
    assert sim.requests_to("/realtime")[0].query == {"intent": "transcription"}


async def test_transcription_of_any_phrase(sim: RealtimeSimulator) -> None:
    async with realtime_socket(sim, intent="transcription") as ws:
        await ws.send(_transcription_update())
        for phrase in ("Set the kitchen light to 50 percent", "Is the front door locked?"):
            await _say(ws, phrase_pcm(phrase, 24000))
            done = await ws.next("conversation.item.input_audio_transcription.completed")
            assert done["transcript"] == phrase
        await _say(ws, bytes(48000))  # half a second of silence
        done = await ws.next("conversation.item.input_audio_transcription.completed")
        assert done["transcript"] == ""


async def test_transcription_refusals(sim: RealtimeSimulator) -> None:
    async with realtime_socket(sim, intent="transcription") as ws:
        await ws.send({"type": "session.update", "session": {"type": "realtime"}})
        assert (await ws.error())["param"] == "session.type"  # a transcription socket stays one
        await ws.send(_transcription_update(lang="en"))
        error = await ws.error()
        assert (error["param"], error["code"]) == (
            "session.audio.input.transcription.lang",
            "unknown_parameter",
        )
        await ws.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(2400)).decode()}
        )
        await ws.send({"type": "input_audio_buffer.commit"})
        error = await ws.error()
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert "50.00ms" in error["message"]
        await ws.send({"type": "input_audio_buffer.append", "audio": "not base64!"})
        assert (await ws.error())["param"] == "audio"


async def test_a_conversation_socket_refuses_a_transcription_update(sim: RealtimeSimulator) -> None:
    """`?model=` opens a conversation; it "doesn't accept the transcription update"."""
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        created = await ws.next("session.created")
        assert (created["session"]["type"], created["session"]["model"]) == (
            "realtime",
            "gpt-realtime",
        )
        await ws.send(_transcription_update())
        error = await ws.error()
        assert (error["param"], error["code"]) == ("session.type", "invalid_value")


@pytest.mark.parametrize(
    ("query", "status", "param"),
    [
        ("", 400, "model"),
        ("?intent=translation", 400, "intent"),
        ("?call_id=rtc_none", 404, "call_id"),
    ],
)
async def test_socket_handshake_refusals(
    sim: RealtimeSimulator, query: str, status: int, param: str
) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{sim.base_url.replace('http', 'ws')}/realtime{query}"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers=headers(sim))
        assert refused.value.status == status
        async with http.get(url.replace("ws", "http", 1), headers=headers(sim)) as resp:
            assert (await resp.json())["error"]["param"] == param
    assert sim.sockets == []


async def test_g711_transcription(sim: RealtimeSimulator) -> None:
    from .test_simulator_hearing import _mu_law_encode

    async with realtime_socket(sim, intent="transcription") as ws:
        update = _transcription_update()
        update["session"]["audio"]["input"]["format"] = {"type": "audio/pcmu"}
        await ws.send(update)
        await ws.next("session.updated")
        await _say(ws, _mu_law_encode(hearing.encode("Lock the door", 8000)))
        done = await ws.next("conversation.item.input_audio_transcription.completed")
    assert done["transcript"] == "Lock the door"


async def _append(ws: Sideband, pcm24: bytes) -> None:
    for start in range(0, len(pcm24), 4800):
        chunk = base64.b64encode(pcm24[start : start + 4800]).decode()
        await ws.send({"type": "input_audio_buffer.append", "audio": chunk})


async def test_server_vad_commits_by_itself(sim: RealtimeSimulator) -> None:
    """With turn detection on (the default) speech is found, committed and transcribed."""
    async with realtime_socket(sim, intent="transcription") as ws:
        update = _transcription_update()
        update["session"]["audio"]["input"]["turn_detection"] = {"type": "server_vad"}
        await ws.send(update)
        await _append(ws, phrase_pcm("Close the garage", 24000, lead=0.5, tail=1.0))
        started = await ws.next("input_audio_buffer.speech_started")
        stopped = await ws.next("input_audio_buffer.speech_stopped")
        committed = await ws.next("input_audio_buffer.committed")
        done = await ws.next("conversation.item.input_audio_transcription.completed")
    assert started["item_id"] == stopped["item_id"] == committed["item_id"] == done["item_id"]
    assert 100 <= started["audio_start_ms"] <= 500  # 0.5 s of silence, less the prefix padding
    assert stopped["audio_end_ms"] > started["audio_start_ms"]
    assert done["transcript"] == "Close the garage"
    _assert_conform(ws.events)


async def test_server_vad_in_a_conversation_answers(sim: RealtimeSimulator) -> None:
    """A spoken request over a conversation socket gets the script's answer, by itself."""
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        session = _text_session()["session"]
        session["audio"] = {"input": {"turn_detection": {"type": "server_vad"}}}
        await ws.send({"type": "session.update", "session": session})
        await _append(ws, phrase_pcm("Turn off the hall light", 24000, tail=1.0))
        arguments = await ws.next("response.function_call_arguments.done")
    assert (arguments["name"], json.loads(arguments["arguments"])) == (
        "intent__HassTurnOff",
        {"name": "Hall light"},
    )


# --- text conversations -----------------------------------------------------------------------


def _text_session(**extra: Any) -> dict[str, Any]:
    """The `session.update` the integration's conversation agent sends (text_session.py)."""
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text"],
            "instructions": "You are a voice assistant for Home Assistant.",
            "tools": TOOLS,
            "tool_choice": "auto",
            **extra,
        },
    }


def _user(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def _respond(ws: Sideband) -> list[dict[str, Any]]:
    await ws.send({"type": "response.create"})
    return await ws.until("response.done")


def _text(events: list[dict[str, Any]]) -> str:
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    [done] = [e for e in events if e["type"] == "response.output_text.done"]
    assert "".join(deltas) == done["text"]
    return str(done["text"])


@pytest.mark.parametrize(
    ("said", "tool", "name", "reply"),
    [
        (
            "Turn on the kitchen light",
            "intent__HassTurnOn",
            "Kitchen light",
            "The kitchen light is on.",
        ),
        ("turn off the Test light.", "intent__HassTurnOff", "Test light", "The test light is off."),
        (
            "Please turn the hall lamp off",
            "intent__HassTurnOff",
            "Hall lamp",
            "The hall lamp is off.",
        ),
        (
            "Switch on my desk light, please!",
            "intent__HassTurnOn",
            "Desk light",
            "The desk light is on.",
        ),
    ],
)
async def test_a_request_to_switch_calls_the_tool_then_answers(
    sim: RealtimeSimulator, said: str, tool: str, name: str, reply: str
) -> None:
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session())
        await ws.send(_user(said))
        events = await _respond(ws)
        [arguments] = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        assert (arguments["name"], json.loads(arguments["arguments"])) == (tool, {"name": name})
        assert not [e for e in events if e["type"].startswith("response.output_text")]
        output = json.dumps({"success": True, "targets": [name]})
        await ws.send(function_output(arguments["call_id"], output))
        events = await _respond(ws)
        assert _text(events) == reply
        done = events[-1]["response"]
        assert done["status"] == "completed"
        assert done["output_modalities"] == ["text"]
        assert done["usage"]["output_token_details"]["audio_tokens"] == 0
        assert done["usage"]["total_tokens"] > 0
    _assert_conform(ws.events)


async def test_a_failed_tool_gets_an_apology(sim: RealtimeSimulator) -> None:
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session())
        await ws.send(_user("Turn on the garage light"))
        [arguments] = [
            e for e in await _respond(ws) if e["type"] == "response.function_call_arguments.done"
        ]
        await ws.send(
            function_output(arguments["call_id"], json.dumps({"error": "MatchFailedError"}))
        )
        assert _text(await _respond(ws)) == "Sorry, I could not turn on the garage light."


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("What is the weather like?", QUESTION_REPLY),
        ("Thanks a lot", "Okay."),
        ("", "Okay."),
    ],
)
async def test_other_messages(sim: RealtimeSimulator, said: str, reply: str) -> None:
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session())
        await ws.send(_user(said))
        events = await _respond(ws)
    assert _text(events) == reply
    assert reply.endswith("?") == said.endswith("?")  # a question keeps HA listening
    assert not [e for e in events if "function_call" in e["type"]]


async def test_no_tool_no_call(sim: RealtimeSimulator) -> None:
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session(tools=[]))
        await ws.send(_user("Turn on the porch light"))
        assert _text(await _respond(ws)) == "I have no way to turn on the porch light."
        await ws.send(_text_session(tool_choice="none"))
        await ws.send(_user("Turn off the porch light"))
        assert _text(await _respond(ws)) == "I have no way to turn off the porch light."


async def test_a_replayed_history_is_answered_from_its_newest_message(
    sim: RealtimeSimulator,
) -> None:
    """After a lost session the integration replays the chat log, then asks for a response."""
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session())
        history = [
            _user("Turn on the kitchen light"),
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call",
                    "call_id": "call_old",
                    "name": "intent__HassTurnOn",
                    "arguments": '{"name": "Kitchen light"}',
                },
            },
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "call_old", "output": "{}"},
            },
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "The kitchen light is on."}],
                },
            },
            _user("Is it bright enough?"),
        ]
        for event in history:
            await ws.send(event)
        assert _text(await _respond(ws)) == QUESTION_REPLY
        # Nothing new from the user: a short reply, no repeat of the last answer.
        assert _text(await _respond(ws)) == "Okay."
    assert not [e for e in ws.events if e["type"] == "error"]


async def test_a_socket_session_speaks_in_audio_deltas(sim: RealtimeSimulator) -> None:
    """With audio output over a WebSocket the audio comes as events; no output buffer events."""
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_user("Good morning"))
        events = await _respond(ws)
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    transcript = [e for e in events if e["type"] == "response.output_audio_transcript.done"]
    assert transcript[0]["transcript"] == "Okay."
    assert abs(len(audio) / 48000 - spoken_seconds("Okay.")) < 0.1  # 24 kHz 16-bit
    assert not [e for e in events if e["type"].startswith("output_audio_buffer")]
    _assert_conform(events)


# --- text to speech ---------------------------------------------------------------------------

SPEECH = {"model": "gpt-4o-mini-tts", "input": "The kitchen light is on.", "voice": "marin"}


async def _speech(
    sim: RealtimeSimulator, body: Any, **kwargs: Any
) -> tuple[int, CIMultiDict[str], list[bytes]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sim.base_url}/audio/speech", json=body, headers=headers(sim), **kwargs
        ) as resp,
    ):
        chunks = [chunk async for chunk in resp.content.iter_chunked(1 << 20)]
        return resp.status, CIMultiDict(resp.headers), chunks


def _decoded_seconds(data: bytes) -> tuple[float, str]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate, container.format.name


@pytest.mark.parametrize(
    ("response_format", "container"),
    [("mp3", "mp3"), ("opus", "ogg"), ("aac", "aac"), ("flac", "flac"), (None, "mp3")],
)
async def test_speech_formats(
    sim: RealtimeSimulator, response_format: str | None, container: str
) -> None:
    body = {**SPEECH, "response_format": response_format} if response_format else SPEECH
    status, response_headers, chunks = await _speech(sim, body)
    assert status == 200
    assert response_headers["Transfer-Encoding"] == "chunked"
    assert response_headers["Content-Type"] == "application/octet-stream"
    assert response_headers["x-request-id"].startswith("req_")
    seconds, name = _decoded_seconds(b"".join(chunks))
    assert name == container
    assert abs(seconds - spoken_seconds(SPEECH["input"])) < 0.15  # codec padding aside
    assert sim.requests_to("/audio/speech")[-1].json() == body


async def test_speech_pcm_and_wav(sim: RealtimeSimulator) -> None:
    status, _headers, chunks = await _speech(sim, {**SPEECH, "response_format": "pcm"})
    pcm = b"".join(chunks)
    assert status == 200
    assert len(chunks) > 1  # streamed in pieces
    assert len(pcm) % 2 == 0
    assert abs(len(pcm) / 48000 - spoken_seconds(SPEECH["input"])) < 0.01  # 24 kHz 16-bit mono
    assert hearing.hear_pcm(pcm) == hearing.DEFAULT_PHRASE  # it sounds like speech
    _status, _headers, chunks = await _speech(sim, {**SPEECH, "response_format": "wav"})
    with wave.open(io.BytesIO(b"".join(chunks))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        assert wav.readframes(wav.getnframes()) == pcm
    # Speed stretches it; a custom voice is taken by its id.
    _status, _headers, chunks = await _speech(
        sim, {**SPEECH, "response_format": "pcm", "speed": 2.0, "voice": {"id": "voice_123"}}
    )
    assert len(b"".join(chunks)) < 0.7 * len(pcm)


async def test_speech_as_events(sim: RealtimeSimulator) -> None:
    body = {**SPEECH, "response_format": "pcm", "stream_format": "sse"}
    status, response_headers, chunks = await _speech(sim, body)
    assert status == 200
    assert response_headers["Content-Type"] == "text/event-stream"
    events = [
        json.loads(line.removeprefix("data: "))
        for line in b"".join(chunks).decode().split("\n")
        if line.startswith("data: ")
    ]
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert {e["type"] for e in events[:-1]} == {"speech.audio.delta"}
    assert events[-1]["type"] == "speech.audio.done"
    usage = events[-1]["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    _status, _headers, plain = await _speech(sim, {**SPEECH, "response_format": "pcm"})
    assert audio == b"".join(plain)


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"model": None}, "model", "missing_required_parameter"),
        ({"input": None}, "input", "missing_required_parameter"),
        ({"voice": None}, "voice", "missing_required_parameter"),
        ({"format": "mp3"}, "format", "unknown_parameter"),
        ({"response_format": "ogg"}, "response_format", "invalid_value"),
        ({"speed": 4.5}, "speed", "decimal_above_max_value"),
        ({"speed": 0.2}, "speed", "decimal_below_min_value"),
        ({"input": "x" * 4097}, "input", "string_above_max_length"),
        ({"stream_format": "chunks"}, "stream_format", "invalid_value"),
        ({"voice": {"name": "marin"}}, "voice.name", "unknown_parameter"),
        ({"voice": 7}, "voice", "invalid_type"),
        ({"model": "tts-1", "stream_format": "sse"}, "stream_format", "invalid_value"),
    ],
)
async def test_speech_requests_are_checked(
    sim: RealtimeSimulator, change: dict[str, Any], param: str, code: str
) -> None:
    body = {k: v for k, v in {**SPEECH, **change}.items() if v is not None}
    status, _headers, chunks = await _speech(sim, body)
    error = json.loads(b"".join(chunks))["error"]
    assert status == 400
    assert (error["param"], error["code"]) == (param, code)


async def test_speech_needs_the_standard_key(sim: RealtimeSimulator) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base_url}/audio/speech", json=SPEECH) as resp,
    ):
        assert resp.status == 401


async def test_speech_takes_the_apis_time(simulator: RealtimeSimulator) -> None:
    started = time.perf_counter()
    await _speech(simulator, {**SPEECH, "response_format": "pcm"})
    took = time.perf_counter() - started
    expected = 0.2 + spoken_seconds(SPEECH["input"]) / 4  # first byte, then 4x real time
    assert expected * 0.8 < took < expected + 1.0


# --- the integration's own clients against the simulator ----------------------------------------


# aiohttp (3.14's heartbeat reset on received data) can re-arm a client WebSocket's heartbeat
# timer after `close()` when the close frame's bytes arrive in the same loop tick; the timer
# then outlives the socket. That is aiohttp's, not the simulator's.
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_the_integrations_stages_work_against_it(sim: RealtimeSimulator) -> None:
    """pipeline/transcriber.py and pipeline/speech.py, unchanged, get what they expect."""
    from custom_components.openai_api.api import OpenAIClient
    from custom_components.openai_api.pipeline.speech import async_speak
    from custom_components.openai_api.pipeline.transcriber import async_transcribe

    pcm, _rate = read_wav(TURN_OFF_WAV)

    async def audio() -> Any:
        for start in range(0, len(pcm), 3200):  # 100 ms pieces, as HA streams them
            yield pcm[start : start + 3200]

    async def text() -> Any:
        for piece in ("The test light ", "is off. ", "Anything else?"):
            yield piece

    async with aiohttp.ClientSession() as http:
        client = OpenAIClient(http, sim.api_key, sim.base_url, sideband_session=http)
        heard = await async_transcribe(
            client, audio(), model="gpt-4o-mini-transcribe", language="en"
        )
        assert heard == "Turn off the test light"
        spoken = b"".join(
            [
                chunk
                async for chunk in async_speak(
                    client,
                    text(),
                    model="gpt-4o-mini-tts",
                    voice="marin",
                    speed=1.0,
                    response_format="wav",
                )
            ]
        )
    assert spoken.startswith(b"RIFF")
    bodies = [r.json() for r in sim.requests_to("/audio/speech")]
    assert [b["input"] for b in bodies] == ["The test light is off.", "Anything else?"]
    assert {b["response_format"] for b in bodies} == {"pcm"}
    update = sim.sockets[0].received[0].event
    assert update["session"]["audio"]["input"]["transcription"]["language"] == "en"
    assert all(r.error is None for r in sim.sockets[0].received)
