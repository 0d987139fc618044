"""A voice profile (a config subentry): its settings, and the session it gives a call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from homeassistant.components import conversation
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_LLM_HASS_API, CONF_PROMPT
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm, template

from ..const import (
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
    DEFAULT_ALLOW_EPHEMERAL,
    DEFAULT_ANSWER_CALLS,
    DEFAULT_EAGERNESS,
    DEFAULT_INSTRUCTIONS,
    DEFAULT_MAX_DURATION,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_MAX_SESSIONS_PER_USER,
    DEFAULT_MODEL,
    DEFAULT_NOISE_REDUCTION,
    DEFAULT_SPEED,
    DEFAULT_STT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_TTS_MODEL,
    DEFAULT_TURN_DETECTION,
    DEFAULT_VOICE,
    DOMAIN,
    OFF,
)
from ..schema.contract import REALTIME_SESSION
from .sip import normalize_number
from .tools import async_get_api, format_tools

# What a new profile starts with (the first one is created with the account).
DEFAULT_PROFILE: Mapping[str, Any] = MappingProxyType(
    {
        CONF_MODEL: DEFAULT_MODEL,
        CONF_VOICE: DEFAULT_VOICE,
        CONF_PROMPT: DEFAULT_INSTRUCTIONS,
        CONF_LLM_HASS_API: [llm.LLM_API_ASSIST],
        CONF_TURN_DETECTION: DEFAULT_TURN_DETECTION,
        CONF_EAGERNESS: DEFAULT_EAGERNESS,
        CONF_NOISE_REDUCTION: DEFAULT_NOISE_REDUCTION,
        CONF_TRANSCRIPTION_MODEL: DEFAULT_TRANSCRIPTION_MODEL,
        CONF_SPEED: DEFAULT_SPEED,
        CONF_MAX_SESSIONS: DEFAULT_MAX_SESSIONS,
        CONF_MAX_SESSIONS_PER_USER: DEFAULT_MAX_SESSIONS_PER_USER,
        CONF_MAX_DURATION: DEFAULT_MAX_DURATION,
        CONF_ALLOW_EPHEMERAL: DEFAULT_ALLOW_EPHEMERAL,
        CONF_ANSWER_CALLS: DEFAULT_ANSWER_CALLS,
        CONF_ALLOWED_CALLERS: [],
        CONF_TTS_MODEL: DEFAULT_TTS_MODEL,
        CONF_ASSIST_PIPELINE: True,
    }
)


@dataclass(frozen=True, slots=True)
class VoiceProfile:
    """Typed access to a profile's settings, with the defaults of keys it lacks."""

    profile_id: str
    title: str
    data: Mapping[str, Any]

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> VoiceProfile:
        """Return the profile a subentry stores."""
        return cls(subentry.subentry_id, subentry.title, subentry.data)

    def _get(self, key: str, default: Any) -> Any:
        return self.data.get(key, default)

    @property
    def max_sessions(self) -> int:
        """Calls of this profile at once."""
        return int(self._get(CONF_MAX_SESSIONS, DEFAULT_MAX_SESSIONS))

    @property
    def max_sessions_per_user(self) -> int:
        """Calls one HA user may run with this profile at once."""
        return int(self._get(CONF_MAX_SESSIONS_PER_USER, DEFAULT_MAX_SESSIONS_PER_USER))

    @property
    def max_duration(self) -> float:
        """Seconds after which HA hangs up."""
        return float(self._get(CONF_MAX_DURATION, DEFAULT_MAX_DURATION)) * 60

    @property
    def allow_ephemeral(self) -> bool:
        """Whether browsers may get client secrets and connect to OpenAI themselves."""
        return bool(self._get(CONF_ALLOW_EPHEMERAL, DEFAULT_ALLOW_EPHEMERAL))

    @property
    def answer_calls(self) -> bool:
        """Whether incoming phone calls are answered with this profile."""
        return bool(self._get(CONF_ANSWER_CALLS, DEFAULT_ANSWER_CALLS))

    @property
    def allowed_callers(self) -> list[str]:
        """Caller numbers answered (normalized); empty: any caller."""
        return [
            number
            for value in self._get(CONF_ALLOWED_CALLERS, None) or []
            if (number := normalize_number(str(value)))
        ]

    @property
    def phone_user(self) -> str | None:
        """The HA user whose permissions a phone call's tools have; None: no tools."""
        return self._get(CONF_PHONE_USER, None) or None

    def answers(self, caller: str | None) -> bool:
        """Whether this profile answers a call from `caller` (a number or SIP user)."""
        if not self.answer_calls:
            return False
        allowed = self.allowed_callers
        return not allowed or (caller is not None and normalize_number(caller) in allowed)

    @property
    def model(self) -> str:
        """The Realtime model of the profile's sessions."""
        return str(self._get(CONF_MODEL, None) or DEFAULT_MODEL)

    @property
    def voice(self) -> str:
        """The voice the profile speaks with."""
        return str(self._get(CONF_VOICE, None) or DEFAULT_VOICE)

    @property
    def speed(self) -> float:
        """The speaking speed."""
        return float(self._get(CONF_SPEED, DEFAULT_SPEED))

    @property
    def stt_model(self) -> str:
        """The transcription model of the profile's speech-to-text entity."""
        model = self._get(CONF_TRANSCRIPTION_MODEL, DEFAULT_TRANSCRIPTION_MODEL)
        return str(model) if model and model != OFF else DEFAULT_STT_MODEL

    @property
    def tts_model(self) -> str:
        """The speech model of the profile's text-to-speech entity."""
        return str(self._get(CONF_TTS_MODEL, None) or DEFAULT_TTS_MODEL)

    @property
    def wants_pipeline(self) -> bool:
        """Whether an Assist pipeline is made for this profile (once)."""
        return bool(self._get(CONF_ASSIST_PIPELINE, False))

    @property
    def llm_api_ids(self) -> list[str]:
        """The HA LLM APIs whose tools the model may call (none when absent)."""
        value = self.data.get(CONF_LLM_HASS_API)
        if not value:
            return []
        return [value] if isinstance(value, str) else list(value)

    @property
    def prompt(self) -> str:
        """The instructions template."""
        return str(self.data.get(CONF_PROMPT) or DEFAULT_INSTRUCTIONS)

    def session_config(
        self, *, instructions: str | None = None, tools: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Return the `session` object a call of this profile runs with.

        `instructions` is the rendered prompt (with the LLM API's prompt appended); the raw
        prompt is used when it is None. The result passes the same schema as the action's, so
        a profile can never produce a request the API would reject for its shape.
        """
        session: dict[str, Any] = {
            "type": "realtime",
            "model": self.model,
            "instructions": self.prompt if instructions is None else instructions,
            "output_modalities": ["audio"],
            "audio": {
                "input": self._audio_input(),
                "output": {"voice": self.voice, "speed": self.speed},
            },
        }
        if tools:
            session["tools"] = tools
            session["tool_choice"] = "auto"
        REALTIME_SESSION(session)
        return session

    def _audio_input(self) -> dict[str, Any]:
        audio_input: dict[str, Any] = {}
        if self._get(CONF_TURN_DETECTION, DEFAULT_TURN_DETECTION) == "semantic_vad":
            audio_input["turn_detection"] = {
                "type": "semantic_vad",
                "eagerness": self._get(CONF_EAGERNESS, DEFAULT_EAGERNESS),
            }
        else:
            audio_input["turn_detection"] = {"type": "server_vad"}
        noise = self._get(CONF_NOISE_REDUCTION, DEFAULT_NOISE_REDUCTION)
        if noise != OFF:
            audio_input["noise_reduction"] = {"type": noise}
        transcription = self._get(CONF_TRANSCRIPTION_MODEL, DEFAULT_TRANSCRIPTION_MODEL)
        if transcription and transcription != OFF:
            audio_input["transcription"] = {"model": transcription}
        return audio_input


@dataclass(frozen=True, slots=True)
class PreparedSession:
    """What a call of a profile needs for one user: its session and the user's LLM API."""

    config: dict[str, Any]
    llm_api: llm.APIInstance | None


async def async_prepare_session(
    hass: HomeAssistant,
    profile: VoiceProfile,
    *,
    user_id: str | None,
    device_id: str | None,
    with_tools: bool = True,
) -> PreparedSession:
    """Render the profile's instructions and tools for a call started by `user_id`.

    Without `with_tools` the call gets the profile's instructions but no LLM API at all.
    """
    llm_context = llm.LLMContext(
        platform=DOMAIN,
        context=Context(user_id=user_id),
        language=hass.config.language,
        assistant=conversation.DOMAIN,
        device_id=device_id,
    )
    try:
        api_ids = profile.llm_api_ids if with_tools else []
        api = await async_get_api(hass, api_ids, llm_context)
        prompt = template.Template(profile.prompt, hass).async_render(parse_result=False)
    except HomeAssistantError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="profile_error",
            translation_placeholders={"error": str(err)},
        ) from err
    instructions = "\n\n".join(p for p in (prompt, api.api_prompt if api else "") if p)
    return PreparedSession(
        profile.session_config(instructions=instructions, tools=format_tools(api)), api
    )
