"""Turn OpenAI client errors into translated Home Assistant errors."""

from __future__ import annotations

from collections.abc import Awaitable

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .api import (
    OpenAIAuthenticationError,
    OpenAIConnectionError,
    OpenAIError,
    OpenAIPermissionError,
    OpenAIRateLimitError,
    OpenAIResponseError,
    OpenAIServerError,
    OpenAITimeoutError,
)
from .const import DOMAIN

_KEYS: tuple[tuple[type[OpenAIError], str], ...] = (
    (OpenAIAuthenticationError, "auth_failed"),
    (OpenAIPermissionError, "permission_denied"),
    (OpenAIRateLimitError, "rate_limited"),
    (OpenAIServerError, "server_error"),
    (OpenAITimeoutError, "timeout"),
    (OpenAIConnectionError, "cannot_connect"),
    (OpenAIResponseError, "invalid_response"),
)


def to_home_assistant_error[E: HomeAssistantError](
    err: OpenAIError,
    error_class: type[E] = HomeAssistantError,  # type: ignore[assignment]
) -> E:
    """Return a translated error that names the cause of an OpenAI failure."""
    key = next((k for cls, k in _KEYS if isinstance(err, cls)), "bad_request")
    retry_after = getattr(err, "retry_after", None)
    return error_class(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={
            "message": err.message,
            "status": str(err.status or "-"),
            "param": err.param or "-",
            "code": err.code or "-",
            "request_id": err.request_id or "-",
            "retry_after": "-" if retry_after is None else f"{retry_after:g}",
        },
    )


def api_failure(hass: HomeAssistant, entry: ConfigEntry, err: OpenAIError) -> HomeAssistantError:
    """Start reauth if the key was rejected; return the translated error."""
    if isinstance(err, OpenAIAuthenticationError):
        entry.async_start_reauth(hass)
    return to_home_assistant_error(err)


async def async_call_api[T](hass: HomeAssistant, entry: ConfigEntry, call: Awaitable[T]) -> T:
    """Await an API call; map its failure, starting reauth on a rejected key."""
    try:
        return await call
    except OpenAIError as err:
        raise api_failure(hass, entry, err) from err
