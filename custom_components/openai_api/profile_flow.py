"""The voice profile flow: add or change a profile (a config subentry, one satellite each)."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_LLM_HASS_API, CONF_NAME, CONF_PROMPT
from homeassistant.core import HomeAssistant
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

from .choices import (
    EAGERNESS,
    NOISE_REDUCTION_TYPES,
    REALTIME_MODELS,
    TRANSCRIPTION_MODELS,
    TTS_MODELS,
    TURN_DETECTION_TYPES,
    VOICES,
)
from .const import (
    CONF_ALLOW_EPHEMERAL,
    CONF_ALLOWED_CALLERS,
    CONF_ANSWER_CALLS,
    CONF_ASSIST_PIPELINE,
    CONF_EAGERNESS,
    CONF_MAX_DURATION,
    CONF_MAX_SESSIONS,
    CONF_MAX_SESSIONS_PER_USER,
    CONF_MODEL,
    CONF_NOISE_REDUCTION,
    CONF_PHONE_USER,
    CONF_SPEED,
    CONF_TRANSCRIPTION_MODEL,
    CONF_TTS_MODEL,
    CONF_TURN_DETECTION,
    CONF_VOICE,
    DEFAULT_PROFILE_NAME,
    OFF,
)
from .realtime.profile import DEFAULT_PROFILE, VoiceProfile
from .schema.validators import format_path

_TEXT = TextSelector()


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


def _profile_schema(
    hass: HomeAssistant, users: list[SelectOptionDict], *, with_name: bool
) -> probatio.Schema:
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
            probatio.Required(CONF_ANSWER_CALLS): BooleanSelector(),
            probatio.Optional(CONF_ALLOWED_CALLERS): TextSelector(
                TextSelectorConfig(multiple=True, type=TextSelectorType.TEL)
            ),
            probatio.Optional(CONF_PHONE_USER): SelectSelector(
                SelectSelectorConfig(options=users, mode=SelectSelectorMode.DROPDOWN)
            ),
            probatio.Required(CONF_TTS_MODEL): _select(TTS_MODELS, None, custom=True),
            probatio.Required(CONF_ASSIST_PIPELINE): BooleanSelector(),
        }
    )
    return probatio.Schema(fields)


async def _user_options(hass: HomeAssistant) -> list[SelectOptionDict]:
    """List the HA users a phone call's tools may act as (people, not system users)."""
    return [
        SelectOptionDict(value=user.id, label=user.name or user.id)
        for user in await hass.auth.async_get_users()
        if user.is_active and not user.system_generated
    ]


def _free_name(taken: set[str]) -> str:
    """Return the default profile name, numbered past the names already in use."""
    name, number = DEFAULT_PROFILE_NAME, 1
    while name in taken:
        number += 1
        name = f"{DEFAULT_PROFILE_NAME} {number}"
    return name


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
            for key in (CONF_LLM_HASS_API, CONF_PHONE_USER, CONF_ALLOWED_CALLERS):
                if not data.get(key):
                    data.pop(key, None)
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
                _profile_schema(self.hass, await _user_options(self.hass), with_name=new),
                user_input or current,
            ),
            errors=errors,
            description_placeholders=placeholders,
        )
