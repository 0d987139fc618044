"""One live call: HA's server-side ("sideband") WebSocket and its control loop.

A Python port of the reference RealtimeClient's loop, reduced to what a server needs: read
server events, move the state, run tool calls through HA's LLM API, speak announcements,
reconnect when the socket drops while the call lives, and hang up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import json
import time
from typing import Any

import aiohttp
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
from homeassistant.helpers.event import async_call_later

from ..api import (
    OpenAIAuthenticationError,
    OpenAIBadRequestError,
    OpenAIClient,
    OpenAIError,
)
from ..const import DOMAIN, EVENT_TRANSCRIPT, LOGGER
from .tools import async_run_tool

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # then the call is given up
SEND_WAIT = 10.0  # how long a message waits for a dropped sideband to come back
ANNOUNCE_TIMEOUT = 60.0

# Server events that move the satellite state.
_STATE_EVENTS = {
    "input_audio_buffer.speech_started": AssistSatelliteState.LISTENING,
    "input_audio_buffer.speech_stopped": AssistSatelliteState.PROCESSING,
    "output_audio_buffer.started": AssistSatelliteState.RESPONDING,
    "output_audio_buffer.stopped": AssistSatelliteState.IDLE,
    "output_audio_buffer.cleared": AssistSatelliteState.IDLE,
}
# Error codes after which the call cannot go on.
_FATAL_ERROR_CODES = {"session_expired", "call_ended", "invalid_api_key"}

# The browser holds the call's data channel and may send `session.update` itself. These are the
# fields a dashboard user must not choose; the sideband puts the profile's values back.
_GUARDED_FIELDS: dict[str, Any] = {"instructions": None, "tools": [], "tool_choice": "auto"}
MAX_SESSION_RESTORES = 5  # then the call is hung up: a client that keeps trying is hostile


@dataclass(slots=True)
class Usage:
    """Token totals from `response.done`."""

    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        """Add one response's usage."""
        self.responses += 1
        if not usage:
            return
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            value = usage.get(key)
            if isinstance(value, int):
                setattr(self, key, getattr(self, key) + value)

    def merge(self, other: Usage) -> None:
        """Add another total to this one."""
        for key in ("responses", "input_tokens", "output_tokens", "total_tokens"):
            setattr(self, key, getattr(self, key) + getattr(other, key))

    def as_dict(self) -> dict[str, int]:
        """Plain dict for attributes and diagnostics."""
        return {
            "responses": self.responses,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(slots=True, kw_only=True)
class CallInfo:
    """Who and what a call belongs to."""

    entry_id: str
    profile_id: str
    entity_id: str | None
    user_id: str | None
    mode: str  # "relay" or "ephemeral"
    max_duration: float  # seconds
    started: float = field(default_factory=time.time)


class RealtimeCall:
    """A live Realtime call that HA controls through the sideband."""

    def __init__(
        self,
        hass: HomeAssistant,
        client: OpenAIClient,
        info: CallInfo,
        *,
        api: llm.APIInstance | None,
        on_change: Callable[[RealtimeCall], None],
        on_end: Callable[[RealtimeCall], None],
        on_auth_failed: Callable[[], None],
    ) -> None:
        self.hass = hass
        self.info = info
        self.call_id: str | None = None
        self.state = AssistSatelliteState.IDLE
        self.usage = Usage()
        self.end_reason: str | None = None
        self.context = Context(user_id=info.user_id)
        self._client = client
        self.api = api
        self._on_change = on_change
        self._on_end = on_end
        self._on_auth_failed = on_auth_failed
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: CALLBACK_TYPE | None = None
        # Announcements waiting for their response: True once spoken, False if the call ended first.
        self._response_done: list[asyncio.Future[bool]] = []
        self._ended = False
        self._finished = False
        # The profile's session as HA set it; None until the manager prepared it.
        self.session: dict[str, Any] | None = None
        self._restores = 0
        # Questions waiting for the user's next words (None if the call ends first).
        self._answers: list[asyncio.Future[str | None]] = []

    @property
    def ended(self) -> bool:
        """Whether the call is over."""
        return self._ended

    @property
    def sideband_connected(self) -> bool:
        """Whether the sideband WebSocket is open right now."""
        return self._connected.is_set()

    @callback
    def start(self, call_id: str) -> None:
        """Attach the sideband to `call_id` and start the loop."""
        self.call_id = call_id
        self._task = self.hass.async_create_background_task(
            self._run(), f"{DOMAIN} sideband {call_id}", eager_start=False
        )
        self._timer = async_call_later(self.hass, self.info.max_duration, self._async_time_up)

    async def _async_time_up(self, _now: Any) -> None:
        self._timer = None
        await self.async_hangup("max_duration")

    # --- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self.call_id is not None
        reason = "sideband_lost"
        failures = 0
        while not self._ended:
            try:
                ws = await self._client.connect_sideband(self.call_id)
            except OpenAIAuthenticationError:
                self._on_auth_failed()
                reason = "auth_failed"
                break
            except OpenAIBadRequestError:
                reason = "call_ended"  # the API no longer knows the call
                break
            except OpenAIError as err:
                if failures >= len(RECONNECT_DELAYS):
                    LOGGER.warning("Sideband of %s lost: %s", self.call_id, err)
                    break
                await asyncio.sleep(RECONNECT_DELAYS[failures])
                failures += 1
                continue
            failures = 0
            self._ws = ws
            self._connected.set()
            if self.info.mode == "ephemeral" and self.session is not None:
                # The client created the call itself; make sure it runs the profile's session.
                self._spawn(self._async_restore_session())
            try:
                fatal = await self._read(ws)
            finally:
                self._connected.clear()
                self._ws = None
                await ws.close()
            if fatal:
                reason = fatal
                break
            if not self._ended:
                LOGGER.debug("Sideband of %s closed; reconnecting", self.call_id)
        if self._ended:
            return  # async_hangup is finishing the call
        # The loop gave up on its own: make sure no media keeps flowing without HA in control.
        self._ended = True
        self.end_reason = reason
        if reason != "call_ended":
            with contextlib.suppress(OpenAIError):
                await self._client.hangup_call(self.call_id)
        self._finish()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str | None:
        """Read events until the socket closes; return a reason when the call must end."""
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                event = json.loads(msg.data)
            except ValueError:
                LOGGER.debug("Ignoring a non-JSON sideband message")
                continue
            if isinstance(event, dict) and (fatal := self._handle(event)):
                return fatal
        return None

    @callback
    def _handle(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if (new_state := _STATE_EVENTS.get(str(kind))) is not None:
            self._set_state(new_state)
        elif kind == "response.function_call_arguments.done":
            self._spawn(self._async_tool_call(event))
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._transcript("user", event.get("transcript"), event.get("item_id"))
        elif kind == "response.output_audio_transcript.done":
            self._transcript("assistant", event.get("transcript"), event.get("item_id"))
        elif kind == "response.output_text.done":
            self._transcript("assistant", event.get("text"), event.get("item_id"))
        elif kind == "session.updated":
            if self._session_tampered(event.get("session")):
                self._restores += 1
                if self._restores > MAX_SESSION_RESTORES:
                    return "session_tampered"
                LOGGER.warning(
                    "A client changed the instructions or tools of %s; restoring the profile's",
                    self.call_id,
                )
                self._spawn(self._async_restore_session())
        elif kind == "response.done":
            response = event.get("response") or {}
            self.usage.add(response.get("usage"))
            _settle(self._response_done, True)
            self._on_change(self)
        elif kind == "error":
            error = event.get("error") or {}
            LOGGER.warning(
                "Realtime error on %s: %s (%s)",
                self.call_id,
                error.get("message"),
                error.get("code"),
            )
            if error.get("code") in _FATAL_ERROR_CODES:
                return str(error["code"])
        return None

    @callback
    def _set_state(self, state: AssistSatelliteState) -> None:
        if state != self.state:
            self.state = state
            self._on_change(self)

    @callback
    def _transcript(self, role: str, text: Any, item_id: Any) -> None:
        if not isinstance(text, str) or not text.strip():
            return
        if role == "user":
            _settle(self._answers, text)
        self.hass.bus.async_fire(
            EVENT_TRANSCRIPT,
            {
                "role": role,
                "text": text,
                "entity_id": self.info.entity_id,
                "call_id": self.call_id,
                "item_id": item_id,
                "config_entry_id": self.info.entry_id,
            },
            context=self.context,
        )

    def _session_tampered(self, session: Any) -> bool:
        """Whether the server's session differs from the profile's in a guarded field."""
        if self.session is None or not isinstance(session, dict):
            return False
        for key, default in _GUARDED_FIELDS.items():
            ours, theirs = self.session.get(key, default), session.get(key, default)
            if key == "tools":
                # The server may add defaults to each tool (such as `strict`): compare names.
                ours, theirs = _tool_names(ours), _tool_names(theirs)
            if ours != theirs:
                return True
        return False

    async def _async_restore_session(self) -> None:
        assert self.session is not None
        update = {"type": "realtime"} | {
            key: self.session.get(key, default) for key, default in _GUARDED_FIELDS.items()
        }
        try:
            await self.async_send({"type": "session.update", "session": update})
        except HomeAssistantError as err:
            LOGGER.warning("Session of %s not restored: %s", self.call_id, err)

    def _spawn(self, coro: Any) -> None:
        task = self.hass.async_create_background_task(coro, f"{DOMAIN} {self.call_id} task")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _async_tool_call(self, event: dict[str, Any]) -> None:
        output = await async_run_tool(
            self.api, str(event.get("name", "")), str(event.get("arguments") or "")
        )
        try:
            await self.async_send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": event.get("call_id"),
                        "output": output,
                    },
                }
            )
            await self.async_send({"type": "response.create"})
        except HomeAssistantError as err:
            LOGGER.warning("Tool output for %s not delivered: %s", self.call_id, err)

    # --- what others ask of a call -----------------------------------------------------

    async def async_send(self, event: dict[str, Any]) -> None:
        """Send a client event, waiting briefly for a dropped sideband to come back."""
        if not self._ended and not self._connected.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), SEND_WAIT)
        ws = self._ws
        if self._ended or ws is None or ws.closed:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="sideband_unavailable"
            )
        await ws.send_str(json.dumps(event))

    async def async_speak(self, text: str, *, extra_instructions: str | None = None) -> None:
        """Have the model say `text` into the call; return once its response is done."""
        await self.async_send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "system",
                    "content": [
                        {"type": "input_text", "text": f"Announcement for the user: {text}"}
                    ],
                },
            }
        )
        instructions = f"Say exactly this to the user, word for word, and nothing else: {text}"
        if extra_instructions:
            instructions += f"\n\nThen continue the conversation. Context: {extra_instructions}"
        done: asyncio.Future[bool] = self.hass.loop.create_future()
        self._response_done.append(done)
        await self.async_send(
            {"type": "response.create", "response": {"instructions": instructions}}
        )
        try:
            spoken = await asyncio.wait_for(asyncio.shield(done), ANNOUNCE_TIMEOUT)
        except TimeoutError:
            return  # the model is slow, not gone: the announcement is on its way
        if not spoken:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="session_ended_during_announcement",
                translation_placeholders={"call_id": str(self.call_id)},
            )

    async def async_ask(self, question: str, *, answer_within: float) -> str | None:
        """Say `question` and return what the user answers (None: no answer, or the call ended).

        The answer is the user's next final transcript, so the profile needs a transcription
        model.
        """
        answer: asyncio.Future[str | None] = self.hass.loop.create_future()
        self._answers.append(answer)
        try:
            await self.async_speak(
                question,
                extra_instructions="Wait for the user's answer; do not answer it yourself.",
            )
            async with asyncio.timeout(answer_within):
                return await asyncio.shield(answer)
        except TimeoutError:
            return None
        finally:
            if answer in self._answers:
                self._answers.remove(answer)

    async def async_hangup(self, reason: str) -> None:
        """End the call at OpenAI and stop the sideband; safe to call more than once."""
        if self._ended:
            return
        self.end_reason = reason
        self._ended = True
        if self.call_id is not None:
            try:
                await self._client.hangup_call(self.call_id)
            except OpenAIError as err:
                LOGGER.debug("Hang-up of %s: %s", self.call_id, err)
        await self._stop_tasks()
        self._finish()

    async def _stop_tasks(self) -> None:
        tasks = [t for t in (self._task, *self._tasks) if t is not None and not t.done()]
        if self._ws is not None:
            await self._ws.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @callback
    def _finish(self) -> None:
        """Run once when the call is over, whoever ended it."""
        if self._finished:
            return
        self._finished = True
        self._ended = True
        if self._timer is not None:
            self._timer()
            self._timer = None
        # Release announcements still waiting for their response with an error. Not `cancel()`:
        # a cancelled future raises CancelledError in the caller's task, which aborts the calling
        # script where `continue_on_error` cannot catch it.
        _settle(self._response_done, False)
        _settle(self._answers, None)
        self.state = AssistSatelliteState.IDLE
        self._on_end(self)

    def as_dict(self) -> dict[str, Any]:
        """Public description (no secrets) for attributes and diagnostics."""
        return {
            "call_id": self.call_id,
            "state": str(self.state),
            "mode": self.info.mode,
            "sideband_connected": self.sideband_connected,
            "started": self.info.started,
            "usage": self.usage.as_dict(),
        }


def _tool_names(tools: Any) -> set[str]:
    if not isinstance(tools, list):
        return set()
    return {
        str(t.get("name") or t.get("server_label") or t.get("type"))
        for t in tools
        if isinstance(t, dict)
    }


def _settle[T](waiters: list[asyncio.Future[T]], result: T) -> None:
    """Resolve every waiter not yet done with `result`, and forget them."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(result)
    waiters.clear()
