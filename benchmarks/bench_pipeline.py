"""8. The voice profile as an Assist pipeline: speech in, the answer's first audio out.

One utterance ("Turn on the test light", 1.4 s of the simulator's voice, `benchmarks/audio.py`)
streamed in 20 ms frames at real time, as a satellite sends it. The clocks start at the end of
the audio (when its last frame goes out). Variants, in a fresh random order each round:

- `ha_pipeline`: Home Assistant's `assist_pipeline/run` over its websocket (binary audio
  frames, then the empty frame that ends the stream), on the profile's pipeline: our
  speech-to-text entity (a Realtime transcription session, streamed as the audio arrives), our
  conversation agent (a Realtime text session: it calls `HassTurnOn`, HA runs the tool through
  Assist, the agent streams its answer) and our text-to-speech (`POST /audio/speech`, mp3),
  whose audio the client fetches from the `tts-end` event's URL, as a satellite does. Stamped at
  the client: `stt-end` (the transcript), the first `intent-progress` with text (the agent's
  first token), the first bytes of the speech.
- `bare_pipeline`: a bare aiohttp client doing the same WebSocket and HTTP work with the same
  payloads (taken from the simulator's record of an HA turn): the transcription session
  (streamed as the audio arrives, the audio upsampled ahead of time), a text session with HA's
  session (instructions and tools), the user's words, `response.create`, the tool's output as
  HA sent it (no tool runs), then `POST /audio/speech` of the answer. The difference to
  `ha_pipeline` is what Home Assistant and the integration add (the Assist tool included, which
  is timed on its own).
- `stt_entity`: our speech-to-text entity called directly (`internal_async_process_audio_stream`
  with the paced frames), without HA's pipeline around it.
- `bare_upload`: the upload-after-the-end approach, emulated with the same API: nothing happens
  until the audio has ended; then the client connects, configures the session, sends all the
  audio and commits (as a client of a batch transcription endpoint uploads the file).
- `idle`: the paced frames with nothing done with them; its CPU time (the 20 ms wake-ups, HA's
  background work) is subtracted from the paced variants' CPU figures.

The simulator runs without its modelled latencies (`socket_pace = speech_pace = 0`): they would
add the same constants to every variant (see `simclock.no_api_latency`). What it still does on
this event loop (hearing the audio, its events, its JSON-schema checks, synthesis) is the same
for every variant; the speech-to-text figures are also given without its work, by its own
stamps: from receiving `input_audio_buffer.commit` to sending the transcript.

Before each HA turn, outside the clock, the light is turned off (so the tool does the same
work) and HA's text-to-speech memory cache is emptied (so the answer, the same each time, is
spoken anew rather than replayed; HA's file cache is off for the section). At the end the entry
is reloaded, which closes the agent's conversations (HA keeps each open for follow-ups for five
minutes).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import json
import random
import statistics
import time
from typing import Any

import aiohttp
from homeassistant.components import assist_pipeline, stt
from homeassistant.components.conversation import ChatLog
from homeassistant.components.tts import DATA_TTS_MANAGER
from homeassistant.helpers import llm

from custom_components.openai_api import (
    conversation as conversation_module,
    stt as stt_module,
    tts as tts_module,
)
from custom_components.openai_api.pipeline import text_session
from custom_components.openai_api.pipeline.transcriber import APPEND_BYTES

from .audio import PHRASE, PacedAudio, api_slices, frames, upsampled, utterance
from .fixtures import LIGHT
from .harness import API_KEY, PATIENCE, Bench, WsClient, settle
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

PIPELINE = "Voice assistant"  # the default profile's pipeline
STT = "stt.voice_assistant_speech_to_text"
COMPLETED = "conversation.item.input_audio_transcription.completed"
METADATA = stt.SpeechMetadata(
    language="en-US",
    format=stt.AudioFormats.WAV,
    codec=stt.AudioCodecs.PCM,
    bit_rate=stt.AudioBitRates.BITRATE_16,
    sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
    channel=stt.AudioChannels.CHANNEL_MONO,
)


@dataclass
class PipelineScale:
    """Rounds of the four variants (after warm-up rounds)."""

    rounds: int
    warmup: int


@dataclass
class Turn:
    """One variant's stamps (perf_counter) and what it heard and said."""

    end: float = 0.0  # the audio's last frame went out
    transcript_at: float = 0.0
    first_token: float | None = None
    first_audio: float | None = None
    cpu: float = 0.0  # this thread's CPU seconds over the whole turn
    cpu_stt: float | None = None  # the same up to the transcript (the speech-to-text alone)
    transcript_seen: float | None = None  # HA's turn: `stt-end` at the client
    server_stt: float | None = None  # the simulator's commit -> transcript
    closed_at: float | None = None  # the bare transcription socket had closed
    server_speech: float | None = None  # the simulator's synthesis of the first sentence
    inside: dict[str, float] = field(default_factory=dict)  # stamps inside HA (EntityClock)
    transcript: str = ""
    answer: str = ""
    audio_bytes: int = 0


@dataclass
class Recorded:
    """HA's payloads, from the simulator's record of a turn, for the bare client to send."""

    transcription_update: dict[str, Any] = field(default_factory=dict)
    text_update: dict[str, Any] = field(default_factory=dict)
    tool_output: str = ""
    speech_body: dict[str, Any] = field(default_factory=dict)
    model: str = ""


class Setup:
    """What every turn uses: HA, the audio, the recorded payloads, the bare client's session."""

    def __init__(
        self,
        bench: Bench,
        ws: WsClient,
        http: aiohttp.ClientSession,
        requests: StampedRequests,
        renders: RenderClock,
        entities: EntityClock,
    ) -> None:
        self.bench = bench
        self.requests = requests
        self.renders = renders
        self.entities = entities
        self.ws = ws
        self.http = http
        self.pcm = utterance()
        self.frames = frames(self.pcm)
        self.pcm24 = upsampled(self.pcm)
        self.slices = api_slices(self.pcm, self.pcm24)
        self.pipeline_id = next(
            p.id for p in assist_pipeline.async_get_pipelines(bench.hass) if p.name == PIPELINE
        )
        self.recorded = Recorded()
        self.ws_base = bench.sim.base_url.replace("http", "ws", 1)
        self.headers = {"Authorization": f"Bearer {API_KEY}"}

    async def reset(self) -> None:
        """Outside the clock: the light off, HA's text-to-speech memory cache empty."""
        hass = self.bench.hass
        await hass.services.async_call("light", "turn_off", {"entity_id": LIGHT}, blocking=True)
        hass.data[DATA_TTS_MANAGER].mem_cache.clear()
        await settle(hass, 0.01)

    def new_sockets(self, before: int, kind: str) -> list[Any]:
        return [s for s in self.bench.sim.sockets[before:] if s.session.get("type") == kind]

    def server_stt(self, before: int) -> float | None:
        """The simulator's own time from the commit to the transcript (hearing the audio)."""
        for session in self.new_sockets(before, "transcription"):
            commit = received_at(session, "input_audio_buffer.commit")
            if commit is not None and (done := sent_at(session, COMPLETED, commit)) is not None:
                return done - commit
        return None


async def _fetch(bench: Bench, url: str) -> tuple[float, int]:
    """GET the speech: when its first bytes arrived, and how many bytes it had."""
    first: float | None = None
    size = 0
    async with bench.client.get(url) as resp:
        if resp.status != 200:
            raise RuntimeError(f"the speech answered {resp.status}")
        async for chunk in resp.content.iter_any():
            if first is None and chunk:
                first = time.perf_counter()
            size += len(chunk)
    if first is None:
        raise RuntimeError("the speech had no audio")
    return first, size


async def ha_turn(s: Setup) -> Turn:
    """One turn through HA's `assist_pipeline/run`."""
    await s.reset()
    turn = Turn()
    before = len(s.bench.sim.sockets)
    audio = PacedAudio(s.frames)
    s.entities.current = turn.inside
    cpu = time.thread_time()
    msg_id, result, events = await s.ws.subscribe(
        type="assist_pipeline/run",
        start_stage="stt",
        end_stage="tts",
        input={"sample_rate": 16000},
        pipeline=s.pipeline_id,
    )
    if not result.get("success"):
        s.ws.unsubscribe(msg_id)
        raise RuntimeError(f"assist_pipeline/run failed: {result}")

    async def send(handler: int) -> None:
        prefix = bytes([handler])
        async for frame in audio:
            await s.ws.send_bytes(prefix + frame)
        await s.ws.send_bytes(prefix)  # the end of the stream

    sender: asyncio.Task[None] | None = None
    fetch: asyncio.Task[tuple[float, int]] | None = None
    try:
        async with asyncio.timeout(PATIENCE):
            while True:
                at, event = await events.get()
                kind, data = event["type"], event.get("data") or {}
                if kind == "run-start":
                    handler = data["runner_data"]["stt_binary_handler_id"]
                    sender = asyncio.create_task(send(handler))
                elif kind == "stt-end":
                    turn.transcript_seen = at
                    turn.transcript = data["stt_output"]["text"]
                elif kind == "intent-progress" and turn.first_token is None:
                    if (data.get("chat_log_delta") or {}).get("content"):
                        turn.first_token = at
                elif kind == "intent-end":
                    speech = data["intent_output"]["response"]["speech"]["plain"]["speech"]
                    turn.answer = speech
                elif kind == "tts-end":
                    url = data["tts_output"]["url"]
                    fetch = asyncio.create_task(_fetch(s.bench, url))
                elif kind == "error":
                    raise RuntimeError(f"the pipeline failed: {data}")
                elif kind == "run-end":
                    break
            if sender is None or fetch is None:
                raise RuntimeError("the run ended without audio in or out")
            await sender
            turn.first_audio, turn.audio_bytes = await fetch
    finally:
        s.entities.current = None
        s.ws.unsubscribe(msg_id)
        for task in (sender, fetch):
            if task is not None and not task.done():
                task.cancel()
    turn.cpu = time.thread_time() - cpu
    turn.end = audio.ended_at
    # The transcript is HA's once our speech-to-text entity returns it (the client sees
    # `stt-end` a little later, once HA's loop gets to send it).
    turn.transcript_at = turn.inside["stt_return"]
    turn.server_stt = s.server_stt(before)
    turn.server_speech = speech_synthesis(s.requests, s.renders, turn.transcript_at)
    return turn


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=PATIENCE)
    if msg.type is not aiohttp.WSMsgType.TEXT:
        raise RuntimeError(f"the socket closed: {msg}")
    event: dict[str, Any] = json.loads(msg.data)
    if event.get("type") == "error":
        raise RuntimeError(f"error event: {event}")
    return event


def _append(pcm24: bytes) -> str:
    return json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24).decode()}
    )


async def _transcript(ws: aiohttp.ClientWebSocketResponse) -> str:
    while True:
        event = await _receive(ws)
        if event["type"] == COMPLETED:
            return str(event["transcript"])


async def bare_transcribe(s: Setup, audio: PacedAudio) -> tuple[str, float, float]:
    """The transcription session, streamed as the audio arrives (bare aiohttp).

    The transcript, when it arrived, and when the socket had closed (the close handshake).
    """
    async with s.http.ws_connect(
        f"{s.ws_base}/realtime?intent=transcription", headers=s.headers, heartbeat=None
    ) as ws:
        await ws.send_str(json.dumps(s.recorded.transcription_update))
        buffer = bytearray()
        index = 0
        async for _frame in audio:
            buffer += s.slices[index]
            index += 1
            while len(buffer) >= APPEND_BYTES:
                await ws.send_str(_append(bytes(buffer[:APPEND_BYTES])))
                del buffer[:APPEND_BYTES]
        if buffer:
            await ws.send_str(_append(bytes(buffer)))
        await ws.send_str('{"type": "input_audio_buffer.commit"}')
        text = await _transcript(ws)
        at = time.perf_counter()
    return text, at, time.perf_counter()


async def bare_turn(s: Setup) -> Turn:
    """The same WebSocket and HTTP work as HA's turn, by a bare client."""
    turn = Turn()
    before = len(s.bench.sim.sockets)
    audio = PacedAudio(s.frames)
    cpu = time.thread_time()
    turn.transcript, turn.transcript_at, turn.closed_at = await bare_transcribe(s, audio)
    turn.cpu_stt = time.thread_time() - cpu
    turn.end = audio.ended_at
    async with s.http.ws_connect(
        f"{s.ws_base}/realtime?model={s.recorded.model}", headers=s.headers, heartbeat=30
    ) as ws:
        user = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": turn.transcript}],
        }
        for event in (
            s.recorded.text_update,
            {"type": "conversation.item.create", "item": user},
            {"type": "response.create"},
        ):
            await ws.send_str(json.dumps(event))
        pending: str | None = None
        while True:
            event = await _receive(ws)
            kind = event["type"]
            if kind == "response.function_call_arguments.done":
                pending = event["call_id"]
            elif kind == "response.output_text.delta":
                if turn.first_token is None:
                    turn.first_token = time.perf_counter()
                turn.answer += event["delta"]
            elif kind == "response.done":
                if pending is None:
                    break
                output = {
                    "type": "function_call_output",
                    "call_id": pending,
                    "output": s.recorded.tool_output,
                }
                await ws.send_str(json.dumps({"type": "conversation.item.create", "item": output}))
                await ws.send_str('{"type": "response.create"}')
                pending = None
        body = {**s.recorded.speech_body, "input": turn.answer.strip()}
        async with s.http.post(
            f"{s.bench.sim.base_url}/audio/speech", json=body, headers=s.headers
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"speech failed: {resp.status}")
            async for chunk in resp.content.iter_any():
                if turn.first_audio is None and chunk:
                    turn.first_audio = time.perf_counter()
                turn.audio_bytes += len(chunk)
    turn.cpu = time.thread_time() - cpu
    turn.server_stt = s.server_stt(before)
    turn.server_speech = speech_synthesis(s.requests, s.renders, turn.transcript_at)
    return turn


async def idle_turn(s: Setup) -> Turn:
    """The paced frames with nothing done with them: the CPU time a turn costs anyway.

    The loop wakes up every 20 ms for a frame, and HA's own background work runs meanwhile;
    the turns' CPU figures are given with this subtracted.
    """
    turn = Turn(transcript=PHRASE)
    audio = PacedAudio(s.frames)
    cpu = time.thread_time()
    async for _frame in audio:
        pass
    turn.cpu = time.thread_time() - cpu
    turn.end = turn.transcript_at = audio.ended_at
    return turn


async def stt_entity_turn(s: Setup) -> Turn:
    """Our speech-to-text entity alone, fed the paced frames."""
    entity = stt.async_get_speech_to_text_entity(s.bench.hass, STT)
    if entity is None:
        raise RuntimeError(f"no {STT}")
    turn = Turn()
    before = len(s.bench.sim.sockets)
    audio = PacedAudio(s.frames)
    cpu = time.thread_time()
    result = await entity.internal_async_process_audio_stream(METADATA, audio)
    turn.transcript_at = time.perf_counter()
    turn.cpu = turn.cpu_stt = time.thread_time() - cpu
    turn.end = audio.ended_at
    turn.transcript = result.text or ""
    turn.server_stt = s.server_stt(before)
    return turn


async def bare_upload_turn(s: Setup) -> Turn:
    """Upload after the end: connect, configure, send all the audio and commit, then wait."""
    turn = Turn()
    before = len(s.bench.sim.sockets)
    cpu = time.thread_time()
    turn.end = time.perf_counter()
    async with s.http.ws_connect(
        f"{s.ws_base}/realtime?intent=transcription", headers=s.headers, heartbeat=None
    ) as ws:
        await ws.send_str(json.dumps(s.recorded.transcription_update))
        for start in range(0, len(s.pcm24), APPEND_BYTES):
            await ws.send_str(_append(s.pcm24[start : start + APPEND_BYTES]))
        await ws.send_str('{"type": "input_audio_buffer.commit"}')
        turn.transcript = await _transcript(ws)
        turn.transcript_at = time.perf_counter()
    turn.cpu = time.thread_time() - cpu
    turn.server_stt = s.server_stt(before)
    return turn


def _record(s: Setup, before: int) -> None:
    """HA's payloads of the turn just run, for the bare client."""
    sim = s.bench.sim
    [transcription] = s.new_sockets(before, "transcription")
    [text] = s.new_sockets(before, "realtime")
    s.recorded.transcription_update = transcription.received[0].event
    s.recorded.text_update = text.received[0].event
    s.recorded.model = text.session["model"]
    outputs = [
        r.event["item"]["output"]
        for r in text.received
        if r.event["type"] == "conversation.item.create"
        and r.event["item"]["type"] == "function_call_output"
    ]
    if len(outputs) != 1:
        raise RuntimeError(f"expected one tool output in HA's turn, got {outputs}")
    s.recorded.tool_output = outputs[0]
    s.recorded.speech_body = sim.requests_to("/audio/speech")[-1].json()


class EntityClock:
    """Stamps inside HA's turn: when our entities get their input and give their output.

    Wraps, while installed, our speech-to-text entity's `async_process_audio_stream` (when the
    stream HA feeds it ends, when it returns the transcript), the agent's
    `_async_handle_message` (entered, returned), HA's `ChatLog.async_provide_llm_data` (the
    prompt and the LLM API's tools) and our `format_tools` (their schemas for the session), its
    text session's deltas (the first text), and the text-to-speech entity's
    `async_stream_tts_audio` (called, first audio chunk).
    """

    def __init__(self) -> None:
        self.current: dict[str, float] | None = None
        self._undo: list[Callable[[], None]] = []

    def stamp(self, name: str) -> None:
        if self.current is not None and name not in self.current:
            self.current[name] = time.perf_counter()

    def __enter__(self) -> EntityClock:
        clock = self
        stt_cls = stt_module.OpenAISpeechToText
        process = stt_cls.async_process_audio_stream

        async def timed_process(
            entity: Any, metadata: stt.SpeechMetadata, stream: Any
        ) -> stt.SpeechResult:
            async def watched() -> Any:
                async for chunk in stream:
                    yield chunk
                clock.stamp("stt_stream_end")

            try:
                return await process(entity, metadata, watched())
            finally:
                clock.stamp("stt_return")

        agent_cls = conversation_module.OpenAIConversationEntity
        handle = agent_cls._async_handle_message

        async def timed_handle(entity: Any, *args: Any) -> Any:
            clock.stamp("agent_start")
            try:
                return await handle(entity, *args)
            finally:
                clock.stamp("agent_end")

        deltas = text_session.TextConversation._deltas

        async def timed_deltas(session: Any, socket: Any) -> Any:
            async for delta in deltas(session, socket):
                if delta.get("content"):
                    clock.stamp("agent_first_text")
                yield delta

        provide = ChatLog.async_provide_llm_data

        async def timed_provide(chat_log: Any, *args: Any, **kwargs: Any) -> Any:
            clock.stamp("llm_data_start")
            try:
                return await provide(chat_log, *args, **kwargs)
            finally:
                clock.stamp("llm_data_end")

        format_tools = text_session.format_tools

        def timed_format_tools(*args: Any) -> Any:
            clock.stamp("tools_start")
            try:
                return format_tools(*args)
            finally:
                clock.stamp("tools_end")

        tts_cls = tts_module.OpenAITextToSpeech
        stream_tts = tts_cls.async_stream_tts_audio

        async def timed_stream(entity: Any, request: Any) -> Any:
            clock.stamp("tts_start")
            response = await stream_tts(entity, request)
            data = response.data_gen

            async def watched() -> Any:
                async for chunk in data:
                    if chunk:
                        clock.stamp("tts_first_chunk")
                    yield chunk

            response.data_gen = watched()
            return response

        stt_cls.async_process_audio_stream = timed_process  # type: ignore[method-assign]
        agent_cls._async_handle_message = timed_handle  # type: ignore[method-assign]
        text_session.TextConversation._deltas = timed_deltas  # type: ignore[method-assign]
        tts_cls.async_stream_tts_audio = timed_stream  # type: ignore[method-assign]
        ChatLog.async_provide_llm_data = timed_provide  # type: ignore[method-assign]
        text_session.format_tools = timed_format_tools

        def undo() -> None:
            ChatLog.async_provide_llm_data = provide  # type: ignore[method-assign]
            text_session.format_tools = format_tools
            stt_cls.async_process_audio_stream = process  # type: ignore[method-assign]
            agent_cls._async_handle_message = handle  # type: ignore[method-assign]
            text_session.TextConversation._deltas = deltas  # type: ignore[method-assign]
            tts_cls.async_stream_tts_audio = stream_tts  # type: ignore[method-assign]

        self._undo.append(undo)
        return self

    def __exit__(self, *exc: object) -> None:
        while self._undo:
            self._undo.pop()()


class ToolClock:
    """Times HA's LLM tool calls (the Assist intent) while installed."""

    def __init__(self, into: list[float]) -> None:
        self.into = into
        self.original = llm.APIInstance.async_call_tool

    def __enter__(self) -> None:
        original, into = self.original, self.into

        async def timed(api: llm.APIInstance, tool_input: llm.ToolInput) -> Any:
            start = time.perf_counter()
            try:
                return await original(api, tool_input)
            finally:
                into.append(time.perf_counter() - start)

        llm.APIInstance.async_call_tool = timed  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        llm.APIInstance.async_call_tool = self.original  # type: ignore[method-assign]


def _resampler_ms_per_audio_second(pcm: bytes, repeat: int = 20) -> float:
    """The integration's 16 to 24 kHz upsampler: ms of CPU per second of audio."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        upsampled(pcm)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3 / (len(pcm) / 32000)


def _sent_at_the_end(slices: list[bytes]) -> int:
    """Bytes of audio a streaming client sends once the last frame is in (as bare_transcribe)."""
    buffer = 0
    for piece in slices[:-1]:
        buffer = (buffer + len(piece)) % APPEND_BYTES
    return buffer + len(slices[-1])


def _diffs(a: list[float], b: list[float]) -> dict[str, float]:
    """The paired differences a - b in ms: median, p10, p90."""
    d = [x - y for x, y in zip(a, b, strict=True)]
    return {
        "median_ms": median_of_differences(a, b) * 1e3,
        "p10_ms": percentile(d, 10) * 1e3,
        "p90_ms": percentile(d, 90) * 1e3,
    }


def _span(turns: list[Turn], start: str, end: str) -> dict[str, float]:
    """A span between two stamps of the turns (attributes, or stamps inside HA)."""

    def at(turn: Turn, name: str) -> float | None:
        value = getattr(turn, name, None)
        return value if isinstance(value, float) else turn.inside.get(name)

    values = []
    for turn in turns:
        a, b = at(turn, start), at(turn, end)
        if a is not None and b is not None:
            values.append(b - a)
    return summary_ms(values)


# Where HA's turn spends its time, from the end of the audio to the speech's first bytes at the
# client: (label, from, to, whose).
HA_PARTS = [
    ("audio end -> our STT sees the stream end", "end", "stt_stream_end", "HA"),
    ("our STT: flush, commit, transcript, close", "stt_stream_end", "stt_return", "ours"),
    ("  of which the simulator hearing it", "=hearing", "", "simulator"),
    ("transcript -> stt-end at the client", "stt_return", "transcript_seen", "HA"),
    ("our STT returns -> our agent starts", "stt_return", "agent_start", "HA"),
    ("agent starts -> its first text", "agent_start", "agent_first_text", "ours + HA"),
    ("  of which HA's LLM data (prompt, LLM API)", "llm_data_start", "llm_data_end", "HA"),
    ("  of which the tools' schemas for the session", "tools_start", "tools_end", "ours"),
    ("  of which the tool (Assist)", "=tool", "", "HA"),
    ("its first text -> first token at the client", "agent_first_text", "first_token", "HA"),
    ("agent's first text -> agent returns", "agent_first_text", "agent_end", "ours + HA"),
    ("agent returns -> our TTS is asked", "agent_end", "tts_start", "HA + client"),
    ("our TTS: request -> first audio chunk", "tts_start", "tts_first_chunk", "ours"),
    ("  of which the simulator's synthesis", "=synthesis", "", "simulator"),
    ("first chunk -> first bytes at the client", "tts_first_chunk", "first_audio", "HA"),
]


async def run(bench: Bench, scale: PipelineScale) -> dict[str, Any]:
    """Rounds of the variants; stage figures, paired differences, the simulator's share."""
    hass = bench.hass
    manager = hass.data[DATA_TTS_MANAGER]
    file_cache = manager.use_file_cache
    manager.use_file_cache = False
    ws = await bench.ws_client()
    errors: list[str] = []
    turns: dict[str, list[Turn]] = {}
    tool_seconds: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            with (
                no_api_latency(bench.sim),
                ToolClock(tool_seconds),
                request_clock(bench.sim) as requests,
                render_clock() as renders,
                EntityClock() as entities,
            ):
                s = Setup(bench, ws, http, requests, renders, entities)
                before = len(bench.sim.sockets)
                await ha_turn(s)  # warms up, and gives the payloads the bare client sends
                _record(s, before)
                variants: dict[str, Callable[[Setup], Awaitable[Turn]]] = {
                    "ha_pipeline": ha_turn,
                    "bare_pipeline": bare_turn,
                    "stt_entity": stt_entity_turn,
                    "bare_upload": bare_upload_turn,
                    "idle": idle_turn,
                }
                for _ in range(scale.warmup):
                    for variant in variants.values():
                        await variant(s)
                del tool_seconds[:]
                turns = {name: [] for name in variants}
                rng = random.Random(13)
                for _ in range(scale.rounds):
                    order = list(variants)
                    rng.shuffle(order)
                    for name in order:
                        turn = await variants[name](s)
                        if turn.transcript != PHRASE:
                            errors.append(f"{name}: heard {turn.transcript!r}, not {PHRASE!r}")
                        turns[name].append(turn)
                    await settle(hass, 0.01)
            resampler = _resampler_ms_per_audio_second(s.pcm)
            audio_seconds = len(s.pcm) / 32000
            appended_after_end = _sent_at_the_end(s.slices)
    finally:
        manager.use_file_cache = file_cache
        await ws.close()
        # Closes the agent's conversations (each kept open for follow-ups).
        await hass.config_entries.async_reload(bench.entry.entry_id)
        await settle(hass, 0.05)
    ha, bare, idle = turns["ha_pipeline"], turns["bare_pipeline"], turns["idle"]
    answer = ha[0].answer.strip()
    for turn in bare:
        if turn.answer.strip() != answer:
            errors.append(f"the bare client was answered {turn.answer!r}, HA {answer!r}")
            break

    def stt_seconds(name: str) -> list[float]:
        return [t.transcript_at - t.end for t in turns[name]]

    def without(values: list[float], name: str, attr: str) -> list[float]:
        return [v - (getattr(t, attr) or 0.0) for v, t in zip(values, turns[name], strict=True)]

    stt_names = ("ha_pipeline", "stt_entity", "bare_pipeline", "bare_upload")
    stt_seen = [t.transcript_seen - t.end for t in ha]  # type: ignore[operator]
    pipeline_names = ("ha_pipeline", "bare_pipeline")
    stages: dict[str, dict[str, list[float]]] = {
        "transcript_to_first_token": {
            n: [t.first_token - t.transcript_at for t in turns[n]]  # type: ignore[operator]
            for n in pipeline_names
        },
        "transcript_to_first_audio": {
            n: [t.first_audio - t.transcript_at for t in turns[n]]  # type: ignore[operator]
            for n in pipeline_names
        },
        "end_to_first_audio": {
            n: [t.first_audio - t.end for t in turns[n]]  # type: ignore[operator]
            for n in pipeline_names
        },
    }
    for stage in ("transcript_to_first_audio", "end_to_first_audio"):
        stages[f"{stage}_without_synthesis"] = {
            n: without(stages[stage][n], n, "server_speech") for n in pipeline_names
        }
    idle_cpu = statistics.median(t.cpu for t in idle)
    parts: dict[str, Any] = {}
    for label, start, end, whose in HA_PARTS:
        if start == "=hearing":
            values = [t.server_stt for t in ha if t.server_stt is not None]
        elif start == "=synthesis":
            values = [t.server_speech for t in ha if t.server_speech is not None]
        elif start == "=tool":
            values = tool_seconds
        else:
            parts[label] = {**_span(ha, start, end), "whose": whose}
            continue
        parts[label] = {**summary_ms(values), "whose": whose}
    return {
        "rounds": scale.rounds,
        "audio_seconds": audio_seconds,
        "answer": answer,
        "stt": {n: summary_ms(stt_seconds(n)) for n in stt_names},
        "stt_end_at_the_client": summary_ms(stt_seen),
        "stt_without_simulator": {
            n: summary_ms(without(stt_seconds(n), n, "server_stt")) for n in stt_names
        },
        "simulator_stt": summary_ms([t.server_stt for t in ha + bare if t.server_stt is not None]),
        "stt_vs_bare_stream": {
            n: _diffs(stt_seconds(n), stt_seconds("bare_pipeline"))
            for n in ("ha_pipeline", "stt_entity", "bare_upload")
        },
        "stages": {
            stage: {n: summary_ms(values) for n, values in by_name.items()}
            for stage, by_name in stages.items()
        },
        "stages_added_by_ha": {
            stage: _diffs(by_name["ha_pipeline"], by_name["bare_pipeline"])
            for stage, by_name in stages.items()
        },
        "simulator_synthesis": summary_ms(
            [t.server_speech for t in ha + bare if t.server_speech is not None]
        ),
        "ha_parts": parts,
        "tool": summary_ms(tool_seconds),
        "cpu_idle_turn_ms": idle_cpu * 1e3,
        # The paced variants less the idle turn's CPU (the 20 ms wake-ups, HA's own work).
        "cpu_ms": {
            "ha_pipeline": (statistics.median(t.cpu for t in ha) - idle_cpu) * 1e3,
            "bare_pipeline": (statistics.median(t.cpu for t in bare) - idle_cpu) * 1e3,
            "stt_entity": (statistics.median(t.cpu for t in turns["stt_entity"]) - idle_cpu) * 1e3,
            "bare_stream_stt": (statistics.median(t.cpu_stt or 0.0 for t in bare) - idle_cpu) * 1e3,
            "bare_upload": statistics.median(t.cpu for t in turns["bare_upload"]) * 1e3,
        },
        "cpu_added_by_ha_ms": _diffs([t.cpu for t in ha], [t.cpu for t in bare]),
        "cpu_added_by_our_stt_ms": _diffs(
            [t.cpu for t in turns["stt_entity"]], [t.cpu_stt or 0.0 for t in bare]
        ),
        "resampler_ms_per_audio_second": resampler,
        "transcription_socket_close_ms": summary_ms(
            [t.closed_at - t.transcript_at for t in bare if t.closed_at is not None]
        ),
        "bytes_after_the_end": {
            "streamed": appended_after_end,
            "append_bytes": APPEND_BYTES,
            "upload": len(s.pcm24),
        },
        "speech_bytes_median": statistics.median(t.audio_bytes for t in ha),
        "errors": errors,
    }
