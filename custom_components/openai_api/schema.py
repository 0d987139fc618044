"""Voluptuous schemas of the Realtime API request contract.

They mirror the GA request schemas of the official OpenAPI text
(`RealtimeCreateClientSecretRequest`, `RealtimeSessionCreateRequestGA`,
`RealtimeTranscriptionSessionCreateRequestGA`) for type, enum and range, including the ranges
the API states only in prose (`max_output_tokens` 1-4096, VAD `threshold` 0-1). Validators never
convert or fill in: a payload that passes is sent byte for byte as given, and the API applies its
own defaults. Objects accept unknown keys (new API fields pass through) except where the
contract says `additionalProperties: false`.

The same schemas serve the action, the voice profile flow and the websocket API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import math
import re
from typing import Any

import probatio as vol

type Validator = Callable[[Any], Any]

REALTIME_MODELS = (
    "gpt-realtime",
    "gpt-realtime-1.5",
    "gpt-realtime-2",
    "gpt-realtime-mini",
    "gpt-audio-1.5",
    "gpt-audio-mini",
)
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
TRANSCRIPTION_MODELS = (
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe",
    "gpt-4o-transcribe-diarize",
    "whisper-1",
)
NOISE_REDUCTION_TYPES = ("near_field", "far_field")
TURN_DETECTION_TYPES = ("server_vad", "semantic_vad")
EAGERNESS = ("low", "medium", "high", "auto")
MIN_EXPIRES_SECONDS = 10
MAX_EXPIRES_SECONDS = 7200

# Realtime session fields: a payload that puts one of these beside `session` gets told where
# it belongs instead of a bare "extra keys not allowed".
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


# --- scalar validators ---------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def string(value: Any) -> str:
    """Accept a string as is."""
    if not isinstance(value, str):
        raise vol.Invalid(f"expected a string, got {_type_name(value)}")
    return value


def non_empty_string(value: Any) -> str:
    """Accept a string with at least one non-blank character."""
    if not string(value).strip():
        raise vol.Invalid("must not be empty")
    return value  # type: ignore[no-any-return]


def boolean(value: Any) -> bool:
    """Accept a real boolean (no "yes"/1 coercion)."""
    if not isinstance(value, bool):
        raise vol.Invalid(f"expected a boolean, got {_type_name(value)}")
    return value


def integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
    """Accept an int (not a bool, not a float) within bounds."""

    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise vol.Invalid(f"expected an integer, got {_type_name(value)}")
        _check_range(value, minimum, maximum)
        return value

    return validate


def number(minimum: float | None = None, maximum: float | None = None) -> Validator:
    """Accept an int or float (not a bool) within bounds."""

    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise vol.Invalid(f"expected a number, got {_type_name(value)}")
        if not math.isfinite(value):
            raise vol.Invalid("must be a finite number")
        _check_range(value, minimum, maximum)
        return value

    return validate


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise vol.Invalid(f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise vol.Invalid(f"must be at most {maximum}, got {value}")


def one_of(*options: Any) -> Validator:
    """Accept exactly one of the listed values (type included: 1 is not True)."""

    def validate(value: Any) -> Any:
        for option in options:
            if value == option and type(value) is type(option):
                return value
        raise vol.Invalid(f"must be one of {', '.join(map(repr, options))}, got {value!r}")

    return validate


def nullable(validator: Validator) -> Validator:
    """Accept None or what `validator` accepts."""

    def validate(value: Any) -> Any:
        return None if value is None else validator(value)

    return validate


def array(item: Validator, *, min_items: int = 0) -> Validator:
    """Accept a list whose items all pass `item`; errors name the index."""
    item_schema = vol.Schema(item)

    def validate(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise vol.Invalid(f"expected an array, got {_type_name(value)}")
        if len(value) < min_items:
            raise vol.Invalid(f"needs at least {min_items} item(s)")
        for index, entry in enumerate(value):
            try:
                item_schema(entry)
            except vol.Invalid as err:
                err.prepend([index])
                raise
        return value

    return validate


def obj(
    fields: Mapping[Any, Any], *, extra: bool = True, required: tuple[str, ...] = ()
) -> Validator:
    """Accept a mapping whose known keys pass their validators.

    Unknown keys pass through untouched unless `extra` is False. Nothing is added or coerced:
    the validated value is the input itself.
    """
    schema = vol.Schema(
        {
            **{
                (vol.Required(k) if k in required else vol.Optional(k)): v
                for k, v in fields.items()
            },
        },
        extra=vol.ALLOW_EXTRA if extra else vol.PREVENT_EXTRA,
    )

    def validate(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"expected an object, got {_type_name(value)}")
        schema(dict(value))
        return value

    return validate


def tagged(tag: str, branches: Mapping[str, Validator], *, default: str | None = None) -> Validator:
    """Dispatch an object on its `tag` key (a discriminated union)."""

    def validate(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"expected an object, got {_type_name(value)}")
        kind = value.get(tag, default)
        if kind is None:
            raise vol.Invalid("required key not provided", path=[tag])
        if kind not in branches:
            raise vol.Invalid(
                f"must be one of {', '.join(map(repr, branches))}, got {kind!r}", path=[tag]
            )
        return branches[kind](value)

    return validate


def either(*validators: Validator, message: str) -> Validator:
    """Accept what any validator accepts; otherwise fail with `message`."""

    def validate(value: Any) -> Any:
        for validator in validators:
            try:
                return validator(value)
            except vol.Invalid:
                continue
        raise vol.Invalid(message)

    return validate


def uri(value: Any) -> str:
    """Accept an absolute http(s) URL."""
    if not re.match(r"^https?://[^\s/]+", string(value)):
        raise vol.Invalid(f"must be an absolute http(s) URL, got {value!r}")
    return value  # type: ignore[no-any-return]


# --- the Realtime contract -----------------------------------------------------------------

AUDIO_FORMAT = tagged(
    "type",
    {
        "audio/pcm": obj({"type": string, "rate": one_of(24000)}),
        "audio/pcmu": obj({"type": string}),
        "audio/pcma": obj({"type": string}),
    },
    # No branch requires `type`: an object without one matches the contract's pcmu branch.
    default="audio/pcmu",
)

TRANSCRIPTION = obj(
    {
        "model": non_empty_string,
        "language": string,
        "languages": array(string, min_items=1),
        "keywords": array(string),
        "prompt": string,
        "delay": one_of("minimal", "low", "medium", "high", "xhigh"),
    }
)

NOISE_REDUCTION = obj({"type": one_of(*NOISE_REDUCTION_TYPES)})

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
                    "eagerness": one_of(*EAGERNESS),
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

INCLUDE = array(one_of("item.input_audio_transcription.logprobs"))

_TOOL_FILTER = obj({"tool_names": array(string), "read_only": boolean}, extra=False)

FUNCTION_TOOL = obj(
    {"type": one_of("function"), "name": string, "description": string, "parameters": obj({})}
)

MCP_TOOL = obj(
    {
        "type": one_of("mcp"),
        "server_label": string,
        "server_url": uri,
        "connector_id": one_of(
            "connector_dropbox",
            "connector_gmail",
            "connector_googlecalendar",
            "connector_googledrive",
            "connector_microsoftteams",
            "connector_outlookcalendar",
            "connector_outlookemail",
            "connector_sharepoint",
        ),
        "tunnel_id": vol.All(string, vol.Match(r"^tunnel_[a-z0-9]{32}$")),
        "authorization": string,
        "server_description": string,
        "headers": nullable(vol.Schema({string: string})),
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
TOOL = tagged("type", {"function": FUNCTION_TOOL, "mcp": MCP_TOOL}, default="function")

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
            "variables": nullable(vol.Schema({string: _PROMPT_VARIABLE})),
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
        "reasoning": obj({"effort": one_of("minimal", "low", "medium", "high", "xhigh")}),
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

CLIENT_SECRET_REQUEST = vol.Schema(
    {vol.Optional("expires_after"): EXPIRES_AFTER, vol.Optional("session"): SESSION}
)


class MisplacedFieldError(vol.Invalid):
    """A session field was given beside `session` instead of inside it."""


def validate_client_secret_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a `POST /realtime/client_secrets` body; return it unchanged.

    Raises `vol.Invalid` whose `path` names the offending field.
    """
    for key in payload:
        if key in SESSION_FIELDS:
            raise MisplacedFieldError(
                f"`{key}` belongs inside `session` (write `session.{key}`)", path=[key]
            )
        if key not in ("expires_after", "session"):
            raise vol.Invalid(
                "is not a field of the request, which takes `expires_after` and `session`",
                path=[key],
            )
    body = dict(payload)
    CLIENT_SECRET_REQUEST(body)
    return body


def format_path(path: list[Any]) -> str:
    """Render a voluptuous error path the way OpenAI writes `param` (`tools[0].type`)."""
    out = ""
    for part in path:
        key = getattr(part, "schema", part)  # vol.Required/Optional markers wrap the key
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out


# --- what a browser may send -----------------------------------------------------------------

SDP_REQUIRED_LINES = (
    ("m=audio ", "an audio section (m=audio)"),
    ("a=ice-ufrag:", "ICE credentials (a=ice-ufrag)"),
    ("a=fingerprint:", "a DTLS fingerprint (a=fingerprint)"),
    ("a=candidate:", "ICE candidates: wait for ICE gathering to complete before sending"),
)


def sdp_offer(max_bytes: int) -> Validator:
    """Accept an SDP offer of bounded size that can set up a Realtime call.

    The Realtime API has no trickle ICE, so the offer must already carry its candidates.
    """

    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"expected a string, got {_type_name(value)}")
        if len(value.encode()) > max_bytes:
            raise vol.Invalid(f"is larger than {max_bytes} bytes")
        if not value.startswith("v=0") or "\x00" in value:
            raise vol.Invalid("is not an SDP offer (it must start with v=0)")
        lines = value.splitlines()
        for prefix, what in SDP_REQUIRED_LINES:
            if not any(line.startswith(prefix) for line in lines):
                raise vol.Invalid(f"lacks {what}")
        return value

    return validate
