"""Incoming phone calls: OpenAI's `realtime.call.incoming` webhook into Home Assistant.

Every delivery is checked before anything happens: its size, its Standard Webhooks signature
and age (five minutes), and that its id was not seen before. A verified call fires
`openai_api_realtime_call_incoming`; a voice profile whose "Answer phone calls" matches the
caller then accepts it. Refusals are logged without the secret and fire nothing.
"""

from __future__ import annotations

from http import HTTPStatus
import json
import time
from typing import Any

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
import probatio

from .call_control import async_answer
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    EVENT_CALL_INCOMING,
    LOGGER,
    SUBENTRY_VOICE,
)
from .models import OpenAIConfigEntry
from .realtime.profile import VoiceProfile
from .realtime.sip import header_map, header_pairs, parties
from .schema.contract import CALL_ID
from .webhook_signature import TOLERANCE, WebhookSignatureError, verify

MAX_BODY = 64 * 1024  # an INVITE's headers fit many times over
EVENT_TYPE = "realtime.call.incoming"


class IncomingCalls:
    """The webhook of one account: verification, replay protection, event, answer."""

    def __init__(self, hass: HomeAssistant, entry: OpenAIConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.webhook_id: str = entry.options[CONF_WEBHOOK_ID]
        self._secret: str = entry.options[CONF_WEBHOOK_SECRET]
        self._seen: dict[str, float] = {}  # webhook-id -> when it was handled

    @callback
    def async_register(self) -> None:
        """Listen at the account's webhook URL (POST only, reachable from outside)."""
        webhook.async_register(
            self.hass,
            DOMAIN,
            f"{self.entry.title} incoming calls",
            self.webhook_id,
            self._async_handle,
            allowed_methods=["POST"],
        )
        self.entry.async_on_unload(lambda: webhook.async_unregister(self.hass, self.webhook_id))

    async def _async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        if (request.content_length or 0) > MAX_BODY:
            return self._refuse(request, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return self._refuse(request, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        try:
            delivery_id = verify(body, request.headers, secret=self._secret)
        except WebhookSignatureError as err:
            return self._refuse(request, HTTPStatus.UNAUTHORIZED, str(err))
        if not self._first_time(delivery_id):
            return self._refuse(request, HTTPStatus.CONFLICT, f"replayed id {delivery_id}")
        try:
            event = json.loads(body)
        except ValueError:
            return self._refuse(request, HTTPStatus.BAD_REQUEST, "body is not JSON")
        if not isinstance(event, dict) or event.get("type") != EVENT_TYPE:
            LOGGER.debug("Ignoring webhook event of type %r", _kind(event))
            return web.Response(status=HTTPStatus.OK)
        data = event.get("data")
        if not isinstance(data, dict):
            return self._refuse(request, HTTPStatus.BAD_REQUEST, "no data")
        try:
            call_id: str = CALL_ID(data.get("call_id"))
        except probatio.Invalid:
            return self._refuse(request, HTTPStatus.BAD_REQUEST, "no call id")
        self._incoming(call_id, data.get("sip_headers"), event)
        return web.Response(status=HTTPStatus.OK)

    def _first_time(self, delivery_id: str) -> bool:
        """Remember ids for longer than a signature stays valid; refuse a repeat."""
        now = time.monotonic()
        for old in [k for k, at in self._seen.items() if now - at > 2 * TOLERANCE]:
            del self._seen[old]
        if delivery_id in self._seen:
            return False
        self._seen[delivery_id] = now
        return True

    def _refuse(self, request: web.Request, status: HTTPStatus, why: str) -> web.Response:
        LOGGER.warning("Refused an incoming-call webhook from %s: %s", request.remote, why)
        return web.Response(status=status)

    @callback
    def _incoming(self, call_id: str, sip_headers: Any, event: dict[str, Any]) -> None:
        pairs = header_pairs(sip_headers)
        who = parties(pairs)
        self.hass.bus.async_fire(
            EVENT_CALL_INCOMING,
            {
                "call_id": call_id,
                "sip_headers": pairs,
                "headers": header_map(pairs),
                **who,
                "webhook_event_id": event.get("id"),
                ATTR_CONFIG_ENTRY_ID: self.entry.entry_id,
            },
        )
        profile = self._answering_profile(who["caller_number"])
        if profile is not None:
            self.entry.async_create_background_task(
                self.hass, self._async_answer(profile, call_id), f"{DOMAIN} answer {call_id}"
            )

    def _answering_profile(self, caller: str | None) -> VoiceProfile | None:
        """Return the profile that answers this caller: one listing them, else one for anyone."""
        profiles = [
            VoiceProfile.from_subentry(sub)
            for sub in self.entry.subentries.values()
            if sub.subentry_type == SUBENTRY_VOICE
        ]
        answering = [p for p in profiles if p.answers(caller)]
        listed = [p for p in answering if p.allowed_callers]
        return next(iter(listed or answering), None)

    async def _async_answer(self, profile: VoiceProfile, call_id: str) -> None:
        try:
            await async_answer(self.hass, self.entry, profile, call_id)
        except HomeAssistantError as err:
            LOGGER.warning("Could not answer call %s with %s: %s", call_id, profile.title, err)


def _kind(event: Any) -> Any:
    return event.get("type") if isinstance(event, dict) else type(event).__name__
