"""Shared pieces of the voice tests: a browser on HA's websocket API, and waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

# The test light is the benchmarks' too: one setup for both (re-exported for the tests).
from benchmarks.fixtures import LIGHT, async_setup_test_light
from custom_components.openai_api.const import DOMAIN
from custom_components.openai_api.realtime.call import RealtimeCall
from custom_components.openai_api.realtime.manager import CallRequest
from custom_components.openai_api.realtime.models import CallOwner
from custom_components.openai_api.realtime.profile import VoiceProfile
from simulator import RealtimeSimulator, SimCall

from .browser_peer import BrowserPeer

SATELLITE = "assist_satellite.voice_assistant"

__all__ = [
    "LIGHT",
    "SATELLITE",
    "Voice",
    "act",
    "assert_api_failure",
    "assert_refused_unsent",
    "async_setup_test_light",
    "attach_sim_call",
    "until",
]


async def act(hass: HomeAssistant, action: str, data: dict[str, Any], **kw: Any) -> Any:
    """Call one of the integration's actions and return its response."""
    return await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True, **kw
    )


async def assert_api_failure(
    hass: HomeAssistant, entry: ConfigEntry, attempt: Awaitable[Any], key: str
) -> None:
    """`attempt` fails with OpenAI's error translated as `key`; the entry stays loaded.

    A rejected key (`auth_failed`) starts reauth, and nothing else does.
    """
    with pytest.raises(HomeAssistantError) as err:
        await attempt
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == key
    assert entry.state is ConfigEntryState.LOADED
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == (["reauth"] if key == "auth_failed" else [])


async def assert_refused_unsent(
    hass: HomeAssistant, simulator: RealtimeSimulator, action: str, data: dict[str, Any], field: str
) -> None:
    """The action refuses `data` with an error naming `field`, and sends nothing to OpenAI."""
    simulator.clear()
    with pytest.raises(ServiceValidationError) as err:
        await act(hass, action, data)
    assert err.value.translation_key == "invalid_request"
    assert err.value.translation_placeholders["field"] == field
    assert [r for r in simulator.requests if r.path.startswith("/realtime")] == []


async def attach_sim_call(
    entry: ConfigEntry, sim_call: SimCall, *, user_id: str | None = None
) -> RealtimeCall:
    """Attach a media-less simulator call the way the card's ephemeral mode does."""
    manager = entry.runtime_data.manager
    subentry = next(iter(entry.subentries.values()))
    owner = CallOwner(
        entry_id=entry.entry_id, profile_id=subentry.subentry_id, entity_id=None, user_id=user_id
    )
    profile = VoiceProfile.from_subentry(subentry)
    await manager.async_ephemeral(CallRequest(), profile, owner, device_id=None)
    return manager.async_attach(CallRequest(), owner, sim_call.call_id)  # type: ignore[no-any-return]


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait until `check()` is truthy (the world moves on other tasks)."""
    async with asyncio.timeout(timeout):
        while not (result := check()):
            await asyncio.sleep(0.02)
    return result


class Voice:
    """A browser (aiortc) talking to HA's websocket API."""

    def __init__(self, hass: HomeAssistant, ws: Any, simulator: RealtimeSimulator) -> None:
        self.hass = hass
        self.ws = ws
        self.simulator = simulator
        self.peers: list[BrowserPeer] = []

    async def command(self, **msg: Any) -> dict[str, Any]:
        await self.ws.send_json_auto_id(msg)
        return await self.ws.receive_json()  # type: ignore[no-any-return]

    async def connect(self, entity_id: str = SATELLITE) -> tuple[BrowserPeer, str, SimCall]:
        peer = BrowserPeer()
        self.peers.append(peer)
        offer = await peer.offer()
        reply = await self.command(
            type="openai_api/realtime/connect", entity_id=entity_id, sdp=offer
        )
        assert reply["success"], reply
        await peer.accept(reply["result"]["sdp"])
        call_id = reply["result"]["call_id"]
        call = self.simulator.calls[call_id]
        await until(lambda: call.sidebands)
        # Closing a peer while ICE is still connecting races inside aiortc: wait for media.
        await until(lambda: peer.pc.connectionState == "connected")
        await until(lambda: peer.channel.readyState == "open")
        return peer, call_id, call

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()
