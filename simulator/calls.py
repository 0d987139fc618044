"""Realtime calls in the simulator: event fan-out, client events, scripted turns.

Every server event of a call goes to its WebRTC data channel (`oai-events`) and to every
sideband WebSocket attached to it, as the real API does. Tests script a turn of the
conversation with `SimCall.user_turn(...)`; a browser can also trigger the default turn just by
speaking (audio above a level) when `auto_turn` is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import json
import secrets
import time
from typing import Any

from aiohttp import web

from .webrtc import MediaPeer

SPEECH_LEVEL = 0.02  # RMS above which incoming audio counts as speech
SPEECH_FRAMES = 10  # 200 ms of it starts a turn

CLIENT_EVENT_TYPES = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
        "output_audio_buffer.clear",
    }
)


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


@dataclass
class Turn:
    """One scripted exchange: the user speaks, the model maybe calls a tool, then answers."""

    transcript: str = "Turn on the test light"
    tool_name: str | None = "intent__HassTurnOn"  # HA 2026 namespaces LLM API tools
    tool_arguments: dict[str, Any] | None = field(default_factory=lambda: {"name": "Test light"})
    reply: str = "The test light is on."
    usage: dict[str, int] = field(
        default_factory=lambda: {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    )


@dataclass
class ReceivedEvent:
    """A client event the call received, and over which transport."""

    source: str  # "datachannel" or "sideband"
    event: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)  # when it arrived (perf_counter)


class SimCall:
    """One call: its session, media peer, sideband sockets and the events exchanged."""

    def __init__(self, session: dict[str, Any], *, ephemeral: bool) -> None:
        self.call_id = _id("rtc")
        self.session = session
        self.ephemeral = ephemeral
        self.peer: MediaPeer | None = None
        self.sidebands: list[web.WebSocketResponse] = []
        self.sideband_connects = 0
        self.received: list[ReceivedEvent] = []
        self.sent: list[dict[str, Any]] = []
        self.sent_at: list[float] = []  # perf_counter when each of `sent` went out
        self.hung_up = False
        self.hangup_reason: str | None = None
        self.auto_turn: Turn | None = None
        self._speech_frames = 0
        self._auto_started = False
        self._waiters: list[
            tuple[Callable[[ReceivedEvent], bool], asyncio.Future[ReceivedEvent]]
        ] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- transport ---------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        """Send a server event to the data channel and every sideband socket."""
        event = {"event_id": _id("event"), **event}
        text = json.dumps(event)
        if self.peer is not None:
            self.peer.send(text)
        self.sent.append(event)
        self.sent_at.append(time.perf_counter())
        for ws in list(self.sidebands):
            if not ws.closed:
                try:
                    await ws.send_str(text)
                except ConnectionError:
                    self.sidebands.remove(ws)

    def receive(self, text: str, source: str) -> None:
        """Handle a client event from the data channel or a sideband socket."""
        try:
            event = json.loads(text)
        except ValueError:
            self.spawn(self._error("invalid_json", "The message is not JSON", None))
            return
        if not isinstance(event, dict) or event.get("type") not in CLIENT_EVENT_TYPES:
            kind = event.get("type") if isinstance(event, dict) else None
            self.spawn(
                self._error("invalid_value", f"Invalid value: '{kind}'. Unknown event type", "type")
            )
            return
        received = ReceivedEvent(source, event)
        self.received.append(received)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(received):
                future.set_result(received)
                self._waiters.remove((predicate, future))
        kind = event["type"]
        if kind == "session.update":
            self.session.update(event.get("session") or {})
            self.spawn(self.send({"type": "session.updated", "session": self.session}))
        elif kind == "response.create":
            self.spawn(self._respond(event.get("response") or {}))

    async def _error(self, code: str, message: str, param: str | None) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "message": message,
                    "param": param,
                },
            }
        )

    def audio_level(self, level: float) -> None:
        """Called for every incoming audio frame: speech starts the automatic turn."""
        if self.auto_turn is None or self._auto_started:
            return
        self._speech_frames = self._speech_frames + 1 if level > SPEECH_LEVEL else 0
        if self._speech_frames >= SPEECH_FRAMES:
            self._auto_started = True
            self.spawn(self.user_turn(self.auto_turn))

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run a coroutine that ends with the call."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_for(
        self, predicate: Callable[[ReceivedEvent], bool], timeout: float = 10.0
    ) -> ReceivedEvent:
        """Wait for a client event matching `predicate` (past ones count)."""
        for received in self.received:
            if predicate(received):
                return received
        future: asyncio.Future[ReceivedEvent] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return await asyncio.wait_for(future, timeout)

    # --- the scripted conversation -------------------------------------------------------

    async def user_turn(self, turn: Turn | None = None, *, tool_timeout: float = 10.0) -> None:
        """Play one turn: speech, transcript, maybe a tool call (waiting for its output)."""
        turn = turn or Turn()
        item_id = _id("item")
        await self.send(
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": item_id}
        )
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": item_id}
        )
        await self.send(
            {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None}
        )
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": turn.transcript,
                "usage": {"type": "duration", "seconds": 1},
            }
        )
        if turn.tool_name is None:
            await self._respond({}, reply=turn.reply, usage=turn.usage)
            return
        response_id, call_id = _id("resp"), _id("call")
        arguments = json.dumps(turn.tool_arguments or {})
        item = {
            "id": _id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "completed",
            "call_id": call_id,
            "name": turn.tool_name,
            "arguments": arguments,
        }
        await self.send(
            {"type": "response.created", "response": self._response(response_id, "in_progress", [])}
        )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                "response_id": response_id,
                "item_id": item["id"],
                "output_index": 0,
                "call_id": call_id,
                "name": turn.tool_name,
                "arguments": arguments,
            }
        )
        await self.send(
            {
                "type": "response.done",
                "response": self._response(response_id, "completed", [item], turn.usage),
            }
        )
        self._pending_reply = (turn.reply, turn.usage)
        await self.wait_for(
            lambda r: (
                r.event["type"] == "conversation.item.create"
                and (r.event.get("item") or {}).get("type") == "function_call_output"
                and r.event["item"].get("call_id") == call_id
            ),
            tool_timeout,
        )

    _pending_reply: tuple[str, dict[str, int]] | None = None

    async def _respond(
        self,
        response: dict[str, Any],
        *,
        reply: str | None = None,
        usage: dict[str, int] | None = None,
    ) -> None:
        """Answer a `response.create` (or a turn without tools) with audio and a transcript."""
        if reply is None and self._pending_reply is not None:
            reply, usage = self._pending_reply
            self._pending_reply = None
        if reply is None:
            instructions = str(response.get("instructions") or "")
            reply = instructions.split(": ", 1)[-1] if instructions else "OK."
        usage = usage or {"input_tokens": 50, "output_tokens": 10, "total_tokens": 60}
        response_id, item_id = _id("resp"), _id("item")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": reply}],
        }
        await self.send(
            {"type": "response.created", "response": self._response(response_id, "in_progress", [])}
        )
        await self.send({"type": "output_audio_buffer.started", "response_id": response_id})
        await self.send(
            {
                "type": "response.output_audio_transcript.done",
                "response_id": response_id,
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "transcript": reply,
            }
        )
        await self.send(
            {
                "type": "response.done",
                "response": self._response(response_id, "completed", [item], usage),
            }
        )
        await asyncio.sleep(0.05)
        await self.send({"type": "output_audio_buffer.stopped", "response_id": response_id})

    def _response(
        self,
        response_id: str,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "realtime.response",
            "status": status,
            "output": output,
            "usage": usage,
        }

    # --- ending ----------------------------------------------------------------------

    async def end(self, reason: str) -> None:
        """End the call: media closed, sideband sockets closed."""
        if self.hung_up:
            return
        self.hung_up = True
        self.hangup_reason = reason
        for ws in list(self.sidebands):
            await ws.close()
        self.sidebands.clear()
        if self.peer is not None:
            await self.peer.close()
        for task in list(self._tasks):
            task.cancel()

    async def expire(self) -> None:
        """Behave like a session hitting the 60-minute limit."""
        await self._error(
            "session_expired", "Your session hit the maximum duration of 60 minutes.", None
        )
        await self.end("session_expired")
