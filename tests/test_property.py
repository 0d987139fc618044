"""Property: any payload is either rejected with ServiceValidationError before anything is sent,
or reaches the simulator (which validates against the official OpenAPI text) byte for byte."""

from __future__ import annotations

import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from hypothesis import HealthCheck, given, settings, strategies as st
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api.const import DOMAIN
from simulator import RealtimeSimulator

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10_000)
    | st.floats(-2, 2, allow_nan=False, width=32)
    | st.text(max_size=6)
)
JUNK = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2)
    ),
    max_leaves=5,
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values, sometimes anything at all."""
    return st.one_of(valid, valid, valid, JUNK)


def obj(required: dict[str, Any] | None = None, **optional: st.SearchStrategy[Any]) -> Any:
    return maybe(st.fixed_dictionaries(required or {}, optional=optional))


FORMAT = obj(
    type=st.sampled_from(["audio/pcm", "audio/pcmu", "audio/pcma", "audio/wav"]),
    rate=st.sampled_from([24000, 16000]),
)
TURN = maybe(
    st.none()
    | st.fixed_dictionaries(
        {"type": st.sampled_from(["server_vad", "semantic_vad", "fast_vad"])},
        optional={
            "threshold": st.floats(-0.5, 1.5),
            "prefix_padding_ms": st.integers(-10, 1000),
            "silence_duration_ms": st.integers(0, 1000),
            "idle_timeout_ms": st.none() | st.integers(0, 40_000),
            "create_response": st.booleans(),
            "interrupt_response": st.booleans(),
            "eagerness": st.sampled_from(["low", "medium", "high", "auto", "max"]),
        },
    )
)
AUDIO_INPUT = obj(
    format=FORMAT,
    transcription=obj(
        model=st.sampled_from(["whisper-1", "gpt-4o-transcribe", "", "my-model"]),
        language=st.text(max_size=3),
        prompt=st.text(max_size=5),
    ),
    noise_reduction=obj(type=st.sampled_from(["near_field", "far_field", "none"])),
    turn_detection=TURN,
)
TOOL = obj(
    type=st.sampled_from(["function", "mcp", "web"]),
    name=st.text(max_size=5),
    server_label=st.text(max_size=5),
    parameters=st.just({"type": "object"}),
)
REALTIME = st.fixed_dictionaries(
    {"type": st.just("realtime")},
    optional={
        "model": maybe(st.sampled_from(["gpt-realtime", "gpt-realtime-1.5", "gpt-audio-1.5", "x"])),
        "instructions": maybe(st.text(max_size=10)),
        "output_modalities": maybe(
            st.lists(st.sampled_from(["audio", "text", "video"]), max_size=2)
        ),
        "audio": obj(
            input=AUDIO_INPUT,
            output=obj(
                format=FORMAT,
                voice=st.sampled_from(["alloy", "marin", "custom"]) | st.just({"id": "voice_1"}),
                speed=st.floats(0, 2),
            ),
        ),
        "tools": maybe(st.lists(TOOL, max_size=2)),
        "tool_choice": maybe(st.sampled_from(["auto", "none", "required", "always"])),
        "max_output_tokens": maybe(st.integers(-1, 5000) | st.sampled_from(["inf", "max"])),
        "tracing": maybe(st.none() | st.just("auto") | st.just({"workflow_name": "w"})),
        "truncation": maybe(st.sampled_from(["auto", "disabled", "sometimes"])),
        "include": maybe(st.lists(st.just("item.input_audio_transcription.logprobs"), max_size=1)),
    },
)
TRANSCRIPTION = st.fixed_dictionaries(
    {"type": st.just("transcription")},
    optional={"audio": obj(input=AUDIO_INPUT), "include": maybe(st.lists(st.text(max_size=3)))},
)
PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "expires_after": obj(
            anchor=st.sampled_from(["created_at", "expires_at"]), seconds=st.integers(0, 8000)
        ),
        "session": maybe(REALTIME | TRANSCRIPTION),
        "model": st.just("gpt-realtime"),
    },
)


# Where the integration leaves the judgement to OpenAI (see schema/contract.py).
OPEN_VALUE = re.compile(
    r"(include\[\d+\]|noise_reduction\.type|eagerness|connector_id|delay|effort"
    r"|tools\[\d+\](\.type)?|format(\.type)?)$"
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=PAYLOAD)
async def test_payload_is_rejected_or_passes_intact(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    payload: dict[str, Any],
) -> None:
    """Validation never lets through what the API rejects, and never changes what it accepts."""
    simulator.clear()
    try:
        response = await hass.services.async_call(
            DOMAIN,
            "create_realtime_client_secret",
            payload,
            blocking=True,
            return_response=True,
        )
    except ServiceValidationError:
        assert simulator.requests_to("/realtime/client_secrets") == []
        return
    except HomeAssistantError as err:
        # Open values (catalog names, unknown fields, new kinds of tools and formats) are the
        # API's to judge: its 400 must name the field, and must be about an open value.
        bodies = [r.json() for r in simulator.requests_to("/realtime/client_secrets")]
        assert bodies == [payload]
        assert err.translation_key == "bad_request"
        placeholders = err.translation_placeholders or {}
        assert placeholders["code"] == "unknown_parameter" or OPEN_VALUE.search(
            placeholders["param"]
        ), placeholders
        return
    bodies = [r.json() for r in simulator.requests_to("/realtime/client_secrets")]
    assert bodies == [payload]
    assert response is not None
    assert response["value"].startswith("ek_")
