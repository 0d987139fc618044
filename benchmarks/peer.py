"""The browser's side of a WebRTC call, as far as the benchmarks need it (aiortc).

A real SDP offer (an audio section and the `oai-events` data channel, ICE candidates gathered on
loopback), the answer applied, the connection state, closing. No microphone and no speaker:
the benchmarks time the set-up and the control of calls, and a call's audio never passes
through Home Assistant. The audio section is `sendrecv` without a track, as a browser offers
it before the microphone is granted.
"""

from __future__ import annotations

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from simulator.webrtc import allow_loopback_ice


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
