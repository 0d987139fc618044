"""What happens to every API request around its handler: recording, faults, errors, CORS.

`decorate` runs as each answer's headers go out (aiohttp's `on_response_prepare`), so answers
that stream (a WebSocket, `/audio/speech`) get their request id and CORS headers too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import secrets
from typing import Any

from aiohttp import web

from .errors import Refused, unknown_url
from .faults import FAULTS
from .state import API_PREFIX, RecordedRequest, SimulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_middleware(state: SimulatorState) -> Any:
    """Record each request under /v1, inject planned faults, answer errors as the API does."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return _cors(_preflight(request))
        if not request.path.startswith(f"{API_PREFIX}/"):
            return await handler(request)  # the simulator's own control endpoints
        path = request.path.removeprefix(API_PREFIX)
        state.requests.append(
            RecordedRequest(
                request.method,
                path,
                dict(request.query),
                request.headers.copy(),
                await request.read(),
            )
        )
        response: web.StreamResponse | None = None
        fault = state.next_fault(_socket_kind(request, path)) or state.next_fault(path)
        if fault is not None:
            response = await FAULTS[fault.kind](request, fault)
        if response is None:
            response = await _answer(request, handler)
        return response

    return middleware


async def decorate(request: web.Request, response: web.StreamResponse) -> None:
    """Headers of every API answer, streamed ones included: its request id, and CORS."""
    if request.path.startswith(f"{API_PREFIX}/"):
        response.headers.setdefault("x-request-id", f"req_{secrets.token_hex(16)}")
        _cors(response)


def _socket_kind(request: web.Request, path: str) -> str:
    """`/realtime` by what the socket opens: `?call_id=`, `?model=`, `?intent=transcription`."""
    if path != "/realtime":
        return path
    if "intent" in request.query:
        return f"{path}?intent={request.query['intent']}"
    return f"{path}?model=" if "model" in request.query else f"{path}?call_id="


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Refused as refused:
        return refused.error.response()
    except web.HTTPNotFound, web.HTTPMethodNotAllowed:
        # The API answers a path it lacks, or a method a path lacks, the same way.
        return unknown_url(request).response()


def _preflight(request: web.Request) -> web.Response:
    """A browser's CORS preflight (ephemeral-key clients post their offer directly)."""
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": request.headers.get(
                "Access-Control-Request-Headers", "Authorization, Content-Type"
            ),
            "Access-Control-Max-Age": "600",
        },
    )


def _cors(response: web.StreamResponse) -> web.StreamResponse:
    """Let browsers call the API and read the call id, as OpenAI's API does."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Location, x-request-id"
    return response
