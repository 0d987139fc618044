"""The request bodies of OpenAI's Realtime API, as probatio schemas.

They mirror the GA request schemas of the official OpenAPI text
(`RealtimeCreateClientSecretRequest`, `RealtimeSessionCreateRequestGA`,
`RealtimeTranscriptionSessionCreateRequestGA`) for type, enum and range, including the ranges
the API states only in prose (`max_output_tokens` 1-4096, VAD `threshold` 0-1). A body that
passes is sent byte for byte as given, and the API applies its own defaults.

What stays open, so the integration keeps working the day OpenAI adds something: unknown keys
inside objects (they must still be JSON values), kinds of tools and audio formats, and names
from OpenAI's catalogs (models, voices, MCP connectors, reasoning efforts, include options,
noise reduction kinds, eagerness levels, transcription delays). What stays closed: the
discriminators the integration dispatches on (`session.type`), `expires_after.anchor`, and the
shapes of values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import probatio

from .validators import (
    Validator,
    array,
    boolean,
    catalog,
    either,
    integer,
    mapping,
    matches,
    non_empty_string,
    nullable,
    number,
    obj,
    one_of,
    string,
    tagged,
    uri,
)

# Today's values of the catalogs the profile form offers (the contract accepts any name).
NOISE_REDUCTION_TYPES = ("near_field", "far_field")
TURN_DETECTION_TYPES = ("server_vad", "semantic_vad")
EAGERNESS = ("low", "medium", "high", "auto")
MIN_EXPIRES_SECONDS = 10
MAX_EXPIRES_SECONDS = 7200

# Realtime session fields: a payload that puts one of these beside `session` gets told where
# it belongs instead of a bare "not a field".
SESSION_FIELDS = frozenset(
    {
        "type",
        "model",
        "instructions",
        "output_modalities",
        "audio",
        "voice",
        "include",
        "tracing",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "max_output_tokens",
        "truncation",
        "prompt",
        "input_audio_format",
        "output_audio_format",
        "input_audio_transcription",
        "turn_detection",
        "modalities",
        "temperature",
    }
)

AUDIO_FORMAT = tagged(
    "type",
    {
        "audio/pcm": obj({"type": string, "rate": one_of(24000)}),
        "audio/pcmu": obj({"type": string}),
        "audio/pcma": obj({"type": string}),
    },
    # No branch requires `type`: an object without one matches the contract's pcmu branch.
    default="audio/pcmu",
    open_ended=True,
)

TRANSCRIPTION = obj(
    {
        "model": non_empty_string,
        "language": string,
        "languages": array(string, min_items=1),
        "keywords": array(string),
        "prompt": string,
        "delay": catalog("minimal", "low", "medium", "high", "xhigh"),
    }
)

NOISE_REDUCTION = obj({"type": catalog(*NOISE_REDUCTION_TYPES)})

TURN_DETECTION = nullable(
    tagged(
        "type",
        {
            "server_vad": obj(
                {
                    "type": string,
                    "threshold": number(0.0, 1.0),
                    "prefix_padding_ms": integer(0),
                    "silence_duration_ms": integer(0),
                    "create_response": boolean,
                    "interrupt_response": boolean,
                    "idle_timeout_ms": nullable(integer(5000, 30000)),
                }
            ),
            "semantic_vad": obj(
                {
                    "type": string,
                    "eagerness": catalog(*EAGERNESS),
                    "create_response": boolean,
                    "interrupt_response": boolean,
                }
            ),
        },
    )
)

VOICE = either(
    string,
    obj({"id": string}, extra=False, required=("id",)),
    message="must be a voice name or an object {id: ...}",
)

AUDIO_INPUT_FIELDS = {
    "format": AUDIO_FORMAT,
    "transcription": TRANSCRIPTION,
    "noise_reduction": NOISE_REDUCTION,
    "turn_detection": TURN_DETECTION,
}

INCLUDE = array(catalog("item.input_audio_transcription.logprobs"))

_TOOL_FILTER = obj({"tool_names": array(string), "read_only": boolean}, extra=False)

FUNCTION_TOOL = obj(
    {"type": one_of("function"), "name": string, "description": string, "parameters": obj({})}
)

MCP_TOOL = obj(
    {
        "type": one_of("mcp"),
        "server_label": string,
        "server_url": uri,
        "connector_id": catalog(
            "connector_dropbox",
            "connector_gmail",
            "connector_googlecalendar",
            "connector_googledrive",
            "connector_microsoftteams",
            "connector_outlookcalendar",
            "connector_outlookemail",
            "connector_sharepoint",
        ),
        "tunnel_id": matches(r"tunnel_[a-z0-9]{32}", "tunnel_ and 32 lowercase letters or digits"),
        "authorization": string,
        "server_description": string,
        "headers": nullable(mapping(string)),
        "allowed_tools": nullable(
            either(array(string), _TOOL_FILTER, message="must be a list of names or a filter")
        ),
        "allowed_callers": nullable(array(one_of("direct", "programmatic"), min_items=1)),
        "require_approval": nullable(
            either(
                one_of("always", "never"),
                obj({"always": _TOOL_FILTER, "never": _TOOL_FILTER}, extra=False),
                message="must be 'always', 'never' or {always: ..., never: ...}",
            )
        ),
        "defer_loading": boolean,
    },
    required=("type", "server_label"),
)

# A tool without `type` is a function tool: the contract's function branch requires nothing.
TOOL = tagged(
    "type", {"function": FUNCTION_TOOL, "mcp": MCP_TOOL}, default="function", open_ended=True
)

TOOL_CHOICE = either(
    one_of("none", "auto", "required"),
    tagged(
        "type",
        {
            "function": obj({"type": string, "name": string}, required=("name",)),
            "mcp": obj(
                {"type": string, "server_label": string, "name": nullable(string)},
                required=("server_label",),
            ),
        },
    ),
    message="must be 'none', 'auto', 'required', {type: function, name} or {type: mcp, ...}",
)

TRACING = nullable(
    either(
        one_of("auto"),
        obj({"workflow_name": string, "group_id": string, "metadata": obj({})}),
        message="must be 'auto' or {workflow_name, group_id, metadata}",
    )
)

TRUNCATION = either(
    one_of("auto", "disabled"),
    obj(
        {
            "type": one_of("retention_ratio"),
            "retention_ratio": number(0.0, 1.0),
            "token_limits": obj({"post_instructions": integer(0)}),
        },
        required=("type", "retention_ratio"),
    ),
    message="must be 'auto', 'disabled' or {type: retention_ratio, retention_ratio}",
)

_PROMPT_VARIABLE = either(
    string,
    tagged(
        "type",
        {
            "input_text": obj({"type": string, "text": string}, required=("text",)),
            "input_image": obj(
                {"type": string, "image_url": nullable(string), "file_id": nullable(string)},
                required=("detail",),
            ),
            "input_file": obj({"type": string, "file_id": nullable(string), "filename": string}),
        },
    ),
    message="must be a string or an input_text, input_image or input_file object",
)

PROMPT = nullable(
    obj(
        {
            "id": string,
            "version": nullable(string),
            "variables": nullable(mapping(_PROMPT_VARIABLE)),
        },
        required=("id",),
    )
)

REALTIME_SESSION = obj(
    {
        "type": one_of("realtime"),
        "model": non_empty_string,
        "instructions": string,
        "output_modalities": array(one_of("text", "audio")),
        "audio": obj(
            {
                "input": obj(AUDIO_INPUT_FIELDS),
                "output": obj({"format": AUDIO_FORMAT, "voice": VOICE, "speed": number(0.25, 1.5)}),
            }
        ),
        "include": INCLUDE,
        "tracing": TRACING,
        "tools": array(TOOL),
        "tool_choice": TOOL_CHOICE,
        "parallel_tool_calls": boolean,
        "reasoning": obj({"effort": catalog("minimal", "low", "medium", "high", "xhigh")}),
        "max_output_tokens": either(
            integer(1, 4096), one_of("inf"), message="must be an integer from 1 to 4096 or 'inf'"
        ),
        "truncation": TRUNCATION,
        "prompt": PROMPT,
    },
    required=("type",),
)

TRANSCRIPTION_SESSION = obj(
    {
        "type": one_of("transcription"),
        "audio": obj({"input": obj(AUDIO_INPUT_FIELDS)}),
        "include": INCLUDE,
    },
    required=("type",),
)

SESSION = tagged("type", {"realtime": REALTIME_SESSION, "transcription": TRANSCRIPTION_SESSION})

EXPIRES_AFTER = obj(
    {
        "anchor": one_of("created_at"),
        "seconds": integer(MIN_EXPIRES_SECONDS, MAX_EXPIRES_SECONDS),
    }
)

CLIENT_SECRET_REQUEST = obj({"expires_after": EXPIRES_AFTER, "session": SESSION}, extra=False)


class MisplacedFieldError(probatio.Invalid):
    """A session field was given beside `session` instead of inside it."""


def validate_client_secret_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a `POST /realtime/client_secrets` body; return it unchanged (as a dict).

    Raises `probatio.Invalid` whose `path` names the offending field.
    """
    return validate_request(CLIENT_SECRET_REQUEST, payload, session_inside=True)


def validate_request(
    schema: Validator, payload: Mapping[str, Any], *, session_inside: bool = False
) -> dict[str, Any]:
    """Validate a request body against `schema`; return it unchanged (as a dict).

    With `session_inside`, a session field given beside `session` is told where it belongs.
    Raises `probatio.Invalid` whose `path` names the offending field.
    """
    if session_inside:
        for key in payload:
            if key in SESSION_FIELDS:
                raise MisplacedFieldError(
                    f"`{key}` belongs inside `session` (write `session.{key}`)", path=[key]
                )
    body = dict(payload)
    schema(body)
    return body


# --- incoming SIP calls: accept, reject, refer -------------------------------------------

CALL_ID = matches(r"rtc_[A-Za-z0-9_-]{1,128}", "a Realtime call id (rtc_...)")

# The accept body is the session itself (`RealtimeSessionCreateRequestGA`).
ACCEPT_SESSION = REALTIME_SESSION

# SIP final responses that decline a call: 4xx, 5xx and 6xx (the API's default is 603).
REJECT_REQUEST = obj({"status_code": integer(400, 699)}, extra=False)

REFER_REQUEST = obj(
    {
        "target_uri": matches(
            r"(tel:\+?[0-9A-Za-z*#().;=+\-]{1,64}|sips?:[^\s<>\"]{1,256})",
            "a tel: or sip: URI (tel:+14155550123, sip:agent@example.com)",
        )
    },
    extra=False,
    required=("target_uri",),
)

# --- translation sessions ------------------------------------------------------------------

TRANSLATION_SESSION = obj(
    {
        "model": non_empty_string,
        "audio": obj(
            {
                "input": obj(
                    {
                        "transcription": nullable(
                            obj({"model": non_empty_string}, required=("model",))
                        ),
                        "noise_reduction": nullable(
                            obj({"type": catalog(*NOISE_REDUCTION_TYPES)}, required=("type",))
                        ),
                    }
                ),
                "output": obj({"language": non_empty_string}),
            }
        ),
    },
    required=("model",),
)

TRANSLATION_SECRET_REQUEST = obj(
    {"expires_after": EXPIRES_AFTER, "session": TRANSLATION_SESSION},
    extra=False,
    required=("session",),
)

# --- the legacy (beta) sessions the ExOpenAI seed calls --------------------------------------

LEGACY_AUDIO_FORMAT = catalog("pcm16", "g711_ulaw", "g711_alaw")


def _not_a_request_field(value: Any) -> Any:
    raise probatio.Invalid("is what the API returns, not a field of the request")


LEGACY_SESSION_REQUEST = obj(
    {
        # The reference text lists `client_secret` (the response's) as required and leaves out
        # `model`; its own example, the ExOpenAI seed and the API take `model` and no secret.
        "client_secret": _not_a_request_field,
        "model": non_empty_string,
        "modalities": array(one_of("text", "audio")),
        "instructions": string,
        "voice": VOICE,
        "input_audio_format": LEGACY_AUDIO_FORMAT,
        "output_audio_format": LEGACY_AUDIO_FORMAT,
        # As the reference text states the beta session: fewer fields than GA's.
        "input_audio_transcription": nullable(obj({"model": non_empty_string})),
        "turn_detection": nullable(
            obj(
                {
                    "type": catalog("server_vad"),
                    "threshold": number(0.0, 1.0),
                    "prefix_padding_ms": integer(0),
                    "silence_duration_ms": integer(0),
                }
            )
        ),
        "tools": array(
            obj(
                {
                    "type": one_of("function"),
                    "name": string,
                    "description": string,
                    "parameters": obj({}),
                }
            )
        ),
        "tool_choice": string,
        "temperature": number(0.6, 1.2),
        "max_response_output_tokens": either(
            integer(1, 4096), one_of("inf"), message="must be an integer from 1 to 4096 or 'inf'"
        ),
        "speed": number(0.25, 1.5),
        "tracing": TRACING,
        "truncation": TRUNCATION,
        "prompt": PROMPT,
    }
)

LEGACY_TRANSCRIPTION_SESSION_REQUEST = obj(
    {
        "client_secret": _not_a_request_field,
        "turn_detection": nullable(
            obj(
                {
                    "type": one_of("server_vad"),
                    "threshold": number(0.0, 1.0),
                    "prefix_padding_ms": integer(0),
                    "silence_duration_ms": integer(0),
                }
            )
        ),
        "input_audio_noise_reduction": nullable(NOISE_REDUCTION),
        "input_audio_format": LEGACY_AUDIO_FORMAT,
        "input_audio_transcription": TRANSCRIPTION,
        "include": INCLUDE,
    }
)
