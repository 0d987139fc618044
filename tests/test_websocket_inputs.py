"""Garbage on the websocket commands: always a clean error, never a crash or an OpenAI call."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from simulator import RealtimeSimulator

from .voice_helpers import SATELLITE, Voice

GARBAGE: list[Any] = [None, 5, 1.5, True, [], ["x"], {}, {"a": [1]}, "", "x" * 100_000]


@pytest.mark.parametrize(
    ("command", "field", "valid"),
    [
        ("openai_api/realtime/connect", "entity_id", {"sdp": "v=0"}),
        ("openai_api/realtime/connect", "sdp", {"entity_id": SATELLITE}),
        ("openai_api/realtime/ephemeral", "entity_id", {}),
        ("openai_api/realtime/attach", "entity_id", {"call_id": "rtc_1"}),
        ("openai_api/realtime/attach", "call_id", {"entity_id": SATELLITE}),
        ("openai_api/realtime/hangup", "call_id", {}),
    ],
)
async def test_garbage_fields(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    caplog: pytest.LogCaptureFixture,
    command: str,
    field: str,
    valid: dict[str, Any],
) -> None:
    for value in [*GARBAGE, "light.kitchen", "assist_satellite.nope", "rtc_../../x"]:
        reply = await voice.command(type=command, **valid, **{field: value})
        if reply["success"]:
            # Only a hang-up of an unknown call may succeed: it ends nothing.
            assert command == "openai_api/realtime/hangup"
            assert reply["result"]["ended"] is False
            continue
        assert reply["error"]["code"] in (
            "invalid_format",
            "home_assistant_error",
            "unauthorized",
        ), (value, reply)
    assert simulator.requests_to("/realtime/calls") == []
    assert simulator.requests_to("/realtime/client_secrets") == []
    assert "Traceback" not in caplog.text
    assert not [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and "Unknown error" in r.getMessage()
    ]
    pong = await voice.command(type="ping")
    assert pong["type"] == "pong"


async def test_oversized_and_hollow_offers(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """An offer is bounded and must be able to set up a call; the reason is named."""
    for sdp, reason in [
        ("v=0\r\n" + "a=x\r\n" * 10_000, "larger than"),
        ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "audio section"),
        ("hello", "must start with v=0"),
    ]:
        reply = await voice.command(
            type="openai_api/realtime/connect", entity_id=SATELLITE, sdp=sdp
        )
        assert reply["error"]["translation_key"] == "invalid_sdp"
        assert reason in reply["error"]["message"]
    assert simulator.requests_to("/realtime/calls") == []
