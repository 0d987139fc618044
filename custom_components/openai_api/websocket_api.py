"""Websocket commands the voice card uses: connect, ephemeral, attach, hang-up.

Any logged-in user who may read an enabled satellite entity may start a call; the session
itself (model, instructions, tools) always comes from the voice profile an admin configured.
A call belongs to the user who started it: only they (or an admin) may hang it up, and only
they may attach to it. Closing the websocket connection ends the calls it started, and a
request whose connection closes mid-way hangs up the call it was creating.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from homeassistant.auth.permissions.const import POLICY_READ
from homeassistant.components.assist_satellite import DOMAIN as SATELLITE_DOMAIN
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.const import ERR_HOME_ASSISTANT_ERROR
from homeassistant.components.websocket_api.decorators import async_response, websocket_command
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import config_validation as cv, entity_registry as er
import probatio

from .const import DOMAIN, LOGGER
from .models import OpenAIConfigEntry, find_held_call
from .realtime.manager import CallManager, CallRefusedError, CallRequest
from .realtime.models import CallOwner, EndReason
from .realtime.profile import VoiceProfile
from .schema.sdp import sdp_offer

CALL_ID = probatio.All(str, probatio.Match(r"^rtc_[A-Za-z0-9_-]{1,128}$"))


@callback
def async_register_websocket_api(hass: HomeAssistant) -> None:
    """Register the commands (once per HA start)."""
    async_register_command(hass, ws_connect)
    async_register_command(hass, ws_ephemeral)
    async_register_command(hass, ws_attach)
    async_register_command(hass, ws_hangup)


@dataclass(frozen=True, slots=True)
class _Target:
    """The loaded entry, voice profile and device behind a satellite entity."""

    manager: CallManager
    profile: VoiceProfile
    device_id: str | None
    owner: CallOwner
    calls_url: str


def _resolve(hass: HomeAssistant, connection: ActiveConnection, entity_id: str) -> _Target:
    """Check that the user may use the satellite, and find what is behind it."""
    if not connection.user.permissions.check_entity(entity_id, POLICY_READ):
        raise Unauthorized(entity_id=entity_id)
    reg = er.async_get(hass).async_get(entity_id)
    if reg is None or reg.platform != DOMAIN or reg.domain != SATELLITE_DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_a_voice_satellite",
            translation_placeholders={"entity_id": entity_id},
        )
    if reg.disabled:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="satellite_disabled",
            translation_placeholders={"entity_id": entity_id},
        )
    entry: OpenAIConfigEntry | None = (
        hass.config_entries.async_get_entry(reg.config_entry_id) if reg.config_entry_id else None
    )
    subentry = (
        entry.subentries.get(reg.config_subentry_id)
        if entry is not None and reg.config_subentry_id
        else None
    )
    if entry is None or subentry is None or entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title if entry else entity_id},
        )
    owner = CallOwner(
        entry_id=entry.entry_id,
        profile_id=subentry.subentry_id,
        entity_id=entity_id,
        user_id=connection.user.id,
    )
    return _Target(
        manager=entry.runtime_data.manager,
        profile=VoiceProfile.from_subentry(subentry),
        device_id=reg.device_id,
        owner=owner,
        calls_url=entry.runtime_data.client.url("/realtime/calls"),
    )


type _Handler = Callable[[HomeAssistant, ActiveConnection, dict[str, Any]], Awaitable[None]]


type _Refusal = ServiceValidationError | CallRefusedError


def _answer_refusal(connection: ActiveConnection, msg: dict[str, Any], err: _Refusal) -> None:
    """Answer an expected refusal (a limit, a bad offer) without an error in HA's log."""
    LOGGER.debug("Refused %s from %s: %s", msg["type"], connection.user.name, err)
    connection.send_error(
        msg["id"],
        ERR_HOME_ASSISTANT_ERROR,
        str(err),
        translation_key=err.translation_key,
        translation_domain=err.translation_domain,
        translation_placeholders=err.translation_placeholders,
    )


def _refusals_answered(func: _Handler) -> _Handler:
    """Answer the expected refusals of a handler; other errors go to HA's handling (and log)."""

    @wraps(func)
    async def handler(
        hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
    ) -> None:
        try:
            await func(hass, connection, msg)
        except (ServiceValidationError, CallRefusedError) as err:
            _answer_refusal(connection, msg, err)

    return handler


def _track(connection: ActiveConnection, msg_id: int) -> CallRequest:
    """Return a request that is abandoned when the connection closes (call before any await)."""
    request = CallRequest()
    connection.subscriptions[(DOMAIN, "request", msg_id)] = request.abandon
    return request


@callback
def _hang_up_on_close(
    connection: ActiveConnection, msg_id: int, request: CallRequest, call_id: str
) -> None:
    """Hand the call to the connection: closing it (or hanging up) ends the call from now on."""
    connection.subscriptions.pop((DOMAIN, "request", msg_id), None)
    if request.abandoned:
        return  # the connection closed before the handler resumed: the call is being hung up
    connection.subscriptions[(DOMAIN, call_id)] = request.abandon


@websocket_command(
    {
        probatio.Required("type"): "openai_api/realtime/connect",
        probatio.Required("entity_id"): cv.entity_id,
        probatio.Required("sdp"): str,
    }
)
@async_response
@_refusals_answered
async def ws_connect(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Relay a browser's SDP offer to OpenAI with HA's key; answer with OpenAI's SDP."""
    try:
        offer = sdp_offer(msg["sdp"])
    except probatio.Invalid as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_sdp",
            translation_placeholders={"error": err.msg},
        ) from err
    target = _resolve(hass, connection, msg["entity_id"])
    request = _track(connection, msg["id"])
    try:
        call, answer = await target.manager.async_connect(
            request, target.profile, target.owner, sdp_offer=offer, device_id=target.device_id
        )
    except BaseException:
        connection.subscriptions.pop((DOMAIN, "request", msg["id"]), None)
        raise
    _hang_up_on_close(connection, msg["id"], request, call.call_id)
    connection.send_result(msg["id"], {"call_id": call.call_id, "sdp": answer})


@websocket_command(
    {
        probatio.Required("type"): "openai_api/realtime/ephemeral",
        probatio.Required("entity_id"): cv.entity_id,
    }
)
@async_response
@_refusals_answered
async def ws_ephemeral(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Mint a short-lived client secret from the profile for a client that connects directly."""
    target = _resolve(hass, connection, msg["entity_id"])
    request = _track(connection, msg["id"])
    try:
        secret = await target.manager.async_ephemeral(
            request, target.profile, target.owner, device_id=target.device_id
        )
    finally:
        connection.subscriptions.pop((DOMAIN, "request", msg["id"]), None)
    connection.send_result(
        msg["id"],
        {
            "value": secret["value"],
            "expires_at": secret["expires_at"],
            "calls_url": target.calls_url,
        },
    )


@websocket_command(
    {
        probatio.Required("type"): "openai_api/realtime/attach",
        probatio.Required("entity_id"): cv.entity_id,
        probatio.Required("call_id"): CALL_ID,
    }
)
@callback
def ws_attach(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Attach HA's sideband to a call the user created with an ephemeral secret."""
    try:
        _attach(hass, connection, msg)
    except ServiceValidationError as err:
        _answer_refusal(connection, msg, err)


def _attach(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    target = _resolve(hass, connection, msg["entity_id"])
    call_id = msg["call_id"]
    existing = find_held_call(hass, call_id)
    if existing is not None and existing.owner.entry_id != target.owner.entry_id:
        raise Unauthorized()  # another account's call, whoever owns it
    request = CallRequest()
    call = target.manager.async_attach(request, target.owner, call_id)
    connection.subscriptions[(DOMAIN, call_id)] = request.abandon
    connection.send_result(msg["id"], {"call_id": call.call_id})


@websocket_command(
    {
        probatio.Required("type"): "openai_api/realtime/hangup",
        probatio.Required("call_id"): str,
    }
)
@async_response
async def ws_hangup(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Hang up a call the user started (admins may hang up any)."""
    call_id = msg["call_id"]
    if (call := find_held_call(hass, call_id)) is None:
        connection.send_result(msg["id"], {"call_id": call_id, "ended": False})
        return
    if call.owner.user_id != connection.user.id and not connection.user.is_admin:
        raise Unauthorized()
    connection.subscriptions.pop((DOMAIN, call_id), None)
    await call.async_hangup(EndReason.HANGUP_COMMAND)
    LOGGER.debug("Call %s hung up by its user", call_id)
    connection.send_result(msg["id"], {"call_id": call_id, "ended": True})
