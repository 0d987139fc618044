"""The simulator's voice: it hears speech, answers a scripted turn aloud, and is silent otherwise."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from homeassistant.core import HomeAssistant
import numpy as np
import pytest

from simulator import VOICE_TURN, RealtimeSimulator, Turn
from simulator.speech import SAMPLE_RATE, synthesize
from simulator.vad import Activity, VadSettings, VoiceActivity
from simulator.webrtc import FRAME_SAMPLES

from .browser_peer import BrowserPeer
from .simulator_helpers import conformance_errors, function_output, sideband
from .voice_helpers import LIGHT, Voice, until

FRAME = FRAME_SAMPLES / SAMPLE_RATE
TOOLS = [
    {"type": "function", "name": "intent__HassTurnOn", "parameters": {"type": "object"}},
    {"type": "function", "name": "intent__HassTurnOff", "parameters": {"type": "object"}},
]
SESSION = {
    "type": "realtime",
    "tools": TOOLS,
    "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
}


def _frames(samples: np.ndarray) -> np.ndarray:
    usable = len(samples) // FRAME_SAMPLES * FRAME_SAMPLES
    return samples[:usable].reshape(-1, FRAME_SAMPLES)


def _rms(samples: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(np.square(_frames(samples).astype(np.float64)), axis=1))


def _pitch(frame: np.ndarray) -> float:
    """The fundamental of a voiced stretch, by autocorrelation (60-400 Hz)."""
    signal = frame - frame.mean()
    corr = np.correlate(signal, signal, "full")[len(signal) - 1 :]
    low, high = SAMPLE_RATE // 400, SAMPLE_RATE // 60
    return SAMPLE_RATE / (low + int(np.argmax(corr[low:high])))


def test_speech_sounds_like_talking_not_a_tone() -> None:
    """Syllables with pauses, a moving pitch in the speaking range, a rich spectrum."""
    spoken = synthesize("The kitchen light is on. Shall I dim it?", voice="marin")
    rms = _rms(spoken.samples)
    assert 1.5 < spoken.seconds < 5
    assert rms.max() > 0.15  # clearly audible
    assert 0.15 < np.mean(rms < 0.01) < 0.6  # pauses between syllables and words
    # Loudness moves: many separate bursts, not one block.
    bursts = np.sum(np.diff((rms > 0.05).astype(int)) == 1)
    assert bursts >= 8
    # The pitch of voiced stretches lies in a speaking range and does not stay put.
    voiced = [i for i, level in enumerate(rms) if level > 0.1]
    pitches = [_pitch(_frames(spoken.samples)[i]) for i in voiced]
    assert 120 < np.median(pitches) < 300
    assert np.ptp(pitches) > 25
    # Harmonics (formants), not a sine: energy well above the fundamental.
    spectrum = np.abs(np.fft.rfft(spoken.samples))
    frequencies = np.fft.rfftfreq(len(spoken.samples), 1 / SAMPLE_RATE)
    assert spectrum[frequencies > 700].sum() > 0.3 * spectrum[frequencies <= 700].sum()
    # Words are timed in it, in order.
    assert [w for w, _ in spoken.word_starts] == [
        "The",
        "kitchen",
        "light",
        "is",
        "on",
        "Shall",
        "I",
        "dim",
        "it",
    ]
    assert all(
        a[1] < b[1] for a, b in zip(spoken.word_starts, spoken.word_starts[1:], strict=False)
    )


def test_voices_and_speed() -> None:
    low = synthesize("Hello there, how are you?", voice="cedar")
    high = synthesize("Hello there, how are you?", voice="marin")
    fast = synthesize("Hello there, how are you?", voice="marin", speed=1.5)

    def median_pitch(spoken: Any) -> float:
        rms = _rms(spoken.samples)
        return float(
            np.median(
                [_pitch(f) for f, r in zip(_frames(spoken.samples), rms, strict=True) if r > 0.1]
            )
        )

    assert median_pitch(low) < median_pitch(high)
    assert fast.seconds < high.seconds * 0.8


def _feed(
    vad: VoiceActivity, levels: list[float], settings: VadSettings
) -> list[tuple[Activity, float]]:
    out = []
    for level in levels:
        activity = vad.feed(level, FRAME, settings)
        if activity is not None:
            out.append((activity, vad.clock))
    return out


def test_vad_finds_speech_and_its_end() -> None:
    settings = VadSettings.from_turn_detection({"type": "server_vad", "silence_duration_ms": 500})
    vad = VoiceActivity()
    levels = [0.0] * 25 + [0.2] * 50 + [0.0] * 40
    events = _feed(vad, levels, settings)
    assert [a for a, _ in events] == [Activity.STARTED, Activity.STOPPED]
    assert vad.started_at == pytest.approx(0.5 - 0.3, abs=0.03)  # with 300 ms prefix padding
    assert vad.last_voice == pytest.approx(1.5, abs=0.03)
    assert events[1][1] == pytest.approx(2.0, abs=0.05)  # after 500 ms of silence


def test_vad_ignores_beeps_and_waits_out_short_pauses() -> None:
    """Chromium's fake microphone (60 ms loud every 500 ms) is not speech; a word gap is no end."""
    semantic = VadSettings.from_turn_detection({"type": "semantic_vad", "eagerness": "auto"})
    beeps = ([0.45] * 3 + [0.0] * 22) * 20
    assert _feed(VoiceActivity(), beeps, semantic) == []
    words = [0.2] * 20 + [0.0] * 10 + [0.2] * 20 + [0.0] * 40
    assert [a for a, _ in _feed(VoiceActivity(), words, semantic)] == [
        Activity.STARTED,
        Activity.STOPPED,
    ]
    quiet = VadSettings.from_turn_detection({"type": "server_vad", "threshold": 0.9})
    assert _feed(VoiceActivity(), [0.02] * 50, quiet) == []


async def _direct_call(sim: RealtimeSimulator, session: dict[str, Any]) -> tuple[BrowserPeer, Any]:
    from .test_simulator_api import _multipart, _post

    peer = BrowserPeer()
    status, answer, _headers = await _post(
        sim, "/realtime/calls", data=_multipart(await peer.offer(), session)
    )
    assert status == 201, answer
    await peer.accept(answer)
    await until(lambda: peer.channel.readyState == "open")
    await peer.wait_for_audio()
    return peer, sim.call()


def _events(peer: BrowserPeer, kind: str) -> list[dict[str, Any]]:
    return [e for e in peer.events if e["type"] == kind]


async def test_speech_plays_the_voice_turn_and_the_answer_is_heard(
    simulator: RealtimeSimulator,
) -> None:
    """Speak into the call: transcript, HassTurnOn, then after the output a spoken answer."""
    peer, call = await _direct_call(simulator, SESSION)
    try:
        await asyncio.sleep(0.3)
        assert peer.peak_level < 0.001  # nobody speaks: silence, not a tone
        peer.microphone.play(synthesize("Turn on the kitchen light", voice="cedar").samples)
        started = await until(lambda: _events(peer, "input_audio_buffer.speech_started"))
        assert not _events(peer, "input_audio_buffer.speech_stopped")  # still talking
        arguments = (await until(lambda: _events(peer, "response.function_call_arguments.done")))[0]
        stopped = _events(peer, "input_audio_buffer.speech_stopped")[0]
        assert stopped["item_id"] == started[0]["item_id"]
        assert 1000 < stopped["audio_end_ms"] - started[0]["audio_start_ms"] < 3000
        heard = await until(
            lambda: _events(peer, "conversation.item.input_audio_transcription.completed")
        )
        assert heard[0]["transcript"] == VOICE_TURN.transcript
        assert arguments["name"] == "intent__HassTurnOn"
        assert json.loads(arguments["arguments"]) == {"name": "Kitchen light"}
        assert peer.peak_level < 0.001  # the model has not spoken yet

        output = json.dumps({"response_type": "action_done"})
        peer.channel.send(json.dumps(function_output(arguments["call_id"], output)))
        peer.channel.send(json.dumps({"type": "response.create"}))
        started_audio = (await until(lambda: _events(peer, "output_audio_buffer.started")))[0]
        done = (await until(lambda: _events(peer, "response.output_audio_transcript.done")))[0]
        assert done["transcript"] == "The kitchen light is on."
        deltas = _events(peer, "response.output_audio_transcript.delta")
        assert "".join(d["delta"] for d in deltas) == done["transcript"]
        await until(lambda: peer.peak_level > 0.1)  # the answer is audible
        response_done = _events(peer, "response.done")[-1]
        assert response_done["response"]["usage"]["total_tokens"] > 0
        assert not _events(peer, "output_audio_buffer.stopped")  # still playing after response.done
        stopped_audio = (await until(lambda: _events(peer, "output_audio_buffer.stopped")))[0]
        assert stopped_audio["response_id"] == started_audio["response_id"]
        # Silence again once it has spoken.
        before = peer.frames_received
        peer.peak_level = 0.0
        await until(lambda: peer.frames_received > before + 25)
        assert peer.peak_level < 0.001
        assert [p for e in call.sent for p in conformance_errors(e)] == []
    finally:
        await peer.close()


async def test_without_a_matching_tool_the_model_just_answers(simulator: RealtimeSimulator) -> None:
    peer, call = await _direct_call(simulator, {"type": "realtime"})
    try:
        await call.user_turn(VOICE_TURN)
        assert not _events(peer, "response.function_call_arguments.done")
        assert (
            _events(peer, "response.output_audio_transcript.done")[0]["transcript"]
            == VOICE_TURN.reply
        )
        # No transcription configured: no transcript of the user.
        assert not _events(peer, "conversation.item.input_audio_transcription.completed")
    finally:
        await peer.close()


async def test_a_failed_tool_gets_the_failure_reply(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call(SESSION)
    async with sideband(simulator, call) as ws:
        task = call.spawn(call.user_turn(VOICE_TURN))
        arguments = await ws.next("response.function_call_arguments.done")
        output = json.dumps({"error": "HomeAssistantError", "error_text": "no such light"})
        await ws.send(function_output(arguments["call_id"], output))
        await ws.send({"type": "response.create"})
        said = (await ws.next("response.output_audio_transcript.done"))["transcript"]
        await task
    assert said == VOICE_TURN.failure_reply


async def test_calls_can_be_told_not_to_listen(socket_enabled: None) -> None:
    async with RealtimeSimulator(auto_turn=None) as sim:
        peer, call = await _direct_call(sim, SESSION)
        try:
            peer.microphone.play(synthesize("Turn on the kitchen light").samples)
            await asyncio.sleep(2.5)
            assert call.peer is not None and call.peer.peak_level > 0.1  # it was loud...
            assert not _events(peer, "input_audio_buffer.speech_started")  # ...and ignored
        finally:
            await peer.close()


async def test_turn_detection_off_means_no_voice_turns(simulator: RealtimeSimulator) -> None:
    session = {**SESSION, "audio": {"input": {"turn_detection": None}}}
    peer, _call = await _direct_call(simulator, session)
    try:
        peer.microphone.play(synthesize("Turn on the kitchen light").samples)
        await asyncio.sleep(2.5)
        assert not _events(peer, "input_audio_buffer.speech_started")
    finally:
        await peer.close()


@pytest.mark.usefixtures("test_light")
async def test_speaking_through_home_assistant_turns_on_the_light(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """The whole loop with a microphone: speech, VAD, HA's tool call, the spoken answer."""
    simulator.auto_turn = Turn(
        transcript="Turn on the test light",
        tool_name="HassTurnOn",
        tool_arguments={"name": "Test light"},
        reply="The test light is on.",
        find_tool=True,
    )
    peer, _call_id, call = await voice.connect()
    assert hass.states.get(LIGHT).state == "off"
    peer.microphone.play(synthesize("Turn on the test light", voice="cedar").samples)
    await until(lambda: hass.states.get(LIGHT).state == "on", timeout=15)
    output = await call.wait_for(lambda r: r.event["type"] == "conversation.item.create")
    assert output.source == "sideband" and output.error is None
    await until(lambda: peer.peak_level > 0.1, timeout=15)
    assert not [r for r in call.received if r.error is not None]


async def test_a_transcription_session_only_transcribes(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call(
        {
            "type": "transcription",
            "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
        }
    )
    await call.user_turn(VOICE_TURN)
    await until(
        lambda: any(
            e["type"] == "conversation.item.input_audio_transcription.completed" for e in call.sent
        )
    )
    assert not [e for e in call.sent if e["type"].startswith("response.")]
