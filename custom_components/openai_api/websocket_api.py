"""Websocket commands the voice card uses: connect, ephemeral, attach, hang-up.

Any logged-in user who may read the satellite entity may start a call; the session itself
(model, instructions, tools) always comes from the voice profile an admin configured.
"""

from __future__ import annotations

from typing import Any

from homeassistant.auth.permissions.const import POLICY_READ
from homeassistant.components.assist_satellite import DOMAIN as SATELLITE_DOMAIN
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import async_response, websocket_command
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.helpers import config_validation as cv, entity_registry as er
import probatio as vol

from .const import DOMAIN, MAX_SDP_BYTES
from .models import OpenAIConfigEntry
from .realtime.manager import RealtimeManager
from .schema import sdp_offer

_SDP = sdp_offer(MAX_SDP_BYTES)


@callback
def async_register_websocket_api(hass: HomeAssistant) -> None:
    """Register the commands (once per HA start)."""
    async_register_command(hass, ws_connect)
    async_register_command(hass, ws_ephemeral)
    async_register_command(hass, ws_attach)
    async_register_command(hass, ws_hangup)


def _resolve(
    hass: HomeAssistant, connection: ActiveConnection, entity_id: str
) -> tuple[OpenAIConfigEntry, ConfigSubentry, str | None]:
    """Return the loaded entry, voice profile and device behind a satellite entity."""
    if not connection.user.permissions.check_entity(entity_id, POLICY_READ):
        raise Unauthorized(entity_id=entity_id)
    reg = er.async_get(hass).async_get(entity_id)
    if (
        reg is None
        or reg.platform != DOMAIN
        or reg.domain != SATELLITE_DOMAIN
        or reg.config_entry_id is None
        or reg.config_subentry_id is None
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_a_voice_satellite",
            translation_placeholders={"entity_id": entity_id},
        )
    entry: OpenAIConfigEntry | None = hass.config_entries.async_get_entry(reg.config_entry_id)
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title if entry else entity_id},
        )
    profile = entry.subentries[reg.config_subentry_id]
    return entry, profile, reg.device_id


def _manager(entry: OpenAIConfigEntry) -> RealtimeManager:
    return entry.runtime_data.manager


def _hang_up_on_close(
    hass: HomeAssistant,
    connection: ActiveConnection,
    manager: RealtimeManager,
    call_id: str,
) -> None:
    """End the call when this websocket connection closes."""
    connection.subscriptions[(DOMAIN, call_id)] = lambda: hass.async_create_task(
        manager.async_hangup(call_id, "connection_closed"), eager_start=True
    )


@websocket_command(
    {
        vol.Required("type"): "openai_api/realtime/connect",
        vol.Required("entity_id"): cv.entity_id,
        vol.Required("sdp"): str,
    }
)
@async_response
async def ws_connect(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Relay a browser's SDP offer to OpenAI with HA's key; answer with OpenAI's SDP."""
    try:
        offer = _SDP(msg["sdp"])
    except vol.Invalid as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_sdp",
            translation_placeholders={"error": err.msg},
        ) from err
    entry, profile, device_id = _resolve(hass, connection, msg["entity_id"])
    manager = _manager(entry)
    call, answer = await manager.async_connect(
        profile,
        sdp_offer=offer,
        entity_id=msg["entity_id"],
        device_id=device_id,
        user_id=connection.user.id,
    )
    assert call.call_id is not None
    _hang_up_on_close(hass, connection, manager, call.call_id)
    connection.send_result(msg["id"], {"call_id": call.call_id, "sdp": answer})


@websocket_command(
    {
        vol.Required("type"): "openai_api/realtime/ephemeral",
        vol.Required("entity_id"): cv.entity_id,
    }
)
@async_response
async def ws_ephemeral(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Mint a 60-second client secret from the profile for a client that connects directly."""
    entry, profile, device_id = _resolve(hass, connection, msg["entity_id"])
    secret = await _manager(entry).async_ephemeral(
        profile, device_id=device_id, user_id=connection.user.id
    )
    connection.send_result(
        msg["id"],
        {
            "value": secret["value"],
            "expires_at": secret["expires_at"],
            "calls_url": entry.runtime_data.client.url("/realtime/calls"),
        },
    )


@websocket_command(
    {
        vol.Required("type"): "openai_api/realtime/attach",
        vol.Required("entity_id"): cv.entity_id,
        vol.Required("call_id"): vol.All(str, vol.Match(r"^rtc_[A-Za-z0-9_-]{1,128}$")),
    }
)
@async_response
async def ws_attach(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Attach HA's sideband to a call the client created with an ephemeral secret."""
    entry, profile, device_id = _resolve(hass, connection, msg["entity_id"])
    manager = _manager(entry)
    call = await manager.async_attach(
        profile,
        call_id=msg["call_id"],
        entity_id=msg["entity_id"],
        device_id=device_id,
        user_id=connection.user.id,
    )
    _hang_up_on_close(hass, connection, manager, msg["call_id"])
    connection.send_result(msg["id"], {"call_id": call.call_id})


@websocket_command(
    {
        vol.Required("type"): "openai_api/realtime/hangup",
        vol.Required("call_id"): str,
    }
)
@async_response
async def ws_hangup(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Hang up a call the user started (admins may hang up any)."""
    call_id = msg["call_id"]
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        manager = _manager(entry)
        if (call := manager.get(call_id)) is None:
            continue
        if call.info.user_id != connection.user.id and not connection.user.is_admin:
            raise Unauthorized()
        connection.subscriptions.pop((DOMAIN, call_id), None)
        await call.async_hangup("hangup_command")
        connection.send_result(msg["id"], {"call_id": call_id, "ended": True})
        return
    connection.send_result(msg["id"], {"call_id": call_id, "ended": False})
