"""The other /realtime paths: translation client secrets and the legacy (beta) sessions."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from simulator import RealtimeSimulator
from simulator.spec import SPEC_PATH, schema

from .test_simulator_api import _assert_valid, _post

TRANSLATION = "/realtime/translations/client_secrets"
SESSIONS = "/realtime/sessions"
TRANSCRIPTION = "/realtime/transcription_sessions"


async def test_translation_secret(simulator: RealtimeSimulator) -> None:
    """The endpoint's own example request gets an answer of the spec's response schema."""
    request = {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {
            "model": "gpt-realtime-translate",
            "audio": {
                "input": {
                    "transcription": {"model": "gpt-realtime-whisper"},
                    "noise_reduction": None,
                },
                "output": {"language": "es"},
            },
        },
    }
    status, answer, _headers = await _post(simulator, TRANSLATION, request)
    assert status == 200, answer
    _assert_valid("RealtimeTranslationClientSecretCreateResponse", answer)
    assert answer["value"].startswith("ek_")
    assert abs(answer["expires_at"] - (time.time() + 600)) < 5
    assert answer["session"]["type"] == "translation"
    assert answer["session"]["audio"] == request["session"]["audio"]
    assert simulator.translation_secrets[answer["value"]] == answer
    assert answer["value"] not in simulator.client_secrets  # it opens no Realtime call
    status, answer, _headers = await _post(simulator, TRANSLATION, {"session": {"model": "m"}})
    assert status == 200
    assert answer["session"]["audio"] == {
        "input": {"transcription": None, "noise_reduction": None},
        "output": {},
    }


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "session", "missing_required_parameter"),
        ({"session": {}}, "session.model", "missing_required_parameter"),
        ({"session": {"model": "m", "type": "translation"}}, "session.type", "unknown_parameter"),
        (
            {"session": {"model": "m", "audio": {"output": {"lang": "es"}}}},
            "session.audio.output.lang",
            "unknown_parameter",
        ),
        (
            {"session": {"model": "m", "audio": {"input": {"transcription": {}}}}},
            "session.audio.input.transcription.model",
            "missing_required_parameter",
        ),
        (
            {"session": {"model": "m"}, "expires_after": {"seconds": 5}},
            "expires_after.seconds",
            "integer_below_min_value",
        ),
    ],
)
async def test_translation_requests_are_checked(
    simulator: RealtimeSimulator, body: dict[str, Any], param: str, code: str
) -> None:
    status, answer, _headers = await _post(simulator, TRANSLATION, body)
    assert status == 400
    assert (answer["error"]["param"], answer["error"]["code"]) == (param, code)
    assert simulator.translation_secrets == {}


async def test_legacy_session(simulator: RealtimeSimulator) -> None:
    """The endpoint's example request; the answer is the response schema plus `client_secret`."""
    request = {
        "model": "gpt-realtime",
        "modalities": ["audio", "text"],
        "instructions": "You are a friendly assistant.",
        "voice": "marin",
        "speed": 1.1,
        "input_audio_format": "g711_ulaw",
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 700},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "temperature": 0.7,
        "max_response_output_tokens": 200,
    }
    status, answer, _headers = await _post(simulator, SESSIONS, request)
    assert status == 200, answer
    secret = answer.pop("client_secret")
    _assert_valid("RealtimeSessionCreateResponse", answer)
    assert set(secret) == {"value", "expires_at"}
    assert secret["value"].startswith("ek_")
    assert (
        abs(secret["expires_at"] - (time.time() + 60)) < 5
    )  # "all tokens expire after one minute"
    assert answer["object"] == "realtime.session"
    assert answer["model"] == "gpt-realtime"
    assert answer["output_modalities"] == ["audio", "text"]
    assert answer["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert answer["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    assert answer["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 700,
    }
    assert answer["audio"]["output"]["voice"] == "marin"
    assert answer["audio"]["output"]["speed"] == 1.1
    assert answer["max_output_tokens"] == 200
    # The key carries the equivalent GA session, like a GA client secret.
    carried = simulator.client_secrets[secret["value"]].session
    assert (carried["type"], carried["audio"]["output"]["voice"]) == ("realtime", "marin")


async def test_legacy_session_defaults(simulator: RealtimeSimulator) -> None:
    status, answer, _headers = await _post(simulator, SESSIONS, {})
    assert status == 200, answer
    answer.pop("client_secret")
    _assert_valid("RealtimeSessionCreateResponse", answer)
    assert answer["model"] == "gpt-realtime"
    assert answer["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    status, answer, _headers = await _post(simulator, SESSIONS, {"turn_detection": None})
    assert answer["audio"]["input"]["turn_detection"] is None


def test_the_legacy_request_schema_is_corrected() -> None:
    """`model` is a field, `client_secret` (read-only) is not, contrary to the raw document."""
    request = schema("RealtimeSessionCreateRequest")
    assert request["properties"]["model"]["type"] == "string"
    assert "client_secret" not in request["properties"]
    assert "required" not in request
    raw = json.loads(SPEC_PATH.read_text())["components"]["schemas"]
    assert raw["RealtimeSessionCreateRequest"]["required"] == ["client_secret"]  # the defect
    assert "model" not in raw["RealtimeSessionCreateRequest"]["properties"]


@pytest.mark.parametrize(
    ("path", "body", "param", "code"),
    [
        (
            SESSIONS,
            {"client_secret": {"value": "ek_1", "expires_at": 1}},
            "client_secret",
            "unknown_parameter",
        ),
        (SESSIONS, {"model": 5}, "model", "invalid_type"),
        (SESSIONS, {"temperature": 1.5}, "temperature", "decimal_above_max_value"),
        (SESSIONS, {"speed": 2}, "speed", "decimal_above_max_value"),
        (SESSIONS, {"input_audio_format": "pcm"}, "input_audio_format", "invalid_value"),
        (SESSIONS, {"modalities": ["video"]}, "modalities[0]", "invalid_value"),
        (
            SESSIONS,
            {"max_response_output_tokens": 5000},
            "max_response_output_tokens",
            "integer_above_max_value",
        ),
        (
            SESSIONS,
            {"turn_detection": {"type": "semantic_vad"}},
            "turn_detection.type",
            "invalid_value",
        ),
        (
            SESSIONS,
            {"turn_detection": {"type": "server_vad", "create_response": True}},
            "turn_detection.create_response",
            "unknown_parameter",
        ),
        (
            SESSIONS,
            {"input_audio_transcription": {"model": "whisper-1", "language": "en"}},
            "input_audio_transcription.language",
            "unknown_parameter",
        ),
        (SESSIONS, {"session": {"type": "realtime"}}, "session", "unknown_parameter"),
        (
            TRANSCRIPTION,
            {"client_secret": {"value": "ek_1", "expires_at": 1}},
            "client_secret",
            "unknown_parameter",
        ),
        (TRANSCRIPTION, {"input_audio_format": "mp3"}, "input_audio_format", "invalid_value"),
        (
            TRANSCRIPTION,
            {"turn_detection": {"type": "semantic_vad"}},
            "turn_detection.type",
            "invalid_value",
        ),
        (
            TRANSCRIPTION,
            {"turn_detection": {"type": "server_vad", "threshold": 2}},
            "turn_detection.threshold",
            "decimal_above_max_value",
        ),
        (
            TRANSCRIPTION,
            {"input_audio_transcription": {"model": "whisper-1", "lang": "en"}},
            "input_audio_transcription.lang",
            "unknown_parameter",
        ),
        (TRANSCRIPTION, {"model": "gpt-4o-transcribe"}, "model", "unknown_parameter"),
    ],
)
async def test_legacy_requests_are_checked(
    simulator: RealtimeSimulator, path: str, body: dict[str, Any], param: str, code: str
) -> None:
    status, answer, _headers = await _post(simulator, path, body)
    assert status == 400
    assert (answer["error"]["param"], answer["error"]["code"]) == (param, code)
    assert simulator.client_secrets == {}


async def test_legacy_transcription_session(simulator: RealtimeSimulator) -> None:
    request = {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {
            "model": "gpt-4o-transcribe",
            "language": "en",
            "prompt": "",
            "keywords": ["kitchen"],
        },
        "input_audio_noise_reduction": {"type": "near_field"},
        "turn_detection": None,
        "include": ["item.input_audio_transcription.logprobs"],
    }
    status, answer, _headers = await _post(simulator, TRANSCRIPTION, request)
    assert status == 200, answer
    # The example's `id`, `object` and `expires_at` are not among the schema's properties.
    assert answer.pop("id").startswith("sess_")
    assert answer.pop("object") == "realtime.transcription_session"
    assert answer.pop("expires_at") > time.time()
    _assert_valid("RealtimeTranscriptionSessionCreateResponse", answer)
    assert answer["input_audio_transcription"] == {
        "model": "gpt-4o-transcribe",
        "language": "en",
        "prompt": "",
    }
    assert answer["turn_detection"] is None
    carried = simulator.client_secrets[answer["client_secret"]["value"]].session
    assert carried["type"] == "transcription"
    assert carried["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
    status, answer, _headers = await _post(simulator, TRANSCRIPTION, {})
    assert status == 200
    assert answer["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
    }
    assert answer["input_audio_transcription"] is None


@pytest.mark.parametrize("path", [TRANSLATION, SESSIONS, TRANSCRIPTION])
async def test_new_paths_need_the_standard_key(simulator: RealtimeSimulator, path: str) -> None:
    status, answer, _headers = await _post(simulator, SESSIONS, {})
    ephemeral = answer["client_secret"]["value"]
    status, answer, _headers = await _post(
        simulator, path, {}, headers={"Authorization": f"Bearer {ephemeral}"}
    )
    assert (status, answer["error"]["code"]) == (401, "invalid_api_key")
