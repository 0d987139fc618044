"""All live calls of one account entry: limits, start, lookup, shutdown."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
import hashlib
from typing import TYPE_CHECKING, Any

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_PROMPT
from homeassistant.core import CALLBACK_TYPE, Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import instance_id, llm, template

from ..const import (
    CONF_MAX_DURATION,
    CONF_MAX_SESSIONS,
    CONF_MAX_SESSIONS_PER_USER,
    DEFAULT_INSTRUCTIONS,
    DEFAULT_MAX_DURATION,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_MAX_SESSIONS_PER_USER,
    DOMAIN,
    LOGGER,
)
from ..errors import async_call_api
from .config import build_session_config, profile_api_ids
from .session import CallInfo, RealtimeCall, Usage
from .tools import async_get_api, format_tools

if TYPE_CHECKING:
    from ..models import OpenAIConfigEntry

# Ephemeral client secrets handed to browsers live just long enough to post an offer.
EPHEMERAL_SECONDS = 60


def _limit_error(key: str, limit: int) -> HomeAssistantError:
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"limit": str(limit)},
    )


class RealtimeManager:
    """Owns every live call of an entry."""

    def __init__(self, hass: HomeAssistant, entry: OpenAIConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.calls: list[RealtimeCall] = []
        self.usage: dict[str, Usage] = defaultdict(Usage)  # per profile, ended calls included
        self._listeners: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._salt: str | None = None

    # --- lookup and listeners ---------------------------------------------------------

    def calls_for(self, profile_id: str) -> list[RealtimeCall]:
        """Live calls of a profile."""
        return [c for c in self.calls if c.info.profile_id == profile_id and not c.ended]

    def get(self, call_id: str) -> RealtimeCall | None:
        """Return a live call by its OpenAI call id."""
        return next((c for c in self.calls if c.call_id == call_id and not c.ended), None)

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
        for listener in list(self._listeners[call.info.profile_id]):
            listener()

    @callback
    def _ended(self, call: RealtimeCall) -> None:
        if call in self.calls:
            self.calls.remove(call)
            self.usage[call.info.profile_id].merge(call.usage)
        LOGGER.debug("Call %s ended: %s", call.call_id, call.end_reason)
        self._notify(call)

    # --- starting calls ---------------------------------------------------------------

    def _check_limits(self, profile: ConfigSubentry, user_id: str | None) -> None:
        live = self.calls_for(profile.subentry_id)
        limit = int(profile.data.get(CONF_MAX_SESSIONS, DEFAULT_MAX_SESSIONS))
        if len(live) >= limit:
            raise _limit_error("too_many_sessions", limit)
        per_user = int(profile.data.get(CONF_MAX_SESSIONS_PER_USER, DEFAULT_MAX_SESSIONS_PER_USER))
        if sum(1 for c in live if c.info.user_id == user_id) >= per_user:
            raise _limit_error("too_many_user_sessions", per_user)

    async def _prepare(
        self, profile: ConfigSubentry, user_id: str | None, device_id: str | None
    ) -> tuple[dict[str, Any], llm.APIInstance | None]:
        """Return the session config and LLM API of a call for this user."""
        llm_context = llm.LLMContext(
            platform=DOMAIN,
            context=Context(user_id=user_id),
            language=self.hass.config.language,
            assistant=conversation.DOMAIN,
            device_id=device_id,
        )
        try:
            api = await async_get_api(self.hass, profile_api_ids(profile.data), llm_context)
            prompt = template.Template(
                profile.data.get(CONF_PROMPT) or DEFAULT_INSTRUCTIONS, self.hass
            ).async_render(parse_result=False)
        except HomeAssistantError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="profile_error",
                translation_placeholders={"error": str(err)},
            ) from err
        instructions = "\n\n".join(p for p in (prompt, api.api_prompt if api else "") if p)
        return build_session_config(
            profile.data, instructions=instructions, tools=format_tools(api)
        ), api

    async def safety_identifier(self, user_id: str | None) -> str | None:
        """Return a stable, salted hash of the HA user: OpenAI never sees the user id."""
        if user_id is None:
            return None
        if self._salt is None:
            self._salt = await instance_id.async_get(self.hass)
        return hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()[:32]

    def _new_call(
        self,
        profile: ConfigSubentry,
        entity_id: str | None,
        user_id: str | None,
        mode: str,
        api: llm.APIInstance | None,
    ) -> RealtimeCall:
        minutes = float(profile.data.get(CONF_MAX_DURATION, DEFAULT_MAX_DURATION))
        call = RealtimeCall(
            self.hass,
            self.entry.runtime_data.client,
            CallInfo(
                entry_id=self.entry.entry_id,
                profile_id=profile.subentry_id,
                entity_id=entity_id,
                user_id=user_id,
                mode=mode,
                max_duration=minutes * 60,
            ),
            api=api,
            on_change=self._notify,
            on_end=self._ended,
            on_auth_failed=lambda: self.entry.async_start_reauth(self.hass),
        )
        # Registered before any await on the network so concurrent requests see the slot.
        self.calls.append(call)
        return call

    async def async_connect(
        self,
        profile: ConfigSubentry,
        *,
        sdp_offer: str,
        entity_id: str | None,
        device_id: str | None,
        user_id: str | None,
    ) -> tuple[RealtimeCall, str]:
        """Relay a browser's SDP offer to OpenAI; return the call and the SDP answer."""
        self._check_limits(profile, user_id)
        call = self._new_call(profile, entity_id, user_id, "relay", None)
        try:
            session, api = await self._prepare(profile, user_id, device_id)
            call.api, call.session = api, session
            result = await async_call_api(
                self.hass,
                self.entry,
                self.entry.runtime_data.client.create_call(
                    sdp_offer, session, safety_identifier=await self.safety_identifier(user_id)
                ),
            )
        except BaseException:
            self.calls.remove(call)
            raise
        call.start(result.call_id)
        self._notify(call)
        return call, result.sdp_answer

    async def async_ephemeral(
        self, profile: ConfigSubentry, *, device_id: str | None, user_id: str | None
    ) -> dict[str, Any]:
        """Mint a short-lived client secret carrying the profile's session."""
        from ..services import async_create_client_secret  # noqa: PLC0415 - import cycle

        self._check_limits(profile, user_id)
        session, _api = await self._prepare(profile, user_id, device_id)
        return await async_create_client_secret(
            self.hass,
            self.entry,
            {
                "expires_after": {"anchor": "created_at", "seconds": EPHEMERAL_SECONDS},
                "session": session,
            },
        )

    async def async_attach(
        self,
        profile: ConfigSubentry,
        *,
        call_id: str,
        entity_id: str | None,
        device_id: str | None,
        user_id: str | None,
    ) -> RealtimeCall:
        """Attach the sideband to a call a client created with an ephemeral secret."""
        if (existing := self.get(call_id)) is not None:
            return existing
        self._check_limits(profile, user_id)
        call = self._new_call(profile, entity_id, user_id, "ephemeral", None)
        try:
            call.session, call.api = await self._prepare(profile, user_id, device_id)
        except BaseException:
            self.calls.remove(call)
            raise
        call.start(call_id)
        self._notify(call)
        return call

    async def async_hangup(self, call_id: str, reason: str) -> bool:
        """Hang up a live call; False when there is none by that id."""
        if (call := self.get(call_id)) is None:
            return False
        await call.async_hangup(reason)
        return True

    async def async_shutdown(self, reason: str) -> None:
        """Hang up every call (entry unload, HA stop)."""
        calls = list(self.calls)
        if calls:
            await asyncio.gather(*(c.async_hangup(reason) for c in calls), return_exceptions=True)
