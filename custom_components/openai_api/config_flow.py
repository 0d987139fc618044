"""Config flow: the OpenAI account, reauth, reconfigure, and the account's options.

The account is the key, the service host and where the key goes; the options hold the webhook
for incoming phone calls. Voice profiles, the account's subentries, have their flow in
`profile_flow.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any
from urllib.parse import urlsplit

from homeassistant.components import cloud, webhook
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .api import (
    KeyPlacement,
    OpenAIAuthenticationError,
    OpenAIBadRequestError,
    OpenAIConnectionError,
    OpenAIError,
    OpenAIRateLimitError,
    OpenAIServerError,
    OpenAITimeoutError,
    normalize_base_url,
)
from .client import create_client
from .const import (
    CONF_BASE_URL,
    CONF_KEY_NAME,
    CONF_KEY_PLACEMENT,
    CONF_ORGANIZATION,
    CONF_PROJECT,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DEFAULT_BASE_URL,
    DEFAULT_PROFILE_NAME,
    DEFAULT_TITLE,
    DOMAIN,
    LOGGER,
    SUBENTRY_VOICE,
)
from .profile_flow import VoiceProfileFlow
from .realtime.profile import DEFAULT_PROFILE

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_TEXT = TextSelector()
# A header name (RFC 9110 token) or a query parameter name.
_KEY_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")

_HOST_FIELDS: dict[Any, Any] = {
    probatio.Required(CONF_BASE_URL, default=DEFAULT_BASE_URL): _URL,
    probatio.Optional(CONF_ORGANIZATION): _TEXT,
    probatio.Optional(CONF_PROJECT): _TEXT,
    probatio.Required(CONF_KEY_PLACEMENT, default=KeyPlacement.AUTO.value): SelectSelector(
        SelectSelectorConfig(
            options=[p.value for p in KeyPlacement],
            translation_key=CONF_KEY_PLACEMENT,
            mode=SelectSelectorMode.DROPDOWN,
        )
    ),
    probatio.Optional(CONF_KEY_NAME): _TEXT,
}
STEP_USER_SCHEMA = probatio.Schema({probatio.Required(CONF_API_KEY): _PASSWORD, **_HOST_FIELDS})
STEP_REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_API_KEY): _PASSWORD})
STEP_RECONFIGURE_SCHEMA = probatio.Schema(_HOST_FIELDS)
STEP_PHONE_SCHEMA = probatio.Schema({probatio.Optional(CONF_WEBHOOK_SECRET): _PASSWORD})


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Normalize the host and drop blank optional fields."""
    data = {k: v.strip() if isinstance(v, str) else v for k, v in user_input.items()}
    data[CONF_BASE_URL] = normalize_base_url(data[CONF_BASE_URL])
    return {k: v for k, v in data.items() if v not in ("", None)}


def _title(base_url: str) -> str:
    if base_url == DEFAULT_BASE_URL:
        return DEFAULT_TITLE
    return f"{DEFAULT_TITLE} ({urlsplit(base_url).netloc})"


def _input_errors(data: dict[str, Any]) -> dict[str, str]:
    """Errors a form shows without asking the host anything."""
    url = urlsplit(data[CONF_BASE_URL])
    if url.scheme not in ("http", "https") or not url.netloc:
        return {CONF_BASE_URL: "invalid_url"}
    placement = data.get(CONF_KEY_PLACEMENT, KeyPlacement.AUTO)
    name = data.get(CONF_KEY_NAME)
    if placement in (KeyPlacement.HEADER, KeyPlacement.QUERY) and not name:
        return {CONF_KEY_NAME: "key_name_required"}
    if name is not None and not _KEY_NAME.fullmatch(name):
        return {CONF_KEY_NAME: "invalid_key_name"}
    return {}


class OpenAIConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up an OpenAI account."""

    VERSION = 1
    MINOR_VERSION = 1

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Voice profiles live under the account, one satellite each."""
        return {SUBENTRY_VOICE: VoiceProfileFlow}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> PhoneCallsOptionsFlow:
        """Return the account's options flow: the webhook for incoming phone calls."""
        return PhoneCallsOptionsFlow()

    _status = "-"  # the HTTP status a `server_error` names

    async def _async_validate(self, data: dict[str, Any]) -> dict[str, str]:
        """Try the key against the host; return form errors (empty when it works)."""
        if errors := _input_errors(data):
            return errors
        try:
            await create_client(self.hass, data).verify()
        except OpenAIError as err:
            LOGGER.debug(
                "Account check against %s failed: %r", urlsplit(data[CONF_BASE_URL]).netloc, err
            )
            self._status = str(err.status or "-")
            return _form_error(err)
        except Exception:
            LOGGER.exception("Unexpected error while validating the OpenAI account")
            return {"base": "unknown"}
        return {}

    def _placeholders(self, **extra: str) -> dict[str, str]:
        return {"status": self._status, **extra}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the key and the service host."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            self._async_abort_entries_match(
                {CONF_API_KEY: data[CONF_API_KEY], CONF_BASE_URL: data[CONF_BASE_URL]}
            )
            if not (errors := await self._async_validate(data)):
                return self.async_create_entry(
                    title=_title(data[CONF_BASE_URL]),
                    data=data,
                    subentries=[
                        {
                            "subentry_type": SUBENTRY_VOICE,
                            "data": dict(DEFAULT_PROFILE),
                            "title": DEFAULT_PROFILE_NAME,
                            "unique_id": None,
                        }
                    ],
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(STEP_USER_SCHEMA, user_input),
            errors=errors,
            description_placeholders=self._placeholders(),
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
            description_placeholders=self._placeholders(
                title=entry.title, host=entry.data[CONF_BASE_URL]
            ),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the service host, organization, project or where the key goes; the key stays."""
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
            description_placeholders=self._placeholders(),
        )


async def async_webhook_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return the URL OpenAI posts incoming calls to: a cloudhook with HA Cloud, else external."""
    if "cloud" in hass.config.components and cloud.async_active_subscription(hass):
        return await cloud.async_get_or_create_cloudhook(hass, webhook_id)
    try:
        return webhook.async_generate_url(hass, webhook_id, allow_internal=False)
    except NoURLAvailableError:
        return None


class PhoneCallsOptionsFlow(OptionsFlow):
    """Incoming phone calls: the webhook URL to give OpenAI, and its signing secret."""

    _webhook_id: str | None = None  # the URL shown is the URL saved

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the webhook URL; take the signing secret (empty turns incoming calls off)."""
        options = dict(self.config_entry.options)
        if self._webhook_id is None:
            self._webhook_id = options.get(CONF_WEBHOOK_ID) or webhook.async_generate_id()
        webhook_id = self._webhook_id
        errors: dict[str, str] = {}
        if user_input is not None:
            secret = str(user_input.get(CONF_WEBHOOK_SECRET) or "").strip()
            if not secret:
                options.pop(CONF_WEBHOOK_SECRET, None)
                return self.async_create_entry(data=options)
            if not re.fullmatch(r"whsec_[A-Za-z0-9+/=]{16,}", secret):
                errors[CONF_WEBHOOK_SECRET] = "invalid_webhook_secret"
            else:
                options |= {CONF_WEBHOOK_ID: webhook_id, CONF_WEBHOOK_SECRET: secret}
                return self.async_create_entry(data=options)
        url = await async_webhook_url(self.hass, webhook_id)
        return self.async_show_form(
            step_id="init",
            data_schema=STEP_PHONE_SCHEMA,
            errors=errors,
            description_placeholders={
                "webhook_url": url or "-",
                "status": "on" if options.get(CONF_WEBHOOK_SECRET) else "off",
            },
        )


def _form_error(err: OpenAIError) -> dict[str, str]:
    """Return the form error that names what went wrong with the account check."""
    if isinstance(err, OpenAIAuthenticationError):
        return {"base": "invalid_auth"}
    if isinstance(err, OpenAIBadRequestError) and err.status == 404:
        return {CONF_BASE_URL: "not_found"}
    if isinstance(err, OpenAIRateLimitError):
        return {"base": "rate_limited"}
    if isinstance(err, OpenAIServerError):
        return {"base": "server_error"}
    if isinstance(err, OpenAIConnectionError | OpenAITimeoutError):
        return {"base": "cannot_connect"}
    return {"base": "unknown"}
