"""The model's side of a call: the conversation, its responses, and scripted turns.

Events follow each other as the API sends them, and (with `pace` 1) at its speed: a response
starts a quarter of a second after it is asked for, its transcript streams faster than its
audio plays, `response.done` comes when generation ends, and `output_audio_buffer.stopped`
only when the last of the audio has played on the call's WebRTC track. With `pace` 0 (calls
without media) nothing waits, but the order is the same.

What the model says to a `response.create` of the client's: an announcement's message, else the
reply a scripted turn owes (after its tool's output), else the text script's answer to the
user's newest message (chat.py: a tool call to turn something on or off, a question back, or
"Okay.").

Where the audio goes depends on the transport: a call's (WebRTC or SIP) plays it, and reports
`output_audio_buffer.started/stopped`; a WebSocket session sends it as
`response.output_audio.delta` events (base64 24 kHz PCM16).

Faults armed on the conversation (`faults`) strike at the next chance: "drop_mid_stream" cuts
the socket after the first delta of a transcript or an answer, "error_event" answers the next
transcription or response with an `error` event (a server error) instead.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
import contextlib
import dataclasses
from dataclasses import dataclass, field
import json
import re
import secrets
from typing import Any

from . import chat, sessions, speech
from .errors import SERVER_ERROR, ApiError
from .webrtc import SpeakerTrack

RESPONSE_LATENCY = 0.25  # seconds from response.created to the first output
TRANSCRIPTION_LATENCY = 0.3  # from the commit of the user's audio to its transcript
GENERATION_SHARE = 0.4  # the model generates its audio this much faster than it plays
ARGUMENT_STEP = 0.04  # between deltas of a function call's arguments
CANNED_REPLY = chat.CANNED_REPLY  # what the model says when asked without a script
STREAM_FAULTS = frozenset({"drop_mid_stream", "error_event"})
DEFAULT_USAGE = {"input_tokens": 50, "output_tokens": 10, "total_tokens": 60}
# What the API reports after every response (far from any limit here).
RATE_LIMITS = [
    {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
    {"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5},
]
# An announcement as the integration asks for it: the message is between the first `"` after
# `: ` and the last `"`.
_ANNOUNCEMENT = re.compile(r'\ASay exactly this\b[^:]*: "(.*)"', re.DOTALL)

Send = Callable[[dict[str, Any]], Awaitable[None]]


def new_id(prefix: str) -> str:
    """An id like the API's: `resp_…`, `item_…`, `call_…`."""
    return f"{prefix}_{secrets.token_hex(10)}"


def announcement(instructions: Any) -> str | None:
    """The message of `Say exactly this …: "<message>"` instructions, else None."""
    if not isinstance(instructions, str):
        return None
    match = _ANNOUNCEMENT.match(instructions)
    return match.group(1) if match else None


@dataclass
class Turn:
    """One exchange: the user says something, the model maybe calls a tool, then answers."""

    transcript: str = "Turn on the test light"
    tool_name: str | None = "intent__HassTurnOn"  # HA 2026 namespaces LLM API tools
    tool_arguments: dict[str, Any] | None = field(default_factory=lambda: {"name": "Test light"})
    reply: str = "The test light is on."
    usage: dict[str, int] = field(
        default_factory=lambda: {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    )
    # Said instead of `reply` when the tool's output reports an error (None: `reply` anyway).
    failure_reply: str | None = None
    # Look `tool_name` up among the session's function tools by the end of their names (the
    # integration namespaces them); no tool call when none matches. False: call it as named.
    find_tool: bool = False

    def in_session(self, session: dict[str, Any]) -> Turn:
        """The turn with its tool resolved against the session's tools."""
        if not self.find_tool or self.tool_name is None:
            return self
        found = chat.find_tool(list(session.get("tools") or ()), self.tool_name)
        return dataclasses.replace(self, tool_name=found, find_tool=False)


# What a caller says when they speak into the dev set-up (or trigger a turn without a
# microphone): the dev configuration exposes a light named "Kitchen light".
VOICE_TURN = Turn(
    transcript="Turn on the kitchen light.",
    tool_name="HassTurnOn",
    tool_arguments={"name": "Kitchen light"},
    reply="The kitchen light is on.",
    failure_reply="Sorry, I could not turn on the kitchen light.",
    find_tool=True,
)


class Interrupted(Exception):
    """A response stopped early: cancelled, cleared or talked over."""


@dataclass
class Response:
    """A response from `response.created` to its end (including the audio still playing)."""

    params: dict[str, Any]
    id: str = field(default_factory=lambda: new_id("resp"))
    in_conversation: bool = True  # False: out of band (`conversation: none`)
    done: bool = False  # `response.done` was sent
    playing: bool = False  # its audio is on the track
    reason: str | None = None  # why it was interrupted
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)


class Conversation:
    """The items of a call's conversation and the model that answers in it."""

    def __init__(
        self,
        send: Send,
        session: Callable[[], dict[str, Any]],
        spawn: Callable[[Awaitable[Any]], object],
    ) -> None:
        self.send = send
        self.session = session
        self.spawn = spawn
        self.speaker: SpeakerTrack | None = None
        self.pace = 0.0  # 1.0: real time; 0: no waiting
        self.items: dict[str, dict[str, Any]] = {}
        self.active: Response | None = None  # the response writing to the conversation
        self.playing: Response | None = None  # the response whose audio is playing
        self.audio_spoken = False  # the model has spoken (its voice is fixed from then on)
        self.input_audio = bytearray()  # appended and not yet committed
        self.heard: dict[str, str] = {}  # what each user audio item said, by item id
        self.audio_deltas = False  # True: audio goes out as events (a WebSocket session)
        self.faults: list[str] = []  # armed stream faults (see the module), first first
        self.drop: Callable[[], Awaitable[None]] | None = None  # cuts the sockets
        self.input_ms = 0  # the clock of scripted user speech (audio_start_ms, audio_end_ms)
        self.conversation_id = new_id("conv")
        self._owed: tuple[str, dict[str, int]] | None = None  # a reply waiting for its response
        # Function calls of scripted turns waiting for their output: the turn, and a future
        # that gets the output.
        self._tool_calls: dict[str, tuple[Turn, asyncio.Future[str]]] = {}

    # --- the user speaks ---------------------------------------------------------------------

    async def user_turn(self, turn: Turn, *, tool_timeout: float = 10.0) -> None:
        """Play a whole turn without audio: speech, transcript, maybe a tool call, the reply.

        Returns once the tool's output has arrived (the reply follows the client's
        `response.create`), or, without a tool, once the reply has been spoken.
        """
        item_id = new_id("item")
        seconds = speech.seconds(turn.transcript)
        silence = _silence(sessions.turn_detection(self.session()) or {})
        start_ms = self.input_ms
        await self.speech_started(item_id, start_ms)
        await self._wait(seconds + silence)
        self.input_ms += int((seconds + silence) * 1000)
        await self.speech_stopped(item_id, start_ms + int(seconds * 1000))
        await self.commit(item_id, turn.transcript, seconds)
        await self.answer(turn, tool_timeout=tool_timeout)

    async def speech_started(self, item_id: str, audio_start_ms: int) -> None:
        """The user starts talking: a response in progress is interrupted, as the API does."""
        turn = sessions.turn_detection(self.session()) or {}
        if turn.get("interrupt_response", True):
            self.interrupt("turn_detected")
        await self.send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": item_id,
            }
        )

    async def speech_stopped(self, item_id: str, audio_end_ms: int) -> None:
        """The user has stopped talking."""
        await self.send(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": item_id,
            }
        )

    async def commit(self, item_id: str, transcript: str, seconds: float) -> None:
        """The user's audio becomes an item; its transcript follows when the session asks."""
        previous = next(reversed(self.items), None)
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._add_item(item, previous)
        self.heard[item_id] = transcript
        if sessions.transcribes(self.session()):
            self.spawn(self._transcribe(item, transcript, seconds))

    async def _transcribe(self, item: dict[str, Any], transcript: str, seconds: float) -> None:
        await self._wait(TRANSCRIPTION_LATENCY)
        if self.take_fault("error_event"):
            await self.send(SERVER_ERROR.event(None))
            return
        for delta in _chunks(transcript):
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item["id"],
                    "content_index": 0,
                    "delta": delta,
                }
            )
            await self.strike("drop_mid_stream")  # after the first delta, if armed
        item["content"][0]["transcript"] = transcript
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item["id"],
                "content_index": 0,
                "transcript": transcript,
                "usage": {"type": "duration", "seconds": round(seconds, 1)},
            }
        )

    async def answer(self, turn: Turn, *, tool_timeout: float = 10.0) -> None:
        """The model's side of a turn (when the session creates responses by itself).

        A transcription session has no model to answer: its turns end with the transcript.
        """
        session = self.session()
        settings = sessions.turn_detection(session)
        if session.get("type") != "realtime" or (
            settings is not None and not settings.get("create_response", True)
        ):
            return
        response = self.reserve({})
        if isinstance(response, ApiError):
            return  # another response is writing to the conversation; the API skips this one
        turn = turn.in_session(self.session())
        if turn.tool_name is None:
            await self.speak(response, turn.reply, turn.usage)
            return
        output = await self.call_tool(response, turn, turn.tool_name)
        await asyncio.wait_for(output, tool_timeout)

    # --- responses ---------------------------------------------------------------------------

    def reserve(self, params: dict[str, Any]) -> Response | ApiError:
        """Start a response, unless one is already writing to the conversation."""
        in_conversation = params.get("conversation", "auto") != "none"
        if in_conversation and self.active is not None:
            return ApiError(
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        response = Response(params, in_conversation=in_conversation)
        if in_conversation:
            self.active = response
        return response

    async def respond(self, response: Response) -> None:
        """Answer a client's `response.create` (never by reading its instructions back).

        It says an announcement's message, or the reply a turn owes, or the script's answer
        to the user's newest message (chat.py), or a short canned reply.
        """
        if self.take_fault("error_event"):
            await self.fail(response)
            return
        message = announcement(response.params.get("instructions"))
        if message is not None:
            await self.speak(response, message)
        elif self._owed is not None:
            reply, usage = self._owed
            self._owed = None
            await self.speak(response, reply, usage)
        elif (text := self.unanswered_user_text()) is not None:
            await self._scripted(response, text)
        else:
            await self.speak(response, CANNED_REPLY)

    async def _scripted(self, response: Response, text: str) -> None:
        turn = self.scripted_turn(text)
        if turn.tool_name is None:
            await self.speak(response, turn.reply, turn.usage)
            return
        await self.call_tool(response, turn, turn.tool_name)

    def scripted_turn(self, text: str) -> Turn:
        """The turn the text script (chat.py) plays for what the user said."""
        session = self.session()
        tools = [] if session.get("tool_choice") == "none" else list(session.get("tools") or ())
        planned = chat.answer(text, tools)
        said = [str(session.get("instructions") or ""), *self._texts()]
        return Turn(
            transcript=text,
            tool_name=planned.tool_name,
            tool_arguments=planned.tool_arguments,
            reply=planned.reply,
            failure_reply=planned.failure_reply,
            usage=_counted(chat.tokens(*said), chat.tokens(planned.reply)),
        )

    def unanswered_user_text(self) -> str | None:
        """The text of the user's newest message, if nothing came after it but the user's."""
        for item in reversed(self.items.values()):
            if item.get("type") != "message" or item.get("role") == "system":
                return None
            if item.get("role") == "assistant":
                return None
            text = self._text_of(item)
            if text:
                return text
        return None

    def _text_of(self, item: dict[str, Any]) -> str:
        parts = []
        for part in item.get("content") or ():
            if part.get("type") in ("input_text", "output_text", "text"):
                parts.append(str(part.get("text") or ""))
            elif part.get("type") in ("input_audio", "output_audio", "audio"):
                parts.append(str(part.get("transcript") or self.heard.get(item["id"], "")))
        return " ".join(p for p in parts if p)

    def _texts(self) -> list[str]:
        return [self._text_of(i) for i in self.items.values() if i.get("type") == "message"]

    async def fail(self, response: Response) -> None:
        """The response fails on the server's side: `error`, then `response.done` (failed)."""
        await self.send(
            {"type": "response.created", "response": self._object(response, "in_progress")}
        )
        await self.send(SERVER_ERROR.event(None))
        response.done = True
        if self.active is response:
            self.active = None
        details = {"type": "failed", "error": {"type": "server_error", "code": "server_error"}}
        await self.send(
            {
                "type": "response.done",
                "response": self._object(response, "failed", [], None, details),
            }
        )

    def take_fault(self, kind: str) -> bool:
        """Whether a fault of `kind` is armed; it is used up."""
        if kind in self.faults:
            self.faults.remove(kind)
            return True
        return False

    async def strike(self, kind: str) -> None:
        """Cut the sockets now if a fault of `kind` (a drop) is armed."""
        if self.drop is not None and self.take_fault(kind):
            await self.drop()

    async def speak(
        self, response: Response, text: str, usage: dict[str, int] | None = None
    ) -> None:
        """A message response: text, or audio with its transcript, as the session outputs."""
        modalities = response.params.get("output_modalities") or self.session().get(
            "output_modalities", ["audio"]
        )
        audio = "audio" in modalities
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        await self.send(
            {"type": "response.created", "response": self._object(response, "in_progress")}
        )
        try:
            await self._pause(response, RESPONSE_LATENCY)
            await self._output_item(response, item, "response.output_item.added")
            part: dict[str, Any] = (
                {"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""}
            )
            await self.send(self._part_event("response.content_part.added", response, item, part))
            played = self._play(response, text) if audio else 0.0
            if audio and not self.audio_deltas:
                await self.send({"type": "output_audio_buffer.started", "response_id": response.id})
            await self._stream_text(response, item, text, played * GENERATION_SHARE, audio)
            item["status"] = "completed"
            item["content"] = [
                {"type": "output_audio", "transcript": text}
                if audio
                else {"type": "output_text", "text": text}
            ]
            await self._finish_content(response, item, text, audio)
            await self.done(response, "completed", [item], usage)
            if audio and not self.audio_deltas:
                await self._pause(response, played * (1 - GENERATION_SHARE))
                await self._stop_playing(response, "output_audio_buffer.stopped")
            elif audio:
                self._stopped(response)
        except Interrupted:
            await self._interrupted(response, item)

    async def call_tool(self, response: Response, turn: Turn, name: str) -> asyncio.Future[str]:
        """A function-call response; returns the future of the output the client will send.

        When the output arrives (`conversation.item.create`), the turn's reply is owed to the
        next `response.create`.
        """
        call_id = new_id("call")
        output: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        text = json.dumps(turn.tool_arguments or {})
        item: dict[str, Any] = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        self._tool_calls[call_id] = (turn, output)
        await self.send(
            {"type": "response.created", "response": self._object(response, "in_progress")}
        )
        try:
            await self._pause(response, RESPONSE_LATENCY)
            await self._output_item(response, item, "response.output_item.added")
            for delta in _chunks(text, size=12):
                await self.send(
                    {
                        **self._call_event(
                            "response.function_call_arguments.delta", response, item
                        ),
                        "delta": delta,
                    }
                )
                await self._pause(response, ARGUMENT_STEP)
            item.update(status="completed", arguments=text)
            await self.send(
                {
                    **self._call_event("response.function_call_arguments.done", response, item),
                    "name": name,
                    "arguments": text,
                }
            )
            await self._output_item(response, item, "response.output_item.done")
            await self.done(response, "completed", [item], turn.usage)
        except Interrupted:
            await self._interrupted(response, item)
        return output

    async def done(
        self,
        response: Response,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, int] | None = None,
        reason: str | None = None,
    ) -> None:
        """`response.done`: the response no longer writes to the conversation."""
        response.done = True
        if self.active is response:
            self.active = None
        details: dict[str, Any] | None = None
        if status != "completed":
            details = {"type": status, "reason": reason} if reason else {"type": status}
        modalities = response.params.get("output_modalities") or self.session().get(
            "output_modalities", ["audio"]
        )
        counted = _usage(usage, audio="audio" in modalities)
        await self.send(
            {
                "type": "response.done",
                "response": self._object(response, status, output, counted, details),
            }
        )
        await self.send({"type": "rate_limits.updated", "rate_limits": RATE_LIMITS})

    def interrupt(self, reason: str) -> bool:
        """Stop what the model is doing (generating, or speaking); whether anything stopped."""
        stopped = False
        for response in {id(r): r for r in (self.active, self.playing) if r is not None}.values():
            response.reason = response.reason or reason
            response.interrupted.set()
            stopped = True
        return stopped

    async def _interrupted(self, response: Response, item: dict[str, Any]) -> None:
        if not response.done:
            item["status"] = "incomplete"
            await self.done(response, "cancelled", [item], reason=response.reason)
        if response.playing and self.audio_deltas:
            self._stopped(response)
        elif response.playing:
            await self._stop_playing(response, "output_audio_buffer.cleared")

    def _play(self, response: Response, text: str) -> float:
        """Put the spoken reply on the track; its length in seconds."""
        session = self.session()
        speed = float(((session.get("audio") or {}).get("output") or {}).get("speed", 1.0))
        response.playing = True
        self.playing = response
        self.audio_spoken = True
        if self.speaker is None:
            return speech.seconds(text, speed)  # no media: only the timing matters
        spoken = speech.synthesize(text, voice=sessions.voice(session), speed=speed)
        self.speaker.play(spoken.samples)
        return spoken.seconds

    def _stopped(self, response: Response) -> None:
        """Audio sent as events is the client's to play: the response no longer plays here."""
        response.playing = False
        if self.playing is response:
            self.playing = None

    async def _stop_playing(self, response: Response, event: str) -> None:
        response.playing = False
        if self.playing is response:
            self.playing = None
            if self.speaker is not None and event == "output_audio_buffer.cleared":
                self.speaker.clear()
        await self.send({"type": event, "response_id": response.id})

    async def _stream_text(
        self, response: Response, item: dict[str, Any], text: str, seconds: float, audio: bool
    ) -> None:
        deltas = _chunks(text)
        kind = "response.output_audio_transcript.delta" if audio else "response.output_text.delta"
        sound = self._audio_pieces(text, len(deltas)) if audio and self.audio_deltas else []
        for index, delta in enumerate(deltas):
            if sound:
                piece = {**self._part_event("response.output_audio.delta", response, item)}
                await self.send({**piece, "delta": sound[index]})
            await self.send({**self._part_event(kind, response, item), "delta": delta})
            await self.strike("drop_mid_stream")  # after the first delta, if armed
            await self._pause(response, seconds / len(deltas))

    def _audio_pieces(self, text: str, count: int) -> list[str]:
        """The spoken text as `count` base64 pieces of 24 kHz PCM16 (a WebSocket's deltas)."""
        session = self.session()
        spoken = speech.synthesize(
            text,
            voice=sessions.voice(session),
            speed=float(((session.get("audio") or {}).get("output") or {}).get("speed", 1.0)),
        )
        pcm = speech.pcm16(speech.resample(spoken.samples, speech.SAMPLE_RATE, 24000))
        step = -(-len(pcm) // count)  # a piece per transcript delta,
        step += step % 2  # of whole 16-bit samples
        return [base64.b64encode(pcm[i * step : (i + 1) * step]).decode() for i in range(count)]

    async def _finish_content(
        self, response: Response, item: dict[str, Any], text: str, audio: bool
    ) -> None:
        if audio:
            await self.send(self._part_event("response.output_audio.done", response, item))
            await self.send(
                {
                    **self._part_event("response.output_audio_transcript.done", response, item),
                    "transcript": text,
                }
            )
            part = {"type": "audio", "transcript": text}
        else:
            await self.send(
                {**self._part_event("response.output_text.done", response, item), "text": text}
            )
            part = {"type": "text", "text": text}
        await self.send(self._part_event("response.content_part.done", response, item, part))
        await self._output_item(response, item, "response.output_item.done")

    async def _output_item(self, response: Response, item: dict[str, Any], kind: str) -> None:
        """`response.output_item.added/done`, and the matching conversation item event."""
        await self.send(
            {"type": kind, "response_id": response.id, "output_index": 0, "item": dict(item)}
        )
        if not response.in_conversation:
            return
        if kind == "response.output_item.added":
            previous = next(reversed(self.items), None)
            self.items[item["id"]] = item
            await self.send(
                {
                    "type": "conversation.item.added",
                    "previous_item_id": previous,
                    "item": dict(item),
                }
            )
        else:
            await self.send({"type": "conversation.item.done", "item": dict(item)})

    # --- client events -------------------------------------------------------------------------

    async def create_item(self, event: dict[str, Any]) -> ApiError | None:
        """`conversation.item.create`."""
        item = dict(event["item"])
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in self.items:
            return _no_item(previous, "previous_item_id")
        item.setdefault("id", new_id("item"))
        item["object"] = "realtime.item"
        item.setdefault("status", "completed")
        if previous is None:
            previous = next(reversed(self.items), None)
        await self._add_item(item, None if previous == "root" else previous)
        if item["type"] == "function_call_output":
            self._tool_output(str(item["call_id"]), str(item["output"]))
        return None

    def _tool_output(self, call_id: str, output: str) -> None:
        """A tool's output arrived: its turn's reply (or failure reply) is owed."""
        turn, arrived = self._tool_calls.pop(call_id, (None, None))
        if turn is None or arrived is None:
            return  # not a call the model made in a scripted turn: nothing is owed
        failed = _reports_error(output) and turn.failure_reply is not None
        self._owed = (
            turn.failure_reply if failed and turn.failure_reply else turn.reply,
            turn.usage,
        )
        if not arrived.done():
            arrived.set_result(output)

    async def _add_item(self, item: dict[str, Any], previous: str | None) -> None:
        self.items[item["id"]] = item
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )

    def find_item(self, item_id: str, param: str = "item_id") -> dict[str, Any] | ApiError:
        """A conversation item, or the error for an unknown id."""
        return self.items.get(item_id) or _no_item(item_id, param)

    # --- helpers -------------------------------------------------------------------------------

    async def _wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.pace)

    async def _pause(self, response: Response, seconds: float) -> None:
        """Wait (at the call's pace), unless the response is interrupted meanwhile."""
        if not response.interrupted.is_set() and seconds * self.pace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(response.interrupted.wait(), seconds * self.pace)
        else:
            await asyncio.sleep(0)
        if response.interrupted.is_set():
            raise Interrupted(response.reason)

    def _object(
        self,
        response: Response,
        status: str,
        output: list[dict[str, Any]] | None = None,
        usage: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The `realtime.response` object."""
        session = self.session()
        output_audio = (session.get("audio") or {}).get("output") or {}
        return {
            "object": "realtime.response",
            "id": response.id,
            "status": status,
            "status_details": details,
            "output": output or [],
            **({"conversation_id": self.conversation_id} if response.in_conversation else {}),
            "output_modalities": response.params.get("output_modalities")
            or session.get("output_modalities", ["audio"]),
            "max_output_tokens": response.params.get("max_output_tokens")
            or session.get("max_output_tokens", "inf"),
            "audio": {
                "output": {
                    "format": output_audio.get("format", {"type": "audio/pcm", "rate": 24000}),
                    "voice": sessions.voice(session),
                }
            },
            "usage": usage,
            "metadata": response.params.get("metadata"),
        }

    @staticmethod
    def _part_event(
        kind: str, response: Response, item: dict[str, Any], part: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        event = {
            "type": kind,
            "response_id": response.id,
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
        }
        return {**event, "part": part} if part is not None else event

    @staticmethod
    def _call_event(kind: str, response: Response, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": kind,
            "response_id": response.id,
            "item_id": item["id"],
            "output_index": 0,
            "call_id": item["call_id"],
        }


def _silence(turn_detection: dict[str, Any]) -> float:
    """How long the API waits in silence before it decides the user has finished."""
    if turn_detection.get("type") == "semantic_vad":
        return {"low": 1.2, "high": 0.3}.get(str(turn_detection.get("eagerness")), 0.6)
    return int(turn_detection.get("silence_duration_ms", 500)) / 1000


def _chunks(text: str, size: int = 0) -> list[str]:
    """Deltas of a text: word by word (with their spaces), or `size` characters at a time."""
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    return re.findall(r"\S+\s*|\s+", text) or [""]


def _counted(inputs: int, outputs: int) -> dict[str, int]:
    return {"input_tokens": inputs, "output_tokens": outputs, "total_tokens": inputs + outputs}


def _usage(usage: dict[str, int] | None, *, audio: bool = True) -> dict[str, Any]:
    """Token usage with the details the API breaks it into (mostly audio tokens, if spoken)."""
    usage = usage or DEFAULT_USAGE
    inputs, outputs = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    if not audio:
        return {
            "total_tokens": usage.get("total_tokens", inputs + outputs),
            "input_tokens": inputs,
            "output_tokens": outputs,
            "input_token_details": {
                "text_tokens": inputs,
                "audio_tokens": 0,
                "image_tokens": 0,
                "cached_tokens": 0,
            },
            "output_token_details": {"text_tokens": outputs, "audio_tokens": 0},
        }
    return {
        "total_tokens": usage.get("total_tokens", inputs + outputs),
        "input_tokens": inputs,
        "output_tokens": outputs,
        "input_token_details": {
            "text_tokens": inputs // 2,
            "audio_tokens": inputs - inputs // 2,
            "image_tokens": 0,
            "cached_tokens": 0,
        },
        "output_token_details": {
            "text_tokens": outputs // 3,
            "audio_tokens": outputs - outputs // 3,
        },
    }


def _reports_error(output: str) -> bool:
    """Whether a tool's output says it failed (HA's tools answer `{"error": …}`)."""
    try:
        data = json.loads(output)
    except ValueError:
        return False
    return isinstance(data, dict) and bool(
        data.get("error") or data.get("response_type") == "error"
    )


def _no_item(item_id: Any, param: str) -> ApiError:
    # The document states neither the wording nor the code of this error: both are ours.
    return ApiError(f"Item with item_id '{item_id}' not found.", param, "item_not_found")
