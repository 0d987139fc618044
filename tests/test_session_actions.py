"""The translation secret and the legacy (beta) session actions: exact bodies, one event shape."""

from __future__ import annotations

from typing import Any

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.openai_api.const import EVENT_CLIENT_SECRET
from simulator import RealtimeSimulator

from .voice_helpers import act, assert_api_failure, assert_refused_unsent

TRANSLATION = {
    "expires_after": {"anchor": "created_at", "seconds": 300},
    "session": {
        "model": "gpt-realtime-translate",
        "audio": {
            "input": {"noise_reduction": {"type": "near_field"}},
            "output": {"language": "es"},
        },
    },
}
# The ExOpenAI seed's call (../shared/seeds/ex_openai-realtime.txt), within the reference text.
LEGACY = {
    "model": "gpt-4o-realtime-preview",
    "modalities": ["audio", "text"],
    "instructions": "You are a friendly assistant.",
    "voice": "verse",
    "input_audio_format": "pcm16",
    "output_audio_format": "g711_ulaw",
    "input_audio_transcription": {"model": "whisper-1"},
    "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 400},
    "tools": [{"type": "function", "name": "lights", "parameters": {"type": "object"}}],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "speed": 1.1,
}
LEGACY_TRANSCRIPTION = {
    "input_audio_format": "pcm16",
    "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
    "turn_detection": {"type": "server_vad", "threshold": 0.4},
    "input_audio_noise_reduction": {"type": "far_field"},
    "include": ["item.input_audio_transcription.logprobs"],
}
# The legacy actions, their request bodies and the paths they post to.
LEGACY_ACTIONS = [
    ("create_realtime_session", LEGACY, "/realtime/sessions"),
    (
        "create_realtime_transcription_session",
        LEGACY_TRANSCRIPTION,
        "/realtime/transcription_sessions",
    ),
]


async def test_translation_client_secret(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    response = await act(hass, "create_realtime_translation_client_secret", TRANSLATION)
    assert simulator.requests_to("/realtime/translations/client_secrets")[0].json() == TRANSLATION
    assert set(response) == {"value", "expires_at", "session"}
    assert response["session"]["model"] == "gpt-realtime-translate"
    assert events[0].data == {**response, "config_entry_id": loaded_entry.entry_id}


@pytest.mark.parametrize(("action", "body", "path"), LEGACY_ACTIONS)
async def test_legacy_sessions(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    action: str,
    body: dict[str, Any],
    path: str,
) -> None:
    """The API's response as it is; the event as the GA action's, so one automation serves both."""
    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    response = await act(hass, action, body)
    assert simulator.requests_to(path)[0].json() == body
    secret = response["client_secret"]
    assert secret["value"].startswith("ek_")
    assert events[0].data["value"] == secret["value"]
    assert events[0].data["expires_at"] == secret["expires_at"]
    assert "client_secret" not in events[0].data["session"]
    assert events[0].data["session"] == {k: v for k, v in response.items() if k != "client_secret"}


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("create_realtime_translation_client_secret", {}, "session"),
        ("create_realtime_translation_client_secret", {"session": {}}, "session.model"),
        (
            "create_realtime_translation_client_secret",
            {"model": "x", "session": {"model": "x"}},
            "model",
        ),
        (
            "create_realtime_translation_client_secret",
            {"session": {"model": "x", "audio": {"output": {"language": 5}}}},
            "session.audio.output.language",
        ),
        (
            "create_realtime_translation_client_secret",
            {"session": {"model": "x"}, "expires_after": {"seconds": 1}},
            "expires_after.seconds",
        ),
        (
            "create_realtime_session",
            {"client_secret": {"value": "ek_x", "expires_at": 1}},
            "client_secret",
        ),
        ("create_realtime_session", {"temperature": 2}, "temperature"),
        (
            "create_realtime_session",
            {"max_response_output_tokens": 5000},
            "max_response_output_tokens",
        ),
        ("create_realtime_session", {"modalities": ["video"]}, "modalities[0]"),
        ("create_realtime_session", {"speed": float("nan")}, "speed"),
        ("create_realtime_session", {"tools": [{"type": "mcp"}]}, "tools[0].type"),
        (
            "create_realtime_transcription_session",
            {"turn_detection": {"type": "semantic_vad"}},
            "turn_detection.type",
        ),
        ("create_realtime_transcription_session", {"include": "all"}, "include"),
        (
            "create_realtime_transcription_session",
            {"input_audio_format": ["pcm16"]},
            "input_audio_format",
        ),
    ],
)
async def test_bad_input_sends_nothing(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    action: str,
    data: dict[str, Any],
    field: str,
) -> None:
    await assert_refused_unsent(hass, simulator, action, data, field)


async def test_session_actions_are_admin_only(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    hass_read_only_user: Any,
) -> None:
    for action, data in (
        ("create_realtime_translation_client_secret", TRANSLATION),
        ("create_realtime_session", LEGACY),
        ("create_realtime_transcription_session", LEGACY_TRANSCRIPTION),
    ):
        with pytest.raises(Unauthorized):
            await act(hass, action, data, context=Context(user_id=hass_read_only_user.id))
    assert [r for r in simulator.requests if r.path.startswith("/realtime")] == []


@pytest.mark.parametrize(
    ("action", "body", "path"),
    [
        (
            "create_realtime_translation_client_secret",
            TRANSLATION,
            "/realtime/translations/client_secrets",
        ),
        *LEGACY_ACTIONS,
    ],
)
@pytest.mark.parametrize(
    ("fault", "key"),
    [
        ("401", "auth_failed"),
        ("429", "rate_limited"),
        ("500", "server_error"),
        ("malformed_json", "invalid_response"),
        ("drop", "cannot_connect"),
    ],
)
async def test_api_faults_become_clear_errors(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    action: str,
    body: dict[str, Any],
    path: str,
    fault: str,
    key: str,
) -> None:
    """Every OpenAI failure is a translated error and fires nothing; a 401 starts reauth."""
    simulator.add_fault(path, fault, retry_after=7)
    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    await assert_api_failure(hass, loaded_entry, act(hass, action, body), key)
    assert events == []
