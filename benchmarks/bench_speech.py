"""9. Text to speech: `POST /audio/speech` (what the integration uses) vs a Realtime session.

The time to the first audio of a text, in six ways, each round in a fresh random order:

- `http_bare_mp3`, `http_bare_pcm`: a bare aiohttp `POST /audio/speech` (the integration's
  body: the profile's speech model and voice), to the first bytes of the body;
- `http_ours_mp3`: the integration's `pipeline.speech.async_speak` with the entry's API client
  (sentence by sentence: the first request carries the first sentence);
- `http_ha_mp3`: Home Assistant's text-to-speech on our entity, as the pipeline asks it
  (`tts.async_create_stream`, `async_set_message`, the result stream), with its memory cache
  emptied before each request so that every request is spoken anew (its file cache is off);
- `realtime_fresh`: asking a Realtime session to read the text: connect `/realtime?model=…`,
  `session.update` (audio output, the profile's voice), `response.create` with the
  integration's own wording for verbatim speech (`speak_instructions`, as announcements use it)
  and `conversation: none`, to the first `response.output_audio.delta`;
- `realtime_warm`: the same on a session already open and configured (`response.create` only).

The simulator's modelled latencies are off (`socket_pace = speech_pace = 0`): at pace 1 it waits
0.2 s before the first byte of `/audio/speech` and 0.25 s from a response's start to its first
output, its guesses of the API's own latencies, the same for every client of each path; with
them the comparison would say which constant is smaller, not which client is quicker. What it
still does is synthesize the audio before the first byte (and encode it, for mp3), for both
paths: that time is taken from its stamps (from the request's arrival, or the first client event
received, to the end of the synthesis or the first audio delta sent) and shown apart, and the
rest is the client side.

Two texts: the pipeline's answer ("The test light is on.") and a longer one of three sentences.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
import json
import random
import time
from typing import Any

import aiohttp
from homeassistant.components import tts
from homeassistant.components.tts import DATA_TTS_MANAGER

from custom_components.openai_api.pipeline.speech import async_speak
from custom_components.openai_api.realtime.call import speak_instructions
from custom_components.openai_api.realtime.profile import VoiceProfile
from simulator import SimCall

from .harness import API_KEY, PATIENCE, Bench, settle
from .simclock import (
    RenderClock,
    StampedRequests,
    no_api_latency,
    received_at,
    render_clock,
    request_clock,
    sent_at,
    speech_synthesis,
)
from .stats import median_of_differences, percentile, summary_ms

TTS = "tts.voice_assistant_text_to_speech"
TEXTS = {
    "short": "The test light is on.",
    "long": (
        "The test light is on. The kitchen light is off, the front door is locked, and it "
        "is twenty-one degrees in the living room. Anything else?"
    ),
}
AUDIO_DELTA = "response.output_audio.delta"


@dataclass
class SpeechScale:
    """Rounds of the six variants per text (after warm-up rounds)."""

    rounds: int
    warmup: int


@dataclass
class Sample:
    """Seconds to the first audio, and the simulator's part of them."""

    total: float
    server: float | None


class Speech:
    """The variants and what they share."""

    def __init__(
        self,
        bench: Bench,
        http: aiohttp.ClientSession,
        requests: StampedRequests,
        renders: RenderClock,
    ) -> None:
        self.bench = bench
        self.http = http
        self.requests = requests
        self.renders = renders
        subentry = next(
            sub for sub in bench.entry.subentries.values() if sub.title == "Voice assistant"
        )
        self.profile = VoiceProfile.from_subentry(subentry)
        self.headers = {"Authorization": f"Bearer {API_KEY}"}
        self.ws_base = bench.sim.base_url.replace("http", "ws", 1)
        self.warm: aiohttp.ClientWebSocketResponse | None = None
        self.warm_session: SimCall | None = None

    # --- /audio/speech --------------------------------------------------------------------

    async def _first_and_rest(self, chunks: AsyncIterator[bytes], start: float) -> Sample:
        first: float | None = None
        async for chunk in chunks:
            if first is None and chunk:
                first = time.perf_counter()
        if first is None:
            raise RuntimeError("no audio")
        return Sample(first - start, speech_synthesis(self.requests, self.renders, start))

    async def http_bare(self, text: str, response_format: str) -> Sample:
        body = {
            "model": self.profile.tts_model,
            "input": text,
            "voice": self.profile.voice,
            "response_format": response_format,
        }
        start = time.perf_counter()
        async with self.http.post(
            f"{self.bench.sim.base_url}/audio/speech", json=body, headers=self.headers
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"speech failed: {resp.status}")
            return await self._first_and_rest(resp.content.iter_any(), start)

    async def http_ours(self, text: str) -> Sample:
        async def one(text: str) -> AsyncIterator[str]:
            yield text

        start = time.perf_counter()
        audio = async_speak(
            self.bench.entry.runtime_data.client,
            one(text),
            model=self.profile.tts_model,
            voice=self.profile.voice,
            speed=self.profile.speed,
            response_format="mp3",
        )
        return await self._first_and_rest(audio, start)

    async def http_ha(self, text: str) -> Sample:
        hass = self.bench.hass
        hass.data[DATA_TTS_MANAGER].mem_cache.clear()
        start = time.perf_counter()
        stream = tts.async_create_stream(
            hass, TTS, language="en-US", options={tts.ATTR_VOICE: self.profile.voice}
        )
        stream.async_set_message(text)
        try:
            return await self._first_and_rest(stream.async_stream_result(), start)
        finally:
            stream.delete()

    # --- a Realtime session reading the text ----------------------------------------------

    def _session_update(self) -> str:
        return json.dumps(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["audio"],
                    "audio": {
                        "output": {
                            "format": {"type": "audio/pcm", "rate": 24000},
                            "voice": self.profile.voice,
                        }
                    },
                },
            }
        )

    @staticmethod
    def _read(text: str) -> str:
        return json.dumps(
            {
                "type": "response.create",
                "response": {"conversation": "none", "instructions": speak_instructions(text)},
            }
        )

    async def _open(self) -> tuple[aiohttp.ClientWebSocketResponse, SimCall]:
        """A socket, and the simulator's session behind it (the newest: one opens at a time)."""
        ws = await self.http.ws_connect(
            f"{self.ws_base}/realtime?model={self.profile.model}",
            headers=self.headers,
            heartbeat=30,
        )
        return ws, self.bench.sim.sockets[-1]

    async def _first_delta(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        session: SimCall,
        start: float,
        first_event: str,
    ) -> Sample:
        """Read to the first audio delta, then to `response.done`."""
        first: float | None = None
        while True:
            msg = await ws.receive(timeout=PATIENCE)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"the socket closed: {msg}")
            event = json.loads(msg.data)
            kind = event["type"]
            if kind == AUDIO_DELTA and first is None:
                first = time.perf_counter()
                if not event["delta"]:
                    raise RuntimeError("an empty audio delta")
            elif kind == "error":
                raise RuntimeError(f"error event: {event}")
            elif kind == "response.done":
                break
        if first is None:
            raise RuntimeError("no audio delta")
        asked = received_at(session, first_event, start)
        delta = sent_at(session, AUDIO_DELTA, asked or start)
        server = None if asked is None or delta is None else delta - asked
        return Sample(first - start, server)

    async def realtime_fresh(self, text: str) -> Sample:
        start = time.perf_counter()
        ws, session = await self._open()
        try:
            await ws.send_str(self._session_update())
            await ws.send_str(self._read(text))
            return await self._first_delta(ws, session, start, "session.update")
        finally:
            await ws.close()

    async def realtime_warm(self, text: str) -> Sample:
        if self.warm is None or self.warm.closed or self.warm_session is None:
            self.warm, self.warm_session = await self._open()
            await self.warm.send_str(self._session_update())
            while json.loads((await self.warm.receive(timeout=PATIENCE)).data)["type"] != (
                "session.updated"
            ):
                pass
        start = time.perf_counter()
        await self.warm.send_str(self._read(text))
        return await self._first_delta(self.warm, self.warm_session, start, "response.create")

    async def close(self) -> None:
        if self.warm is not None:
            await self.warm.close()


def _client(samples: list[Sample]) -> list[float]:
    return [s.total - s.server for s in samples if s.server is not None]


async def run(bench: Bench, scale: SpeechScale) -> dict[str, Any]:
    """Rounds of the six variants for each text."""
    hass = bench.hass
    manager = hass.data[DATA_TTS_MANAGER]
    file_cache = manager.use_file_cache
    manager.use_file_cache = False
    samples: dict[str, dict[str, list[Sample]]] = {}
    try:
        async with aiohttp.ClientSession() as http:
            with (
                no_api_latency(bench.sim),
                request_clock(bench.sim) as requests,
                render_clock() as renders,
            ):
                s = Speech(bench, http, requests, renders)
                try:
                    variants: dict[str, Callable[[str], Awaitable[Sample]]] = {
                        "http_bare_mp3": lambda text: s.http_bare(text, "mp3"),
                        "http_bare_pcm": lambda text: s.http_bare(text, "pcm"),
                        "http_ours_mp3": s.http_ours,
                        "http_ha_mp3": s.http_ha,
                        "realtime_fresh": s.realtime_fresh,
                        "realtime_warm": s.realtime_warm,
                    }
                    for _ in range(scale.warmup):
                        for variant in variants.values():
                            for text in TEXTS.values():
                                await variant(text)
                    samples = {t: {v: [] for v in variants} for t in TEXTS}
                    rng = random.Random(17)
                    for _ in range(scale.rounds):
                        for key, text in TEXTS.items():
                            order = list(variants)
                            rng.shuffle(order)
                            for name in order:
                                samples[key][name].append(await variants[name](text))
                        await settle(hass, 0.005)
                finally:
                    await s.close()
                    await asyncio.sleep(0)
    finally:
        manager.use_file_cache = file_cache
    result: dict[str, Any] = {"rounds": scale.rounds, "texts": TEXTS}
    for key, by_variant in samples.items():
        table: dict[str, Any] = {}
        for name, values in by_variant.items():
            table[name] = {
                "total": summary_ms([v.total for v in values]),
                "simulator": summary_ms([v.server for v in values if v.server is not None]),
                "client": summary_ms(_client(values)),
            }
        bare = _client(by_variant["http_bare_pcm"])
        pairs: dict[str, Any] = {}
        for name in by_variant:
            client = _client(by_variant[name])
            if name != "http_bare_pcm" and len(client) == len(bare):
                d = [a - b for a, b in zip(client, bare, strict=True)]
                pairs[name] = {
                    "median_ms": median_of_differences(client, bare) * 1e3,
                    "p10_ms": percentile(d, 10) * 1e3,
                    "p90_ms": percentile(d, 90) * 1e3,
                }
        table["client_vs_http_bare_pcm"] = pairs
        result[key] = table
    return result
