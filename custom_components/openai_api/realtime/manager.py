"""All live calls of one account entry: limits, starting and attaching calls, shutdown.

Whatever path a call takes, the rule is the same: once OpenAI has returned a call id, HA owns
the call until OpenAI confirms the hang-up or ends it. A request whose client went away, or that
finishes while the entry unloads, hangs its new call up instead of dropping the id.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
import hashlib
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import instance_id
from homeassistant.helpers.event import async_call_later

from ..api import (
    CallAnswer,
    OpenAIAuthenticationError,
    OpenAIBadRequestError,
    OpenAIClient,
    OpenAIError,
    OpenAIPermissionError,
    OpenAIRateLimitError,
)
from ..client_secret import async_create_client_secret
from ..const import DOMAIN, LOGGER
from ..errors import api_failure, async_call_api
from .call import RealtimeCall
from .hangup import async_end_call
from .models import CallMode, CallOwner, EndReason, Usage
from .profile import PreparedSession, VoiceProfile, async_prepare_session

# Answers that mean OpenAI did not act on a request: nothing of it to undo.
_NOT_DONE = (
    OpenAIBadRequestError,
    OpenAIAuthenticationError,
    OpenAIPermissionError,
    OpenAIRateLimitError,
)

# Client secrets handed to browsers live just long enough to post an offer; the slot they
# reserve lapses a little later, so an attach that follows the offer still finds it.
EPHEMERAL_SECONDS = 30
EPHEMERAL_GRACE = 15


class CallRefusedError(HomeAssistantError):
    """A call was refused for a reason nobody did wrong (the entry unloads, the client left)."""


def _error(
    key: str, error: type[HomeAssistantError] = ServiceValidationError, **placeholders: Any
) -> HomeAssistantError:
    """Return a translated error; by default a refusal the user caused (a limit, a setting)."""
    return error(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={k: str(v) for k, v in placeholders.items()} or None,
    )


class CallRequest:
    """A client's request for a call; the client may go away at any moment.

    The websocket layer calls `abandon` when the client's connection closes: before the call
    exists the request is dropped (its call hung up as soon as OpenAI names it), after that
    the call is hung up.
    """

    def __init__(self) -> None:
        self.abandoned = False
        self._call: RealtimeCall | None = None

    @callback
    def bind(self, call: RealtimeCall) -> None:
        """Note the request's call: from now on abandoning the request hangs the call up."""
        self._call = call

    @callback
    def abandon(self) -> None:
        """Give the request up: its client went away."""
        self.abandoned = True
        if (call := self._call) is not None and not call.ended:
            call.hass.async_create_task(
                call.async_hangup(EndReason.CONNECTION_CLOSED), eager_start=True
            )


@dataclass(eq=False, slots=True, kw_only=True)
class Slot:
    """A place in a profile's limits, held before HA has the call's id."""

    owner: CallOwner
    max_duration: float
    prepared: PreparedSession | None = None  # ephemeral: the session the secret carries
    expires: float | None = None  # ephemeral: when an unused secret's reservation lapses
    cancel_timer: CALLBACK_TYPE | None = field(default=None, repr=False)


class CallManager:
    """Owns every live call of an entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, client: OpenAIClient) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self.usage: dict[str, Usage] = defaultdict(Usage)  # per profile, ended calls included
        self._calls: dict[str, RealtimeCall] = {}
        self._slots: list[Slot] = []
        self._pending: set[asyncio.Task[Any]] = set()
        self._listeners: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._closing = False
        self._salt: str | None = None

    # --- lookup and listeners ---------------------------------------------------------

    @property
    def calls(self) -> list[RealtimeCall]:
        """Every call HA holds, those being hung up included."""
        return list(self._calls.values())

    def calls_for(self, profile_id: str) -> list[RealtimeCall]:
        """Live calls of a profile, oldest first."""
        return [c for c in self._calls.values() if c.owner.profile_id == profile_id and not c.ended]

    def held(self, call_id: str) -> RealtimeCall | None:
        """Return the call HA holds by this id, live or being hung up."""
        return self._calls.get(call_id)

    def get(self, call_id: str) -> RealtimeCall | None:
        """Return a live call by its OpenAI call id."""
        call = self._calls.get(call_id)
        return None if call is None or call.ended else call

    def profile_usage(self, profile_id: str) -> Usage:
        """Token totals of a profile: ended calls plus live ones."""
        total = Usage()
        total.merge(self.usage[profile_id])
        for call in self.calls_for(profile_id):
            total.merge(call.usage)
        return total

    @callback
    def async_listen(self, profile_id: str, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `listener` whenever a call of the profile changes."""
        self._listeners[profile_id].append(listener)
        return lambda: self._listeners[profile_id].remove(listener)

    @callback
    def _notify(self, call: RealtimeCall) -> None:
        self._notify_profile(call.owner.profile_id)

    @callback
    def _notify_profile(self, profile_id: str) -> None:
        for listener in list(self._listeners[profile_id]):
            listener()

    @callback
    def add_usage(self, profile_id: str, usage: Any) -> None:
        """Count a response of the profile's pipeline entities (`usage` as the API sent it)."""
        self.usage[profile_id].add(usage)
        self._notify_profile(profile_id)

    @callback
    def add_transcription_usage(self, profile_id: str, usage: Any) -> None:
        """Count a transcription of the profile's speech-to-text entity."""
        self.usage[profile_id].add_transcription(usage)
        self._notify_profile(profile_id)

    @callback
    def _ended(self, call: RealtimeCall) -> None:
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
            self.usage[call.owner.profile_id].merge(call.usage)
        LOGGER.debug("Call %s ended: %s", call.call_id, call.end_reason)
        self._notify(call)

    # --- limits -----------------------------------------------------------------------

    @callback
    def _reserve(self, profile: VoiceProfile, owner: CallOwner, *, per_user: bool = True) -> Slot:
        """Hold a place in the profile's limits (synchronously: no await between check and hold).

        Phone calls (`per_user` off) count against the profile's limit only: nobody on the
        line is an HA user.
        """
        if self._closing:
            raise _error("entry_unloading", CallRefusedError)
        self._drop_lapsed_slots()
        calls = [c.owner for c in self.calls_for(profile.profile_id)]
        held = calls + [s.owner for s in self._slots if s.owner.profile_id == profile.profile_id]
        if len(held) >= profile.max_sessions:
            raise _error("too_many_sessions", limit=profile.max_sessions)
        if (
            per_user
            and sum(1 for o in held if o.user_id == owner.user_id) >= profile.max_sessions_per_user
        ):
            raise _error("too_many_user_sessions", limit=profile.max_sessions_per_user)
        slot = Slot(owner=owner, max_duration=profile.max_duration)
        self._slots.append(slot)
        return slot

    @callback
    def _release(self, slot: Slot) -> None:
        if slot.cancel_timer is not None:
            slot.cancel_timer()
            slot.cancel_timer = None
        if slot in self._slots:
            self._slots.remove(slot)

    @callback
    def _drop_lapsed_slots(self) -> None:
        now = time.time()
        for slot in [s for s in self._slots if s.expires is not None and s.expires <= now]:
            self._release(slot)

    @callback
    def _new_call(
        self, call_id: str, slot: Slot, mode: CallMode, prepared: PreparedSession
    ) -> RealtimeCall:
        """Build, register and start a complete call in the place of `slot` (no await)."""
        self._release(slot)
        owner = slot.owner
        call = RealtimeCall(
            self.hass,
            self.client,
            call_id=call_id,
            owner=owner,
            mode=mode,
            session_config=prepared.config,
            llm_api=prepared.llm_api,
            max_duration=slot.max_duration,
            on_change=self._notify,
            on_end=self._ended,
            on_auth_failed=lambda: self.entry.async_start_reauth(self.hass),
        )
        self._calls[call_id] = call
        call.start()
        self._notify(call)
        return call

    # --- starting calls ---------------------------------------------------------------

    async def safety_identifier(self, user_id: str | None) -> str | None:
        """Return a stable, salted hash of the HA user: OpenAI never sees the user id."""
        if user_id is None:
            return None
        if self._salt is None:
            self._salt = await instance_id.async_get(self.hass)
        return hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()[:32]

    async def async_connect(
        self,
        request: CallRequest,
        profile: VoiceProfile,
        owner: CallOwner,
        *,
        sdp_offer: str,
        device_id: str | None,
    ) -> tuple[RealtimeCall, str]:
        """Relay a browser's SDP offer to OpenAI; return the call and the SDP answer."""
        prepared = await async_prepare_session(
            self.hass, profile, user_id=owner.user_id, device_id=device_id
        )
        safety_identifier = await self.safety_identifier(owner.user_id)
        if request.abandoned:
            raise _error("request_abandoned", CallRefusedError)
        slot = self._reserve(profile, owner)
        return await self._shielded(
            self._async_create_call(request, slot, prepared, sdp_offer, safety_identifier)
        )

    async def _shielded[T](self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a request that makes OpenAI create a call in a task of the manager's.

        If the caller is cancelled (its connection closed, HA stopping), the call id still
        arrives in that task and is hung up; shutdown waits for these tasks.
        """
        task = self.hass.async_create_task(coro, f"{DOMAIN} call request", eager_start=True)
        self._pending.add(task)
        task.add_done_callback(self._task_done)
        return await asyncio.shield(task)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled():
            task.exception()  # the caller may be gone; its error was logged or answered

    async def _async_create_call(
        self,
        request: CallRequest,
        slot: Slot,
        prepared: PreparedSession,
        sdp_offer: str,
        safety_identifier: str | None,
    ) -> tuple[RealtimeCall, str]:
        try:
            answer: CallAnswer = await async_call_api(
                self.hass,
                self.entry,
                self.client.create_call(
                    sdp_offer, prepared.config, safety_identifier=safety_identifier
                ),
            )
        except BaseException:
            self._release(slot)
            raise
        if self._closing or request.abandoned:
            self._release(slot)
            # OpenAI has the call, but nobody will use it: hang it up rather than drop the id.
            await async_end_call(self.client, answer.call_id)
            raise _error(
                "entry_unloading" if self._closing else "request_abandoned", CallRefusedError
            )
        call = self._new_call(answer.call_id, slot, CallMode.RELAY, prepared)
        request.bind(call)
        return call, answer.sdp_answer

    async def async_ephemeral(
        self,
        request: CallRequest,
        profile: VoiceProfile,
        owner: CallOwner,
        *,
        device_id: str | None,
    ) -> dict[str, Any]:
        """Mint a short-lived client secret carrying the profile's session.

        The secret holds a place in the profile's limits until the call it starts is attached
        or the secret lapses unused.
        """
        if not profile.allow_ephemeral:
            raise _error("ephemeral_not_allowed", profile=profile.title)
        prepared = await async_prepare_session(
            self.hass, profile, user_id=owner.user_id, device_id=device_id
        )
        if request.abandoned:
            raise _error("request_abandoned", CallRefusedError)
        slot = self._reserve(profile, owner)
        try:
            secret = await async_create_client_secret(
                self.hass,
                self.entry,
                self.client,
                {
                    "expires_after": {"anchor": "created_at", "seconds": EPHEMERAL_SECONDS},
                    "session": prepared.config,
                },
            )
        except BaseException:
            self._release(slot)
            raise
        if self._closing or request.abandoned or slot not in self._slots:
            self._release(slot)
            raise _error(
                "entry_unloading" if self._closing else "request_abandoned", CallRefusedError
            )
        slot.prepared = prepared
        slot.expires = float(secret["expires_at"]) + EPHEMERAL_GRACE
        slot.cancel_timer = async_call_later(
            self.hass,
            max(slot.expires - time.time(), 0),
            callback(lambda _now: self._release(slot)),
        )
        return secret

    async def async_accept_sip(
        self, profile: VoiceProfile, owner: CallOwner, call_id: str, *, device_id: str | None
    ) -> RealtimeCall:
        """Accept an incoming phone call with the profile's session and attach the sideband.

        The tools run with the permissions of the profile's phone user; without one the call
        gets no tools at all (see the README's Phone calls section).
        """
        prepared = await async_prepare_session(
            self.hass,
            profile,
            user_id=owner.user_id,
            device_id=device_id,
            with_tools=owner.user_id is not None,
        )
        slot = self._reserve(profile, owner, per_user=False)
        return await self._shielded(self._async_accept(slot, call_id, prepared))

    async def _async_accept(
        self, slot: Slot, call_id: str, prepared: PreparedSession
    ) -> RealtimeCall:
        try:
            await self.client.accept_call(call_id, prepared.config)
        except OpenAIError as err:
            self._release(slot)
            if not isinstance(err, _NOT_DONE):
                # OpenAI may have accepted the call before the answer was lost: it has the id,
                # so HA hangs the call up rather than leave it running unmanaged.
                await async_end_call(self.client, call_id)
            raise api_failure(self.hass, self.entry, err) from err
        except BaseException:
            self._release(slot)
            raise
        if self._closing:
            self._release(slot)
            await async_end_call(self.client, call_id)
            raise _error("entry_unloading", CallRefusedError)
        return self._new_call(call_id, slot, CallMode.SIP, prepared)

    @callback
    def async_attach(self, request: CallRequest, owner: CallOwner, call_id: str) -> RealtimeCall:
        """Attach the sideband to a call its owner created with an ephemeral secret.

        The user must hold an unused secret of this profile; the call takes its place.
        """
        if (existing := self.held(call_id)) is not None:
            if (existing.owner.user_id, existing.owner.profile_id) != (
                owner.user_id,
                owner.profile_id,
            ):
                raise Unauthorized()
            if existing.ended:
                # HA is hanging this call up: a second call object for the same id would
                # take its place in the manager and be dropped when the first one finishes.
                raise _error("call_ending", call_id=call_id)
            request.bind(existing)
            return existing
        if self._closing:
            raise _error("entry_unloading", CallRefusedError)
        self._drop_lapsed_slots()
        slot = next(
            (
                s
                for s in self._slots
                if s.prepared is not None
                and (s.owner.user_id, s.owner.profile_id) == (owner.user_id, owner.profile_id)
            ),
            None,
        )
        if slot is None or slot.prepared is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="no_ephemeral_secret"
            )
        call = self._new_call(call_id, slot, CallMode.EPHEMERAL, slot.prepared)
        request.bind(call)
        return call

    async def async_shutdown(self, reason: EndReason) -> None:
        """Hang up every call, and every call still being created (entry unload, HA stop)."""
        self._closing = True
        for slot in list(self._slots):
            self._release(slot)
        calls = list(self._calls.values())
        if calls:
            await asyncio.gather(*(c.async_hangup(reason) for c in calls), return_exceptions=True)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
