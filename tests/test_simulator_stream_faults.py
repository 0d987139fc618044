"""Faults of the streaming paths: refused and slow handshakes, drops mid-stream, error events."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from simulator import RealtimeSimulator

from .simulator_helpers import Sideband, headers, phrase_pcm, realtime_socket, sideband
from .test_simulator_pipeline import (
    SPEECH,
    _respond,
    _say,
    _text,
    _text_session,
    _transcription_update,
    _user,
)


@pytest.fixture
def sim(simulator: RealtimeSimulator) -> RealtimeSimulator:
    simulator.socket_pace = 0
    simulator.speech_pace = 0
    return simulator


async def _handshake(sim: RealtimeSimulator, query: str) -> int:
    """The status of a WebSocket handshake (101 once upgraded)."""
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(
                f"{sim.base_url.replace('http', 'ws')}/realtime?{query}", headers=headers(sim)
            )
        except aiohttp.WSServerHandshakeError as err:
            return err.status
        await ws.close()
        return 101


async def _until_closed(ws: Sideband) -> list[str]:
    """The types of the events that arrive before the connection breaks."""
    kinds = []
    async with asyncio.timeout(5):
        while True:
            msg = await ws.ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                return kinds
            kinds.append(msg.json()["type"])


@pytest.mark.parametrize(
    ("fault_path", "hit", "missed"),
    [
        ("/realtime?intent=transcription", "intent=transcription", "model=gpt-realtime"),
        ("/realtime?model=", "model=gpt-realtime", "intent=transcription"),
        ("/realtime", "intent=transcription", None),
    ],
)
async def test_429_on_connect(
    sim: RealtimeSimulator, fault_path: str, hit: str, missed: str | None
) -> None:
    """The handshake is answered 429 (with Retry-After), once; other sockets are not hit."""
    sim.add_fault(fault_path, "429", retry_after=3)
    if missed is not None:
        assert await _handshake(sim, missed) == 101
    async with aiohttp.ClientSession() as http:
        url = f"{sim.base_url.replace('http', 'ws')}/realtime?{hit}"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers=headers(sim))
    assert refused.value.status == 429
    assert refused.value.headers is not None and refused.value.headers["Retry-After"] == "3"
    assert await _handshake(sim, hit) == 101


async def test_429_on_a_sideband(sim: RealtimeSimulator) -> None:
    call = sim.add_call()
    sim.add_fault("/realtime?call_id=", "429")
    assert await _handshake(sim, "model=gpt-realtime") == 101
    assert await _handshake(sim, f"call_id={call.call_id}") == 429
    assert await _handshake(sim, f"call_id={call.call_id}") == 101


async def test_slow_first_bytes(sim: RealtimeSimulator) -> None:
    sim.add_fault("/audio/speech", "slow", delay=0.3)
    sim.add_fault("/realtime?model=", "slow", delay=0.3)
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base_url}/audio/speech", json=SPEECH, headers=headers(sim)) as resp,
    ):
        assert time.perf_counter() - started >= 0.3
        assert resp.status == 200
        await resp.read()
    started = time.perf_counter()
    assert await _handshake(sim, "model=gpt-realtime") == 101
    assert time.perf_counter() - started >= 0.3


async def test_drop_during_transcription(sim: RealtimeSimulator) -> None:
    sim.add_fault("/realtime?intent=transcription", "drop_mid_stream")
    async with realtime_socket(sim, intent="transcription") as ws:
        await ws.send(_transcription_update())
        await _say(ws, phrase_pcm("Turn on the fan", 24000))
        kinds = await _until_closed(ws)
    assert kinds.count("conversation.item.input_audio_transcription.delta") == 1
    assert "conversation.item.input_audio_transcription.completed" not in kinds
    await asyncio.sleep(0.05)
    assert sim.sockets[0].status == "ended"
    # One fault, one drop: the next socket transcribes.
    async with realtime_socket(sim, intent="transcription") as ws:
        await ws.send(_transcription_update())
        await _say(ws, phrase_pcm("Turn on the fan", 24000))
        done = await ws.next("conversation.item.input_audio_transcription.completed")
    assert done["transcript"] == "Turn on the fan"


async def test_drop_mid_answer(sim: RealtimeSimulator) -> None:
    sim.add_fault("/realtime?model=", "drop_mid_stream")
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session())
        await ws.send(_user("Tell me a story"))
        await ws.send({"type": "response.create"})
        kinds = await _until_closed(ws)
    assert kinds.count("response.output_text.delta") == 1
    assert "response.done" not in kinds


async def test_drop_mid_speech(sim: RealtimeSimulator) -> None:
    sim.add_fault("/audio/speech", "drop_mid_stream")
    received = bytearray()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with http.post(
                f"{sim.base_url}/audio/speech",
                json={**SPEECH, "response_format": "pcm"},
                headers=headers(sim),
            ) as resp:
                assert resp.status == 200
                async for chunk in resp.content.iter_any():
                    received += chunk
        async with http.post(
            f"{sim.base_url}/audio/speech",
            json={**SPEECH, "response_format": "pcm"},
            headers=headers(sim),
        ) as resp:
            whole = await resp.read()
    assert 0 < len(received) < len(whole)


async def test_error_event_instead_of_a_transcript(sim: RealtimeSimulator) -> None:
    sim.add_fault("/realtime?intent=transcription", "error_event")
    async with realtime_socket(sim, intent="transcription") as ws:
        await ws.send(_transcription_update())
        await _say(ws, phrase_pcm("Open the blinds", 24000))
        error = await ws.error()
        assert (error["type"], error["code"]) == ("server_error", None)
        assert not [e for e in ws.events if "transcription.delta" in e["type"]]
        await _say(ws, phrase_pcm("Open the blinds", 24000))
        done = await ws.next("conversation.item.input_audio_transcription.completed")
    assert done["transcript"] == "Open the blinds"


async def test_error_event_instead_of_an_answer(sim: RealtimeSimulator) -> None:
    sim.add_fault("/realtime?model=", "error_event")
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session())
        await ws.send(_user("Hello"))
        events = await _respond(ws)
        assert [e["type"] for e in events[-3:]] == ["response.created", "error", "response.done"]
        done = events[-1]["response"]
        assert done["status"] == "failed"
        assert done["status_details"]["error"]["type"] == "server_error"
        assert events[-2]["error"]["type"] == "server_error"
        # The conversation has no response in progress any more: the next one is answered.
        assert _text(await _respond(ws)) == "Okay."


async def test_faults_armed_on_a_live_session(sim: RealtimeSimulator) -> None:
    """`inject_fault` arms a fault on a session or call that is already open."""
    async with realtime_socket(sim, model="gpt-realtime") as ws:
        await ws.send(_text_session())
        await ws.send(_user("Hello"))
        assert _text(await _respond(ws)) == "Okay."
        sim.sockets[-1].inject_fault("error_event")
        await ws.send(_user("Again"))
        await ws.send({"type": "response.create"})
        assert (await ws.error())["type"] == "server_error"
    call = sim.add_call({"type": "realtime", "output_modalities": ["text"]})
    async with sideband(sim, call) as ws:
        call.inject_fault("drop_mid_stream")
        await ws.send(_user("Hi"))
        await ws.send({"type": "response.create"})
        kinds = await _until_closed(ws)
    assert kinds.count("response.output_text.delta") == 1
    assert call.status == "live"  # a dropped sideband does not end the call
    with pytest.raises(ValueError, match="unknown stream fault"):
        call.inject_fault("429")


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/models", "drop_mid_stream"),
        ("/audio/speech", "error_event"),
        ("/realtime/calls", "error_event"),
    ],
)
def test_stream_faults_need_a_stream(simulator: RealtimeSimulator, path: str, kind: str) -> None:
    with pytest.raises(ValueError, match="needs a stream"):
        simulator.add_fault(path, kind)
