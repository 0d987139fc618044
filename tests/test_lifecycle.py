"""Races with the network and with unloading: once OpenAI has a call id, HA hangs it up.

Each test drives a real request to the simulator and makes something happen while it is on
its way: the entry unloads, HA stops, the browser's connection closes, a hang-up fails.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.openai_api.api import OpenAIServerError
from custom_components.openai_api.realtime import hangup as hangup_module
from simulator import RealtimeSimulator

from .browser_peer import BrowserPeer
from .voice_helpers import SATELLITE, Voice, until


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hang-up retries without the real backoff."""
    monkeypatch.setattr(hangup_module, "RETRY_DELAYS", (0.01, 0.01, 0.01))


async def _send_connect(voice: Voice) -> None:
    """Send an offer without waiting for the answer."""
    peer = BrowserPeer()
    voice.peers.append(peer)
    await voice.ws.send_json_auto_id(
        {"type": "openai_api/realtime/connect", "entity_id": SATELLITE, "sdp": await peer.offer()}
    )


async def _in_flight(voice: Voice, simulator: RealtimeSimulator, delay: float = 0.5) -> None:
    """Start a connect whose POST /realtime/calls is held at the simulator for `delay` s."""
    simulator.add_fault("/realtime/calls", "slow", delay=delay)
    await _send_connect(voice)
    await until(lambda: simulator.requests_to("/realtime/calls"))


def _live_at_openai(simulator: RealtimeSimulator) -> list[str]:
    return [c.call_id for c in simulator.calls.values() if not c.hung_up]


async def test_unload_while_the_call_is_being_created(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The browser gets an error, not an answer, and the new call is hung up at once."""
    await _in_flight(voice, simulator)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    reply = await voice.ws.receive_json()
    assert reply["success"] is False
    assert reply["error"]["translation_key"] == "entry_unloading"
    assert len(simulator.calls) == 1
    assert _live_at_openai(simulator) == []
    assert all(c.hangup_reason == "hangup" for c in simulator.calls.values())


# HA's websocket server closes the test client's connection at stop; aiohttp re-arms the
# heartbeat timer of a socket that receives data while closing (see test_realtime_edges).
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_home_assistant_stops_while_the_call_is_being_created(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    await _in_flight(voice, simulator)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await until(lambda: simulator.calls and not _live_at_openai(simulator))
    await hass.async_block_till_done()
    assert loaded_entry.runtime_data.manager.calls == []


async def test_failure_after_unload_started_keeps_its_own_error(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The upstream error reaches the browser; no unknown_error masks it."""
    client = loaded_entry.runtime_data.client
    started = asyncio.Event()

    async def failing_create_call(*_args: Any, **_kwargs: Any) -> Any:
        started.set()
        await asyncio.sleep(0.2)
        raise OpenAIServerError("The server had an error", status=500)

    monkeypatch.setattr(client, "create_call", failing_create_call)
    await _send_connect(voice)
    await started.wait()
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    reply = await voice.ws.receive_json()
    assert reply["error"]["code"] == "home_assistant_error"
    assert reply["error"]["translation_key"] == "server_error"


async def test_browser_leaves_while_the_call_is_being_created(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """The call is hung up as soon as OpenAI names it, and the user's slot is free again."""
    await _in_flight(voice, simulator)
    await voice.ws.close()
    await until(lambda: simulator.calls and not _live_at_openai(simulator))
    await until(lambda: hass.states.get(SATELLITE).attributes["call_count"] == 0)
    # A new tab of the same user (one session per user) gets its call.
    tab = Voice(hass, await hass_ws_client(hass), simulator)
    _peer, call_id, _call = await tab.connect()
    assert _live_at_openai(simulator) == [call_id]
    await tab.close()


async def test_failed_hang_up_is_retried(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    _peer, call_id, call = await voice.connect()
    simulator.add_fault(f"/realtime/calls/{call_id}/hangup", "500")
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert call.hung_up
    assert len(simulator.requests_to(f"/realtime/calls/{call_id}/hangup")) == 2


async def test_hang_up_that_keeps_failing_is_reported(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After the last retry a warning names the call, which may still be live at OpenAI."""
    _peer, call_id, call = await voice.connect()
    simulator.add_fault(f"/realtime/calls/{call_id}/hangup", "503", count=10)
    with caplog.at_level(logging.WARNING):
        assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    attempts = simulator.requests_to(f"/realtime/calls/{call_id}/hangup")
    assert len(attempts) == 1 + len(hangup_module.RETRY_DELAYS)
    assert any(r.levelno == logging.WARNING and call_id in r.getMessage() for r in caplog.records)
    await call.end("test")  # OpenAI would end it at its time limit


async def test_hang_up_of_a_call_openai_already_ended(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """404 on hang-up means the call is over: no retries."""
    _peer, call_id, call = await voice.connect()
    call.hung_up = True  # gone at OpenAI, but HA has not heard yet
    reply = await voice.command(type="openai_api/realtime/hangup", call_id=call_id)
    assert reply["result"] == {"call_id": call_id, "ended": True}
    assert len(simulator.requests_to(f"/realtime/calls/{call_id}/hangup")) == 1


async def test_secret_minted_while_the_entry_unloads_is_not_handed_out(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    simulator.add_fault("/realtime/client_secrets", "slow", delay=0.5)
    await voice.ws.send_json_auto_id(
        {"type": "openai_api/realtime/ephemeral", "entity_id": SATELLITE}
    )
    await until(lambda: simulator.requests_to("/realtime/client_secrets"))
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    reply = await voice.ws.receive_json()
    assert reply["error"]["translation_key"] == "entry_unloading"


async def test_secret_whose_requester_left_frees_the_slot(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """The browser closed before it got the secret: nobody holds it, the slot is free."""
    simulator.add_fault("/realtime/client_secrets", "slow", delay=0.3)
    await voice.ws.send_json_auto_id(
        {"type": "openai_api/realtime/ephemeral", "entity_id": SATELLITE}
    )
    await until(lambda: simulator.requests_to("/realtime/client_secrets"))
    await voice.ws.close()
    await asyncio.sleep(0.5)
    tab = Voice(hass, await hass_ws_client(hass), simulator)
    reply = await tab.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE)
    assert reply["success"], reply


async def test_hang_up_waits_as_a_rate_limit_asks_and_stops_on_a_bad_request(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """429 waits for Retry-After (bounded); a 400 is not retried (the request is wrong)."""
    _peer, call_id, call = await voice.connect()
    path = f"/realtime/calls/{call_id}/hangup"
    simulator.add_fault(path, "429", retry_after=0.05)
    reply = await voice.command(type="openai_api/realtime/hangup", call_id=call_id)
    assert reply["result"]["ended"] is True
    assert len(simulator.requests_to(path)) == 2 and call.hung_up

    _peer, other_id, other = await voice.connect()
    other_path = f"/realtime/calls/{other_id}/hangup"
    simulator.add_fault(other_path, "400")
    await voice.command(type="openai_api/realtime/hangup", call_id=other_id)
    assert len(simulator.requests_to(other_path)) == 1
    await other.end("test")
