"""Session objects as the API returns them: a request's fields over the API's defaults.

`effective_session` builds the session of a new client secret or call; `updated_session`
applies a `session.update`. Both merge the way the API does: nested objects merge key by key,
while arrays, scalars and `null` replace (so `{"audio": {"output": {"voice": "marin"}}}` keeps
every input setting), and an object whose `type` changes is replaced as a whole (a
`semantic_vad` turn detection does not inherit `server_vad`'s threshold), after which the
defaults of its new type fill it in.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

# The defaults, as the API reports them (the examples of the OpenAPI text).
DEFAULT_INSTRUCTIONS = (
    "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI."
)
SESSION_SECONDS = 3600  # the API ends every session at 60 minutes
_PCM = {"type": "audio/pcm", "rate": 24000}
_SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
}
TURN_DETECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "server_vad": {
        **_SERVER_VAD,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    },
    "semantic_vad": {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    },
}
# Transcription sessions report only the basic VAD fields.
_TRANSCRIPTION_TURN_DETECTION_DEFAULTS: dict[str, dict[str, Any]] = {"server_vad": _SERVER_VAD}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "realtime": {
        "type": "realtime",
        "object": "realtime.session",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "audio": {
            "input": {
                "format": _PCM,
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": TURN_DETECTION_DEFAULTS["server_vad"],
            },
            "output": {"format": _PCM, "voice": "alloy", "speed": 1.0},
        },
        "include": None,
    },
    "transcription": {
        "type": "transcription",
        "object": "realtime.transcription_session",
        "include": None,
        "audio": {
            "input": {
                "format": _PCM,
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": _SERVER_VAD,
            }
        },
    },
}


def effective_session(
    request: dict[str, Any] | None, *, expires_at: int | None = None
) -> dict[str, Any]:
    """The session object for a request (`None`: a realtime session with every default).

    `expires_at` is 0 for the session inside a client secret (it starts when a call uses it),
    otherwise the end of a session that starts now.
    """
    request = request or {"type": "realtime"}
    kind = request.get("type", "realtime")
    base = dict(_DEFAULTS[kind])
    base["id"] = f"sess_{secrets.token_hex(12)}"
    base["expires_at"] = int(time.time()) + SESSION_SECONDS if expires_at is None else expires_at
    return _complete(merge(base, request))


def updated_session(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The session after a `session.update` (already validated against the spec)."""
    return _complete(merge(current, update))


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A copy of `base` with `override` applied, as the API merges (see the module)."""
    return _merge_into(copy.deepcopy(base), override)


def _merge_into(target: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        old = target.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and _same_type(old, value):
            _merge_into(old, value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _same_type(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return "type" not in new or old.get("type") == new["type"]


def _complete(session: dict[str, Any]) -> dict[str, Any]:
    """Fill a typed sub-object that replaced another with the defaults of its type."""
    audio_input = (session.get("audio") or {}).get("input")
    if not isinstance(audio_input, dict):
        return session
    turn = audio_input.get("turn_detection")
    if isinstance(turn, dict):
        table = (
            TURN_DETECTION_DEFAULTS
            if session.get("type") == "realtime"
            else _TRANSCRIPTION_TURN_DETECTION_DEFAULTS
        )
        defaults = table.get(str(turn.get("type", "server_vad")), {})
        audio_input["turn_detection"] = {**defaults, **turn}
    return session


def turn_detection(session: dict[str, Any]) -> dict[str, Any] | None:
    """The session's turn detection (None: the client commits and asks for responses itself)."""
    audio_input = (session.get("audio") or {}).get("input") or {}
    turn = audio_input.get("turn_detection")
    return turn if isinstance(turn, dict) else None


def transcribes(session: dict[str, Any]) -> bool:
    """Whether the session transcribes the user's audio (`audio.input.transcription` set)."""
    audio_input = (session.get("audio") or {}).get("input") or {}
    return isinstance(audio_input.get("transcription"), dict)


def voice(session: dict[str, Any]) -> str:
    """The session's output voice id (a custom voice object's `id`)."""
    value = ((session.get("audio") or {}).get("output") or {}).get("voice", "alloy")
    return str(value.get("id") if isinstance(value, dict) else value)


def started(session: dict[str, Any]) -> dict[str, Any]:
    """A client secret's session as a call starts on it: its own id, and an end."""
    return {
        **copy.deepcopy(session),
        "id": f"sess_{secrets.token_hex(12)}",
        "expires_at": int(time.time()) + SESSION_SECONDS,
    }
