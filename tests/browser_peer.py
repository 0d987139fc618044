"""A real WebRTC peer (aiortc) that plays the browser in tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from simulator.webrtc import SpeakerTrack, allow_loopback_ice, frame_level


class BrowserPeer:
    """A microphone, the `oai-events` data channel, and a speaker that measures level.

    The microphone is silent (the user says nothing) until a test plays speech into it.
    """

    def __init__(self) -> None:
        allow_loopback_ice()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.microphone = SpeakerTrack()
        self.pc.addTrack(self.microphone)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.frames_received = 0
        self.peak_level = 0.0
        self._audio = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

        @self.channel.on("message")
        def _on_message(message: Any) -> None:
            if isinstance(message, str):
                self.events.append(json.loads(message))

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            task = asyncio.ensure_future(self._consume(track))
            self._tasks.add(task)

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames_received += 1
            self.peak_level = max(self.peak_level, frame_level(frame))
            if self.frames_received >= 10:
                self._audio.set()

    async def offer(self) -> str:
        """Create the offer; aiortc returns it once ICE gathering is complete."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer: str) -> None:
        """Apply OpenAI's (the simulator's) answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def wait_for_audio(self, timeout: float = 10.0) -> None:
        """Wait until audio frames arrive from the far end."""
        await asyncio.wait_for(self._audio.wait(), timeout)

    async def close(self) -> None:
        """Hang up locally."""
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
