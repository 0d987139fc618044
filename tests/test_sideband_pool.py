"""Sidebands keep their connection for the whole call: they must not starve REST calls.

HA's shared aiohttp pool allows 100 connections per host. Found by the memory benchmark: with
100 live sidebands in that pool, a hang-up waited 30 s for a connection and timed out, and the
call went on at OpenAI without HA.
"""

from __future__ import annotations

import asyncio
from unittest.mock import patch

from homeassistant.core import HomeAssistant

from custom_components.openai_api.const import (
    CONF_MAX_SESSIONS,
    CONF_MAX_SESSIONS_PER_USER,
    DOMAIN,
    SERVICE_CREATE_CLIENT_SECRET,
)
from custom_components.openai_api.realtime.models import EndReason
from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE
from simulator import RealtimeSimulator

from .conftest import make_entry
from .voice_helpers import attach_sim_call, until

PER_HOST = 2  # HA's shared pool, shrunk from 100 so that two calls fill it


async def test_live_sidebands_leave_rest_calls_their_connections(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """With the shared pool's per-host limit held by sidebands, REST calls still go out."""
    profile = {**DEFAULT_PROFILE, CONF_MAX_SESSIONS: 5, CONF_MAX_SESSIONS_PER_USER: 5}
    entry = make_entry(simulator, profiles={"Voice assistant": profile})
    entry.add_to_hass(hass)
    with patch("homeassistant.helpers.aiohttp_client.MAXIMUM_CONNECTIONS_PER_HOST", PER_HOST):
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    manager = entry.runtime_data.manager
    client = entry.runtime_data.client
    calls = [simulator.add_call() for _ in range(PER_HOST)]
    for call in calls:
        await attach_sim_call(entry, call)
    await until(lambda: all(c.sidebands for c in calls))

    async with asyncio.timeout(5):
        secret = await hass.services.async_call(
            DOMAIN, SERVICE_CREATE_CLIENT_SECRET, {}, blocking=True, return_response=True
        )
        assert secret is not None
        assert str(secret["value"]).startswith("ek_")
        for call in calls:
            live = manager.get(call.call_id)
            assert live is not None
            await live.async_hangup(EndReason.HANGUP_COMMAND)
    assert all(call.hangup_reason == "hangup" for call in calls)

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert client._sideband_session.closed
