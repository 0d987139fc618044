"""One live call: HA's server-side ("sideband") WebSocket and its control loop.

A Python port of the reference RealtimeClient's loop, reduced to what a server needs: read
server events, move the state, run tool calls through HA's LLM API, speak announcements,
reconnect when the socket drops while the call lives, and hang up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import contextlib
import json
import time
from typing import Any

import aiohttp
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
from homeassistant.helpers.event import async_call_later

from ..api import OpenAIAuthenticationError, OpenAIBadRequestError, OpenAIClient, OpenAIError
from ..const import DOMAIN, EVENT_TRANSCRIPT, LOGGER
from .guard import SessionGuard
from .hangup import async_end_call
from .models import CallMode, CallOwner, EndReason, Usage
from .tools import async_run_tool

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # then the call is given up
SEND_WAIT = 10.0  # how long a message waits for a dropped sideband to come back
ANNOUNCE_TIMEOUT = 60.0
MAX_SESSION_RESTORES = 5  # then the call is hung up: a client that keeps trying is hostile

# Server events that move the satellite state.
_STATE_EVENTS = {
    "input_audio_buffer.speech_started": AssistSatelliteState.LISTENING,
    "input_audio_buffer.speech_stopped": AssistSatelliteState.PROCESSING,
    "output_audio_buffer.started": AssistSatelliteState.RESPONDING,
    "output_audio_buffer.stopped": AssistSatelliteState.IDLE,
    "output_audio_buffer.cleared": AssistSatelliteState.IDLE,
}
# Error codes after which the call cannot go on.
_FATAL_ERROR_CODES = {
    "session_expired": EndReason.SESSION_EXPIRED,
    "call_ended": EndReason.CALL_ENDED,
    "invalid_api_key": EndReason.AUTH_FAILED,
}
# Server events whose transcript is final, by role.
_USER_TRANSCRIPT = "conversation.item.input_audio_transcription.completed"
_TRANSCRIPTS = {
    _USER_TRANSCRIPT: ("user", "transcript"),
    "response.output_audio_transcript.done": ("assistant", "transcript"),
    "response.output_text.done": ("assistant", "text"),
}


def speak_instructions(text: str) -> str:
    """Return response instructions that make the model say `text` and nothing more."""
    return f'Say exactly this to the user, word for word, and nothing else: "{text}"'


class RealtimeCall:
    """A live Realtime call that HA controls through the sideband.

    Built only once OpenAI has returned the call id: from then on HA owns the call until
    OpenAI confirms the hang-up or ends the call itself.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        client: OpenAIClient,
        *,
        call_id: str,
        owner: CallOwner,
        mode: CallMode,
        session_config: dict[str, Any],
        llm_api: llm.APIInstance | None,
        max_duration: float,
        on_change: Callable[[RealtimeCall], None],
        on_end: Callable[[RealtimeCall], None],
        on_auth_failed: Callable[[], None],
    ) -> None:
        self.hass = hass
        self.call_id = call_id
        self.owner = owner
        self.mode = mode
        self.session_config = session_config
        self.llm_api = llm_api
        self.max_duration = max_duration
        self.started = time.time()
        self.state = AssistSatelliteState.IDLE
        self.usage = Usage()
        self.end_reason: EndReason | None = None
        self.context = Context(user_id=owner.user_id)
        self._client = client
        self._guard = SessionGuard(session_config)
        self._on_change = on_change
        self._on_end = on_end
        self._on_auth_failed = on_auth_failed
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: CALLBACK_TYPE | None = None
        # Announcements waiting for their response: True once spoken, False if the call ended.
        self._response_done: list[asyncio.Future[bool]] = []
        # Questions waiting for the user's next words (None if the call ends first).
        self._answers: list[asyncio.Future[str | None]] = []
        self._restores = 0
        self._ended = False
        self._finished = False

    @property
    def ended(self) -> bool:
        """Whether the call is over (or being hung up)."""
        return self._ended

    @property
    def sideband_connected(self) -> bool:
        """Whether the sideband WebSocket is open right now."""
        return self._connected.is_set()

    @callback
    def start(self) -> None:
        """Open the sideband and arm the time limit."""
        self._task = self.hass.async_create_background_task(
            self._run(), f"{DOMAIN} sideband {self.call_id}", eager_start=False
        )
        self._timer = async_call_later(self.hass, self.max_duration, self._async_time_up)

    async def _async_time_up(self, _now: Any) -> None:
        self._timer = None
        await self.async_hangup(EndReason.MAX_DURATION)

    # --- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        reason = EndReason.SIDEBAND_LOST
        failures = 0
        while not self._ended:
            try:
                ws = await self._client.connect_sideband(self.call_id)
            except OpenAIAuthenticationError:
                self._on_auth_failed()
                reason = EndReason.AUTH_FAILED
                break
            except OpenAIBadRequestError:
                reason = EndReason.CALL_ENDED  # the API no longer knows the call
                break
            except OpenAIError as err:
                if failures >= len(RECONNECT_DELAYS):
                    LOGGER.warning("Sideband of %s lost: %s", self.call_id, err)
                    break
                await asyncio.sleep(RECONNECT_DELAYS[failures])
                failures += 1
                continue
            failures = 0
            if fatal := await self._serve(ws):
                reason = fatal
                break
        if not self._ended:
            # The loop gave up on its own: no media may flow without HA in control.
            await self.async_hangup(reason, at_openai=reason is not EndReason.CALL_ENDED)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> EndReason | None:
        """Read one sideband connection until it closes; return a reason to end the call."""
        self._ws = ws
        self._connected.set()
        if self.mode is CallMode.EPHEMERAL:
            # The client created the call itself; make sure it runs the profile's session.
            self._spawn(self._async_restore_session())
        try:
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
            LOGGER.debug("Sideband of %s closed", self.call_id)
            return None
        finally:
            self._connected.clear()
            self._ws = None
            await ws.close()

    @callback
    def _handle(self, event: dict[str, Any]) -> EndReason | None:
        kind = event.get("type")
        if not isinstance(kind, str):
            return None
        if (new_state := _STATE_EVENTS.get(kind)) is not None:
            self._set_state(new_state)
        elif (transcript := _TRANSCRIPTS.get(kind)) is not None:
            role, key = transcript
            self._transcript(role, event.get(key), event.get("item_id"))
            if kind == _USER_TRANSCRIPT:
                self.usage.add_transcription(event.get("usage"))
                self._on_change(self)
        elif kind == "response.function_call_arguments.done":
            self._spawn(self._async_tool_call(event))
        elif kind == "session.updated":
            return self._check_session(event.get("session"))
        elif kind == "response.done":
            response = event.get("response")
            self.usage.add(response.get("usage") if isinstance(response, dict) else None)
            _settle(self._response_done, True)
            self._on_change(self)
        elif kind == "error":
            return self._error(event.get("error"))
        return None

    def _error(self, error: Any) -> EndReason | None:
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        LOGGER.warning("Realtime error on %s: %s (%s)", self.call_id, error.get("message"), code)
        return _FATAL_ERROR_CODES.get(code) if isinstance(code, str) else None

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
                "entity_id": self.owner.entity_id,
                "call_id": self.call_id,
                "item_id": item_id if isinstance(item_id, str) else None,
                "config_entry_id": self.owner.entry_id,
            },
            context=self.context,
        )

    def _check_session(self, session: Any) -> EndReason | None:
        """Put the profile's fields back when a client changed them."""
        if not (changed := self._guard.tampered_fields(session)):
            return None
        self._restores += 1
        if self._restores > MAX_SESSION_RESTORES:
            return EndReason.SESSION_TAMPERED
        LOGGER.warning(
            "A client changed %s of call %s; restoring the profile's values",
            ", ".join(changed),
            self.call_id,
        )
        self._spawn(self._async_restore_session())
        return None

    async def _async_restore_session(self) -> None:
        try:
            await self.async_send(self._guard.restore_update())
        except HomeAssistantError as err:
            LOGGER.warning("Session of %s not restored: %s", self.call_id, err)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.hass.async_create_background_task(coro, f"{DOMAIN} {self.call_id} task")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _async_tool_call(self, event: dict[str, Any]) -> None:
        """Run a tool and send exactly one output for it, whatever happens."""
        name, arguments = event.get("name"), event.get("arguments")
        try:
            output = await async_run_tool(
                self.llm_api,
                name if isinstance(name, str) else "",
                arguments if isinstance(arguments, str) else "",
            )
        except Exception:  # the model must get an output, whatever failed
            LOGGER.exception("Tool call %s of %s failed", name, self.call_id)
            output = json.dumps({"error": "ToolFailed", "error_text": "The tool call failed"})
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

    async def async_speak(self, text: str | None, *, context: str | None = None) -> None:
        """Have the model say `text` into the call; return once its response is done.

        `context` (a start_conversation's extra system prompt) goes into the conversation as a
        system message first, so the model knows it when the user answers. Without `text` the
        model opens the conversation in its own words, from that context.
        """
        if context:
            await self.async_send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "system",
                        "content": [{"type": "input_text", "text": context}],
                    },
                }
            )
        done: asyncio.Future[bool] = self.hass.loop.create_future()
        self._response_done.append(done)
        response = {"instructions": speak_instructions(text)} if text else {}
        await self.async_send({"type": "response.create", "response": response})
        try:
            spoken = await asyncio.wait_for(asyncio.shield(done), ANNOUNCE_TIMEOUT)
        except TimeoutError:
            return  # the model is slow, not gone: the announcement is on its way
        if not spoken:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="session_ended_during_announcement",
                translation_placeholders={"call_id": self.call_id},
            )

    async def async_ask(self, question: str, *, answer_within: float) -> str | None:
        """Say `question` and return what the user answers (None: no answer, or the call ended).

        The answer is the user's next final transcript, so the profile needs a transcription
        model.
        """
        answer: asyncio.Future[str | None] = self.hass.loop.create_future()
        self._answers.append(answer)
        try:
            await self.async_speak(question)
            async with asyncio.timeout(answer_within):
                return await asyncio.shield(answer)
        except TimeoutError:
            return None
        finally:
            if answer in self._answers:
                self._answers.remove(answer)

    async def async_hangup(self, reason: EndReason, *, at_openai: bool = True) -> None:
        """End the call at OpenAI (retried) and stop the sideband; safe to call more than once."""
        if self._ended:
            return
        self.end_reason = reason
        self._ended = True
        if at_openai:
            await async_end_call(self._client, self.call_id)
        await self._stop_tasks()
        self._finish()

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [
            t
            for t in (self._task, *self._tasks)
            if t is not None and not t.done() and t is not current
        ]
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
        """Public description (no secrets, no user id) for attributes and diagnostics."""
        return {
            "call_id": self.call_id,
            "state": str(self.state),
            "mode": str(self.mode),
            "sideband_connected": self.sideband_connected,
            "started": self.started,
            "usage": self.usage.as_dict(),
        }


def _settle[T](waiters: list[asyncio.Future[T]], result: T) -> None:
    """Resolve every waiter not yet done with `result`, and forget them."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(result)
    waiters.clear()
