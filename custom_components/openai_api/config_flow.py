"""Config flow: the OpenAI account (key and service host), reauth and reconfigure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_API_KEY, CONF_LLM_HASS_API, CONF_NAME, CONF_PROMPT
from homeassistant.core import callback
from homeassistant.helpers import llm
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TemplateSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .api import (
    OpenAIAuthenticationError,
    OpenAIBadRequestError,
    OpenAIConnectionError,
    OpenAIError,
    OpenAIRateLimitError,
    OpenAIServerError,
    OpenAITimeoutError,
    normalize_base_url,
)
from .choices import (
    EAGERNESS,
    NOISE_REDUCTION_TYPES,
    REALTIME_MODELS,
    TRANSCRIPTION_MODELS,
    TURN_DETECTION_TYPES,
    VOICES,
)
from .client import create_client
from .const import (
    CONF_ALLOW_EPHEMERAL,
    CONF_BASE_URL,
    CONF_EAGERNESS,
    CONF_MAX_DURATION,
    CONF_MAX_SESSIONS,
    CONF_MAX_SESSIONS_PER_USER,
    CONF_MODEL,
    CONF_NOISE_REDUCTION,
    CONF_ORGANIZATION,
    CONF_PROJECT,
    CONF_SPEED,
    CONF_TRANSCRIPTION_MODEL,
    CONF_TURN_DETECTION,
    CONF_VOICE,
    DEFAULT_BASE_URL,
    DEFAULT_PROFILE_NAME,
    DEFAULT_TITLE,
    DOMAIN,
    LOGGER,
    OFF,
    SUBENTRY_VOICE,
)
from .realtime.profile import DEFAULT_PROFILE, VoiceProfile
from .schema.validators import format_path

_PASSWORD = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
_TEXT = TextSelector()

_HOST_FIELDS: dict[Any, Any] = {
    probatio.Required(CONF_BASE_URL, default=DEFAULT_BASE_URL): _URL,
    probatio.Optional(CONF_ORGANIZATION): _TEXT,
    probatio.Optional(CONF_PROJECT): _TEXT,
}
STEP_USER_SCHEMA = probatio.Schema({probatio.Required(CONF_API_KEY): _PASSWORD, **_HOST_FIELDS})
STEP_REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_API_KEY): _PASSWORD})
STEP_RECONFIGURE_SCHEMA = probatio.Schema(_HOST_FIELDS)


def _select(options: tuple[str, ...], key: str | None, *, custom: bool = False) -> SelectSelector:
    """Return a dropdown whose labels are translated with `key`, or are the values themselves.

    API names (models, voices) show as they are written in YAML and in the API, so the field
    and the list never disagree once a value is chosen.
    """
    config = SelectSelectorConfig(
        options=list(options), custom_value=custom, mode=SelectSelectorMode.DROPDOWN
    )
    if key is not None:
        config["translation_key"] = key
    return SelectSelector(config)


def _number(low: float, high: float, step: float, unit: str | None = None) -> NumberSelector:
    config = NumberSelectorConfig(min=low, max=high, step=step, mode=NumberSelectorMode.BOX)
    if unit:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _profile_schema(hass: Any, *, with_name: bool) -> probatio.Schema:
    apis = [SelectOptionDict(value=api.id, label=api.name) for api in llm.async_get_apis(hass)]
    fields: dict[Any, Any] = {}
    if with_name:
        fields[probatio.Required(CONF_NAME)] = _TEXT
    fields.update(
        {
            probatio.Required(CONF_MODEL): _select(REALTIME_MODELS, None, custom=True),
            probatio.Required(CONF_VOICE): _select(VOICES, None, custom=True),
            probatio.Optional(CONF_PROMPT): TemplateSelector(),
            probatio.Optional(CONF_LLM_HASS_API): SelectSelector(
                SelectSelectorConfig(options=apis, multiple=True)
            ),
            probatio.Required(CONF_TURN_DETECTION): _select(
                TURN_DETECTION_TYPES, CONF_TURN_DETECTION
            ),
            probatio.Required(CONF_EAGERNESS): _select(EAGERNESS, CONF_EAGERNESS),
            probatio.Required(CONF_NOISE_REDUCTION): _select(
                (*NOISE_REDUCTION_TYPES, OFF), CONF_NOISE_REDUCTION
            ),
            probatio.Required(CONF_TRANSCRIPTION_MODEL): _select(
                (*TRANSCRIPTION_MODELS, OFF), None, custom=True
            ),
            probatio.Required(CONF_SPEED): _number(0.25, 1.5, 0.05),
            probatio.Required(CONF_MAX_SESSIONS): _number(1, 20, 1),
            probatio.Required(CONF_MAX_SESSIONS_PER_USER): _number(1, 20, 1),
            probatio.Required(CONF_MAX_DURATION): _number(1, 60, 1, "min"),
            probatio.Required(CONF_ALLOW_EPHEMERAL): BooleanSelector(),
        }
    )
    return probatio.Schema(fields)


def _free_name(taken: set[str]) -> str:
    """Return the default profile name, numbered past the names already in use."""
    name, number = DEFAULT_PROFILE_NAME, 1
    while name in taken:
        number += 1
        name = f"{DEFAULT_PROFILE_NAME} {number}"
    return name


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

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Voice profiles live under the account, one satellite each."""
        return {SUBENTRY_VOICE: VoiceProfileFlow}

    _status = "-"  # the HTTP status a `server_error` names

    async def _async_validate(self, data: dict[str, Any]) -> dict[str, str]:
        """Try the key against the host; return form errors (empty when it works)."""
        url = urlsplit(data[CONF_BASE_URL])
        if url.scheme not in ("http", "https") or not url.netloc:
            return {CONF_BASE_URL: "invalid_url"}
        try:
            await create_client(self.hass, data).verify()
        except OpenAIError as err:
            LOGGER.debug("Account check against %s failed: %r", url.netloc, err)
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
            description_placeholders=self._placeholders(),
        )


class VoiceProfileFlow(ConfigSubentryFlow):
    """Add, or change, a voice profile: one satellite with its own session settings."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a profile."""
        return await self._async_step("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a profile."""
        return await self._async_step("reconfigure", user_input)

    async def _async_step(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        new = step_id == "user"
        if user_input is not None:
            data = {k: v for k, v in user_input.items() if k != CONF_NAME}
            for key in (CONF_MAX_SESSIONS, CONF_MAX_SESSIONS_PER_USER, CONF_MAX_DURATION):
                data[key] = int(data[key])
            if not data.get(CONF_LLM_HASS_API):
                data.pop(CONF_LLM_HASS_API, None)
            try:
                # The same schema that guards the action guards what a profile will send.
                VoiceProfile("", "", data).session_config()
            except probatio.Invalid as err:
                field = format_path(list(err.path)).removeprefix("audio.output.")
                errors["base"] = "invalid_profile"
                placeholders["error"] = f"{field}: {err.msg}"
            else:
                if new:
                    return self.async_create_entry(title=user_input[CONF_NAME], data=data)
                return self.async_update_and_abort(
                    self._get_entry(), self._get_reconfigure_subentry(), data=data
                )
        if new:
            taken = {sub.title for sub in self._get_entry().subentries.values()}
            current = {**DEFAULT_PROFILE, CONF_NAME: _free_name(taken)}
        else:
            current = {**DEFAULT_PROFILE, **self._get_reconfigure_subentry().data}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                _profile_schema(self.hass, with_name=new), user_input or current
            ),
            errors=errors,
            description_placeholders=placeholders,
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
