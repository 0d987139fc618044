"""Realtime voice end to end: a real WebRTC peer, HA's websocket relay, the sideband, tools."""

from __future__ import annotations

import email
import email.policy
import json

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.openai_api.const import EVENT_TRANSCRIPT
from custom_components.openai_api.realtime import call as call_module
from simulator import RealtimeSimulator, Turn
from simulator.routes import drop_sidebands

from .browser_peer import BrowserPeer
from .voice_helpers import LIGHT, SATELLITE, Voice, until


def hass_admin_user_id(hass: HomeAssistant) -> str:
    """The id of the user the websocket client logged in as."""
    return next(
        u.id for u in hass.auth._store._users.values() if u.is_admin and not u.system_generated
    )


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[str, str]]:
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_content_type(),
            part.get_payload(decode=True).decode(),
        )
        for part in message.iter_parts()
    }


async def test_voice_call_turns_on_the_light(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Offer through HA, audio back, a scripted tool call turns on the light via Assist."""
    transcripts = async_capture_events(hass, EVENT_TRANSCRIPT)
    peer, call_id, call = await voice.connect()

    # The request HA made: multipart sdp + session, with the key and a safety identifier.
    request = simulator.requests_to("/realtime/calls")[-1]
    assert request.headers["Authorization"] == "Bearer sk-test-0123456789abcdef"
    safety = request.headers["OpenAI-Safety-Identifier"]
    assert len(safety) == 32
    assert hass_admin_user_id(hass) not in safety
    parts = _multipart(request.body, request.headers["Content-Type"])
    assert parts["sdp"][0] == "application/sdp"
    assert parts["sdp"][1].startswith("v=0")
    assert parts["session"][0] == "application/json"
    session = json.loads(parts["session"][1])
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime"
    assert session["audio"]["output"]["voice"] == "marin"
    assert "You are a voice assistant" in session["instructions"]
    tool_names = {tool["name"] for tool in session["tools"]}
    assert {
        "intent__HassTurnOn",
        "intent__HassTurnOff",
        "homeassistant__GetLiveContext",
    } <= tool_names
    assert all(tool["type"] == "function" for tool in session["tools"])

    # Audio flows both ways (silence until someone speaks; the model's voice is checked below).
    await peer.wait_for_audio()
    await until(lambda: call.peer is not None and call.peer.frames_received > 10)

    # The sideband is HA's, with the standard key.
    sideband = next(
        r for r in simulator.requests_to("/realtime") if r.query.get("call_id") == call_id
    )
    assert sideband.headers["Authorization"] == "Bearer sk-test-0123456789abcdef"
    assert hass.states.get(SATELLITE).attributes["call_ids"] == [call_id]

    assert hass.states.get(LIGHT).state == "off"
    await call.user_turn(Turn())
    await until(lambda: hass.states.get(LIGHT).state == "on")

    output = await call.wait_for(lambda r: r.event["type"] == "conversation.item.create")
    assert output.source == "sideband"
    result = json.loads(output.event["item"]["output"])
    assert result["response_type"] == "action_done"
    assert result["data"]["success"][0]["id"] == LIGHT
    await call.wait_for(lambda r: r.event["type"] == "response.create" and r.source == "sideband")
    await until(lambda: len(transcripts) == 2)
    assert [(e.data["role"], e.data["text"]) for e in transcripts] == [
        ("user", "Turn on the test light"),
        ("assistant", "The test light is on."),
    ]
    assert transcripts[0].data["entity_id"] == SATELLITE
    assert transcripts[0].data["call_id"] == call_id

    # The data channel (the browser) saw the same events, and heard the answer.
    await until(
        lambda: any(e["type"] == "response.output_audio_transcript.done" for e in peer.events)
    )
    await until(lambda: peer.peak_level > 0.1)
    await until(lambda: hass.states.get(SATELLITE).attributes["usage"]["total_tokens"] >= 210)
    # The user's transcription is counted apart from the response tokens.
    usage = hass.states.get(SATELLITE).attributes["usage"]
    assert usage["transcriptions"] == 1
    assert usage["transcription_seconds"] > 0


async def test_satellite_state_follows_the_call(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """idle -> listening -> processing -> responding -> idle."""
    _peer, _call_id, call = await voice.connect()
    seen: list[str] = []

    # A callback runs in the event loop, in the order the states were written (a plain
    # function would run in the executor and could see them out of order).
    @callback
    def _record(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is not None and new is not None and old.state != new.state:
            seen.append(new.state)

    async_track_state_change_event(hass, SATELLITE, _record)
    await call.user_turn(Turn(tool_name=None, reply="Hello there."))
    await until(lambda: seen[-1:] == ["idle"] and len(seen) >= 4)
    assert seen == ["listening", "processing", "responding", "idle"]


async def test_announce_into_live_call_and_without_one(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """assist_satellite.announce speaks through the sideband; without a call it fails clearly."""
    from homeassistant.exceptions import HomeAssistantError

    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "announce",
            {"message": "Dinner is ready"},
            target={"entity_id": SATELLITE},
            blocking=True,
        )
    assert err.value.translation_key == "no_live_session"

    _peer, _call_id, call = await voice.connect()
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"message": "Dinner is ready"},
        target={"entity_id": SATELLITE},
        blocking=True,
    )
    create = await call.wait_for(lambda r: r.event["type"] == "response.create")
    assert create.event["response"]["instructions"] == (
        'Say exactly this to the user, word for word, and nothing else: "Dinner is ready"'
    )
    assert create.source == "sideband"
    # A plain announcement adds nothing else to the conversation.
    assert not [r for r in call.received if r.event["type"] == "conversation.item.create"]

    await hass.services.async_call(
        "assist_satellite",
        "start_conversation",
        {
            "start_message": "Shall I dim the lights?",
            "extra_system_prompt": "The user is watching a film.",
        },
        target={"entity_id": SATELLITE},
        blocking=True,
    )
    create = await call.wait_for(
        lambda r: r.event["type"] == "response.create" and "dim" in json.dumps(r.event)
    )
    # The context is a system message before the response; the response says the message only.
    assert "watching a film" not in json.dumps(create.event)
    item = await call.wait_for(lambda r: r.event["type"] == "conversation.item.create")
    assert item.event["item"]["role"] == "system"
    assert item.event["item"]["content"] == [
        {"type": "input_text", "text": "The user is watching a film."}
    ]
    assert call.received.index(item) < call.received.index(create)


async def test_hangup_command(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    _peer, call_id, call = await voice.connect()
    reply = await voice.command(type="openai_api/realtime/hangup", call_id=call_id)
    assert reply["result"] == {"call_id": call_id, "ended": True}
    assert call.hung_up and call.hangup_reason == "hangup"
    assert [r.path for r in simulator.requests if r.path.endswith("/hangup")] == [
        f"/realtime/calls/{call_id}/hangup"
    ]
    await until(lambda: not call.sidebands)
    assert hass.states.get(SATELLITE).attributes["call_count"] == 0
    reply = await voice.command(type="openai_api/realtime/hangup", call_id=call_id)
    assert reply["result"]["ended"] is False


async def test_hangup_when_websocket_closes(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    _peer, _call_id, call = await voice.connect()
    await voice.ws.close()
    await until(lambda: call.hung_up)
    await until(lambda: hass.states.get(SATELLITE).attributes["call_count"] == 0)


async def test_hangup_on_unload(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    _peer, _call_id, call = await voice.connect()
    manager = loaded_entry.runtime_data.manager
    live = list(manager.calls)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert call.hung_up
    assert manager.calls == []
    assert all(c.ended for c in live)
    assert not any(t for c in live for t in c._tasks)
    assert all(c._task is None or c._task.done() for c in live)


# Stopping HA leaves the heartbeat timer of HA's own websocket connection behind in the harness.
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_hangup_on_home_assistant_stop(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    _peer, _call_id, call = await voice.connect()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await until(lambda: call.hung_up)


async def test_call_ended_by_openai(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """When the call ends at OpenAI (session expired), HA lets go of it."""
    _peer, _call_id, call = await voice.connect()
    await call.expire()
    await until(lambda: hass.states.get(SATELLITE).attributes["call_count"] == 0)


async def test_sideband_reconnects(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dropped sideband comes back (after a refused attempt) while the call lives."""
    monkeypatch.setattr(call_module, "RECONNECT_DELAYS", (0.01, 0.01, 0.01))
    _peer, _call_id, call = await voice.connect()
    simulator.sideband_refusals = 1
    await drop_sidebands(call)
    await until(lambda: call.sideband_connects == 2 and call.sidebands)
    await call.user_turn(Turn())
    await until(lambda: hass.states.get(LIGHT).state == "on")


async def test_sideband_given_up_hangs_up(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(call_module, "RECONNECT_DELAYS", (0.01, 0.01))
    _peer, _call_id, call = await voice.connect()
    simulator.sideband_refusals = 10
    await drop_sidebands(call)
    await until(lambda: call.hung_up)
    assert call.hangup_reason == "hangup"


@pytest.mark.parametrize(
    ("sdp", "fragment"),
    [
        ("hello", "v=0"),
        ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n", "audio section"),
        (
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:x\r\na=fingerprint:sha-256 AA\r\n",
            "ICE gathering",
        ),
        ("v=0\r\n" + "a=x\r\n" * 20000, "larger than"),
    ],
)
async def test_bad_sdp_is_refused(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, sdp: str, fragment: str
) -> None:
    reply = await voice.command(type="openai_api/realtime/connect", entity_id=SATELLITE, sdp=sdp)
    assert not reply["success"]
    assert reply["error"]["translation_key"] == "invalid_sdp"
    assert fragment in reply["error"]["message"]
    assert simulator.requests_to("/realtime/calls") == []


async def test_limits(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """One session per user by default; the profile limit counts everyone."""
    await voice.connect()
    peer = BrowserPeer()
    voice.peers.append(peer)
    reply = await voice.command(
        type="openai_api/realtime/connect", entity_id=SATELLITE, sdp=await peer.offer()
    )
    assert reply["error"]["translation_key"] == "too_many_user_sessions"
    assert len(simulator.requests_to("/realtime/calls")) == 1


async def test_not_a_satellite(hass: HomeAssistant, voice: Voice) -> None:
    peer = BrowserPeer()
    voice.peers.append(peer)
    reply = await voice.command(
        type="openai_api/realtime/connect", entity_id=LIGHT, sdp=await peer.offer()
    )
    assert reply["error"]["translation_key"] == "not_a_voice_satellite"


async def test_openai_error_on_connect(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    simulator.add_fault("/realtime/calls", "429", retry_after=3)
    peer = BrowserPeer()
    voice.peers.append(peer)
    reply = await voice.command(
        type="openai_api/realtime/connect", entity_id=SATELLITE, sdp=await peer.offer()
    )
    assert reply["error"]["translation_key"] == "rate_limited"
    assert hass.states.get(SATELLITE).attributes["call_count"] == 0
    # The slot was released: the next try works.
    await voice.connect()


async def test_ephemeral_mode(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, socket_enabled: None
) -> None:
    """Mint from the profile, connect directly with the ek_, then HA attaches the sideband."""
    import aiohttp

    reply = await voice.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE)
    result = reply["result"]
    assert result["value"].startswith("ek_")
    assert result["calls_url"] == f"{simulator.base_url}/realtime/calls"
    body = simulator.requests_to("/realtime/client_secrets")[-1].json()
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 30}
    assert body["session"]["model"] == "gpt-realtime"
    assert "sk-test" not in json.dumps(result)

    peer = BrowserPeer()
    voice.peers.append(peer)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            result["calls_url"],
            data=await peer.offer(),
            headers={
                "Authorization": f"Bearer {result['value']}",
                "Content-Type": "application/sdp",
            },
        ) as resp,
    ):
        assert resp.status == 201
        answer = await resp.text()
        call_id = resp.headers["Location"].rsplit("/", 1)[-1]
    await peer.accept(answer)
    reply = await voice.command(
        type="openai_api/realtime/attach", entity_id=SATELLITE, call_id=call_id
    )
    assert reply["result"] == {"call_id": call_id}
    call = simulator.calls[call_id]
    await until(lambda: call.sidebands)
    # The client made the call itself: HA re-asserts the profile's instructions and tools.
    update = await until(lambda: [r for r in call.received if r.event["type"] == "session.update"])
    assert update[0].source == "sideband"
    assert update[0].event["session"]["instructions"] == body["session"]["instructions"]
    assert {t["name"] for t in update[0].event["session"]["tools"]} == {
        t["name"] for t in body["session"]["tools"]
    }
    await call.user_turn(Turn())
    await until(lambda: hass.states.get(LIGHT).state == "on")


async def test_non_admin_user_may_connect_but_not_hang_up_others(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    hass_ws_client: WebSocketGenerator,
    hass_read_only_access_token: str,
) -> None:
    """Any logged-in user may start a call; only its owner or an admin may hang it up."""
    _peer, call_id, call = await voice.connect()
    other = Voice(hass, await hass_ws_client(hass, hass_read_only_access_token), simulator)
    reply = await other.command(type="openai_api/realtime/hangup", call_id=call_id)
    assert reply["error"]["code"] == "unauthorized"
    assert not call.hung_up
    await voice.command(type="openai_api/realtime/hangup", call_id=call_id)
    _p, own_call_id, _c = await other.connect()
    assert own_call_id != call_id
    await other.close()
