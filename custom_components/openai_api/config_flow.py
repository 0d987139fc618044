"""Config flow: the OpenAI account (key and service host), reauth and reconfigure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_API_KEY
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from . import create_client
from .api import (
    OpenAIAuthenticationError,
    OpenAIBadRequestError,
    OpenAIConnectionError,
    OpenAIError,
    OpenAITimeoutError,
    normalize_base_url,
)
from .const import (
    CONF_BASE_URL,
    CONF_ORGANIZATION,
    CONF_PROJECT,
    DEFAULT_BASE_URL,
    DEFAULT_TITLE,
    DOMAIN,
    LOGGER,
)

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_TEXT = TextSelector()

_HOST_FIELDS: dict[Any, Any] = {
    vol.Required(CONF_BASE_URL, default=DEFAULT_BASE_URL): _URL,
    vol.Optional(CONF_ORGANIZATION): _TEXT,
    vol.Optional(CONF_PROJECT): _TEXT,
}
STEP_USER_SCHEMA = vol.Schema({vol.Required(CONF_API_KEY): _PASSWORD, **_HOST_FIELDS})
STEP_REAUTH_SCHEMA = vol.Schema({vol.Required(CONF_API_KEY): _PASSWORD})
STEP_RECONFIGURE_SCHEMA = vol.Schema(_HOST_FIELDS)


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Normalize the host and drop blank optional fields."""
    data = {k: v.strip() if isinstance(v, str) else v for k, v in user_input.items()}
    data[CONF_BASE_URL] = normalize_base_url(data[CONF_BASE_URL])
    return {k: v for k, v in data.items() if v not in ("", None)}


def _title(base_url: str) -> str:
    if base_url == DEFAULT_BASE_URL:
        return DEFAULT_TITLE
    return f"{DEFAULT_TITLE} ({urlsplit(base_url).netloc})"


class OpenAIConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up an OpenAI account."""

    VERSION = 1
    MINOR_VERSION = 1

    async def _async_validate(self, data: dict[str, Any]) -> dict[str, str]:
        """Try the key against the host; return form errors (empty when it works)."""
        url = urlsplit(data[CONF_BASE_URL])
        if url.scheme not in ("http", "https") or not url.netloc:
            return {CONF_BASE_URL: "invalid_url"}
        try:
            await create_client(self.hass, data).verify()
        except OpenAIAuthenticationError:
            return {"base": "invalid_auth"}
        except OpenAIBadRequestError as err:
            if err.status == 404:
                return {CONF_BASE_URL: "not_found"}
            return {"base": "unknown"}
        except OpenAIConnectionError, OpenAITimeoutError:
            return {"base": "cannot_connect"}
        except OpenAIError:
            return {"base": "unknown"}
        except Exception:
            LOGGER.exception("Unexpected error while validating the OpenAI account")
            return {"base": "unknown"}
        return {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the key and the service host."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            self._async_abort_entries_match(
                {CONF_API_KEY: data[CONF_API_KEY], CONF_BASE_URL: data[CONF_BASE_URL]}
            )
            if not (errors := await self._async_validate(data)):
                return self.async_create_entry(title=_title(data[CONF_BASE_URL]), data=data)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(STEP_USER_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauth when OpenAI rejects the stored key."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new key for the same host."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_API_KEY: user_input[CONF_API_KEY].strip()}
            if not (errors := await self._async_validate(data)):
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=STEP_REAUTH_SCHEMA,
            errors=errors,
            description_placeholders={"title": entry.title, "host": entry.data[CONF_BASE_URL]},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the service host, organization or project; the key stays."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean({CONF_API_KEY: entry.data[CONF_API_KEY], **user_input})
            for other in self._async_current_entries(include_ignore=False):
                if other.entry_id != entry.entry_id and (
                    other.data.get(CONF_API_KEY),
                    other.data.get(CONF_BASE_URL),
                ) == (data[CONF_API_KEY], data[CONF_BASE_URL]):
                    return self.async_abort(reason="already_configured")
            if not (errors := await self._async_validate(data)):
                return self.async_update_reload_and_abort(
                    entry, data=data, title=_title(data[CONF_BASE_URL])
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                STEP_RECONFIGURE_SCHEMA, user_input or dict(entry.data)
            ),
            errors=errors,
        )
