"""The integration's actions: client secrets and sessions, and control of phone calls.

Every action takes the same shape: HA's own schema only picks the account, the request is
validated in the handler (so a bad field is a translated ServiceValidationError that names it,
and nothing is sent), one API call goes out with exactly the validated body, and the action
returns a response and fires an event. All are admin-only for users; automations and scripts
call them freely.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.helpers.service import async_register_admin_service

from .action_helpers import ACTION_SCHEMA, Payload, entry_of, fire_event, validated
from .call_control import CALL_CONTROL_ACTIONS
from .client_secret import RESPONSE_FIELDS, async_create_client_secret
from .const import (
    DOMAIN,
    EVENT_CLIENT_SECRET,
    SERVICE_CREATE_CLIENT_SECRET,
    SERVICE_CREATE_SESSION,
    SERVICE_CREATE_TRANSCRIPTION_SESSION,
    SERVICE_CREATE_TRANSLATION_SECRET,
)
from .errors import async_call_api
from .models import OpenAIConfigEntry
from .schema.contract import (
    LEGACY_SESSION_REQUEST,
    LEGACY_TRANSCRIPTION_SESSION_REQUEST,
    TRANSLATION_SECRET_REQUEST,
    validate_client_secret_request,
    validate_request,
)


@dataclass(frozen=True, slots=True)
class SecretAction:
    """An action that creates a session or client secret and hands its secret on."""

    name: str
    validate: Callable[[Payload], Payload]  # raises probatio.Invalid
    create: Callable[[HomeAssistant, OpenAIConfigEntry, Payload], Awaitable[Payload]]
    # What the event carries: `value`, `expires_at` and `session`, whatever the response.
    event_data: Callable[[Payload], Payload]

    async def handle(self, call: ServiceCall) -> ServiceResponse:
        """Validate, create, fire the event, return the response."""
        entry, data = entry_of(call)
        response = await self.create(call.hass, entry, validated(self.validate, data))
        fire_event(call, EVENT_CLIENT_SECRET, entry, self.event_data(response))
        return response


def _ga_fields(response: Payload) -> Payload:
    return {key: response[key] for key in RESPONSE_FIELDS}


def _legacy_fields(response: Payload) -> Payload:
    """Pick the secret out of a legacy response, where it sits in `client_secret`."""
    secret = response.get("client_secret")
    secret = secret if isinstance(secret, dict) else {}
    session = {k: v for k, v in response.items() if k != "client_secret"}
    return {
        "value": secret.get("value"),
        "expires_at": secret.get("expires_at"),
        "session": session,
    }


async def _create_ga(hass: HomeAssistant, entry: OpenAIConfigEntry, body: Payload) -> Payload:
    return await async_create_client_secret(hass, entry, entry.runtime_data.client, body)


async def _create_translation(
    hass: HomeAssistant, entry: OpenAIConfigEntry, body: Payload
) -> Payload:
    client = entry.runtime_data.client
    return _ga_fields(
        await async_call_api(hass, entry, client.create_translation_client_secret(body))
    )


async def _create_session(hass: HomeAssistant, entry: OpenAIConfigEntry, body: Payload) -> Payload:
    return await async_call_api(hass, entry, entry.runtime_data.client.create_session(body))


async def _create_transcription_session(
    hass: HomeAssistant, entry: OpenAIConfigEntry, body: Payload
) -> Payload:
    client = entry.runtime_data.client
    return await async_call_api(hass, entry, client.create_transcription_session(body))


SECRET_ACTIONS = (
    SecretAction(
        SERVICE_CREATE_CLIENT_SECRET, validate_client_secret_request, _create_ga, _ga_fields
    ),
    SecretAction(
        SERVICE_CREATE_TRANSLATION_SECRET,
        partial(validate_request, TRANSLATION_SECRET_REQUEST, session_inside=True),
        _create_translation,
        _ga_fields,
    ),
    SecretAction(
        SERVICE_CREATE_SESSION,
        partial(validate_request, LEGACY_SESSION_REQUEST),
        _create_session,
        _legacy_fields,
    ),
    SecretAction(
        SERVICE_CREATE_TRANSCRIPTION_SESSION,
        partial(validate_request, LEGACY_TRANSCRIPTION_SESSION_REQUEST),
        _create_transcription_session,
        _legacy_fields,
    ),
)


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (admin only: automations and scripts still call them)."""
    handlers = {action.name: action.handle for action in SECRET_ACTIONS} | CALL_CONTROL_ACTIONS
    for name, handler in handlers.items():
        async_register_admin_service(
            hass,
            DOMAIN,
            name,
            handler,
            schema=ACTION_SCHEMA,
            supports_response=SupportsResponse.OPTIONAL,
        )
