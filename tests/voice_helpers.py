"""Shared pieces of the voice tests: a browser on HA's websocket API, and waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.openai_api.realtime.call import RealtimeCall
from custom_components.openai_api.realtime.manager import CallRequest
from custom_components.openai_api.realtime.models import CallOwner
from custom_components.openai_api.realtime.profile import VoiceProfile
from simulator import RealtimeSimulator, SimCall

from .browser_peer import BrowserPeer

SATELLITE = "assist_satellite.voice_assistant"
LIGHT = "light.test_light"


async def async_setup_test_light(hass: HomeAssistant) -> str:
    """A template light on an input_boolean, exposed to Assist; return its entity id."""
    power = "input_boolean.test_light_power"
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"test_light_power": {"name": "power"}}}
    )
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "light": [
                        {
                            "name": "Test light",
                            "state": f"{{{{ is_state('{power}', 'on') }}}}",
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": {"entity_id": power},
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": {"entity_id": power},
                            },
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()
    async_expose_entity(hass, "conversation", LIGHT, True)
    return LIGHT


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
