"""A Realtime call in the simulator: its transports, the client events it accepts, its voice.

Every server event of a call goes to its WebRTC data channel (`oai-events`) and to every
sideband WebSocket attached to it, as the real API does. Every client event, from either, is
checked against its schema in the spec before it is applied; an invalid one is answered with
an `error` event (naming the field, and the event by its `event_id`) and not applied.

A call with a WebRTC peer listens to the caller: when the incoming audio is speech (loud for a
while, then quiet) it plays `auto_turn`, as if the model had understood a request. Tests script
turns with `SimCall.user_turn(...)`.

How a call arrived is its `transport`: "webrtc" (an offer posted to `/realtime/calls`), "sip" (a
phone call: pending until accepted, rejected, referred or hung up; its audio stays between the
phone network and OpenAI, so the simulator has no track for it, only the sideband), or None for
a call a test registered without saying (`add_call`), on which call control answers as on a
call of either kind.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import json
import time
from typing import Any

from aiohttp import web
import numpy as np

from . import contract, hearing, sessions
from .conversation import STREAM_FAULTS, VOICE_TURN, Conversation, Response, Turn, new_id
from .errors import ApiError
from .vad import Activity, VadSettings, VoiceActivity
from .webhooks import Delivery
from .webrtc import MediaPeer

Handler = Callable[[dict[str, Any]], Awaitable[ApiError | None]]


@dataclass
class ReceivedEvent:
    """A client event the call received, and over which transport."""

    source: str  # "datachannel" or "sideband"
    event: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)  # when it arrived (perf_counter)
    error: ApiError | None = None  # why it was refused (None: it was valid)


class SimCall:
    """One call: its session, media peer, sideband sockets and the events exchanged."""

    def __init__(
        self, session: dict[str, Any], *, ephemeral: bool, transport: str | None = None
    ) -> None:
        self.call_id = new_id("rtc")
        self.session = session
        self.ephemeral = ephemeral
        self.transport = transport
        self.pending = transport == "sip"  # a SIP call nobody has accepted or refused yet
        self.sip_headers: list[dict[str, str]] = []  # the INVITE's, for a SIP call
        self.webhook: Delivery | None = None  # the `realtime.call.incoming` that announced it
        self.sip_status: int | None = None  # the SIP status a rejected caller got
        self.referred_to: str | None = None  # where a referred call went
        self.peer: MediaPeer | None = None
        self.sidebands: list[web.WebSocketResponse] = []
        self.sideband_connects = 0
        self.received: list[ReceivedEvent] = []
        self.sent: list[dict[str, Any]] = []
        self.sent_at: list[float] = []  # perf_counter when each of `sent` went out
        self.hung_up = False
        self.hangup_reason: str | None = None
        # The turn the caller's speech plays (None: speech is not listened to).
        self.auto_turn: Turn | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: list[
            tuple[Callable[[ReceivedEvent], bool], asyncio.Future[ReceivedEvent]]
        ] = []
        self._vad = VoiceActivity()
        self._unheard = b""  # appended audio short of a whole 20 ms frame
        self._speech_item: str | None = None
        self._heard: asyncio.Task[Any] | None = None  # the last step of the caller's speech
        self._inbox: asyncio.Task[Any] | None = None  # the last client event being applied
        self.conversation = Conversation(self.send, lambda: self.session, self.spawn)
        self.conversation.drop = self._drop_sockets
        self._connections: dict[int, asyncio.BaseTransport] = {}  # each socket's TCP connection
        self._handlers: dict[str, Handler] = {
            "session.update": self._update_session,
            "response.create": self._create_response,
            "response.cancel": self._cancel_response,
            "conversation.item.create": self.conversation.create_item,
            "conversation.item.retrieve": self._retrieve_item,
            "conversation.item.delete": self._delete_item,
            "conversation.item.truncate": self._truncate_item,
            "input_audio_buffer.append": self._append_audio,
            "input_audio_buffer.commit": self._commit_audio,
            "input_audio_buffer.clear": self._clear_audio,
            "output_audio_buffer.clear": self._clear_output_audio,
        }

    def add_socket(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport) -> None:
        """A sideband (or, for a WebSocket session, its own socket) joins the call."""
        self.sidebands.append(ws)
        self._connections[id(ws)] = transport
        if self.transport == "websocket":
            self.conversation.audio_deltas = True

    def remove_socket(self, ws: web.WebSocketResponse) -> None:
        """A socket has closed."""
        if ws in self.sidebands:
            self.sidebands.remove(ws)
        self._connections.pop(id(ws), None)

    def inject_fault(self, kind: str) -> None:
        """Arm a stream fault: "drop_mid_stream" or "error_event" (see conversation.py)."""
        if kind not in STREAM_FAULTS:
            raise ValueError(f"unknown stream fault {kind!r}; known: {sorted(STREAM_FAULTS)}")
        self.conversation.faults.append(kind)

    async def _drop_sockets(self) -> None:
        """Cut every socket's connection at once, as a network failure does (no close frame)."""
        for ws in list(self.sidebands):
            connection = self._connections.pop(id(ws), None)
            if connection is not None:
                connection.close()
            self.sidebands.remove(ws)

    def attach(self, peer: MediaPeer, auto_turn: Turn | None = VOICE_TURN) -> None:
        """Give the call its media: it speaks in real time and listens to the caller."""
        self.peer = peer
        self.auto_turn = auto_turn
        self.conversation.speaker = peer.speaker
        self.conversation.pace = 1.0

    @property
    def status(self) -> str:
        """The call's state: "pending" (a SIP call not yet answered), "live" or "ended"."""
        if self.hung_up:
            return "ended"
        return "pending" if self.pending else "live"

    @property
    def webhook_status(self) -> int | None:
        """How the webhook endpoint answered the call's `realtime.call.incoming`.

        None: there was no delivery, or the endpoint could not be reached.
        """
        return self.webhook.status if self.webhook is not None else None

    def accept(self, session: dict[str, Any]) -> None:
        """Answer the call with a session (a pending SIP call goes live)."""
        self.session = session
        self.pending = False

    def refusal(self, action: str) -> ApiError | None:
        """Why call control `action` does not apply to the call now (None: it does).

        The document states neither the wording nor the code of these errors: both are ours.
        `accept` and `reject` answer an incoming SIP call, `refer` transfers a SIP call (pending
        or live: a blueprint transfers callers it does not answer), `hangup` ends any call.
        """
        if self.transport is None or action == "hangup":
            return None
        if self.transport != "sip":
            kind = "an incoming SIP call" if action in ("accept", "reject") else "a SIP call"
            done = {"accept": "accepted", "reject": "rejected", "refer": "referred"}[action]
            return _state_error(f"Call '{self.call_id}' is not {kind}; it cannot be {done}.")
        if not self.pending and action in ("accept", "reject"):
            return _state_error(
                f"Call '{self.call_id}' has already been accepted; hang it up or refer it instead."
            )
        return None

    @property
    def pace(self) -> float:
        """How fast the model's side runs: 1.0 real time, 0 without waiting (media-less calls)."""
        return self.conversation.pace

    @pace.setter
    def pace(self, value: float) -> None:
        self.conversation.pace = value

    # --- transport ---------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        """Send a server event to the data channel and every sideband socket."""
        event = {"event_id": new_id("event"), **event}
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
        at = time.perf_counter()
        try:
            event = json.loads(text)
        except ValueError:
            self.spawn(
                self.send(
                    ApiError("The message is not valid JSON.", code="invalid_json").event(None)
                )
            )
            return
        error = contract.validate_client_event(event)
        event_id = event.get("event_id") if isinstance(event, dict) else None
        if isinstance(event, dict):
            self._record(ReceivedEvent(source, event, at, error))
        # One at a time, in order: a tool's output is in the conversation before the
        # `response.create` that follows it is answered.
        self._inbox = self._chain(
            self._inbox, self._apply(event, event_id if isinstance(event_id, str) else None, error)
        )

    def _record(self, received: ReceivedEvent) -> None:
        self.received.append(received)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(received):
                future.set_result(received)
                self._waiters.remove((predicate, future))

    async def _apply(self, event: Any, event_id: str | None, error: ApiError | None) -> None:
        if error is None:
            error = await self._handlers[event["type"]](event)
        if error is not None:
            await self.send(error.event(event_id))

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run a coroutine that ends with the call."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _chain(
        self, previous: asyncio.Task[Any] | None, step: Awaitable[None]
    ) -> asyncio.Task[Any]:
        """Run `step` once `previous` is done: steps of one kind keep their order."""

        async def after() -> None:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            await step

        return self.spawn(after())

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

    async def greet(self) -> None:
        """`session.created` on the data channel once it opens, as the API does."""
        assert self.peer is not None
        try:
            await asyncio.wait_for(self.peer.channel_open.wait(), 30)
        except TimeoutError:
            return
        await self.send({"type": "session.created", "session": self.session})

    # --- the caller's voice --------------------------------------------------------------

    def audio_level(self, level: float, seconds: float) -> None:
        """Called for every incoming audio frame: speech plays `auto_turn`."""
        turn = sessions.turn_detection(self.session)
        if self.auto_turn is None or turn is None:
            return
        activity = self._vad.feed(level, seconds, VadSettings.from_turn_detection(turn))
        if activity is Activity.STARTED:
            self._speech_item = new_id("item")
            self._heard = self._chain(self._heard, self._speech_started(self._speech_item))
        elif activity is Activity.STOPPED and self._speech_item is not None:
            item_id, self._speech_item = self._speech_item, None
            self._heard = self._chain(self._heard, self._speech_stopped(item_id, self.auto_turn))

    async def _speech_started(self, item_id: str) -> None:
        await self.conversation.speech_started(item_id, int(self._vad.started_at * 1000))

    async def _speech_stopped(self, item_id: str, turn: Turn) -> None:
        vad = self._vad
        await self.conversation.speech_stopped(item_id, int(vad.last_voice * 1000))
        heard = vad.last_voice - vad.started_at
        await self.conversation.commit(item_id, turn.transcript, heard)
        self.spawn(self.conversation.answer(turn))

    async def user_turn(self, turn: Turn | None = None, *, tool_timeout: float = 10.0) -> None:
        """Play one turn: speech, transcript, maybe a tool call (waiting for its output).

        `Turn()` is the test turn (the model calls `intent__HassTurnOn` on "Test light").
        """
        await self.conversation.user_turn(turn or Turn(), tool_timeout=tool_timeout)

    # --- client events -----------------------------------------------------------------

    async def _update_session(self, event: dict[str, Any]) -> ApiError | None:
        update = event["session"]
        if update["type"] != self.session["type"]:
            return ApiError(
                f"Cannot change the session type from '{self.session['type']}' to "
                f"'{update['type']}'.",
                "session.type",
                "invalid_value",
            )
        voice = ((update.get("audio") or {}).get("output") or {}).get("voice")
        current = ((self.session.get("audio") or {}).get("output") or {}).get("voice")
        if voice is not None and voice != current and self.conversation.audio_spoken:
            return ApiError(
                "Cannot update a conversation's voice if assistant audio is present.",
                "session.audio.output.voice",
                "cannot_update_voice",
            )
        self.session = sessions.updated_session(self.session, update)
        await self.send({"type": "session.updated", "session": self.session})
        return None

    async def _create_response(self, event: dict[str, Any]) -> ApiError | None:
        response = self.conversation.reserve(event.get("response") or {})
        if isinstance(response, ApiError):
            return response
        self.spawn(self._respond(response))
        return None

    async def _respond(self, response: Response) -> None:
        """Answer a `response.create` (tests replace this to make the model hang)."""
        await self.conversation.respond(response)

    async def _cancel_response(self, event: dict[str, Any]) -> ApiError | None:
        active = self.conversation.active
        wanted = event.get("response_id")
        if active is None or (wanted is not None and wanted != active.id):
            return ApiError(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )
        self.conversation.interrupt("client_cancelled")
        return None

    async def _retrieve_item(self, event: dict[str, Any]) -> ApiError | None:
        item = self.conversation.find_item(event["item_id"])
        if isinstance(item, ApiError):
            return item
        await self.send({"type": "conversation.item.retrieved", "item": item})
        return None

    async def _delete_item(self, event: dict[str, Any]) -> ApiError | None:
        item = self.conversation.find_item(event["item_id"])
        if isinstance(item, ApiError):
            return item
        del self.conversation.items[item["id"]]
        await self.send({"type": "conversation.item.deleted", "item_id": item["id"]})
        return None

    async def _truncate_item(self, event: dict[str, Any]) -> ApiError | None:
        item = self.conversation.find_item(event["item_id"])
        if isinstance(item, ApiError):
            return item
        if item.get("role") != "assistant":
            return ApiError(
                "Only assistant message items can be truncated.", "item_id", "invalid_value"
            )
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item["id"],
                "content_index": event["content_index"],
                "audio_end_ms": event["audio_end_ms"],
            }
        )
        return None

    async def _append_audio(self, event: dict[str, Any]) -> ApiError | None:
        try:
            audio = base64.b64decode(event["audio"], validate=True)
        except binascii.Error:
            return ApiError("Invalid 'audio': not valid base64.", "audio", "invalid_value")
        self.conversation.input_audio += audio
        turn = sessions.turn_detection(self.session)
        if self.transport == "websocket" and turn is not None:
            await self._listen(audio, turn)
        return None

    def _input_format(self) -> dict[str, Any] | None:
        format_: dict[str, Any] | None = ((self.session.get("audio") or {}).get("input") or {}).get(
            "format"
        )
        return format_

    async def _commit_audio(self, _event: dict[str, Any]) -> ApiError | None:
        """The buffer becomes a user item; what it says is heard (hearing.py), then transcribed."""
        # 100 ms is the least the API commits.
        per_ms = hearing.bytes_per_second(self._input_format()) / 1000
        held = len(self.conversation.input_audio)
        if held < 100 * per_ms:
            return ApiError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {held / per_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        await self._commit_buffer(new_id("item"))
        return None

    async def _commit_buffer(self, item_id: str) -> str:
        """Commit what the buffer holds as `item_id`; what it said."""
        audio = bytes(self.conversation.input_audio)
        self.conversation.input_audio.clear()
        transcript = hearing.hear_pcm(audio, self._input_format())
        seconds = len(audio) / hearing.bytes_per_second(self._input_format())
        await self.conversation.commit(item_id, transcript, seconds)
        return transcript

    async def _listen(self, audio: bytes, turn: dict[str, Any]) -> None:
        """Server VAD on appended audio: speech starts, stops, is committed and answered.

        The buffer is judged in 20 ms frames by loudness (vad.py); when speech stops, the
        whole buffer is committed, heard, and (in a conversation that creates responses)
        answered by the text script, as if the user had typed what they said.
        """
        frame = hearing.bytes_per_second(self._input_format()) // 50
        pending = self._unheard + audio
        whole = len(pending) - len(pending) % frame
        self._unheard = pending[whole:]
        settings = VadSettings.from_turn_detection(turn)
        for start in range(0, whole, frame):
            samples, _rate = hearing.decode(pending[start : start + frame], self._input_format())
            level = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
            activity = self._vad.feed(level, 0.02, settings)
            if activity is Activity.STARTED:
                self._speech_item = new_id("item")
                await self._speech_started(self._speech_item)
            elif activity is Activity.STOPPED and self._speech_item is not None:
                item_id, self._speech_item = self._speech_item, None
                await self.conversation.speech_stopped(item_id, int(self._vad.last_voice * 1000))
                said = await self._commit_buffer(item_id)
                self.spawn(self._answer_quietly(self.conversation.scripted_turn(said)))

    async def _answer_quietly(self, turn: Turn) -> None:
        # Nobody is waiting on this answer: a tool output that never comes is no error.
        with contextlib.suppress(TimeoutError):
            await self.conversation.answer(turn)

    async def _clear_audio(self, _event: dict[str, Any]) -> ApiError | None:
        self.conversation.input_audio.clear()
        await self.send({"type": "input_audio_buffer.cleared"})
        return None

    async def _clear_output_audio(self, _event: dict[str, Any]) -> ApiError | None:
        playing = self.conversation.playing
        if playing is not None:
            self.conversation.interrupt("client_cancelled")
        return None

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
        error = ApiError(
            "Your session hit the maximum duration of 60 minutes.", code="session_expired"
        )
        await self.send(error.event(None))
        await self.end("session_expired")


def _state_error(message: str) -> ApiError:
    return ApiError(message, "call_id", "invalid_call_state")
