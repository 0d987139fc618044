"""Client events are checked like the API checks them; server events are the spec's."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from simulator import RealtimeSimulator, Turn
from simulator.spec import client_events

from .browser_peer import BrowserPeer
from .simulator_helpers import conformance_errors, function_output, sideband
from .voice_helpers import until


@pytest.mark.parametrize(
    ("event", "param", "code"),
    [
        (
            {"type": "session.update", "session": {"type": "realtime", "bogus": True}},
            "session.bogus",
            "unknown_parameter",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voicee": "marin"}}},
            },
            "session.audio.output.voicee",
            "unknown_parameter",
        ),
        ({"type": "response.create", "respnse": {}}, "respnse", "unknown_parameter"),
        (
            {"type": "response.create", "response": {"instructions": 42}},
            "response.instructions",
            "invalid_type",
        ),
        (
            {"type": "response.create", "response": {"max_output_tokens": 0}},
            "response.max_output_tokens",
            "integer_below_min_value",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "c", "output": "{}", "x": 1},
            },
            "item.x",
            "unknown_parameter",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "robot", "content": []},
            },
            "item.role",
            "invalid_value",
        ),
        ({"type": "conversation.item.create"}, "item", "missing_required_parameter"),
        (
            {"type": "session.update", "session": {"instructions": "x"}},
            "session.type",
            "missing_required_parameter",
        ),
        ({"type": "sesion.update"}, "type", "invalid_value"),
        ({"type": "response.create", "event_id": "e" * 513}, "event_id", "string_above_max_length"),
    ],
)
async def test_bad_client_events_get_an_error_and_change_nothing(
    simulator: RealtimeSimulator, event: dict[str, Any], param: str, code: str
) -> None:
    call = simulator.add_call()
    before = json.dumps(call.session)
    async with sideband(simulator, call) as ws:
        await ws.send({**event, "event_id": event.get("event_id", "evt_client_1")})
        error = await ws.error()
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert error["event_id"] == event.get("event_id", "evt_client_1")
    assert json.dumps(call.session) == before
    assert not [e for e in call.sent if e["type"] in ("session.updated", "response.created")]
    assert call.received[-1].error is not None


async def test_events_from_the_data_channel_are_checked_too(simulator: RealtimeSimulator) -> None:
    peer = BrowserPeer()
    try:
        from .test_simulator_api import _multipart, _post

        _status, answer, _headers = await _post(
            simulator, "/realtime/calls", data=_multipart(await peer.offer(), {"type": "realtime"})
        )
        await peer.accept(answer)
        await until(lambda: peer.channel.readyState == "open")
        peer.channel.send(
            json.dumps({"type": "session.update", "session": {"type": "realtime", "x": 1}})
        )
        error = await until(lambda: next((e for e in peer.events if e["type"] == "error"), None))
        assert (error["error"]["param"], error["error"]["event_id"]) == ("session.x", None)
        assert simulator.call().received[-1].source == "datachannel"
    finally:
        await peer.close()


async def test_session_update_merges_nested_objects(simulator: RealtimeSimulator) -> None:
    """Nested objects merge key by key; arrays, scalars and null replace; a new `type` replaces."""
    call = simulator.add_call(
        {
            "type": "realtime",
            "instructions": "Be brief.",
            "tools": [{"type": "function", "name": "a"}],
            "audio": {
                "input": {
                    "transcription": {"model": "gpt-4o-mini-transcribe"},
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {"type": "server_vad", "threshold": 0.7},
                },
                "output": {"voice": "alloy", "speed": 1.2},
            },
        }
    )
    async with sideband(simulator, call) as ws:
        await ws.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "marin"}}},
            }
        )
        session = (await ws.next("session.updated"))["session"]
        assert session["audio"]["output"] == {
            "format": {"type": "audio/pcm", "rate": 24000},
            "voice": "marin",
            "speed": 1.2,
        }
        assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
        assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.7
        assert session["instructions"] == "Be brief."

        await ws.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "tools": [{"type": "function", "name": "b"}],
                    "audio": {
                        "input": {
                            "noise_reduction": None,
                            "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
                        }
                    },
                },
            }
        )
        session = (await ws.next("session.updated"))["session"]
    assert session["tools"] == [{"type": "function", "name": "b"}]
    assert session["audio"]["input"]["noise_reduction"] is None
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["audio"]["output"]["voice"] == "marin"
    assert call.session == session
    assert not conformance_errors({"type": "session.updated", "event_id": "e", "session": session})


async def test_voice_is_fixed_once_the_model_has_spoken(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call()
    async with sideband(simulator, call) as ws:
        await ws.send({"type": "response.create"})
        await ws.next("response.done")
        await ws.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "ash"}}},
            }
        )
        error = await ws.error()
    assert error["code"] == "cannot_update_voice"
    assert call.session["audio"]["output"]["voice"] == "alloy"


async def test_one_response_at_a_time(simulator: RealtimeSimulator) -> None:
    """A second response.create while one writes to the conversation is refused; cancel ends it."""
    call = simulator.add_call()
    call.pace = 1.0  # the first response is still going when the second is asked for
    async with sideband(simulator, call) as ws:
        await ws.send({"type": "response.create"})
        created = await ws.next("response.created")
        await ws.send({"type": "response.create", "event_id": "second"})
        error = await ws.error()
        assert (error["code"], error["event_id"]) == (
            "conversation_already_has_active_response",
            "second",
        )
        # Out of band responses may run alongside.
        await ws.send(
            {
                "type": "response.create",
                "response": {"conversation": "none", "output_modalities": ["text"]},
            }
        )
        await ws.send({"type": "response.cancel"})
        done = await ws.next("response.done")
        while done["response"]["id"] != created["response"]["id"]:
            done = await ws.next("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {
            "type": "cancelled",
            "reason": "client_cancelled",
        }
        await ws.send({"type": "response.cancel"})
        assert (await ws.error())["code"] == "response_cancel_not_active"


async def test_announcements_say_the_quoted_message_and_nothing_else(
    simulator: RealtimeSimulator,
) -> None:
    call = simulator.add_call()
    async with sideband(simulator, call) as ws:
        await ws.send(
            {
                "type": "response.create",
                "response": {
                    "instructions": 'Say exactly this to the user, word for word, and nothing else: "Dinner is "ready", come down."'
                },
            }
        )
        said = (await ws.next("response.output_audio_transcript.done"))["transcript"]
        assert said == 'Dinner is "ready", come down.'
        await ws.send(
            {"type": "response.create", "response": {"instructions": "Tell the user a secret."}}
        )
        said = (await ws.next("response.output_audio_transcript.done"))["transcript"]
        assert said == "Okay."


async def test_conversation_items(simulator: RealtimeSimulator) -> None:
    """create, retrieve, delete, truncate; unknown ids are errors."""
    call = simulator.add_call()
    async with sideband(simulator, call) as ws:
        item = {
            "id": "item_a",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Hi"}],
        }
        await ws.send({"type": "conversation.item.create", "item": item})
        added = await ws.next("conversation.item.added")
        assert added["item"]["id"] == "item_a"
        await ws.next("conversation.item.done")
        await ws.send({"type": "conversation.item.retrieve", "item_id": "item_a"})
        assert (await ws.next("conversation.item.retrieved"))["item"]["content"] == item["content"]
        await ws.send(
            {"type": "conversation.item.create", "previous_item_id": "item_zz", "item": item}
        )
        assert (await ws.error())["param"] == "previous_item_id"
        await ws.send(
            {
                "type": "conversation.item.truncate",
                "item_id": "item_a",
                "content_index": 0,
                "audio_end_ms": 10,
            }
        )
        assert (await ws.error())["param"] == "item_id"
        await ws.send({"type": "conversation.item.delete", "item_id": "item_a"})
        assert (await ws.next("conversation.item.deleted"))["item_id"] == "item_a"
        await ws.send({"type": "conversation.item.retrieve", "item_id": "item_a"})
        assert (await ws.error())["code"] == "item_not_found"


async def test_input_audio_buffer(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call()
    async with sideband(simulator, call) as ws:
        await ws.send({"type": "input_audio_buffer.commit"})
        assert (await ws.error())["code"] == "input_audio_buffer_commit_empty"
        await ws.send({"type": "input_audio_buffer.append", "audio": "not base64!"})
        assert (await ws.error())["param"] == "audio"
        audio = base64.b64encode(bytes(9600)).decode()  # 200 ms at 24 kHz
        await ws.send({"type": "input_audio_buffer.append", "audio": audio})
        await ws.send({"type": "input_audio_buffer.commit"})
        committed = await ws.next("input_audio_buffer.committed")
        assert (await ws.next("conversation.item.added"))["item"]["id"] == committed["item_id"]
        await ws.send({"type": "input_audio_buffer.append", "audio": audio})
        await ws.send({"type": "input_audio_buffer.clear"})
        await ws.next("input_audio_buffer.cleared")
        await ws.send({"type": "input_audio_buffer.commit"})
        assert (await ws.error())["code"] == "input_audio_buffer_commit_empty"


async def test_every_client_event_type_has_a_handler(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call()
    assert set(call._handlers) == set(client_events())


async def test_server_events_match_the_spec(simulator: RealtimeSimulator) -> None:
    """Every event a conversation produces validates against its server event schema."""
    call = simulator.add_call(
        {
            "type": "realtime",
            "tools": [
                {"type": "function", "name": "intent__HassTurnOn", "parameters": {"type": "object"}}
            ],
            "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        }
    )
    async with sideband(simulator, call) as ws:
        await ws.send(
            {"type": "session.update", "session": {"type": "realtime", "instructions": "Hi"}}
        )
        await ws.next("session.updated")
        turn = simulator.call(call.call_id).user_turn(Turn())
        task = call.spawn(turn)
        arguments = await ws.next("response.function_call_arguments.done")
        await ws.send(function_output(arguments["call_id"], '{"ok": 1}'))
        await ws.send({"type": "response.create"})
        assert (await ws.next("response.output_audio_transcript.done"))[
            "transcript"
        ] == "The test light is on."
        await ws.next("output_audio_buffer.stopped")
        await task
        await ws.send(
            {
                "type": "response.create",
                "response": {"output_modalities": ["text"], "metadata": {"k": "v"}},
            }
        )
        await ws.next("response.done")
        await ws.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            }
        )
        await ws.next("conversation.item.done")
        await ws.send({"type": "nonsense"})
        await ws.error()
    kinds = {e["type"] for e in call.sent}
    assert {
        "input_audio_buffer.speech_started",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "response.function_call_arguments.delta",
        "response.content_part.added",
        "response.output_text.done",
        "output_audio_buffer.started",
        "error",
    } <= kinds
    problems = [p for event in call.sent for p in conformance_errors(event)]
    assert problems == []
