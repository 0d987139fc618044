"""The simulator's WebRTC peer: answers an SDP offer like OpenAI's media server does.

It accepts the `oai-events` data channel, speaks through a `SpeakerTrack` (silence until the
model says something) and reports the level of every 20 ms of audio it receives, which is what
the call's voice activity detection listens to.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import fractions
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
import numpy.typing as npt

from .speech import SAMPLE_RATE

FRAME_SAMPLES = SAMPLE_RATE // 50  # 20 ms


def allow_loopback_ice() -> None:
    """Gather 127.0.0.1 as a host candidate.

    aioice skips loopback addresses, which leaves no candidate at all on a machine whose only
    reachable network is loopback. Tests, benchmarks and the dev simulator run on 127.0.0.1.
    """
    aioice.ice.get_host_addresses = _loopback_addresses  # type: ignore[assignment]


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


class _PacedAudioTrack(MediaStreamTrack):
    """20 ms frames of 16-bit mono at 48 kHz, delivered in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        """Return the next 20 ms, paced by the wall clock."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        samples = self._next_samples(self._pts)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += FRAME_SAMPLES
        return frame

    def _next_samples(self, pts: int) -> npt.NDArray[np.int16]:
        raise NotImplementedError


class SpeakerTrack(_PacedAudioTrack):
    """What one side says: silence, except while audio given to `play` lasts.

    The model's voice in the simulator, and a caller's microphone in tests.
    """

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[npt.NDArray[np.int16]] = deque()
        self._offset = 0  # samples of the queue's first chunk already sent

    def play(self, samples: npt.NDArray[np.float32]) -> None:
        """Queue audio (floats in -1..1 at 48 kHz) after whatever is still playing."""
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
        if len(pcm):
            self._queue.append(pcm)

    def clear(self) -> None:
        """Stop at once: what was queued is dropped."""
        self._queue.clear()
        self._offset = 0

    @property
    def playing(self) -> bool:
        """Whether queued audio is left to send."""
        return bool(self._queue)

    def _next_samples(self, pts: int) -> npt.NDArray[np.int16]:
        out = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        filled = 0
        while filled < FRAME_SAMPLES and self._queue:
            chunk = self._queue[0]
            take = min(FRAME_SAMPLES - filled, len(chunk) - self._offset)
            out[filled : filled + take] = chunk[self._offset : self._offset + take]
            filled += take
            self._offset += take
            if self._offset == len(chunk):
                self._queue.popleft()
                self._offset = 0
        return out


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
        on_audio_level: Callable[[float, float], None],
        on_closed: Callable[[], None] = lambda: None,
    ) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.speaker = SpeakerTrack()
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
            assert isinstance(frame, av.AudioFrame)
            self.frames_received += 1
            level = frame_level(frame)
            self.peak_level = max(self.peak_level, level)
            self._on_level(level, frame.samples / frame.sample_rate)

    async def answer(self, offer_sdp: str) -> str:
        """Apply the offer and return the answer with every candidate (no trickle ICE)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        self.pc.addTrack(self.speaker)
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
