"""Home Assistant in this process, the way the tests run it, with the integration and a light.

It reuses pytest-homeassistant-custom-component's `async_test_home_assistant` outside pytest:
the same HA core, registries, auth and HTTP app as the test suite, but on HA's own event loop
configuration (no asyncio debug mode, which the pytest plugin switches on and which would
slow every callback). HA's HTTP server is not bound; its app is served on a loopback port by
aiohttp's TestServer, exactly as the `hass_ws_client` fixture does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass
import itertools
import json
import tempfile
import time
from typing import Any
from unittest.mock import patch

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from homeassistant import loader
from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.auth.models import Credentials
from homeassistant.auth.providers.homeassistant import HassAuthProvider
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame, translation
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
    async_test_home_assistant,
)

# Our package before anything else named `custom_components` (see tests/conftest.py).
import custom_components.openai_api  # noqa: F401
from custom_components.openai_api.const import (
    CONF_BASE_URL,
    CONF_MAX_SESSIONS,
    CONF_MAX_SESSIONS_PER_USER,
    DOMAIN,
    SUBENTRY_VOICE,
)
from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE
from simulator import RealtimeSimulator, SimCall

from .fixtures import async_setup_test_light
from .sim_server import SimulatorProcess

API_KEY = "sk-bench-0123456789abcdef"
SATELLITE = "assist_satellite.voice_assistant"
# How long anything may take before the benchmark calls it an error. Generous on purpose: on a
# busy machine (2 cores shared with other work) a step that takes 50 ms idle may take seconds;
# a timeout is for what never happens, not for what is slow.
PATIENCE = 120.0
# Profiles that hold the 100 sessions of the memory benchmark: 20 each, the most a profile
# may be configured with in the UI.
MEMORY_PROFILES = 5
SESSIONS_PER_PROFILE = 20


class WsClient:
    """A logged-in connection to HA's websocket API, read all the time.

    A reader task takes every message off the socket as it arrives and hands each result to
    the command waiting for it. Reading all the time matters: aiohttp answers HA's heartbeat
    pings only while someone reads, and HA closes a connection that missed a pong (after about
    a minute) and one whose outgoing queue it cannot flush. Commands may overlap.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        # Subscriptions: the events of a command (`assist_pipeline/run`), each with the
        # `time.perf_counter()` of its arrival.
        self._events: dict[int, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self._reader = asyncio.create_task(self._read(), name="bench websocket reader")

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by either side)."""
        return self.ws.closed or self._reader.done()

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                arrived = time.perf_counter()
                data = json.loads(msg.data)
                for message in data if isinstance(data, list) else [data]:
                    if message.get("type") == "event" and message.get("id") in self._events:
                        self._events[message["id"]].put_nowait((arrived, message["event"]))
                        continue
                    waiter = self._waiting.pop(message.get("id"), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)
        finally:
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionResetError("the websocket closed"))
            self._waiting.clear()

    async def command(self, *, timeout: float = PATIENCE, **msg: Any) -> dict[str, Any]:
        """Send one command and return its result message.

        ConnectionResetError when the connection closes before the answer; TimeoutError when
        HA does not answer within `timeout`.
        """
        return await self._command(next(self._ids), timeout, msg)

    async def subscribe(
        self, *, timeout: float = PATIENCE, **msg: Any
    ) -> tuple[int, dict[str, Any], asyncio.Queue[tuple[float, dict[str, Any]]]]:
        """Send a command whose answer is a stream of events: its id, result and event queue.

        Each event comes with the `time.perf_counter()` of its arrival; `unsubscribe(id)`
        stops collecting them.
        """
        msg_id = next(self._ids)
        queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self._events[msg_id] = queue
        try:
            result = await self._command(msg_id, timeout, msg)
        except BaseException:
            self._events.pop(msg_id, None)
            raise
        return msg_id, result, queue

    def unsubscribe(self, msg_id: int) -> None:
        """Stop collecting the events of a command."""
        self._events.pop(msg_id, None)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame (audio to a pipeline run's handler)."""
        await self.ws.send_bytes(data)

    async def _command(self, msg_id: int, timeout: float, msg: dict[str, Any]) -> dict[str, Any]:
        if self.closed:
            raise ConnectionResetError("the websocket is closed")
        msg["id"] = msg_id
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = waiter
        try:
            await self.ws.send_json(msg)
            async with asyncio.timeout(timeout):
                return await waiter
        finally:
            self._waiting.pop(msg_id, None)

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish."""
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self._reader


@dataclass
class Bench:
    """Everything a benchmark needs: HA, the simulator, the entry, a logged-in websocket."""

    hass: HomeAssistant
    sim: RealtimeSimulator
    entry: MockConfigEntry
    client: TestClient[Any, Any]
    access_token: str
    user_id: str
    ws: WsClient

    @classmethod
    async def create(
        cls,
        hass: HomeAssistant,
        sim: RealtimeSimulator,
        entry: MockConfigEntry,
        client: TestClient[Any, Any],
    ) -> Bench:
        """Log an admin in over the websocket API."""
        token, user_id = await admin_token(hass)
        ws = await ws_connect(client, token)
        return cls(hass, sim, entry, client, token, user_id, ws)

    async def ws_client(self) -> WsClient:
        """Another logged-in websocket connection."""
        return await ws_connect(self.client, self.access_token)

    async def close(self) -> None:
        """Close the websocket (HA hangs up calls still tied to it)."""
        await self.ws.close()


async def ws_connect(client: TestClient[Any, Any], token: str) -> WsClient:
    """Open and authenticate a websocket connection."""
    ws = await client.ws_connect("/api/websocket")
    async with asyncio.timeout(PATIENCE):
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        reply = await ws.receive_json()
    if reply["type"] != "auth_ok":
        await ws.close()
        raise RuntimeError(f"websocket login failed: {reply}")
    return WsClient(ws)


@dataclass
class Remote:
    """The simulator in a process of its own, and an account entry (no profiles) pointing at it."""

    sim: SimulatorProcess
    entry: MockConfigEntry

    @property
    def base_url(self) -> str:
        """The simulator process's API base URL."""
        return self.sim.base_url


@contextlib.asynccontextmanager
async def remote_simulator(hass: HomeAssistant) -> AsyncIterator[Remote]:
    """Start the simulator process and set up an entry on it; remove both afterwards."""
    sim = await SimulatorProcess.start(API_KEY)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="OpenAI (simulator process)",
        data={CONF_API_KEY: API_KEY, CONF_BASE_URL: sim.base_url},
    )
    entry.add_to_hass(hass)
    try:
        if not await hass.config_entries.async_setup(entry.entry_id):
            raise RuntimeError(f"the entry on the simulator process did not load: {entry.state}")
        yield Remote(sim, entry)
    finally:
        await hass.config_entries.async_remove(entry.entry_id)
        await sim.stop()


def make_entry(sim: RealtimeSimulator) -> MockConfigEntry:
    """The account entry: the default voice profile plus the memory benchmark's profiles."""
    profiles = [
        ConfigSubentryData(
            data=DEFAULT_PROFILE,
            subentry_type=SUBENTRY_VOICE,
            title="Voice assistant",
            unique_id=None,
        )
    ]
    profiles += [
        ConfigSubentryData(
            data={
                **DEFAULT_PROFILE,
                CONF_MAX_SESSIONS: SESSIONS_PER_PROFILE,
                CONF_MAX_SESSIONS_PER_USER: SESSIONS_PER_PROFILE,
            },
            subentry_type=SUBENTRY_VOICE,
            title=f"Bench {n}",
            unique_id=None,
        )
        for n in range(1, MEMORY_PROFILES + 1)
    ]
    return MockConfigEntry(
        domain=DOMAIN,
        title="OpenAI",
        data={CONF_API_KEY: API_KEY, CONF_BASE_URL: sim.base_url},
        subentries_data=profiles,
    )


async def admin_token(hass: HomeAssistant) -> tuple[str, str]:
    """An admin user and an access token for it (as the `hass_access_token` fixture does)."""
    provider = HassAuthProvider(hass, hass.auth._store, {"type": "homeassistant"})
    await provider.async_initialize()
    hass.auth._providers[(provider.type, provider.id)] = provider
    user = MockUser(groups=[await hass.auth.async_get_group(GROUP_ID_ADMIN)]).add_to_hass(hass)
    credential = Credentials(
        id="bench-credential",
        auth_provider_type="homeassistant",
        auth_provider_id=None,
        data={"username": "admin"},
        is_new=False,
    )
    await hass.auth.async_link_user(user, credential)
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID, credential=credential)
    return hass.auth.async_create_access_token(refresh), user.id


async def setup_light(hass: HomeAssistant) -> None:
    """A template light on an input_boolean, exposed to Assist (the `test_light` fixture)."""
    await async_setup_test_light(hass)


async def until(check: Callable[[], Any], timeout: float = PATIENCE, step: float = 0.005) -> Any:
    """Wait until `check()` is truthy; TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not (result := check()):
            await asyncio.sleep(step)
    return result


async def attach_new_call(ws: WsClient, sim: RealtimeSimulator, entity_id: str) -> SimCall:
    """A media-less simulator call with HA's sideband attached, the card's ephemeral way.

    `openai_api/realtime/ephemeral` mints a secret from the profile (which holds a place in the
    profile's limits), the "browser" creates the call at the simulator (`add_call`, no media),
    then `openai_api/realtime/attach` hands the call to HA.
    """
    secret = await ws.command(type="openai_api/realtime/ephemeral", entity_id=entity_id)
    if not secret.get("success"):
        raise RuntimeError(f"ephemeral failed: {secret}")
    call = sim.add_call()
    reply = await ws.command(
        type="openai_api/realtime/attach", entity_id=entity_id, call_id=call.call_id
    )
    if not reply.get("success"):
        await call.end("client_left")
        raise RuntimeError(f"attach failed: {reply}")
    return call


@contextlib.asynccontextmanager
async def home_assistant() -> AsyncIterator[HomeAssistant]:
    """A test Home Assistant with custom integrations enabled and `homeassistant` set up."""
    with (
        tempfile.TemporaryDirectory(prefix="openai-api-bench-") as config_dir,
        # As the `disable_http_server` fixture: the HTTP app runs on a TestServer instead.
        patch("homeassistant.components.http.HomeAssistantHTTP.async_bind"),
        patch("homeassistant.components.http.HomeAssistantHTTP.start"),
    ):
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            frame.async_setup(hass)
            await translation.async_load_integrations(hass, {"homeassistant"})
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            assert await async_setup_component(hass, "homeassistant", {})
            try:
                yield hass
            finally:
                for entry in hass.config_entries.async_entries():
                    if entry.state is ConfigEntryState.LOADED:
                        await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_stop(force=True)


async def start_client(hass: HomeAssistant) -> TestClient[Any, Any]:
    """Serve HA's HTTP app on loopback (the `aiohttp_client` fixture's way)."""
    assert await async_setup_component(hass, "websocket_api", {})
    server = TestServer(hass.http.app)
    # Registering a view after the server started must keep working (as in the fixture).
    server.app._router.freeze = lambda: None  # type: ignore[method-assign]
    client = TestClient(server)
    await client.start_server()
    return client


async def settle(hass: HomeAssistant, seconds: float = 0.05) -> None:
    """Let background work finish (HA jobs, then whatever the network still delivers)."""
    await hass.async_block_till_done()
    await asyncio.sleep(seconds)
    await hass.async_block_till_done()


async def prepare(hass: HomeAssistant, sim: RealtimeSimulator) -> MockConfigEntry:
    """The light, and the account entry added (not yet set up)."""
    await setup_light(hass)
    entry = make_entry(sim)
    entry.add_to_hass(hass)
    return entry
