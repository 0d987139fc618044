"""The API key never leaves Home Assistant: not in logs, events, websocket results or diagnostics."""

from __future__ import annotations

import json
import logging
from typing import Any

from homeassistant.const import MATCH_ALL
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api.const import DOMAIN, SERVICE_CREATE_CLIENT_SECRET
from simulator import RealtimeSimulator, Turn

from .conftest import API_KEY
from .voice_helpers import LIGHT, SATELLITE, Voice, until


async def test_key_stays_in_home_assistant(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A whole working day, with debug logging on: the key shows up nowhere it could leak."""
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []

    @callback
    def _record(event: Event) -> None:
        events.append(event)

    hass.bus.async_listen(MATCH_ALL, _record)
    replies: list[dict[str, Any]] = []

    # The action, and the action failing in each way OpenAI can fail.
    await hass.services.async_call(
        DOMAIN,
        SERVICE_CREATE_CLIENT_SECRET,
        {"session": {"type": "realtime", "model": "gpt-realtime"}},
        blocking=True,
        return_response=True,
    )
    for status in ("400", "429", "500", "malformed_json"):
        simulator.add_fault("/realtime/client_secrets", status)
        with pytest.raises(HomeAssistantError):
            await hass.services.async_call(
                DOMAIN,
                SERVICE_CREATE_CLIENT_SECRET,
                {"session": {"type": "realtime"}},
                blocking=True,
                return_response=True,
            )

    # A voice call in relay mode with a tool call, then ephemeral mode.
    _peer, call_id, call = await voice.connect()
    await call.user_turn(Turn())
    await until(lambda: hass.states.get(LIGHT).state == "on")
    replies.append(await voice.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE))
    replies.append(await voice.command(type="openai_api/realtime/hangup", call_id=call_id))
    replies.append(
        await voice.command(type="config_entries/get_single", entry_id=loaded_entry.entry_id)
    )

    assert len(simulator.requests_to("/realtime/calls")) == 1  # the wire did carry the key
    assert API_KEY not in caplog.text
    assert API_KEY not in json.dumps([e.as_dict() for e in events], default=str)
    assert API_KEY not in json.dumps(replies)
    assert API_KEY not in json.dumps(
        {s.entity_id: dict(s.attributes) for s in hass.states.async_all()}, default=str
    )
