"""Injected failures: the canned answers, one table of them, and the plan of what fails next."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import random

from aiohttp import web

from .errors import SERVER_ERROR, ApiError, invalid_api_key, standard_key, unknown_url

STREAM_FAULT = "simulator.stream_fault"  # where a request carries its armed fault


@dataclass
class Fault:
    """A failure to inject instead of the normal answer."""

    kind: str
    retry_after: float | None = None
    delay: float = 1.0


# What a fault does to a request: an answer in place of the API's, or None to answer normally
# (after whatever the fault did first, such as waiting).
FaultAction = Callable[[web.Request, Fault], Awaitable[web.StreamResponse | None]]


def _answer(error: ApiError) -> FaultAction:
    async def action(_request: web.Request, _fault: Fault) -> web.StreamResponse:
        return error.response()

    return action


async def _invalid_key(request: web.Request, _fault: Fault) -> web.StreamResponse:
    return invalid_api_key(standard_key(request)).response()


async def _unknown_url(request: web.Request, _fault: Fault) -> web.StreamResponse:
    return unknown_url(request).response()


async def _rate_limited(_request: web.Request, fault: Fault) -> web.StreamResponse:
    error = ApiError(
        "Rate limit reached for requests. Please try again later.",
        code="rate_limit_exceeded",
        type="requests",
        status=429,
    )
    retry_after = fault.retry_after if fault.retry_after is not None else 1
    return error.response(**{"Retry-After": f"{retry_after:g}"})


async def _malformed_json(_request: web.Request, _fault: Fault) -> web.StreamResponse:
    return web.Response(body=b'{"value": "ek_trunc', content_type="application/json")


async def _drop(request: web.Request, _fault: Fault) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    raise ConnectionResetError("dropped by fault injection")


async def _slow(_request: web.Request, fault: Fault) -> None:
    await asyncio.sleep(fault.delay)


async def _arm(request: web.Request, fault: Fault) -> None:
    """Answer normally, with the fault armed for the stream the request opens."""
    request[STREAM_FAULT] = fault


FAULTS: dict[str, FaultAction] = {
    "400": _answer(ApiError("Invalid value for 'session'.", "session", "invalid_value")),
    "401": _invalid_key,
    "403": _answer(
        ApiError(
            "You have insufficient permissions for this operation.",
            code="insufficient_permissions",
            status=403,
        )
    ),
    "404": _unknown_url,
    "429": _rate_limited,
    "500": _answer(SERVER_ERROR),
    "503": _answer(
        ApiError(SERVER_ERROR.message, type=SERVER_ERROR.type, status=503),
    ),
    "malformed_json": _malformed_json,
    "drop": _drop,
    "slow": _slow,
    # Faults in the middle of a stream (a WebSocket, `/audio/speech`): the request is answered,
    # then the stream breaks: see conversation.py and speech_route.py.
    "drop_mid_stream": _arm,
    "error_event": _arm,
}
FAULT_KINDS = frozenset(FAULTS)
# The stream faults and the paths whose answers they can break.
STREAMING_PATHS = {
    "drop_mid_stream": ("/realtime", "/audio/speech"),
    "error_event": ("/realtime",),
}


@dataclass
class _FaultRate:
    rates: dict[str, float]
    rng: random.Random = field(default_factory=random.Random)


class FaultPlan:
    """Which requests fail: queued faults per path first, then random shares per path."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = defaultdict(deque)
        self._rates: dict[str, _FaultRate] = {}

    def add(self, path: str, fault: Fault, count: int) -> None:
        """Fail the next `count` requests to `path`."""
        if fault.kind not in FAULTS:
            raise ValueError(f"unknown fault {fault.kind!r}")
        streams = STREAMING_PATHS.get(fault.kind)
        if streams is not None and path.partition("?")[0] not in streams:
            raise ValueError(f"fault {fault.kind!r} needs a stream: a path of {streams}")
        self._queued[path].extend(
            Fault(fault.kind, fault.retry_after, fault.delay) for _ in range(count)
        )

    def rate(self, path: str, rates: dict[str, float] | None, seed: int) -> None:
        """Fail a share of requests to `path` at random (deterministic for a seed)."""
        if rates is None:
            self._rates.pop(path, None)
            return
        unknown = set(rates) - FAULT_KINDS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")
        self._rates[path] = _FaultRate(rates, random.Random(seed))

    def next(self, path: str) -> Fault | None:
        """The fault for the next request to `path`, if any."""
        if self._queued.get(path):
            return self._queued[path].popleft()
        if (rate := self._rates.get(path)) is not None:
            roll = rate.rng.random()
            for kind, share in rate.rates.items():
                if roll < share:
                    return Fault(kind)
                roll -= share
        return None

    def clear(self) -> None:
        """Forget every planned fault."""
        self._queued.clear()
        self._rates.clear()
