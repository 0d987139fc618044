"""The simulator's WebRTC peer: answers an SDP offer like OpenAI's media server does.

It opens (or accepts) the `oai-events` data channel, plays a test tone back and measures the
level of the audio it receives, so tests can tell that audio really flowed both ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import fractions
import math
import time
from typing import Any

import aioice.ice
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
import av
import numpy as np

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms


def allow_loopback_ice() -> None:
    """Gather 127.0.0.1 as a host candidate.

    aioice skips loopback addresses, which leaves no candidate at all on a machine whose only
    reachable network is loopback. Tests, benchmarks and the dev simulator run on 127.0.0.1.
    """
    aioice.ice.get_host_addresses = _loopback_addresses  # type: ignore[assignment]


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone at a clearly audible level: the "model's voice"."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self._frequency = frequency
        self._amplitude = amplitude
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        """Return the next 20 ms of tone, paced in real time."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(FRAME_SAMPLES) + self._pts) / SAMPLE_RATE
        samples = (self._amplitude * 32767 * np.sin(2 * math.pi * self._frequency * t)).astype(
            np.int16
        )
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += FRAME_SAMPLES
        return frame


def frame_level(frame: av.AudioFrame) -> float:
    """RMS level of a frame in 0..1."""
    data = frame.to_ndarray().astype(np.float64)
    if data.size == 0:
        return 0.0
    if np.issubdtype(frame.to_ndarray().dtype, np.integer):
        data /= 32768.0
    return float(np.sqrt(np.mean(np.square(data))))


class MediaPeer:
    """One answered peer connection."""

    def __init__(
        self,
        on_channel_message: Callable[[str], None],
        on_audio_level: Callable[[float], None],
        on_closed: Callable[[], None],
    ) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel: RTCDataChannel | None = None
        self.frames_received = 0
        self.peak_level = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_message = on_channel_message
        self._on_level = on_audio_level
        self._on_closed = on_closed
        self.channel_open = asyncio.Event()

        @self.pc.on("datachannel")
        def _on_datachannel(channel: RTCDataChannel) -> None:
            self._use_channel(channel)

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                task = asyncio.ensure_future(self._consume(track))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        @self.pc.on("connectionstatechange")
        async def _on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                self._on_closed()

    def _use_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel

        @channel.on("message")
        def _on_message(message: Any) -> None:
            if isinstance(message, str):
                self._on_message(message)

        if channel.readyState == "open":
            self.channel_open.set()
        else:
            channel.on("open", self.channel_open.set)

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames_received += 1
            level = frame_level(frame)
            self.peak_level = max(self.peak_level, level)
            self._on_level(level)

    async def answer(self, offer_sdp: str) -> str:
        """Apply the offer and return the answer with every candidate (no trickle ICE)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self.pc.addTrack(ToneTrack())
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def send(self, text: str) -> None:
        """Send a text message on the data channel when it is open."""
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)

    async def close(self) -> None:
        """Close the connection and stop reading audio."""
        for task in list(self._tasks):
            task.cancel()
        await self.pc.close()


_STRAY = ("Connection.query_consent", "RTCPeerConnection.__connect")


async def cancel_stray_ice_tasks() -> None:
    """Cancel ICE tasks that outlive their closed peer connection.

    When close() races with ICE completing, aioice can start its consent-check task after the
    connection was closed; nothing else would ever stop it.
    """
    current = asyncio.current_task()
    stray = [
        t
        for t in asyncio.all_tasks()
        if t is not current and getattr(t.get_coro(), "__qualname__", "").endswith(_STRAY)
    ]
    for task in stray:
        task.cancel()
    await asyncio.gather(*stray, return_exceptions=True)
