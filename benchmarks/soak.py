"""6. Soak: random interleavings of everything that starts or ends a call, with faults injected.

The rule under test ("every call stays under HA's control"): once OpenAI has a call, Home
Assistant either controls it or hangs it up, and it forgets only calls OpenAI has ended. After
every stretch of random steps, once the operations in flight are done and HA had time to
notice, two sets must be empty:

- calls live at the simulator that HA does not hold (nobody would ever hang them up), and
- calls HA holds that the simulator has ended (a satellite showing a call that is gone).

No sideband of HA's may be open into a call HA does not hold, and the satellites' `call_ids`
must show exactly the calls HA holds. At the end every
websocket connection closes (which must end every call), the entry unloads, and no task may be
left behind.

What the steps do, chosen by a seeded random generator (the same seed gives the same sequence
of steps; how they interleave depends on timing, so a failure names the seed, the step and the
call's state on both sides):

- connect: a client sends `openai_api/realtime/connect` over a real HA websocket connection
  with a real aiortc offer (ICE candidates on loopback); HA posts it to the simulator's
  `/realtime/calls`, whose aiortc answerer answers. Most offers come from a small pool of
  peers closed after making them (the browser never brings the media up, as when a tab closes
  right away: cheap on a busy machine); a few connects use a fresh peer that applies the answer
  and connects ICE and DTLS, as the card does.
- ephemeral: `openai_api/realtime/ephemeral` mints a secret from the profile; the "browser"
  creates the call at the simulator (half of the time a real `POST /realtime/calls` with the
  `ek_` secret and a bare SDP, else `add_call`, without media), waits a little and sends
  `openai_api/realtime/attach`. If the attach is refused or the connection drops first, the
  browser ends its call at the simulator itself, as the card's teardown closes the peer
  (OpenAI ends a call whose peer is gone). Now and then a secret is never used, or used to
  attach one of the user's calls again (a buggy client).
- hang-up: `openai_api/realtime/hangup` for one of the client's calls, an admin for someone
  else's, a user for someone else's (refused), or an unknown id.
- drop: a client's websocket connection closes; it reconnects at its next step.
- sideband drop: the simulator closes a call's sideband sockets (HA reconnects; its backoff is
  shortened fiftyfold here, so that giving a sideband up fits in the life of a soak call).
- OpenAI ends: the simulator ends a live call by itself.
- turn: the simulator plays a user turn with a tool call on a call HA listens to.
- announce: `assist_satellite.announce` on a satellite, as one of the users.
- entry: reload the entry (ends every call), unload it, or set it up again.
- fault: the next `POST /realtime/calls` is slow (0.05 to 2 s) or fails (500, 503, 429, a
  dropped connection); the next 1 to 3 hang-ups of a live call answer 500 (fewer than HA's
  attempts); the next sideband handshakes answer 500 or 503; a call's sideband drops and the
  next 12 handshakes answer 503 (more than HA's reconnects: HA must hang the call up); the next
  client secret fails.

Up to `max_in_flight` steps run at once, on five clients of three users (an admin with one tab,
two users with two each), on three profiles (3 calls / 1 per user; 6 / 3; and 3 / 2 with a
time limit of 2.4 s, so calls also end by running out of time).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
import contextlib
from dataclasses import dataclass, field
import logging
import random
import re
import time
from typing import Any

import aiohttp
from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import CONF_API_KEY
from homeassistant.core import Context
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import CLIENT_ID, MockConfigEntry

from custom_components.openai_api.const import (
    CONF_BASE_URL,
    CONF_MAX_DURATION,
    CONF_MAX_SESSIONS,
    CONF_MAX_SESSIONS_PER_USER,
    DOMAIN,
    SUBENTRY_VOICE,
)
from custom_components.openai_api.realtime import call as call_module
from custom_components.openai_api.realtime.call import RealtimeCall
from custom_components.openai_api.realtime.manager import CallManager
from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE
from simulator import RealtimeSimulator, SimCall, Turn
from simulator.routes import drop_sidebands

from .harness import API_KEY, PATIENCE, Bench, WsClient, settle, until, ws_connect
from .peer import BrowserPeer, cancel_media_stragglers

OFFER_POOL = 6
# Relative weights of the steps.
WEIGHTS = {
    "connect": 22,
    "ephemeral": 18,
    "hangup": 14,
    "drop": 3,
    "sideband_drop": 8,
    "openai_ends": 3,
    "turn": 6,
    "announce": 4,
    "entry": 0.6,
    "fault": 10,
}
PAUSES = (0.0, 0.0, 0.001, 0.005, 0.02, 0.05)  # between starting two steps
LOGGERS = ("custom_components.openai_api", "homeassistant.components.websocket_api")
# Counted, never findings: the simulator's server logs the connections it drops on purpose
# (fault "drop"); HA's service helper warns when an announcement names a satellite of an
# unloaded entry.
QUIET = ("aiohttp.server", "homeassistant.helpers.service")
# HA's sideband reconnect backoff, a fiftieth of the real one (0.5 ... 8 s, 15.5 s in all):
# giving a sideband up then happens within the life of a soak call (about a second, with steps
# coming every few milliseconds), with the same logic.
RECONNECT_DELAYS = (0.01, 0.02, 0.04, 0.08, 0.16)
# Expected refusals and failures of a step come as errors with one of these codes; an error
# with another code (such as `unknown_error`: an exception HA did not expect) is a finding.
EXPECTED_CODES = {"home_assistant_error", "unauthorized"}
# The ways the rule can break.
UNKNOWN = "live at OpenAI, not held by HA"
STALE = "held by HA, ended at OpenAI"
SHOWN_EXTRA = "shown by a satellite, not held by HA"
SHOWN_MISSING = "held by HA, not shown by its satellite"
OUTLIVED = "live after every connection closed"
UNMANAGED = "a sideband of HA's open at OpenAI, the call not held by HA"


@dataclass
class SoakScale:
    """How many steps, how many at once, how many relayed calls bring their media up."""

    steps: int
    seed: int = 20261126
    max_in_flight: int = 8
    media_calls: int = 4
    check_every: int = 250


@dataclass
class Client:
    """A browser tab: one user, one websocket connection that may drop and come back."""

    name: str
    user_id: str
    token: str
    admin: bool
    ws: WsClient | None = None
    connections: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Mine:
    """A call a client started (as far as the browser knows, it is live)."""

    client: Client
    mode: str
    peer: BrowserPeer | None = None


class _Capture(logging.Handler):
    """Counts what the integration and HA's websocket API log while the soak runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self.warnings: list[str] = []  # the integration's own, in full

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name.startswith(QUIET):
            self.counts[f"{record.levelname} {record.name}"] += 1
            return
        template = re.sub(r"^\[\d+\] ", "", str(record.msg))
        if "Error handling message" in template:  # HA's websocket API answered with an error
            code = re.search(r"\((\w+)\) ", message)
            template = f"Error handling message ({code.group(1) if code else '?'})"
        self.counts[f"{record.levelname} {record.name}: {template}"] += 1
        if record.name.startswith("custom_components") and len(self.warnings) < 20:
            self.warnings.append(f"{record.levelname}: {message[:300]}")
        if record.levelno >= logging.ERROR and (
            record.name.startswith("custom_components")
            or record.exc_info is not None
            or "(unknown_error)" in message
        ):
            self.unexpected.append(f"{record.name}: {message[:300]}")


class Soak:
    """One soak run against its own simulator and account entry."""

    def __init__(self, bench: Bench, sim: RealtimeSimulator, scale: SoakScale) -> None:
        self.bench = bench
        self.hass = bench.hass
        self.sim = sim
        self.scale = scale
        self.rng = random.Random(scale.seed)
        self.entry = _make_entry(sim)
        self.clients: list[Client] = []
        self.satellites: list[str] = []
        self.offers: list[str] = []
        self.mine: dict[str, Mine] = {}
        self.in_browser: set[str] = set()  # created by a browser, attach not yet answered
        self.managers: list[CallManager] = []
        self.steps: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.faults_planned: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.ended_by_ha: Counter[str] = Counter()
        self.media = {"started": 0, "connected": 0}
        self.errors: list[str] = []
        self.violations: list[tuple[str, str]] = []  # (which rule, what happened)
        self.reported: set[str] = set()
        self.checks = 0
        self.most_live = 0
        self.in_flight: dict[asyncio.Task[None], str] = {}
        self.step_no = 0
        # HA refuses to set up an entry that is still unloading: one entry operation at a time
        # (the soak is about the integration, not about HA core's config entry states).
        self.entry_lock = asyncio.Lock()
        self.hangup_faulted: set[str] = set()
        self.steps_not_loaded = 0
        self.entry_seconds: list[float] = []

    # --- set-up ------------------------------------------------------------------------------

    async def setup(self) -> None:
        """The entry, its satellites, the users and their clients, the pool of offers."""
        hass = self.hass
        self.entry.add_to_hass(hass)
        if not await hass.config_entries.async_setup(self.entry.entry_id):
            raise RuntimeError(f"the soak entry did not load: {self.entry.state}")
        self._note_manager()
        reg = er.async_get(hass)
        # The profiles' satellites only: each profile also has its Assist pipeline's entities
        # (speech-to-text, agent, text-to-speech) and a button, which no call can go to.
        self.satellites = sorted(
            e.entity_id
            for e in reg.entities.values()
            if e.config_entry_id == self.entry.entry_id and e.domain == "assist_satellite"
        )
        profiles = len(self.entry.subentries)
        if len(self.satellites) != profiles:
            raise RuntimeError(f"{len(self.satellites)} satellites for {profiles} profiles")
        users = [("admin", self.bench.user_id, self.bench.access_token, True)]
        for name in ("Alice", "Bob"):
            user = await hass.auth.async_create_user(name, group_ids=[GROUP_ID_USER])
            refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
            users.append((name, user.id, hass.auth.async_create_access_token(refresh), False))
        # Two tabs per user (the admin one).
        for name, user_id, token, admin in users:
            for tab in range(1 if admin else 2):
                self.clients.append(Client(f"{name}/{tab}", user_id, token, admin))
        for _ in range(OFFER_POOL):
            peer = BrowserPeer()
            self.offers.append(await peer.offer())
            await peer.close()

    def _note_manager(self) -> None:
        if self.entry.state is ConfigEntryState.LOADED:
            manager = self.entry.runtime_data.manager
            if manager not in self.managers:
                self.managers.append(manager)

    async def connection(self, client: Client) -> WsClient:
        """The client's connection, logging in again if it dropped."""
        async with client.lock:
            if client.ws is None or client.ws.closed:
                client.ws = await ws_connect(self.bench.client, client.token)
                client.connections += 1
            return client.ws

    # --- the steps -----------------------------------------------------------------------------

    def _pick_live(self, rng: random.Random, *, held: bool = False) -> SimCall | None:
        live = [c for c in self.sim.calls.values() if not c.hung_up]
        if held:
            ours = self._held_ids(live_only=True)
            live = [c for c in live if c.call_id in ours]
        return rng.choice(live) if live else None

    def _outcome(self, step: str, reply: dict[str, Any]) -> str:
        """Name the outcome of a command's reply; note unexpected errors."""
        if reply.get("success"):
            return "ok"
        error = reply.get("error") or {}
        code = error.get("code")
        if code not in EXPECTED_CODES:
            self.errors.append(f"step {self.step_no} {step}: unexpected error {error}")
        return f"refused:{error.get('translation_key') or code}"

    async def step_connect(self, rng: random.Random, client: Client, satellite: str) -> str:
        peer: BrowserPeer | None = None
        if self.media["started"] < self.scale.media_calls and rng.random() < 0.1:
            self.media["started"] += 1
            peer = BrowserPeer()
            offer = await peer.offer()
        else:
            offer = rng.choice(self.offers)
        try:
            ws = await self.connection(client)
            reply = await ws.command(
                type="openai_api/realtime/connect", entity_id=satellite, sdp=offer
            )
        except ConnectionResetError:
            reply = {"success": False, "dropped": True}
        outcome = "connection_closed" if reply.get("dropped") else self._outcome("connect", reply)
        if outcome != "ok":
            if peer is not None:
                await peer.close()
            return outcome
        call_id = reply["result"]["call_id"]
        self.mine[call_id] = Mine(client, "relay", peer)
        if peer is not None:
            await peer.accept(reply["result"]["sdp"])
            with contextlib.suppress(TimeoutError):
                await until(lambda: peer.connected or self.sim.calls[call_id].hung_up, 30)
            if peer.connected:
                self.media["connected"] += 1
        return "created"

    async def step_ephemeral(self, rng: random.Random, client: Client, satellite: str) -> str:
        try:
            ws = await self.connection(client)
            secret = await ws.command(type="openai_api/realtime/ephemeral", entity_id=satellite)
        except ConnectionResetError:
            return "connection_closed"
        if (outcome := self._outcome("ephemeral", secret)) != "ok":
            return outcome
        roll = rng.random()
        if roll < 0.05:
            return "secret_unused"  # the browser never uses it; the place lapses
        own = [cid for cid, m in self.mine.items() if m.client.user_id == client.user_id]
        if roll < 0.12 and own:
            # A buggy (or curious) client attaches one of its user's calls again.
            try:
                reply = await ws.command(
                    type="openai_api/realtime/attach", entity_id=satellite, call_id=rng.choice(own)
                )
            except ConnectionResetError:
                return "again_connection_closed"
            return f"again_{self._outcome('attach', reply)}"
        # The browser creates the call with the secret.
        if rng.random() < 0.5:
            http = async_get_clientsession(self.hass)
            try:
                async with http.post(
                    secret["result"]["calls_url"],
                    data=rng.choice(self.offers),
                    headers={
                        "Authorization": f"Bearer {secret['result']['value']}",
                        "Content-Type": "application/sdp",
                    },
                ) as resp:
                    await resp.read()
                    if resp.status != 201:
                        return f"openai_refused:{resp.status}"
                    call_id = resp.headers["Location"].rsplit("/", 1)[-1]
            except aiohttp.ClientError:
                return "openai_refused:dropped"  # an injected dropped connection
        else:
            call_id = self.sim.add_call().call_id
        self.in_browser.add(call_id)
        try:
            await asyncio.sleep(rng.choice((0.0, 0.001, 0.02, 0.2)))
            try:
                reply = await ws.command(
                    type="openai_api/realtime/attach", entity_id=satellite, call_id=call_id
                )
            except ConnectionResetError:
                reply = {"success": False, "dropped": True}
            outcome = (
                "connection_closed" if reply.get("dropped") else self._outcome("attach", reply)
            )
            if outcome == "ok":
                self.mine[call_id] = Mine(client, "ephemeral")
                return "attached"
            # The card tears down: the peer closes and OpenAI ends the call.
            await self.sim.calls[call_id].end("client_left")
            return f"attach_{outcome}"
        finally:
            self.in_browser.discard(call_id)

    async def step_hangup(self, rng: random.Random, client: Client) -> str:
        own = [cid for cid, m in self.mine.items() if m.client is client]
        others = [cid for cid, m in self.mine.items() if m.client.user_id != client.user_id]
        roll = rng.random()
        if own and roll < 0.85:
            call_id, kind = rng.choice(own), "own"
        elif others and roll < 0.95:
            call_id, kind = rng.choice(others), "admin_other" if client.admin else "other"
        else:
            call_id, kind = f"rtc_soak{rng.getrandbits(40):x}", "unknown"
        try:
            ws = await self.connection(client)
            reply = await ws.command(type="openai_api/realtime/hangup", call_id=call_id)
        except ConnectionResetError:
            return f"{kind}:connection_closed"
        outcome = self._outcome("hangup", reply)
        if outcome == "ok":
            outcome = "ended" if reply["result"]["ended"] else "not_live"
            if (mine := self.mine.pop(call_id, None)) is not None and mine.peer is not None:
                await mine.peer.close()
        if kind == "other" and outcome == "ended":
            self.errors.append(f"step {self.step_no}: a user hung up another user's call")
        return f"{kind}:{outcome}"

    async def step_drop(self, client: Client) -> str:
        async with client.lock:
            ws, client.ws = client.ws, None
        if ws is None:
            return "not_connected"
        await ws.close()
        # The browser's calls went with the connection (HA hangs them up); so does its media.
        for call_id in [cid for cid, m in self.mine.items() if m.client is client]:
            mine = self.mine.pop(call_id, None)
            if mine is not None and mine.peer is not None:
                await mine.peer.close()
        return "closed"

    async def step_sideband_drop(self, rng: random.Random) -> str:
        call = self._pick_live(rng, held=True)
        if call is None or not call.sidebands:
            return "none_connected"
        await drop_sidebands(call)
        return "dropped"

    async def step_openai_ends(self, rng: random.Random) -> str:
        call = self._pick_live(rng)
        if call is None:
            return "none_live"
        await call.end("server_ended")
        return "ended"

    async def step_turn(self, rng: random.Random) -> str:
        call = self._pick_live(rng, held=True)
        if call is None or not call.sidebands:
            return "none_connected"
        try:
            await call.user_turn(Turn(), tool_timeout=5.0)
        except TimeoutError:
            return "no_tool_output"  # the call or its sideband went away meanwhile
        return "answered"

    async def step_announce(self, client: Client, satellite: str) -> str:
        """`assist_satellite.announce` as the client's user (an automation's would be admin)."""
        context = Context(user_id=client.user_id)
        try:
            await self.hass.services.async_call(
                "assist_satellite",
                "announce",
                {"entity_id": satellite, "message": "The soak says hello."},
                blocking=True,
                context=context,
            )
        except HomeAssistantError as err:
            return f"refused:{err.translation_key or type(err).__name__}"
        return "spoken"

    async def step_entry(self, rng: random.Random) -> str:
        config_entries = self.hass.config_entries
        entry_id = self.entry.entry_id
        unload = rng.random() < 0.3
        away = rng.uniform(0.05, 1.0)  # how long an unloaded entry stays unloaded
        started = time.perf_counter()
        async with self.entry_lock:
            if self.entry.state is not ConfigEntryState.LOADED:
                ok = await config_entries.async_setup(entry_id)
                outcome = "set_up" if ok else f"setup_failed:{self.entry.state}"
            elif unload:
                ok = await config_entries.async_unload(entry_id)
                outcome = "unloaded" if ok else "unload_failed"
            else:
                ok = await config_entries.async_reload(entry_id)
                outcome = "reloaded" if ok else f"reload_failed:{self.entry.state}"
            self._note_manager()
        self.entry_seconds.append(round(time.perf_counter() - started, 2))
        if ok and outcome == "unloaded":
            # Someone sets it up again a moment later (meanwhile every step finds it unloaded).
            await asyncio.sleep(away)
            async with self.entry_lock:
                if self.entry.state is not ConfigEntryState.LOADED:
                    ok = await config_entries.async_setup(entry_id)
                    outcome = "unloaded_then_set_up" if ok else f"setup_failed:{self.entry.state}"
                self._note_manager()
        if not ok:
            self.errors.append(f"step {self.step_no}: entry operation {outcome}")
        return outcome

    async def step_fault(self, rng: random.Random) -> str:
        sim = self.sim
        kind = rng.choice(
            ("slow_create", "fail_create", "hangup_500", "sideband", "sideband_lost", "secret_500")
        )
        if kind == "slow_create":
            sim.add_fault("/realtime/calls", "slow", delay=rng.choice((0.05, 0.1, 0.3, 0.5, 2.0)))
        elif kind == "fail_create":
            kind = f"create_{rng.choice(('500', '503', '429', 'drop'))}"
            sim.add_fault("/realtime/calls", kind.removeprefix("create_"))
        elif kind == "hangup_500":
            # At most once per call, so that HA's attempts (5) outlast the failures.
            call = self._pick_live(rng, held=True)
            if call is None or call.call_id in self.hangup_faulted:
                return "no_call"
            self.hangup_faulted.add(call.call_id)
            sim.add_fault(f"/realtime/calls/{call.call_id}/hangup", "500", count=rng.randint(1, 3))
        elif kind == "sideband":
            kind = f"sideband_{rng.choice(('500', '503'))}"
            sim.add_fault("/realtime", kind.removeprefix("sideband_"), count=rng.randint(1, 2))
        elif kind == "sideband_lost":
            # More refusals than HA's reconnect attempts (6 in 15.5 s), then a drop: HA must
            # give the call up and hang it up (the refusals are shared by every reconnecting
            # call, hence twice as many).
            call = self._pick_live(rng, held=True)
            if call is None or not call.sidebands:
                return "no_call"
            sim.add_fault("/realtime", "503", count=12)
            await drop_sidebands(call)
        else:
            sim.add_fault("/realtime/client_secrets", "500")
        self.faults_planned[kind] += 1
        return kind

    def _choose(self) -> tuple[str, Callable[[], Awaitable[str]]]:
        """The next step (all its random choices made now, from the seeded generator)."""
        rng = self.rng
        step = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        op_rng = random.Random(rng.getrandbits(64))
        client = rng.choice(self.clients)
        satellite = rng.choice(self.satellites)
        actions: dict[str, Callable[[], Awaitable[str]]] = {
            "connect": lambda: self.step_connect(op_rng, client, satellite),
            "ephemeral": lambda: self.step_ephemeral(op_rng, client, satellite),
            "hangup": lambda: self.step_hangup(op_rng, client),
            "drop": lambda: self.step_drop(client),
            "sideband_drop": lambda: self.step_sideband_drop(op_rng),
            "openai_ends": lambda: self.step_openai_ends(op_rng),
            "turn": lambda: self.step_turn(op_rng),
            "announce": lambda: self.step_announce(client, satellite),
            "entry": lambda: self.step_entry(op_rng),
            "fault": lambda: self.step_fault(op_rng),
        }
        return step, actions[step]

    async def _run_step(self, number: int, step: str, action: Callable[[], Awaitable[str]]) -> None:
        try:
            async with asyncio.timeout(PATIENCE):
                outcome = await action()
        except Exception as err:  # a step failing in a way nobody expected is a finding
            outcome = f"exception:{type(err).__name__}"
            self.errors.append(f"step {number} {step}: {type(err).__name__}: {err}")
        self.outcomes[f"{step} {outcome}"] += 1

    # --- invariants ----------------------------------------------------------------------------

    def _held_ids(self, *, live_only: bool = False) -> set[str]:
        """Calls HA holds, in every call manager the entry had (old ones should hold none)."""
        return {
            c.call_id
            for manager in self.managers
            for c in manager.calls
            if not (live_only and c.ended)
        }

    def mismatches(self) -> dict[str, set[str]]:
        """What breaks the rule right now (empty sets when all is well)."""
        live = {cid for cid, c in self.sim.calls.items() if not c.hung_up}
        held_live = self._held_ids(live_only=True)
        held = self._held_ids()
        out = {
            UNKNOWN: live - held_live - self.in_browser,
            STALE: {
                cid for cid in held if cid not in self.sim.calls or self.sim.calls[cid].hung_up
            },
        }
        shown: set[str] = set()
        for entity_id in self.satellites:
            state = self.hass.states.get(entity_id)
            if state is not None and state.state != "unavailable":
                shown |= set(state.attributes.get("call_ids") or [])
        out[UNMANAGED] = {
            cid for cid, c in self.sim.calls.items() if c.sidebands and not c.hung_up
        } - held_live
        out[SHOWN_EXTRA] = shown - held_live
        out[SHOWN_MISSING] = (
            held_live - shown if self.entry.state is ConfigEntryState.LOADED else set()
        )
        return out

    async def quiesce_and_check(self, label: str) -> None:
        """Let the steps in flight finish, give HA time to notice, then check the rule."""
        if self.in_flight:
            await asyncio.gather(*self.in_flight, return_exceptions=True)
        await settle(self.hass, 0.05)
        self.checks += 1
        with contextlib.suppress(TimeoutError):
            await until(lambda: not any(self.mismatches().values()), PATIENCE, 0.05)
        for what, ids in self.mismatches().items():
            for call_id in sorted(ids - self.reported):
                self.reported.add(call_id)
                self.violations.append((what, f"{label}: {self._describe(call_id)}"))

    def _describe(self, call_id: str) -> str:
        sim_call = self.sim.calls.get(call_id)
        ha = [c for manager in self.managers for c in manager.calls if c.call_id == call_id]
        mine = self.mine.get(call_id)
        return (
            f"{call_id} (simulator: "
            f"{'absent' if sim_call is None else sim_call.hangup_reason or 'live'}, "
            f"ephemeral={getattr(sim_call, 'ephemeral', None)}; HA: "
            f"{[(c.mode.value, c.ended, c.end_reason) for c in ha]}; browser: "
            f"{None if mine is None else (mine.client.name, mine.mode)})"
        )

    # --- the run -------------------------------------------------------------------------------

    async def run(self) -> None:
        """All the steps, with checks every `check_every` steps."""
        slots = asyncio.Semaphore(self.scale.max_in_flight)
        for number in range(1, self.scale.steps + 1):
            self.step_no = number
            step, action = self._choose()
            self.steps[step] += 1
            await slots.acquire()
            task = asyncio.create_task(self._run_step(number, step, action))
            self.in_flight[task] = step
            task.add_done_callback(lambda t: (self.in_flight.pop(t, None), slots.release()))
            if pause := self.rng.choice(PAUSES):
                await asyncio.sleep(pause)
            self.most_live = max(self.most_live, len(self._held_ids(live_only=True)))
            if self.entry.state is not ConfigEntryState.LOADED:
                # Every step would only be refused: slow down until the entry is back (this
                # changes the timing, never which steps come).
                self.steps_not_loaded += 1
                await asyncio.sleep(0.05)
            if number % self.scale.check_every == 0:
                await self.quiesce_and_check(f"after step {number}")
        await self.quiesce_and_check("after the last step")

    async def finish(self) -> dict[str, Any]:
        """Entry loaded, check; every connection closed, check; unload; nothing left."""
        if self.entry.state is not ConfigEntryState.LOADED:
            await self.step_entry(random.Random(0))
        await self.quiesce_and_check("entry loaded at the end")
        live_before_close = len(self._held_ids(live_only=True))
        for client in self.clients:
            if client.ws is not None:
                await client.ws.close()
        try:
            await until(
                lambda: not self._held_ids() and all(c.hung_up for c in self.sim.calls.values()),
                PATIENCE,
                0.05,
            )
        except TimeoutError:
            self.violations += [
                (OUTLIVED, self._describe(cid))
                for cid, c in self.sim.calls.items()
                if not c.hung_up or cid in self._held_ids()
            ]
        assert await self.hass.config_entries.async_unload(self.entry.entry_id)
        await settle(self.hass, 0.1)
        for mine in self.mine.values():
            if mine.peer is not None:
                await mine.peer.close()
        return {"live_when_connections_closed": live_before_close}


def _make_entry(sim: RealtimeSimulator) -> MockConfigEntry:
    profiles = [
        ("Soak one", {}),
        ("Soak two", {CONF_MAX_SESSIONS: 6, CONF_MAX_SESSIONS_PER_USER: 3}),
        # Calls that hit the time limit while everything else goes on: 2.4 s (the UI's
        # smallest is a minute; the entry data is set directly here).
        (
            "Soak short",
            {CONF_MAX_SESSIONS: 3, CONF_MAX_SESSIONS_PER_USER: 2, CONF_MAX_DURATION: 0.04},
        ),
    ]
    return MockConfigEntry(
        domain=DOMAIN,
        title="OpenAI (soak)",
        data={CONF_API_KEY: API_KEY, CONF_BASE_URL: sim.base_url},
        subentries_data=[
            ConfigSubentryData(
                data={**DEFAULT_PROFILE, **extra},
                subentry_type=SUBENTRY_VOICE,
                title=title,
                unique_id=None,
            )
            for title, extra in profiles
        ],
    )


@contextlib.contextmanager
def _watching(soak: Soak, capture: _Capture) -> Iterator[None]:
    """Count injected faults, why HA ended calls, and what it logged (kept off stderr)."""
    original_next_fault = soak.sim.next_fault
    original_hangup = RealtimeCall.async_hangup
    original_delays = call_module.RECONNECT_DELAYS

    def next_fault(path: str) -> Any:
        fault = original_next_fault(path)
        if fault is not None:
            where = "hangup" if path.endswith("/hangup") else path.rsplit("/", 1)[-1]
            soak.faults_injected[f"{where} {fault.kind}"] += 1
        return fault

    async def async_hangup(self: RealtimeCall, reason: Any, **kwargs: Any) -> None:
        if not self.ended:
            soak.ended_by_ha[str(reason)] += 1
        await original_hangup(self, reason, **kwargs)

    loggers = [logging.getLogger(name) for name in (*LOGGERS, *QUIET)]
    propagate = [logger.propagate for logger in loggers]
    soak.sim.next_fault = next_fault  # type: ignore[method-assign]
    RealtimeCall.async_hangup = async_hangup  # type: ignore[method-assign]
    call_module.RECONNECT_DELAYS = RECONNECT_DELAYS
    for logger in loggers:
        logger.addHandler(capture)
        logger.propagate = False
    try:
        yield
    finally:
        soak.sim.next_fault = original_next_fault  # type: ignore[method-assign]
        RealtimeCall.async_hangup = original_hangup  # type: ignore[method-assign]
        call_module.RECONNECT_DELAYS = original_delays
        for logger, old in zip(loggers, propagate, strict=True):
            logger.removeHandler(capture)
            logger.propagate = old


async def run(bench: Bench, scale: SoakScale) -> dict[str, Any]:
    """Run the soak on a simulator and an account entry of its own; return its figures."""
    started = time.perf_counter()
    tasks_before = set(asyncio.all_tasks())
    capture = _Capture()
    sim = RealtimeSimulator(api_key=API_KEY)
    await sim.start()
    soak = Soak(bench, sim, scale)
    try:
        with _watching(soak, capture):
            await soak.setup()
            await soak.run()
            final = await soak.finish()
    finally:
        with contextlib.suppress(Exception):
            if soak.entry.state is ConfigEntryState.LOADED:
                await bench.hass.config_entries.async_unload(soak.entry.entry_id)
        await bench.hass.config_entries.async_remove(soak.entry.entry_id)
        await sim.stop()
    media_stragglers = await cancel_media_stragglers()

    def lingering() -> list[asyncio.Task[Any]]:
        """Tasks that were not there before the soak."""
        current = asyncio.current_task()
        return [t for t in asyncio.all_tasks() - tasks_before if t is not current]

    with contextlib.suppress(TimeoutError):  # given a moment to wind down
        await until(lambda: not lingering(), 30, 0.05)
    left = lingering()
    calls = list(sim.calls.values())
    ended_at_simulator = Counter(c.hangup_reason or "live" for c in calls)
    errors = list(soak.errors)
    errors += [f"rule broken, {what}: {detail}" for what, detail in soak.violations]
    errors += [f"logged: {line}" for line in capture.unexpected[:10]]
    if left:
        errors.append(
            f"{len(left)} tasks left after the soak: "
            + ", ".join(f"{t.get_name()} {t.get_coro()!r}" for t in left[:8])
        )
    refused = {
        key: n
        for key, n in soak.outcomes.items()
        if "too_many_sessions" in key or "too_many_user" in key
    }
    return {
        "seed": scale.seed,
        "steps": scale.steps,
        "max_in_flight": scale.max_in_flight,
        "seconds": round(time.perf_counter() - started, 1),
        "steps_by_kind": dict(soak.steps),
        "steps_while_not_loaded": soak.steps_not_loaded,
        "entry_operation_seconds": sorted(soak.entry_seconds),
        "outcomes": dict(sorted(soak.outcomes.items())),
        "calls_created": {
            "total": len(calls),
            "relay": sum(1 for c in calls if not c.ephemeral),
            "ephemeral": sum(1 for c in calls if c.ephemeral),
            "with_media_connected": soak.media["connected"],
        },
        "ended_at_simulator": dict(ended_at_simulator),
        "ended_by_ha": dict(soak.ended_by_ha),
        "refused_by_limits": sum(refused.values()),
        "faults_planned": dict(soak.faults_planned),
        "faults_injected": dict(soak.faults_injected),
        "websocket_connections": sum(c.connections for c in soak.clients),
        "most_calls_live": soak.most_live,
        "checks": soak.checks,
        "invariants": {
            "violations": len(soak.violations),
            "by_rule": {
                rule: sum(1 for what, _ in soak.violations if what == rule)
                for rule in (UNKNOWN, STALE, UNMANAGED, SHOWN_EXTRA, SHOWN_MISSING, OUTLIVED)
            },
            "lingering_tasks": len(left),
            "webrtc_tasks_cancelled": media_stragglers,
            **final,
        },
        "logged": dict(capture.counts.most_common(15)),
        "logged_by_the_integration": capture.warnings,
        "errors": errors,
    }
