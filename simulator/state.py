"""What the simulator knows: keys, client secrets, live calls, recorded requests, planned faults.

This is the part tests look at and steer; the HTTP layer (routes, middleware) works on it and
`RealtimeSimulator` (app.py) adds a server around it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
import time
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from . import webhooks
from .calls import SimCall
from .conversation import VOICE_TURN, Turn
from .errors import standard_key
from .faults import Fault, FaultPlan
from .sessions import effective_session

API_PREFIX = "/v1"
# How long a SIP call rings before OpenAI gives up on it (the docs give no figure: ours).
RING_SECONDS = 60.0


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
class ClientSecret:
    """A minted ephemeral key and the session it carries."""

    value: str
    expires_at: int
    session: dict[str, Any]


class SimulatorState:
    """The simulated API's state, without a server."""

    def __init__(
        self,
        api_key: str = "sk-simulator",
        *,
        auto_turn: Turn | None = VOICE_TURN,
        key_header: str | None = None,
        key_query: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.key_header: str | None = None
        self.key_query: str | None = None
        self.accept_key_in(header=key_header, query=key_query)
        self.requests: list[RecordedRequest] = []
        self.client_secrets: dict[str, ClientSecret] = {}
        # Translation client secrets as minted (they open nothing: the spec has no endpoint
        # for translation sessions).
        self.translation_secrets: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, SimCall] = {}
        # Sessions over their own WebSocket (`/realtime?model=…`, `?intent=transcription`),
        # oldest first; each is a SimCall with transport "websocket", never in `calls`.
        self.sockets: list[SimCall] = []
        self.socket_pace = 1.0  # their pace: 1.0 the API's latencies; 0 no waiting
        self.speech_pace = 1.0  # `/audio/speech`'s: 1.0 the API's speed; 0 no waiting
        self.sideband_refusals = 0  # next N sideband handshakes answer 503
        # The turn a caller's speech plays on calls with media (None: calls do not listen).
        self.auto_turn = auto_turn
        self.ring_timeout = RING_SECONDS  # seconds a SIP call rings unanswered before it ends
        self._faults = FaultPlan()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests to one path (relative to /v1)."""
        return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        self.requests.clear()
        self._faults.clear()

    def add_fault(
        self,
        path: str,
        kind: str,
        *,
        count: int = 1,
        retry_after: float | None = None,
        delay: float = 1.0,
    ) -> None:
        """Make the next `count` requests to `path` fail with `kind` (see faults.FAULTS).

        `path` is relative to /v1. WebSockets go to `/realtime` whatever they open; to aim at
        one kind, name it: `/realtime?call_id=` (sidebands), `/realtime?model=` (conversations)
        or `/realtime?intent=transcription`. "429" answers a handshake with 429, "slow" delays
        it, "drop_mid_stream" and "error_event" break the stream it opens (and "drop_mid_stream"
        an `/audio/speech` stream) at the first chance.
        """
        self._faults.add(path, Fault(kind, retry_after, delay), count)

    def fault_rate(self, path: str, rates: dict[str, float] | None, *, seed: int = 0) -> None:
        """Fail a share of requests to `path` at random (deterministic for a seed)."""
        self._faults.rate(path, rates, seed)

    def next_fault(self, path: str) -> Fault | None:
        """The fault to apply to a request to `path`, if any."""
        return self._faults.next(path)

    def add_call(self, session: dict[str, Any] | None = None, *, sip: bool = False) -> SimCall:
        """Register a call without media, as if it had been set up elsewhere.

        Only the sideband and call control work on it (no WebRTC peer, no data channel): the
        benchmarks hold many live sidebands this way without a DTLS/ICE stack per call. With no
        audio to play, its events follow each other without waiting (`pace` 0).

        By default it is live and its origin is left open: call control answers on it as on a
        call of either kind. `sip=True` makes it a SIP call that rings (pending) until it is
        accepted, rejected, referred or hung up, without a webhook (see `ring` for one).
        """
        if sip:
            call = SimCall(effective_session(None), ephemeral=False, transport="sip")
            call.spawn(self._expire_unanswered(call))
        else:
            call = SimCall(effective_session(session), ephemeral=True)
        self.calls[call.call_id] = call
        return call

    async def ring(
        self,
        url: str,
        *,
        secret: str,
        caller: str = "+14155550123",
        callee: str = "+18005550000",
        sip_headers: list[dict[str, str]] | None = None,
        caller_name: str | None = None,
        pace: float = 1.0,
    ) -> SimCall:
        """A phone call arrives by SIP: a pending call, announced to `url` by webhook.

        The `realtime.call.incoming` event is signed with `secret` (`whsec_…`) as OpenAI signs
        it and posted once; `call.webhook_status` is the endpoint's answer (None when it could
        not be reached) and `call.webhook` the whole delivery. `caller` and `callee` go into
        the `From` and `To` headers (numbers, or whole header values), `sip_headers` after the
        standard ones. Once accepted the call runs at `pace` (1.0: real time, as a phone call;
        0: events without waiting, for tests). Unanswered, it ends after `ring_timeout` seconds.
        """
        call = self.add_call(sip=True)
        call.pace = pace
        call.sip_headers = webhooks.sip_headers(
            caller, callee, caller_name=caller_name, extra=sip_headers
        )
        event = webhooks.incoming_call(call.call_id, call.sip_headers)
        call.webhook = webhooks.Delivery(url, secret, event)
        await webhooks.deliver(call.webhook)
        return call

    async def redeliver(self, call: SimCall) -> int | None:
        """Post a call's `realtime.call.incoming` again, as OpenAI retries it.

        The same `webhook-id` and body, a new timestamp and signature; returns the answer.
        """
        if call.webhook is None:
            raise ValueError(f"call {call.call_id} was not announced by a webhook")
        return await webhooks.deliver(call.webhook)

    async def _expire_unanswered(self, call: SimCall) -> None:
        await asyncio.sleep(self.ring_timeout)
        if call.pending:
            await call.end("unanswered")

    def call(self, call_id: str | None = None) -> SimCall:
        """A call by id, or the newest one."""
        if call_id is None:
            return list(self.calls.values())[-1]
        return self.calls[call_id]

    def open_call(self, call_id: str) -> SimCall | None:
        """A call that has not ended (pending or live), by id; None if there is none."""
        call = self.calls.get(call_id)
        return call if call is not None and not call.hung_up else None

    def live_call(self, call_id: str | None = None) -> SimCall | None:
        """A call that is live (answered, not ended), by id or the newest; None if none is."""
        if call_id is not None:
            call = self.open_call(call_id)
            return call if call is not None and not call.pending else None
        return next(
            (c for c in reversed(self.calls.values()) if not c.hung_up and not c.pending), None
        )

    def accept_key_in(self, *, header: str | None = None, query: str | None = None) -> None:
        """Take the standard key only in this header or query parameter, as a gateway would.

        A self-hosted, OpenAI-compatible server often wants the key somewhere else than
        `Authorization: Bearer` (`x-api-key`, `?key=`). With neither (the default) the key comes
        as OpenAI takes it: `Authorization: Bearer`, or Azure's `api-key` header. Ephemeral keys
        keep coming as `Authorization: Bearer ek_…`: browsers send them straight to the API.
        """
        if header is not None and query is not None:
            raise ValueError("the key goes in a header or in the query, not both")
        self.key_header = header
        self.key_query = query

    def presented_key(self, request: web.Request) -> str | None:
        """The standard key where this server reads it (see `accept_key_in`)."""
        if self.key_query is not None:
            return request.query.get(self.key_query)
        if self.key_header is not None:
            return request.headers.get(self.key_header)
        return standard_key(request)

    def key_place(self) -> str | None:
        """Where the key is expected, in words (None: OpenAI's own place)."""
        if self.key_query is not None:
            return f"the query parameter '{self.key_query}'"
        if self.key_header is not None:
            return f"the header '{self.key_header}'"
        return None

    def authenticate(self, request: web.Request, *, ephemeral: bool = False) -> str | None:
        """Return the key a request authenticates with, or None.

        The standard key comes where `accept_key_in` says; ephemeral keys (`ek_…`) come as
        `Authorization: Bearer` and are accepted only where the API accepts them.
        """
        key = self.presented_key(request)
        if key == self.api_key:
            return key
        bearer = standard_key(request)
        if (
            ephemeral
            and bearer in self.client_secrets
            and self.client_secrets[bearer].expires_at >= time.time()
        ):
            return bearer
        return None
