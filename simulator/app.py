"""The simulator's server: auth, request recording, fault injection, and its lifecycle."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import json
import random
import secrets
import time
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict

from .calls import SimCall
from .contract import envelope

API_PREFIX = "/v1"
FAULT_KINDS = frozenset(
    {"400", "401", "403", "404", "429", "500", "503", "slow", "malformed_json", "drop"}
)


@dataclass
class RecordedRequest:
    """One request as the simulator received it."""

    method: str
    path: str  # relative to /v1
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Fault:
    """A failure to inject instead of the normal answer."""

    kind: str
    retry_after: float | None = None
    delay: float = 1.0


@dataclass
class ClientSecret:
    """A minted ephemeral key and the session it carries."""

    value: str
    expires_at: int
    session: dict[str, Any]


@dataclass
class _FaultRate:
    rates: dict[str, float]
    rng: random.Random = field(default_factory=random.Random)


class RealtimeSimulator:
    """A local OpenAI Realtime API: HTTP, WebRTC calls and the sideband WebSocket."""

    def __init__(self, api_key: str = "sk-simulator") -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.client_secrets: dict[str, ClientSecret] = {}
        self.calls: dict[str, SimCall] = {}
        self.sideband_refusals = 0  # next N sideband handshakes answer 503
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._fault_rates: dict[str, _FaultRate] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        from .routes import build_app  # noqa: PLC0415 - routes need this module's types

        self.app = build_app(self)

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on loopback (port 0 picks a free port)."""
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """End every call and stop listening."""
        for call in list(self.calls.values()):
            await call.end("simulator_stopped")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The API base URL, like https://api.openai.com/v1."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    # --- what tests look at and steer ------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests to one path (relative to /v1)."""
        return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        self.requests.clear()
        self._faults.clear()
        self._fault_rates.clear()

    def add_fault(
        self,
        path: str,
        kind: str,
        *,
        count: int = 1,
        retry_after: float | None = None,
        delay: float = 1.0,
    ) -> None:
        """Make the next `count` requests to `path` fail with `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        for _ in range(count):
            self._faults[path].append(Fault(kind, retry_after, delay))

    def fault_rate(self, path: str, rates: dict[str, float] | None, *, seed: int = 0) -> None:
        """Fail a share of requests to `path` at random (deterministic for a seed)."""
        if rates is None:
            self._fault_rates.pop(path, None)
            return
        self._fault_rates[path] = _FaultRate(rates, random.Random(seed))

    def next_fault(self, path: str) -> Fault | None:
        """The fault to apply to a request to `path`, if any."""
        if self._faults.get(path):
            return self._faults[path].popleft()
        if (rate := self._fault_rates.get(path)) is not None:
            roll = rate.rng.random()
            for kind, share in rate.rates.items():
                if roll < share:
                    return Fault(kind)
                roll -= share
        return None

    def add_call(self, session: dict[str, Any] | None = None) -> SimCall:
        """Register a live call without media, as if a client had posted an offer itself.

        Only the sideband and call control work on it (no WebRTC peer, no data channel): the
        benchmarks hold many live sidebands this way without a DTLS/ICE stack per call.
        """
        from .routes import effective_session  # noqa: PLC0415 - routes need this module

        call = SimCall(effective_session(session), ephemeral=True)
        self.calls[call.call_id] = call
        return call

    def call(self, call_id: str | None = None) -> SimCall:
        """A call by id, or the newest one."""
        if call_id is None:
            return list(self.calls.values())[-1]
        return self.calls[call_id]

    # --- auth --------------------------------------------------------------------------

    def authenticate(self, request: web.Request, *, ephemeral: bool = False) -> str | None:
        """Return the key a request authenticates with, or None.

        Standard keys come as `Authorization: Bearer` or Azure's `api-key`; ephemeral keys
        (`ek_…`) are accepted only where the API accepts them.
        """
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        key = key or request.headers.get("api-key")
        if key == self.api_key:
            return key
        if (
            ephemeral
            and key in self.client_secrets
            and self.client_secrets[key].expires_at >= time.time()
        ):
            return key
        return None


def error_response(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    """A JSON error response with OpenAI's request id header."""
    return web.json_response(body, status=status, headers=headers)


def invalid_key_response(request: web.Request) -> web.Response:
    """401 like OpenAI's: the key is named only by its first characters."""
    auth = request.headers.get("Authorization", "") or request.headers.get("api-key", "")
    shown = auth.removeprefix("Bearer ")[:6] + "***" if auth else ""
    message = (
        f"Incorrect API key provided: {shown}."
        if shown
        else "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    )
    return error_response(
        401,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
    )


def new_request_id() -> str:
    """An x-request-id value."""
    return f"req_{secrets.token_hex(16)}"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = ["API_PREFIX", "Handler", "RealtimeSimulator", "RecordedRequest", "envelope"]
