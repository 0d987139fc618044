"""The shared Realtime schemas, directly: the messages users read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import probatio as vol
import pytest

from custom_components.openai_api.schema.contract import validate_client_secret_request
from custom_components.openai_api.schema.sdp import sdp_offer
from custom_components.openai_api.schema.validators import format_path


def _error(payload: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(vol.Invalid) as err:
        validate_client_secret_request(payload)
    return format_path(list(err.value.path)), str(err.value.msg)


@pytest.mark.parametrize(
    ("session", "field", "message"),
    [
        (
            {"parallel_tool_calls": "yes"},
            "session.parallel_tool_calls",
            "expected a boolean, got string",
        ),
        (
            {"audio": {"output": {"speed": "fast"}}},
            "session.audio.output.speed",
            "expected a number, got string",
        ),
        (
            {"audio": {"output": {"speed": float("nan")}}},
            "session.audio.output.speed",
            "must be a finite number",
        ),
        (
            {"audio": {"output": {"speed": datetime(2026, 1, 1)}}},
            "session.audio.output.speed",
            "got datetime",
        ),
        (
            {"audio": {"input": {"transcription": {"languages": []}}}},
            "session.audio.input.transcription.languages",
            "needs at least 1 item(s)",
        ),
        (
            {"tools": [{"type": "mcp", "server_label": "x", "server_url": "ftp://x"}]},
            "session.tools[0].server_url",
            "absolute http(s) URL",
        ),
        ({"instructions": None}, "session.instructions", "expected a string, got null"),
        (
            {"output_modalities": "audio"},
            "session.output_modalities",
            "expected an array, got string",
        ),
        ({"audio": []}, "session.audio", "expected an object, got array"),
        ({"max_output_tokens": 1.5}, "session.max_output_tokens", "integer from 1 to 4096"),
    ],
)
def test_messages_name_field_and_problem(session: dict[str, Any], field: str, message: str) -> None:
    got_field, got_message = _error({"session": {"type": "realtime", **session}})
    assert got_field == field
    assert message in got_message


def test_validated_payload_is_the_input() -> None:
    """Nothing is coerced or added: the same objects come back."""
    payload = {"session": {"type": "realtime", "audio": {"output": {"voice": "marin"}}}}
    assert validate_client_secret_request(payload) == payload
    assert validate_client_secret_request(payload)["session"] is payload["session"]


def test_sdp_offer_type_and_nul() -> None:
    validate = sdp_offer
    with pytest.raises(vol.Invalid, match="expected a string"):
        validate(5)
    with pytest.raises(vol.Invalid, match="v=0"):
        validate("v=0\x00")
