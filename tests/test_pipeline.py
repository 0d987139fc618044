"""The voice profile as an Assist pipeline, run through Home Assistant's own pipeline code.

`assist_pipeline/run` over HA's websocket with binary audio frames from a WAV fixture, on the
pipeline made for the profile (its speech-to-text, conversation agent and text-to-speech),
against the simulator's transcription, text and speech endpoints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import shutil
from typing import Any
from unittest.mock import AsyncMock
import wave

from aiohttp import ClientResponse
from homeassistant.components import assist_pipeline, conversation
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator

from custom_components.openai_api import conversation as conversation_module
from simulator import RealtimeSimulator

from .voice_helpers import LIGHT, SATELLITE, until

FIXTURES = Path(__file__).parent / "fixtures"
# The agent's sockets keep a heartbeat (they live across turns); aiohttp re-arms a WebSocket's
# heartbeat when data arrives while it closes, and the timer then fires once on the closed
# socket (the same as in test_realtime_edges).
LINGERING_HEARTBEAT = pytest.mark.parametrize("expected_lingering_timers", [True])
AGENT = "conversation.voice_assistant"
STT = "stt.voice_assistant_speech_to_text"
TTS = "tts.voice_assistant_text_to_speech"


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder of the test's own: TTS caches its audio there, by message.

    The harness copies its shared config folder in, where a run of a test without this
    fixture may have left cached audio: drop it, so every request reaches the simulator.
    """
    shutil.rmtree(Path(hass_tmp_config_dir) / "tts", ignore_errors=True)
    return hass_tmp_config_dir


@pytest.fixture(autouse=True)
async def fast(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> AsyncIterator[None]:
    """The simulator without the API's latencies; HA closes its sockets before it stops."""
    simulator.socket_pace = 0
    simulator.speech_pace = 0
    yield
    if loaded_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(loaded_entry.entry_id)


def _pcm(name: str) -> bytes:
    with wave.open(str(FIXTURES / name)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        return wav.readframes(wav.getnframes())


async def _pipeline_id(hass: HomeAssistant) -> str:
    [pipeline] = [
        p for p in assist_pipeline.async_get_pipelines(hass) if p.name == "Voice assistant"
    ]
    return pipeline.id


def _text_sockets(simulator: RealtimeSimulator) -> list[Any]:
    """The agent's sockets (text sessions), not the transcription ones."""
    return [s for s in simulator.sockets if s.session["type"] == "realtime"]


async def _speech(
    hass_client: ClientSessionGenerator, events: list[dict[str, Any]]
) -> ClientResponse | None:
    """Fetch the run's spoken answer (speech is made when its URL is fetched); None if none."""
    tts_end = next((e for e in events if e["type"] == "tts-end"), None)
    if tts_end is None:
        return None
    return await (await hass_client()).get(tts_end["data"]["tts_output"]["url"])


async def _run(hass: HomeAssistant, ws: Any, audio: bytes, **extra: Any) -> list[dict[str, Any]]:
    """Run the pipeline from speech to speech; return its events (type and data)."""
    await ws.send_json_auto_id(
        {
            "type": "assist_pipeline/run",
            "start_stage": "stt",
            "end_stage": "tts",
            "input": {"sample_rate": 16000},
            "pipeline": await _pipeline_id(hass),
            **extra,
        }
    )
    result = await ws.receive_json()
    assert result["success"], result
    events: list[dict[str, Any]] = []
    handler: int | None = None
    while True:
        msg = await ws.receive_json()
        event = msg["event"]
        events.append(event)
        if event["type"] == "run-start":
            handler = event["data"]["runner_data"]["stt_binary_handler_id"]
            for start in range(0, len(audio), 3200):  # 100 ms frames, as a satellite sends
                await ws.send_bytes(bytes([handler]) + audio[start : start + 3200])
            await ws.send_bytes(bytes([handler]))
        if event["type"] in ("run-end", "error"):
            return events


async def test_pipeline_made_for_the_profile(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Creating the profile made an Assist pipeline named after it, of its three entities."""
    [pipeline] = [
        p for p in assist_pipeline.async_get_pipelines(hass) if p.name == "Voice assistant"
    ]
    assert (pipeline.stt_engine, pipeline.conversation_engine, pipeline.tts_engine) == (
        STT,
        AGENT,
        TTS,
    )
    assert pipeline.tts_voice == "marin"
    # Made once: a reload does not make another.
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert (
        len([p for p in assist_pipeline.async_get_pipelines(hass) if p.name == "Voice assistant"])
        == 1
    )
    # The button makes another on request.
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": "button.voice_assistant_create_assist_pipeline"},
        blocking=True,
    )
    assert (
        len([p for p in assist_pipeline.async_get_pipelines(hass) if p.name == "Voice assistant"])
        == 2
    )


@LINGERING_HEARTBEAT
async def test_speech_to_speech_through_the_pipeline(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    test_light: str,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
) -> None:
    """Speech in, the light on, a streamed answer, audio out."""
    ws = await hass_ws_client(hass)
    events = await _run(hass, ws, _pcm("speech.wav"))
    kinds = [e["type"] for e in events]
    assert "error" not in kinds, events
    stt_end = next(e for e in events if e["type"] == "stt-end")
    assert stt_end["data"]["stt_output"]["text"] == "Turn on the test light"
    assert kinds.index("stt-end") < kinds.index("intent-start") < kinds.index("intent-end")
    deltas = [e for e in events if e["type"] == "intent-progress"]
    assert any("chat_log_delta" in e["data"] for e in deltas)
    assert hass.states.get(LIGHT).state == "on"
    intent_end = next(e for e in events if e["type"] == "intent-end")
    speech = intent_end["data"]["intent_output"]["response"]["speech"]["plain"]["speech"]
    assert speech
    assert "tts-start" in kinds and "tts-end" in kinds
    response = await _speech(hass_client, events)
    assert response is not None and response.status == 200
    audio = await response.read()
    assert len(audio) > 1000
    # The speech-to-text socket and the agent's socket are different sockets.
    assert {s.session["type"] for s in simulator.sockets} == {"transcription", "realtime"}
    speech_requests = simulator.requests_to("/audio/speech")
    assert speech_requests and all(r.json()["voice"] == "marin" for r in speech_requests)
    assert " ".join(r.json()["input"] for r in speech_requests) == speech.strip()
    # Usage of the agent's responses is counted on the profile, and the transcription apart
    # from them (it is billed at the transcription model's price, by the second here).
    await until(lambda: hass.states.get(SATELLITE).attributes["usage"]["responses"] >= 2)
    usage = hass.states.get(SATELLITE).attributes["usage"]
    assert usage["transcriptions"] == 1
    assert usage["transcription_seconds"] > 0
    assert usage["transcription_tokens"] == 0


@LINGERING_HEARTBEAT
async def test_a_spoken_phrase_is_transcribed_as_said(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    test_light: str,
    hass_ws_client: WebSocketGenerator,
) -> None:
    ws = await hass_ws_client(hass)
    events = await _run(hass, ws, _pcm("turn_off_the_test_light.wav"))
    stt_end = next(e for e in events if e["type"] == "stt-end")
    assert stt_end["data"]["stt_output"]["text"] == "Turn off the test light"
    assert simulator.sockets[0].session["type"] == "transcription"


@LINGERING_HEARTBEAT
async def test_conversation_keeps_one_session_per_conversation(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    test_light: str,
) -> None:
    """Follow-ups reuse the conversation's socket; a question keeps the conversation open."""
    context = Context()
    first = await conversation.async_converse(
        hass, "Turn on the test light", None, context, agent_id=AGENT
    )
    assert hass.states.get(LIGHT).state == "on"
    conversation_id = first.conversation_id
    follow = await conversation.async_converse(
        hass, "Can you ask me something?", conversation_id, context, agent_id=AGENT
    )
    assert follow.continue_conversation
    text_sockets = _text_sockets(simulator)
    assert len(text_sockets) == 1
    other = await conversation.async_converse(hass, "Hello", None, context, agent_id=AGENT)
    assert other.conversation_id != conversation_id
    assert len(_text_sockets(simulator)) == 2


# aiohttp re-arms a WebSocket's heartbeat when data arrives while it closes (the dropped
# socket's last events); the timer fires once on a closed socket.
@pytest.mark.parametrize("expected_lingering_timers", [True])
@pytest.mark.parametrize(
    ("fault_path", "stage", "code"),
    [
        ("/realtime?intent=transcription", "stt", "stt-stream-failed"),
        ("/realtime?model=", "intent", None),
    ],
)
async def test_upstream_drops_end_the_run_clearly(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    test_light: str,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    fault_path: str,
    stage: str,
    code: str | None,
) -> None:
    simulator.add_fault(fault_path, "drop_mid_stream")
    ws = await hass_ws_client(hass)
    events = await _run(hass, ws, _pcm("speech.wav"))
    # The error is spoken: fetch it, so that no audio is still being made when the test ends.
    if (response := await _speech(hass_client, events)) is not None:
        assert response.status == 200
        assert await response.read()
    if code is not None:
        error = events[-1]
        assert error["type"] == "error"
        assert error["data"]["code"] == code
    else:
        intent_end = next(e for e in events if e["type"] == "intent-end")
        response = intent_end["data"]["intent_output"]["response"]
        assert response["response_type"] == "error"
        assert "connection" in response["speech"]["plain"]["speech"].lower()
    await until(lambda: all(s.status == "ended" for s in simulator.sockets))


async def test_speech_formats(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """mp3 for browsers and ESPHome, WAV (one header over PCM) for VoIP."""
    from homeassistant.components import tts

    for fmt, head in (("mp3", None), ("wav", b"RIFF")):
        simulator.clear()
        extension, data = await tts.async_get_media_source_audio(
            hass,
            tts.generate_media_source_id(
                hass, "Hello there. How are you?", TTS, "en-US", {"preferred_format": fmt}
            ),
        )
        assert extension == fmt
        bodies = [r.json() for r in simulator.requests_to("/audio/speech")]
        assert [b["input"] for b in bodies] == ["Hello there.", "How are you?"]
        assert all(b["response_format"] == ("pcm" if fmt == "wav" else fmt) for b in bodies)
        if head:
            assert data.startswith(head)
            assert data[8:12] == b"WAVE"


async def test_speech_that_breaks_off_is_an_error_not_silence(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The upstream drops mid-speech: the audio request fails (HA logs why), nothing hangs."""
    from homeassistant.components import tts
    from homeassistant.exceptions import HomeAssistantError

    simulator.add_fault("/audio/speech", "drop_mid_stream")
    with pytest.raises(HomeAssistantError):
        await tts.async_get_media_source_audio(
            hass,
            tts.generate_media_source_id(
                hass, "This sentence will break off.", TTS, "en-US", {"preferred_format": "mp3"}
            ),
        )
    # The next request speaks.
    extension, data = await tts.async_get_media_source_audio(
        hass, tts.generate_media_source_id(hass, "Now it works.", TTS, "en-US", {})
    )
    assert extension == "mp3" and data


async def test_rate_limited_transcription(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """429 on connect: the run ends with stt-stream-failed; the log says why."""
    simulator.add_fault("/realtime?intent=transcription", "429", retry_after=2)
    ws = await hass_ws_client(hass)
    events = await _run(hass, ws, _pcm("speech.wav"))
    assert events[-1]["type"] == "error"
    assert events[-1]["data"]["code"] == "stt-stream-failed"
    assert "Speech-to-text of Voice assistant failed" in caplog.text


@LINGERING_HEARTBEAT
async def test_a_lost_session_is_opened_again_with_the_conversation(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    test_light: str,
) -> None:
    """OpenAI drops the conversation's socket between turns: the next turn replays the chat."""
    context = Context()
    first = await conversation.async_converse(
        hass, "Turn on the test light", None, context, agent_id=AGENT
    )
    [socket] = _text_sockets(simulator)
    await socket.end("dropped")
    await until(lambda: socket.status == "ended")
    second = await conversation.async_converse(
        hass, "Hello again", first.conversation_id, context, agent_id=AGENT
    )
    assert second.response.response_type.value != "error"
    sockets = _text_sockets(simulator)
    assert len(sockets) == 2
    replayed = [
        r.event["item"]
        for r in sockets[1].received
        if r.event["type"] == "conversation.item.create"
    ]
    kinds = [(i["type"], i.get("role")) for i in replayed]
    assert kinds[:4] == [
        ("message", "user"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
    ]
    assert replayed[-1]["content"][0]["text"] == "Hello again"


@LINGERING_HEARTBEAT
async def test_open_conversations_are_bounded(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conversation_module, "MAX_OPEN_CONVERSATIONS", 1)
    await conversation.async_converse(hass, "Hello", None, Context(), agent_id=AGENT)
    await conversation.async_converse(hass, "Hello", None, Context(), agent_id=AGENT)
    sockets = _text_sockets(simulator)
    await until(lambda: sockets[0].status == "ended")
    assert sockets[1].status != "ended"


async def test_pipeline_needs_its_entities_and_a_language(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from homeassistant.exceptions import HomeAssistantError
    from homeassistant.helpers import entity_registry as er

    er.async_get(hass).async_remove(STT)
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get(STT) is None
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": "button.voice_assistant_create_assist_pipeline"},
            blocking=True,
        )
    assert err.value.translation_key == "pipeline_entities_missing"
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    # HA finds no language both speech entities speak (cannot happen with English in their
    # lists, which HA falls back to; a later HA might decide otherwise).
    monkeypatch.setattr(
        "custom_components.openai_api.assist_pipelines.assist_pipeline.async_create_default_pipeline",
        AsyncMock(return_value=None),
    )
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": "button.voice_assistant_create_assist_pipeline"},
            blocking=True,
        )
    assert err.value.translation_key == "pipeline_language"


@pytest.mark.parametrize("expected_lingering_timers", [True])
@pytest.mark.parametrize(
    "fault_path", ["/realtime?intent=transcription", "/realtime?model=", "/audio/speech"]
)
async def test_a_rejected_key_in_any_stage_starts_reauth(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    fault_path: str,
) -> None:
    """A 401 from the transcription, the agent's or the speech endpoint opens a reauth flow."""
    simulator.add_fault(fault_path, "401")
    ws = await hass_ws_client(hass)
    events = await _run(hass, ws, _pcm("speech.wav"))
    if (response := await _speech(hass_client, events)) is not None:
        # None when the speech endpoint refuses the key.
        assert (response.status == 200) == (fault_path != "/audio/speech")
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler("openai_api")
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert loaded_entry.state is ConfigEntryState.LOADED
