"""The integration's actions."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_register_admin_service
import probatio as vol

from .const import ATTR_CONFIG_ENTRY_ID, DOMAIN, EVENT_CLIENT_SECRET, SERVICE_CREATE_CLIENT_SECRET
from .errors import async_call_api
from .models import OpenAIConfigEntry
from .schema import format_path, validate_client_secret_request

# HA's own schema only picks the account; the payload is validated in the handler so that a
# bad field becomes a translated ServiceValidationError naming it (and misplaced fields such
# as a top-level `model` are told where they belong) instead of a bare voluptuous message.
ACTION_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}, extra=vol.ALLOW_EXTRA)


def resolve_entry(hass: HomeAssistant, entry_id: str | None) -> OpenAIConfigEntry:
    """Return the loaded entry an action targets.

    `config_entry_id` may be left out while exactly one entry is loaded.
    """
    if entry_id is not None:
        entry: OpenAIConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_found",
                translation_placeholders={"entry_id": entry_id},
            )
        if entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="entry_not_loaded",
                translation_placeholders={"title": entry.title},
            )
        return entry
    loaded = hass.config_entries.async_loaded_entries(DOMAIN)
    if not loaded:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_loaded_entry")
    if len(loaded) > 1:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_required",
            translation_placeholders={"count": str(len(loaded))},
        )
    return loaded[0]


def validate_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate a client secret request or raise a ServiceValidationError naming the field."""
    try:
        return validate_client_secret_request(payload)
    except vol.Invalid as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_request",
            translation_placeholders={
                "field": format_path(list(err.path)) or "request",
                "error": err.msg,
            },
        ) from err


async def async_create_client_secret(
    hass: HomeAssistant, entry: OpenAIConfigEntry, payload: dict[str, Any]
) -> dict[str, Any]:
    """Mint a client secret; return `value`, `expires_at` and `session`."""
    result = await async_call_api(
        hass, entry, entry.runtime_data.client.create_client_secret(payload)
    )
    return {key: result[key] for key in ("value", "expires_at", "session")}


async def _handle_create_client_secret(call: ServiceCall) -> ServiceResponse:
    """Handle `openai_api.create_realtime_client_secret`."""
    hass = call.hass
    data = dict(call.data)
    entry = resolve_entry(hass, data.pop(ATTR_CONFIG_ENTRY_ID, None))
    payload = validate_payload(data)
    response = await async_create_client_secret(hass, entry, payload)
    hass.bus.async_fire(
        EVENT_CLIENT_SECRET,
        {**response, ATTR_CONFIG_ENTRY_ID: entry.entry_id},
        context=call.context,
    )
    return response


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (admin only: automations and scripts still call them)."""
    async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_CREATE_CLIENT_SECRET,
        _handle_create_client_secret,
        schema=ACTION_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
