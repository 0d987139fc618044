"""The answers of the endpoints around the GA client secrets: legacy sessions and translation.

`POST /realtime/sessions` and `POST /realtime/transcription_sessions` are the beta endpoints:
a flat beta session comes in (`modalities`, `voice`, `input_audio_format: pcm16`, …) and the
session goes out in the shape of the document's response schema, plus `client_secret`:

- `RealtimeSessionCreateResponse` is GA-shaped (`output_modalities`, `audio.input/output`,
  `max_output_tokens`); its properties have no `truncation`, `prompt` or `temperature`, so a
  request's values for them are taken and not echoed. (The endpoint's example answer is in
  the beta shape; the schema is what the simulator follows.)
- `RealtimeTranscriptionSessionCreateResponse` is beta-shaped (`input_audio_format`,
  `input_audio_transcription`, `turn_detection`). Its example also carries `id`, `object`
  and `expires_at`, which its properties leave out; the simulator sends them, as the example.

Both keys expire after a minute ("Currently, all tokens expire after one minute") and work
like a GA client secret carrying the equivalent GA session. A translation client secret
(`POST /realtime/translations/client_secrets`) is `value`, `expires_at` and a
`RealtimeTranslationSession`; the spec has no endpoint that takes it, so it opens nothing here.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from . import sessions

LEGACY_SECRET_SECONDS = 60
# Beta audio format names and their GA objects.
FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
# The beta turn detection's fields (the only ones its schemas list) and their defaults.
_BETA_TURN_DETECTION = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
}
# The transcription settings a response reports (`AudioTranscriptionResponse`).
_TRANSCRIPTION_FIELDS = ("model", "language", "languages", "prompt")


def new_secret(seconds: int = LEGACY_SECRET_SECONDS) -> dict[str, Any]:
    """A `client_secret` object: an `ek_…` value and when it expires."""
    return {"value": f"ek_{secrets.token_hex(16)}", "expires_at": int(time.time()) + seconds}


def ga_session(request: dict[str, Any]) -> dict[str, Any]:
    """The GA session request a beta `/realtime/sessions` body stands for."""
    audio_input: dict[str, Any] = {"format": FORMATS[request.get("input_audio_format", "pcm16")]}
    if "input_audio_transcription" in request:
        audio_input["transcription"] = request["input_audio_transcription"]
    if "turn_detection" in request:
        turn = request["turn_detection"]
        audio_input["turn_detection"] = None if turn is None else {**_BETA_TURN_DETECTION, **turn}
    output: dict[str, Any] = {"format": FORMATS[request.get("output_audio_format", "pcm16")]}
    output.update({k: request[k] for k in ("voice", "speed") if k in request})
    ga: dict[str, Any] = {"type": "realtime", "audio": {"input": audio_input, "output": output}}
    renamed = {
        "model": "model",
        "modalities": "output_modalities",
        "instructions": "instructions",
        "tools": "tools",
        "tool_choice": "tool_choice",
        "max_response_output_tokens": "max_output_tokens",
        "tracing": "tracing",
        "truncation": "truncation",
        "prompt": "prompt",
    }
    ga.update({new: copy.deepcopy(request[old]) for old, new in renamed.items() if old in request})
    return ga


def session_response(session: dict[str, Any], secret: dict[str, Any]) -> dict[str, Any]:
    """The answer of `/realtime/sessions`: the effective session in the response schema's shape."""
    audio_input = session["audio"]["input"]
    turn = audio_input.get("turn_detection")
    return {
        "id": session["id"],
        "object": "realtime.session",
        "expires_at": session["expires_at"],
        "model": session["model"],
        "output_modalities": session["output_modalities"],
        "instructions": session["instructions"],
        "audio": {
            "input": {
                "format": audio_input["format"],
                "transcription": _transcription(audio_input.get("transcription")),
                "noise_reduction": audio_input.get("noise_reduction"),
                "turn_detection": _beta_turn(turn),
            },
            "output": copy.deepcopy(session["audio"]["output"]),
        },
        "tracing": session.get("tracing"),
        "tools": session["tools"],
        "tool_choice": session["tool_choice"],
        "max_output_tokens": session["max_output_tokens"],
        "client_secret": secret,
    }


def transcription_response(request: dict[str, Any], secret: dict[str, Any]) -> dict[str, Any]:
    """The answer of `/realtime/transcription_sessions` (beta-shaped, as its schema)."""
    turn = request.get("turn_detection", _BETA_TURN_DETECTION)
    return {
        "id": f"sess_{secrets.token_hex(12)}",
        "object": "realtime.transcription_session",
        "expires_at": int(time.time()) + sessions.SESSION_SECONDS,
        "modalities": ["audio", "text"],
        "input_audio_format": request.get("input_audio_format", "pcm16"),
        "input_audio_transcription": _transcription(request.get("input_audio_transcription")),
        "turn_detection": _beta_turn(turn),
        "client_secret": secret,
    }


def ga_transcription_session(request: dict[str, Any]) -> dict[str, Any]:
    """The GA transcription session request a beta `/realtime/transcription_sessions` body is."""
    audio_input: dict[str, Any] = {"format": FORMATS[request.get("input_audio_format", "pcm16")]}
    for beta, ga in (
        ("input_audio_transcription", "transcription"),
        ("input_audio_noise_reduction", "noise_reduction"),
        ("turn_detection", "turn_detection"),
    ):
        if beta in request:
            audio_input[ga] = copy.deepcopy(request[beta])
    ga_request: dict[str, Any] = {"type": "transcription", "audio": {"input": audio_input}}
    if "include" in request:
        ga_request["include"] = request["include"]
    return ga_request


def translation_session(request: dict[str, Any], expires_at: int) -> dict[str, Any]:
    """A `RealtimeTranslationSession` for a translation client secret's request."""
    audio = request.get("audio") or {}
    audio_input = audio.get("input") or {}
    return {
        "id": f"sess_{secrets.token_hex(12)}",
        "type": "translation",
        "expires_at": expires_at,
        "model": request["model"],
        "audio": {
            "input": {
                "transcription": audio_input.get("transcription"),
                "noise_reduction": audio_input.get("noise_reduction"),
            },
            "output": copy.deepcopy(audio.get("output") or {}),
        },
    }


def _transcription(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if k in _TRANSCRIPTION_FIELDS}


def _beta_turn(turn: Any) -> Any:
    if not isinstance(turn, dict):
        return None
    return {k: turn.get(k, default) for k, default in _BETA_TURN_DETECTION.items()}
