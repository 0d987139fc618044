"""The browser's side of a WebRTC call, as far as the benchmarks need it (aiortc).

A real SDP offer (an audio section and the `oai-events` data channel, ICE candidates gathered on
loopback), the answer applied, the connection state, closing. No microphone and no speaker:
the benchmarks time the set-up and the control of calls, and a call's audio never passes
through Home Assistant. The audio section is `sendrecv` without a track, as a browser offers
it before the microphone is granted.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from simulator.webrtc import allow_loopback_ice, cancel_stray_ice_tasks

_MEDIA_PACKAGES = tuple(f"{os.sep}{name}{os.sep}" for name in ("aiortc", "aioice"))


class BrowserPeer:
    """One browser peer connection."""

    def __init__(self) -> None:
        allow_loopback_ice()  # the only network here is loopback, which aioice skips otherwise
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("audio", direction="sendrecv")
        self.channel = self.pc.createDataChannel("oai-events")

    async def offer(self) -> str:
        """Create the offer; aiortc returns it once ICE gathering is complete."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer: str) -> None:
        """Apply OpenAI's (the simulator's) answer: ICE and DTLS start."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    @property
    def connected(self) -> bool:
        """Whether ICE and DTLS are through."""
        return bool(self.pc.connectionState == "connected")

    async def close(self) -> None:
        """Hang up locally."""
        await self.pc.close()


def media_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of the WebRTC stack (aiortc, aioice), the browser's or the simulator's."""
    current = asyncio.current_task()
    out = []
    for task in asyncio.all_tasks():
        filename = getattr(getattr(task.get_coro(), "cr_code", None), "co_filename", "")
        if task is not current and any(package in filename for package in _MEDIA_PACKAGES):
            out.append(task)
    return out


async def cancel_media_stragglers() -> int:
    """Cancel what aiortc leaves running after its peers closed; return how many there were.

    A peer closed while ICE or DTLS is still connecting (the other side hung up, the browser
    left) lets aiortc's connect task go on after the close and start tasks nothing stops (RTCP
    loops, consent checks). They are the WebRTC stack's, never Home Assistant's: counted and
    reported, not taken for a leak of the integration.
    """
    await cancel_stray_ice_tasks()
    stray = media_tasks()
    for task in stray:
        task.cancel()
    await asyncio.gather(*stray, return_exceptions=True)
    return len(stray)
