"""Clocks on the in-process simulator, from the outside: when requests arrive, how long it works.

The simulator stamps the events of its WebSockets itself (`SimCall.sent_at`, `ReceivedEvent.at`,
`time.perf_counter()`). For HTTP requests the benchmarks stamp them here, without changing the
simulator: `request_clock` puts a list that stamps every append in place of `sim.requests` (the
middleware appends each request under /v1 once its body has been read, so the stamp is when the
whole request has reached the simulator), and `render_clock` times `simulator.tts.render` (the
synthesis, and for mp3 the encoding, that `POST /audio/speech` does before its first byte).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
import time
from typing import Any

from simulator import RealtimeSimulator, RecordedRequest, SimCall
import simulator.tts as sim_tts


class StampedRequests(list[RecordedRequest]):
    """The simulator's record of requests, with when each arrived (wall and thread CPU time)."""

    def __init__(self, items: list[RecordedRequest]) -> None:
        super().__init__(items)
        self.stamps: dict[int, tuple[float, float]] = {}

    def append(self, item: RecordedRequest) -> None:
        """Record a request with the time it arrived."""
        self.stamps[id(item)] = (time.perf_counter(), time.thread_time())
        super().append(item)

    def arrival(
        self, predicate: Callable[[RecordedRequest], bool]
    ) -> tuple[float, float, RecordedRequest] | None:
        """The newest request matching `predicate`: (perf_counter, thread_time, request)."""
        for item in reversed(self):
            if predicate(item) and id(item) in self.stamps:
                at, cpu = self.stamps[id(item)]
                return at, cpu, item
        return None

    def first_after(
        self, predicate: Callable[[RecordedRequest], bool], after: float
    ) -> tuple[float, float, RecordedRequest] | None:
        """The first request matching `predicate` that arrived after `after`."""
        for item in self:
            stamp = self.stamps.get(id(item))
            if stamp is not None and stamp[0] >= after and predicate(item):
                return stamp[0], stamp[1], item
        return None


@contextlib.contextmanager
def request_clock(sim: RealtimeSimulator) -> Iterator[StampedRequests]:
    """Stamp the simulator's requests while the block runs."""
    stamped = StampedRequests(sim.requests)
    sim.requests = stamped
    try:
        yield stamped
    finally:
        sim.requests = list(stamped)


@dataclass
class RenderClock:
    """When each `/audio/speech` synthesis ended (perf_counter), in order."""

    ends: list[float] = field(default_factory=list)

    def first_end_after(self, start: float) -> float | None:
        """The end of the first synthesis that ended after `start`."""
        return next((t for t in self.ends if t > start), None)


@contextlib.contextmanager
def render_clock() -> Iterator[RenderClock]:
    """Time `simulator.tts.render` (it runs in a thread: `asyncio.to_thread`)."""
    clock = RenderClock()
    original = sim_tts.render

    def timed(body: dict[str, Any]) -> tuple[bytes, float]:
        try:
            return original(body)
        finally:
            clock.ends.append(time.perf_counter())

    sim_tts.render = timed
    try:
        yield clock
    finally:
        sim_tts.render = original


def speech_synthesis(requests: StampedRequests, renders: RenderClock, after: float) -> float | None:
    """The simulator's time from the first speech request after `after` to its synthesis's end."""
    arrival = requests.first_after(lambda r: r.path == "/audio/speech", after)
    if arrival is None:
        return None
    end = renders.first_end_after(arrival[0])
    return None if end is None else end - arrival[0]


def received_at(session: SimCall, kind: str, after: float = 0.0) -> float | None:
    """When the simulator received the first client event of `kind` (after `after`)."""
    return next(
        (r.at for r in session.received if r.event.get("type") == kind and r.at >= after), None
    )


def sent_at(session: SimCall, kind: str, after: float = 0.0) -> float | None:
    """When the simulator sent its first event of `kind` (after `after`)."""
    return next(
        (
            at
            for event, at in zip(session.sent, session.sent_at, strict=True)
            if event.get("type") == kind and at >= after
        ),
        None,
    )


@contextlib.contextmanager
def no_api_latency(sim: RealtimeSimulator) -> Iterator[None]:
    """The simulator without its modelled API latencies (restored afterwards).

    `socket_pace` scales its WebSocket sessions' waits (0.3 s from a commit to the transcript,
    0.25 s from a response's start to its first output); `speech_pace` those of
    `/audio/speech` (0.2 s to the first byte, then audio at 4 times real time). They model the
    API, not the clients, and would add the same constants to every variant.
    """
    socket_pace, speech_pace = sim.socket_pace, sim.speech_pace
    sim.socket_pace = 0
    sim.speech_pace = 0
    try:
        yield
    finally:
        sim.socket_pace, sim.speech_pace = socket_pace, speech_pace
