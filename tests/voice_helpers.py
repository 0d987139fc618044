"""Shared pieces of the voice tests: a browser on HA's websocket API, and waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant

from simulator import RealtimeSimulator, SimCall

from .browser_peer import BrowserPeer

SATELLITE = "assist_satellite.voice_assistant"
LIGHT = "light.test_light"


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
