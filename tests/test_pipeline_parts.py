"""The pieces of the pipeline entities, one by one: resampling, sentences, SIP parsing, replay."""

from __future__ import annotations

import array
import asyncio
from collections.abc import AsyncIterator
import json
from typing import Any

import aiohttp
from homeassistant.components import conversation
from homeassistant.helpers import llm
import pytest

from custom_components.openai_api.api import OpenAIConnectionError, OpenAITimeoutError
from custom_components.openai_api.pipeline.languages import iso_639_1
from custom_components.openai_api.pipeline.resample import Upsampler
from custom_components.openai_api.pipeline.socket import RealtimeEventError, RealtimeSocket
from custom_components.openai_api.pipeline.speech import sentences, wav_header
from custom_components.openai_api.pipeline.text_session import _item, _tool_input
from custom_components.openai_api.realtime.sip import (
    display_name,
    header_map,
    header_pairs,
    normalize_number,
    parties,
    uri_user,
)


def _pcm(samples: list[int]) -> bytes:
    return array.array("h", samples).tobytes()


def _samples(data: bytes) -> list[int]:
    out = array.array("h")
    out.frombytes(data)
    return out.tolist()


def test_upsampler_makes_three_samples_of_two() -> None:
    up = Upsampler()
    out = _samples(up.feed(_pcm([0, 300, 600, 900])) + up.flush())
    assert out[:3] == [0, 200, 400]  # 0, then 2/3 and 4/3 of the way
    assert len(out) == 6


def test_upsampler_chunking_makes_no_difference() -> None:
    """Odd bytes and odd samples at chunk boundaries: the same audio as in one piece."""
    source = _pcm([(n * 37) % 2000 - 1000 for n in range(101)])
    whole = Upsampler()
    expected = whole.feed(source) + whole.flush()
    pieces = Upsampler()
    got = b"".join(pieces.feed(source[i : i + 7]) for i in range(0, len(source), 7))
    got += pieces.flush()
    assert got == expected
    assert len(_samples(expected)) == 152  # 101 samples at 16 kHz -> about 1.5 times


def test_upsampler_flush_of_one_sample() -> None:
    up = Upsampler()
    assert up.feed(_pcm([5])) == b""
    assert _samples(up.flush()) == [5, 5]
    assert up.flush() == b""


def test_languages() -> None:
    assert iso_639_1("en-US") == "en"
    assert iso_639_1("fil-PH") is None  # the API takes two letters
    assert iso_639_1(None) is None


async def _text(*chunks: str) -> AsyncIterator[str]:
    for chunk in chunks:
        yield chunk


async def test_sentences_as_soon_as_complete() -> None:
    pieces = [p async for p in sentences(_text("Hello there. How", " are you? Fine\nthanks"))]
    assert pieces == ["Hello there.", "How are you?", "Fine", "thanks"]
    long = "word " * 200
    cut = [p async for p in sentences(_text(long))]
    assert all(len(p) <= 400 for p in cut) and " ".join(cut).split() == long.split()
    assert [p async for p in sentences(_text("   ", ""))] == []


def test_wav_header_for_a_stream() -> None:
    header = wav_header()
    assert header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt " and header[36:40] == b"data"
    assert int.from_bytes(header[24:28], "little") == 24000
    assert len(header) == 44


@pytest.mark.parametrize(
    ("value", "number", "name"),
    [
        ('"Ann" <sip:+14155550123@pstn.example>;tag=1', "+14155550123", "Ann"),
        ("<tel:+14155550123;phone-context=x>", "+14155550123", None),
        ("sip:alice@example.com", "alice", None),
        ("Bob <sips:200@pbx>", "200", "Bob"),
        ("<mailto:x@y>", None, None),
        ("<sip:@host>", None, None),
        ("", None, None),
        ("no uri here", None, None),
    ],
)
def test_from_and_to(value: str, number: str | None, name: str | None) -> None:
    assert uri_user(value) == number
    assert display_name(value) == name


def test_sip_headers() -> None:
    raw = [
        {"name": "f", "value": "<sip:+1@x>"},  # the compact form of From
        {"name": "To", "value": "<sip:+2@y>"},
        {"name": "Via", "value": "a"},
        {"name": "Via", "value": "b"},
        {"name": 5, "value": "x"},
        "garbage",
    ]
    pairs = header_pairs(raw)
    assert len(pairs) == 4
    assert header_map(pairs)["Via"] == "a, b"
    assert parties(pairs) == {"caller_number": "+1", "caller_name": None, "callee_number": "+2"}
    assert header_pairs({"not": "a list"}) == []


def test_numbers_as_typed() -> None:
    assert normalize_number(" +1 (415) 555-0123 ") == "+14155550123"
    assert normalize_number("Alice") == "alice"


def test_chat_log_content_as_conversation_items() -> None:
    """What a text session replays when it had to be opened again."""
    assert _item(conversation.UserContent(content="Hi")) == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    ]
    call = llm.ToolInput(tool_name="HassTurnOn", tool_args={"name": "x"}, id="call_1")
    said = conversation.AssistantContent(agent_id="a", content="On it.", tool_calls=[call])
    assert _item(said) == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "On it."}],
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "HassTurnOn",
            "arguments": '{"name": "x"}',
        },
    ]
    failed = conversation.ToolResultContent(
        agent_id="a",
        tool_call_id="call_1",
        tool_name="HassTurnOn",
        result=llm.ToolResult(data="nope", error=True),
    )
    [output] = _item(failed)
    assert json.loads(output["output"]) == {"error": True, "result": "nope"}
    assert _item(conversation.SystemContent(content="Be brief")) == []


def test_tool_input_from_odd_events() -> None:
    assert _tool_input({"call_id": "c", "name": "x", "arguments": "{"}).tool_args == {}
    assert _tool_input({"arguments": "[1]"}).tool_args == {}
    assert _tool_input({"arguments": '{"a": 1}'}).tool_args == {"a": 1}


class _FakeWs:
    """Just enough of an aiohttp client WebSocket."""

    def __init__(self, messages: list[Any], *, fail_send: bool = False) -> None:
        self.messages = messages
        self.closed = False
        self.fail_send = fail_send

    async def send_str(self, data: str) -> None:
        if self.fail_send:
            raise ConnectionResetError("gone")

    async def receive(self, timeout: float | None = None) -> Any:
        if not self.messages:
            await asyncio.sleep(timeout or 0)
            raise TimeoutError
        return self.messages.pop(0)

    async def close(self) -> None:
        self.closed = True


def _msg(kind: aiohttp.WSMsgType, data: Any = None) -> aiohttp.WSMessage:
    return aiohttp.WSMessage(kind, data, None)


async def test_socket_skips_what_is_not_an_event_and_raises_on_errors() -> None:
    socket = RealtimeSocket(
        _FakeWs(  # type: ignore[arg-type]
            [
                _msg(aiohttp.WSMsgType.BINARY, b"x"),
                _msg(aiohttp.WSMsgType.TEXT, "not json"),
                _msg(aiohttp.WSMsgType.TEXT, "[1]"),
                _msg(aiohttp.WSMsgType.TEXT, '{"type": "session.created"}'),
                _msg(
                    aiohttp.WSMsgType.TEXT,
                    '{"type": "error", "error": {"message": "bad", "code": "x", "param": "p"}}',
                ),
                _msg(aiohttp.WSMsgType.ERROR),
                _msg(aiohttp.WSMsgType.CLOSED),
            ]
        )
    )
    assert (await socket.receive())["type"] == "session.created"
    with pytest.raises(RealtimeEventError) as err:
        await socket.receive()
    assert (err.value.code, err.value.param) == ("x", "p")
    with pytest.raises(OpenAIConnectionError, match="failed"):
        await socket.receive()
    with pytest.raises(OpenAIConnectionError, match="closed"):
        await socket.receive()
    with pytest.raises(OpenAITimeoutError):
        await socket.receive(0.01)
    broken = RealtimeSocket(_FakeWs([], fail_send=True))  # type: ignore[arg-type]
    with pytest.raises(OpenAIConnectionError):
        await broken.send({"type": "x"})
    assert not broken.closed
    await broken.close()
    assert broken.closed
