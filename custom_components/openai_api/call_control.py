"""Phone calls under control: accept (with a session or a voice profile), reject, refer, hang up.

The Node-RED node's call-control methods as actions. Accepting with a voice profile goes past
them: HA builds the profile's session, attaches its sideband, and the call then has the
profile's tools, transcript events, time limit and satellite, as a browser call does.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from homeassistant.components.assist_satellite import DOMAIN as SATELLITE_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import probatio

from .action_helpers import Payload, entry_of, fire_event, validated
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    DOMAIN,
    EVENT_CALL_ACCEPTED,
    EVENT_CALL_HUNG_UP,
    EVENT_CALL_REFERRED,
    EVENT_CALL_REJECTED,
    SERVICE_ACCEPT_CALL,
    SERVICE_HANGUP_CALL,
    SERVICE_REFER_CALL,
    SERVICE_REJECT_CALL,
    SUBENTRY_VOICE,
)
from .errors import async_call_api
from .models import OpenAIConfigEntry, find_held_call
from .realtime.call import RealtimeCall
from .realtime.models import CallOwner, EndReason
from .realtime.profile import VoiceProfile
from .schema.contract import (
    ACCEPT_SESSION,
    CALL_ID,
    REFER_REQUEST,
    REJECT_REQUEST,
    validate_request,
)
from .schema.validators import Validator, non_empty_string, obj

ATTR_CALL_ID = "call_id"
ATTR_SESSION = "session"
ATTR_VOICE_PROFILE = "voice_profile"
DEFAULT_REJECT_STATUS = 603  # the API's, when no status_code is sent

_ACCEPT = obj(
    {ATTR_CALL_ID: CALL_ID, ATTR_SESSION: ACCEPT_SESSION, ATTR_VOICE_PROFILE: non_empty_string},
    extra=False,
    required=(ATTR_CALL_ID,),
)


def _call_and_body(body_schema: Validator) -> Callable[[Payload], tuple[str, Payload]]:
    """Return a validator of `call_id` plus a request body; it returns both, apart."""

    def validate(data: Payload) -> tuple[str, Payload]:
        if ATTR_CALL_ID not in data:
            raise probatio.Invalid("required key not provided", path=[ATTR_CALL_ID])
        try:
            CALL_ID(data[ATTR_CALL_ID])
        except probatio.Invalid as err:
            err.prepend([ATTR_CALL_ID])
            raise
        body = validate_request(body_schema, {k: v for k, v in data.items() if k != ATTR_CALL_ID})
        return data[ATTR_CALL_ID], body

    return validate


def _validate_accept(data: Payload) -> Payload:
    validate_request(_ACCEPT, data)
    if (ATTR_SESSION in data) == (ATTR_VOICE_PROFILE in data):
        raise probatio.Invalid(
            "give either `session` (the session to accept with) or `voice_profile`",
            path=[ATTR_SESSION],
        )
    return data


def find_profile(hass: HomeAssistant, value: str) -> tuple[OpenAIConfigEntry, VoiceProfile]:
    """Find a voice profile by its subentry id or its satellite's entity id."""
    reg = er.async_get(hass).async_get(value) if value.startswith(f"{SATELLITE_DOMAIN}.") else None
    subentry_id = reg.config_subentry_id if reg is not None and reg.platform == DOMAIN else value
    for entry in hass.config_entries.async_entries(DOMAIN):
        sub = entry.subentries.get(subentry_id or "")
        if sub is not None and sub.subentry_type == SUBENTRY_VOICE:
            if entry.state is not ConfigEntryState.LOADED:
                break
            return entry, VoiceProfile.from_subentry(sub)
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="voice_profile_not_found",
        translation_placeholders={"voice_profile": value},
    )


async def async_answer(
    hass: HomeAssistant, entry: OpenAIConfigEntry, profile: VoiceProfile, call_id: str
) -> RealtimeCall:
    """Accept a phone call with a voice profile and take it under HA's control."""
    reg = er.async_get(hass)
    entity_id = reg.async_get_entity_id(SATELLITE_DOMAIN, DOMAIN, profile.profile_id)
    satellite = reg.async_get(entity_id) if entity_id else None
    device_id = satellite.device_id if satellite is not None else None
    owner = CallOwner(
        entry_id=entry.entry_id,
        profile_id=profile.profile_id,
        entity_id=entity_id,
        user_id=profile.phone_user,
    )
    return await entry.runtime_data.manager.async_accept_sip(
        profile, owner, call_id, device_id=device_id
    )


def _done(call: ServiceCall, event: str, entry: OpenAIConfigEntry, result: Payload) -> Payload:
    fire_event(call, event, entry, result)
    return result


async def _accept(call: ServiceCall) -> ServiceResponse:
    data = validated(
        _validate_accept, {k: v for k, v in call.data.items() if k != ATTR_CONFIG_ENTRY_ID}
    )
    if ATTR_VOICE_PROFILE in data:
        owner_entry, profile = find_profile(call.hass, data[ATTR_VOICE_PROFILE])
        entry, _ = entry_of(call, owner_entry.entry_id)
        if entry is not owner_entry:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="voice_profile_of_other_account",
                translation_placeholders={"voice_profile": data[ATTR_VOICE_PROFILE]},
            )
        held = await async_answer(call.hass, entry, profile, data[ATTR_CALL_ID])
        return _done(
            call,
            EVENT_CALL_ACCEPTED,
            entry,
            {
                ATTR_CALL_ID: held.call_id,
                "accepted": True,
                ATTR_VOICE_PROFILE: profile.profile_id,
                "entity_id": held.owner.entity_id,
            },
        )
    entry, _ = entry_of(call)
    client = entry.runtime_data.client
    await async_call_api(
        call.hass, entry, client.accept_call(data[ATTR_CALL_ID], data[ATTR_SESSION])
    )
    return _done(
        call,
        EVENT_CALL_ACCEPTED,
        entry,
        {
            ATTR_CALL_ID: data[ATTR_CALL_ID],
            "accepted": True,
            ATTR_VOICE_PROFILE: None,
            "entity_id": None,
        },
    )


async def _reject(call: ServiceCall) -> ServiceResponse:
    entry, data = entry_of(call)
    call_id, body = validated(_call_and_body(REJECT_REQUEST), data)
    await async_call_api(call.hass, entry, entry.runtime_data.client.reject_call(call_id, body))
    status = body.get("status_code", DEFAULT_REJECT_STATUS)
    return _done(call, EVENT_CALL_REJECTED, entry, {ATTR_CALL_ID: call_id, "status_code": status})


async def _refer(call: ServiceCall) -> ServiceResponse:
    entry, data = entry_of(call)
    call_id, body = validated(_call_and_body(REFER_REQUEST), data)
    await async_call_api(call.hass, entry, entry.runtime_data.client.refer_call(call_id, body))
    return _done(
        call, EVENT_CALL_REFERRED, entry, {ATTR_CALL_ID: call_id, "target_uri": body["target_uri"]}
    )


async def _hangup(call: ServiceCall) -> ServiceResponse:
    entry, data = entry_of(call)
    call_id, _ = validated(_call_and_body(_NO_BODY), data)
    if (held := find_held_call(call.hass, call_id)) is not None:
        # HA controls this call: end it the way every other path does (sideband included).
        await held.async_hangup(EndReason.HANGUP_ACTION)
    else:
        await async_call_api(call.hass, entry, entry.runtime_data.client.hangup_call(call_id))
    return _done(call, EVENT_CALL_HUNG_UP, entry, {ATTR_CALL_ID: call_id, "hung_up": True})


_NO_BODY = obj({}, extra=False)

CALL_CONTROL_ACTIONS: dict[str, Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]] = {
    SERVICE_ACCEPT_CALL: _accept,
    SERVICE_REJECT_CALL: _reject,
    SERVICE_REFER_CALL: _refer,
    SERVICE_HANGUP_CALL: _hangup,
}
