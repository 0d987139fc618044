"""The session configuration a voice profile gives a call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_LLM_HASS_API, CONF_PROMPT

from ..const import (
    CONF_EAGERNESS,
    CONF_MODEL,
    CONF_NOISE_REDUCTION,
    CONF_SPEED,
    CONF_TRANSCRIPTION_MODEL,
    CONF_TURN_DETECTION,
    CONF_VOICE,
    DEFAULT_EAGERNESS,
    DEFAULT_INSTRUCTIONS,
    DEFAULT_MODEL,
    DEFAULT_NOISE_REDUCTION,
    DEFAULT_SPEED,
    DEFAULT_TRANSCRIPTION_MODEL,
    DEFAULT_TURN_DETECTION,
    DEFAULT_VOICE,
    OFF,
)
from ..schema import REALTIME_SESSION


def profile_api_ids(profile: Mapping[str, Any]) -> list[str]:
    """Return the HA LLM APIs a profile uses (a list, or absent for none)."""
    value = profile.get(CONF_LLM_HASS_API)
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def build_session_config(
    profile: Mapping[str, Any],
    *,
    instructions: str | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the `session` object of `/realtime/calls` for a profile.

    `instructions` is the rendered prompt (with the LLM API's prompt appended); the profile's
    raw prompt is used when it is None. The result is validated against the same schema the
    action uses, so a profile can never produce a request the API would reject for its shape.
    """
    audio_input: dict[str, Any] = {}
    turn = profile.get(CONF_TURN_DETECTION, DEFAULT_TURN_DETECTION)
    if turn == "semantic_vad":
        audio_input["turn_detection"] = {
            "type": "semantic_vad",
            "eagerness": profile.get(CONF_EAGERNESS, DEFAULT_EAGERNESS),
        }
    else:
        audio_input["turn_detection"] = {"type": "server_vad"}
    noise = profile.get(CONF_NOISE_REDUCTION, DEFAULT_NOISE_REDUCTION)
    if noise != OFF:
        audio_input["noise_reduction"] = {"type": noise}
    transcription = profile.get(CONF_TRANSCRIPTION_MODEL, DEFAULT_TRANSCRIPTION_MODEL)
    if transcription and transcription != OFF:
        audio_input["transcription"] = {"model": transcription}

    session: dict[str, Any] = {
        "type": "realtime",
        "model": profile.get(CONF_MODEL) or DEFAULT_MODEL,
        "instructions": (
            instructions
            if instructions is not None
            else profile.get(CONF_PROMPT) or DEFAULT_INSTRUCTIONS
        ),
        "output_modalities": ["audio"],
        "audio": {
            "input": audio_input,
            "output": {
                "voice": profile.get(CONF_VOICE) or DEFAULT_VOICE,
                "speed": float(profile.get(CONF_SPEED, DEFAULT_SPEED)),
            },
        },
    }
    if tools:
        session["tools"] = tools
        session["tool_choice"] = "auto"
    REALTIME_SESSION(session)
    return session
