"""The integration's actions."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, service
from homeassistant.helpers.service import async_register_admin_service
import probatio

from .client_secret import async_create_client_secret
from .const import ATTR_CONFIG_ENTRY_ID, DOMAIN, EVENT_CLIENT_SECRET, SERVICE_CREATE_CLIENT_SECRET
from .models import OpenAIConfigEntry
from .schema.contract import validate_client_secret_request
from .schema.validators import format_path

# HA's own schema only picks the account; the payload is validated in the handler so that a
# bad field becomes a translated ServiceValidationError naming it (and misplaced fields such
# as a top-level `model` are told where they belong) instead of a bare voluptuous message.
ACTION_SCHEMA = probatio.Schema(
    {probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}, extra=probatio.ALLOW_EXTRA
)


def validate_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate a client secret request or raise a ServiceValidationError naming the field."""
    try:
        return validate_client_secret_request(payload)
    except probatio.Invalid as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_request",
            translation_placeholders={
                "field": format_path(list(err.path)) or "request",
                "error": err.msg,
            },
        ) from err


async def _handle_create_client_secret(call: ServiceCall) -> ServiceResponse:
    """Handle `openai_api.create_realtime_client_secret`."""
    hass = call.hass
    data = dict(call.data)
    entry: OpenAIConfigEntry = service.async_get_config_entry(
        hass, DOMAIN, data.pop(ATTR_CONFIG_ENTRY_ID, None)
    )
    payload = validate_payload(data)
    response = await async_create_client_secret(hass, entry, entry.runtime_data.client, payload)
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
