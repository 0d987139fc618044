"""What every action shares: HA's schema, the account it targets, validation errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, service
import probatio

from .const import ATTR_CONFIG_ENTRY_ID, DOMAIN
from .models import OpenAIConfigEntry
from .schema.validators import format_path

# HA's own schema only picks the account; the request is validated in the handler so that a
# bad field becomes a translated ServiceValidationError naming it (and misplaced fields such
# as a top-level `model` are told where they belong) instead of a bare voluptuous message.
ACTION_SCHEMA = probatio.Schema(
    {probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}, extra=probatio.ALLOW_EXTRA
)

type Payload = dict[str, Any]


def validated[T](validate: Callable[[Payload], T], payload: Payload) -> T:
    """Validate a request or raise a ServiceValidationError naming the field."""
    try:
        return validate(payload)
    except probatio.Invalid as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_request",
            translation_placeholders={
                "field": format_path(list(err.path)) or "request",
                "error": err.msg,
            },
        ) from err


def fire_event(call: ServiceCall, event: str, entry: OpenAIConfigEntry, data: Payload) -> None:
    """Fire an action's event: its data, the account, and the action's context."""
    call.hass.bus.async_fire(
        event, {**data, ATTR_CONFIG_ENTRY_ID: entry.entry_id}, context=call.context
    )


def entry_of(call: ServiceCall, entry_id: str | None = None) -> tuple[OpenAIConfigEntry, Payload]:
    """Return the loaded account an action targets, and the rest of the action's data.

    `config_entry_id` may be left out with one account (HA's own rule and errors).
    """
    data = dict(call.data)
    chosen = data.pop(ATTR_CONFIG_ENTRY_ID, None) or entry_id
    entry: OpenAIConfigEntry = service.async_get_config_entry(call.hass, DOMAIN, chosen)
    return entry, data
