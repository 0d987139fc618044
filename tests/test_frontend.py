"""The voice card's modules: how HA serves them, and what they do in a real browser.

The serving tests run against the in-process `hass`. The behaviour tests load the modules
in Chromium, from a blank page on a tiny local server that serves the card's folder the way HA
does (under a digest path), with fakes for what the browser and HA provide: getUserMedia,
RTCPeerConnection, fetch, a clock, and HA's websocket connection. They drive the session's
state machine, read the commands it sends, and check the transcript's order and limits. The
whole card against a real HA, real WebRTC and the simulator is tests/e2e.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
import contextlib
from pathlib import Path
import re
import shutil
import threading
from typing import Any

from aiohttp import web
from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from playwright.async_api import Browser, Page, Playwright, async_playwright
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.openai_api import websocket_api
from custom_components.openai_api.frontend import CARD_DIR, CARD_FILE, card_digest

from .e2e.harness import CHROMIUM, CHROMIUM_ARGS, running

ENTRY_URL = re.compile(r"^/openai_api_static/([0-9a-f]{12})/openai-realtime-voice-card\.js$")
# The commands the session sends, as the integration registers them.
CONNECT, EPHEMERAL, ATTACH, HANGUP = (
    handler._ws_command  # type: ignore[attr-defined]
    for handler in (
        websocket_api.ws_connect,
        websocket_api.ws_ephemeral,
        websocket_api.ws_attach,
        websocket_api.ws_hangup,
    )
)
IMPORT = re.compile(r"""^import\s[^"']*["']([^"']+)["'];""", re.MULTILINE)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replace tests/conftest.py's fixture: the browser tests need no `hass`.

    The tests that do ask for `ha` (below) explicitly.
    """


@pytest.fixture(autouse=True)
def _real_sockets(socket_enabled: None) -> None:
    """Chromium loads the modules over loopback."""


@pytest.fixture
async def ha(hass: HomeAssistant, enable_custom_integrations: None) -> HomeAssistant:
    """The in-process HA, able to load this integration."""
    assert await async_setup_component(hass, "homeassistant", {})
    return hass


def _imports(source: str) -> list[str]:
    return IMPORT.findall(source)


# --- how HA serves the card -----------------------------------------------------------------


async def test_card_is_served_under_its_digest_with_every_module(
    ha: HomeAssistant, hass_client: ClientSessionGenerator, simulator: object
) -> None:
    """The frontend loads the entry module from a digest folder; its imports resolve there."""
    assert await async_setup_component(ha, "frontend", {})
    from .conftest import make_entry

    entry: MockConfigEntry = make_entry(simulator)  # type: ignore[arg-type]
    entry.add_to_hass(ha)
    assert await ha.config_entries.async_setup(entry.entry_id)
    [url] = [u for u in ha.data[DATA_EXTRA_MODULE_URL].urls if "openai_api" in u]
    match = ENTRY_URL.match(url)
    assert match, url
    assert match.group(1) == card_digest()

    client = await hass_client()
    folder = url.rsplit("/", 1)[0]
    seen: set[str] = set()
    pending = [CARD_FILE]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        resp = await client.get(f"{folder}/{name}")
        assert resp.status == 200, name
        assert resp.content_type == "text/javascript", name
        # Cached for a month: the digest in the path changes when a module does.
        assert "max-age=2678400" in resp.headers["Cache-Control"], name
        for target in _imports(await resp.text()):
            # Relative, so the import lands in the same (versioned) folder.
            assert target.startswith("./"), (name, target)
            pending.append(target.removeprefix("./"))
    # Every module of the folder is part of the card, and nothing else is served beside it.
    assert seen == {p.name for p in CARD_DIR.glob("*.js")}
    assert (await client.get(f"{folder}/../__init__.py")).status == 404
    assert (await client.get(f"/openai_api_static/000000000000/{CARD_FILE}")).status == 404


async def test_card_served_without_frontend(
    ha: HomeAssistant, hass_client: ClientSessionGenerator, loaded_entry: MockConfigEntry
) -> None:
    """Without the frontend integration the modules are still served (for a manual resource)."""
    client = await hass_client()
    resp = await client.get(f"/openai_api_static/{card_digest()}/{CARD_FILE}")
    assert resp.status == 200
    assert "window.customCards" in await resp.text()


def test_digest_changes_with_any_module(tmp_path: Path) -> None:
    """A change to any module, or a new one, gives the folder a new URL; a copy does not."""
    folder = tmp_path / "card"
    shutil.copytree(CARD_DIR, folder)
    before = card_digest(folder)
    assert card_digest(folder) == before == card_digest()
    transcript = folder / "transcript.js"
    transcript.write_text(transcript.read_text() + "\n// changed\n")
    changed = card_digest(folder)
    assert changed != before
    (folder / "extra.js").write_text("export const x = 1;\n")
    assert card_digest(folder) not in {before, changed}


# --- the modules in Chromium ----------------------------------------------------------------

# Fakes of what the browser and HA give the session, as an ES module at /fakes.js.
FAKES_JS = r"""
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(check, what = "condition", timeout = 5000) {
  const end = performance.now() + timeout;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export class FakeTrack {
  constructor() { this.kind = "audio"; this.stopped = false; }
  stop() { this.stopped = true; }
}

export class FakeStream {
  constructor(tracks = [new FakeTrack()]) { this.tracks = tracks; }
  getAudioTracks() { return this.tracks; }
  getTracks() { return this.tracks; }
}

export class FakeChannel {
  constructor(label) { this.label = label; this.closed = false; this.onmessage = null; this.onclose = null; }
  receive(event) { this.onmessage?.({ data: typeof event === "string" ? event : JSON.stringify(event) }); }
  close() { this.closed = true; }
  closedByPeer() { this.closed = true; this.onclose?.(); }
}

export class FakePeerConnection extends EventTarget {
  static instances = [];
  constructor() {
    super();
    FakePeerConnection.instances.push(this);
    this.tracks = [];
    this.channels = [];
    this.closed = false;
    this.iceGatheringState = "new";
    this.connectionState = "new";
    this.localDescription = null;
    this.remoteDescription = null;
  }
  addTrack(track) { this.tracks.push(track); }
  createDataChannel(label) { const c = new FakeChannel(label); this.channels.push(c); return c; }
  async createOffer() { return { type: "offer", sdp: "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" }; }
  async setLocalDescription(description) {
    this.localDescription = description;
    this.iceGatheringState = "gathering";
    // Candidates arrive a little later, as in a browser: the offer must wait for them.
    setTimeout(() => {
      this.localDescription = { ...description, sdp: description.sdp + "a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n" };
      this.iceGatheringState = "complete";
      this.dispatchEvent(new Event("icegatheringstatechange"));
    }, 20);
  }
  async setRemoteDescription(description) { this.remoteDescription = description; this.connectionState = "connected"; }
  close() { this.closed = true; this.connectionState = "closed"; }
  fail() { this.connectionState = "failed"; this.onconnectionstatechange?.(); }
  playRemote(stream) { this.ontrack?.({ streams: [stream], track: stream.tracks[0] }); }
  async getStats() {
    return new Map([
      ["a", { type: "inbound-rtp", kind: "audio", bytesReceived: 1200 }],
      ["b", { type: "outbound-rtp", kind: "audio", bytesSent: 800 }],
      ["c", { type: "inbound-rtp", kind: "video", bytesReceived: 99999 }],
    ]);
  }
}

/** HA's websocket connection: records commands; answers from `replies` (a value, a function or a Deferred). */
export class FakeConnection extends EventTarget {
  constructor(replies = {}) {
    super();
    this.sent = [];
    this.replies = {
      "openai_api/realtime/connect": { call_id: "rtc_relay1", sdp: "v=0 answer" },
      "openai_api/realtime/ephemeral": {
        value: "ek_test", expires_at: 1, calls_url: "https://api.test/v1/realtime/calls",
      },
      "openai_api/realtime/attach": (msg) => ({ call_id: msg.call_id }),
      "openai_api/realtime/hangup": (msg) => ({ call_id: msg.call_id, ended: true }),
      ...replies,
    };
  }
  async sendMessagePromise(msg) {
    this.sent.push(msg);
    const reply = this.replies[msg.type];
    const value = reply instanceof Deferred ? await reply.promise : typeof reply === "function" ? reply(msg) : reply;
    if (value instanceof Failure) throw value.error;
    return value;
  }
  types() { return this.sent.map((msg) => msg.type.replace("openai_api/realtime/", "")); }
  addEventListener(type, listener) { this.listeners = (this.listeners ?? 0) + 1; super.addEventListener(type, listener); }
  removeEventListener(type, listener) { this.listeners -= 1; super.removeEventListener(type, listener); }
  drop() { this.dispatchEvent(new Event("disconnected")); }
}

/** A reply that is an error, as home-assistant-js-websocket rejects with. */
export class Failure { constructor(error) { this.error = error; } }

export class Deferred {
  constructor() { this.promise = new Promise((resolve) => { this.resolve = resolve; }); }
}

export class FakeMedia {
  constructor() { this.microphones = []; this.remotes = []; this.closed = 0; }
  microphone(stream) { this.microphones.push(stream); }
  remote(stream) { this.remotes.push(stream); }
  close() { this.closed += 1; }
}

export const ENTITY = "assist_satellite.voice_assistant";

export function fakeHass(connection, { state = "idle", callIds = [], translations = {} } = {}) {
  return {
    connection,
    states: { [ENTITY]: { entity_id: ENTITY, state, attributes: { call_ids: callIds, friendly_name: "Voice assistant" } } },
    entities: { [ENTITY]: { entity_id: ENTITY, platform: "openai_api" } },
    async loadBackendTranslation(category, domain) {
      return (key, placeholders) => {
        const text = translations[`${category}/${domain}/${key}`];
        return text && text.replace(/\{(\w+)\}/g, (_, name) => placeholders[name]);
      };
    },
  };
}

/** A session with fakes everywhere; `log` gets its states, `events` its server events. */
export async function fakeSession(base, { mode = "relay", env = {}, replies = {}, hass = {} } = {}) {
  const { VoiceSession } = await import(`${base}session.js`);
  const clock = { now: 1_000_000 };
  const requests = [];
  const fullEnv = {
    secure: true,
    getUserMedia: async (constraints) => { fullEnv.constraints = constraints; return new FakeStream(); },
    RTCPeerConnection: FakePeerConnection,
    MediaStream: FakeStream,
    fetch: async (url, init) => { requests.push({ url, ...init }); return new Response("v=0 direct answer", { status: 201, headers: { Location: "/v1/realtime/calls/rtc_direct1" } }); },
    now: () => clock.now,
    ...env,
  };
  const session = new VoiceSession({ entity: ENTITY, mode }, fullEnv);
  const connection = new FakeConnection(replies);
  session.hass = fakeHass(connection, hass);
  const log = [];
  const events = [];
  session.addEventListener("change", () => {
    const entry = session.state === "error" ? `error: ${session.error}` : session.state;
    if (log.at(-1) !== entry) log.push(entry);
  });
  session.addEventListener("serverevent", (event) => events.push(event.detail.type));
  const medias = [];
  const createMedia = () => { const media = new FakeMedia(); medias.push(media); return media; };
  const pc = () => FakePeerConnection.instances.at(-1);
  return { session, connection, log, events, clock, env: fullEnv, requests, medias, createMedia, pc };
}

/** The card on the page, for the satellite, with a fake microphone, WebRTC and HA connection. */
export async function fakeCard(base) {
  await import(`${base}openai-realtime-voice-card.js`);
  await customElements.whenDefined("openai-realtime-voice-card");
  window.RTCPeerConnection = FakePeerConnection;
  navigator.mediaDevices.getUserMedia = async () => new FakeStream();
  const connection = new FakeConnection();
  const card = document.createElement("openai-realtime-voice-card");
  card.setConfig({ entity: ENTITY });
  card.hass = fakeHass(connection);
  document.body.append(card);
  const $ = (s) => card.shadowRoot.querySelector(s);
  return { card, connection, $ };
}
"""

TEST_PAGE = (
    "<!doctype html><html><head><title>voice card modules</title></head><body></body></html>"
)


class BrowserLab:
    """Chromium and a tiny server for the card's folder, on a loop of their own.

    Like the end-to-end harness: a thread runs the loop, so Playwright's async API does not
    touch the test's event loop, and its worker threads exist before the first test.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="frontend-lab")
        self.loop.set_default_executor(self._executor)
        self._thread = threading.Thread(target=self.loop.run_forever, name="frontend-lab-loop")
        self.playwright: Playwright
        self.browser: Browser
        self._runner: web.AppRunner
        self.origin = ""
        self.base = ""  # the card's folder, as HA serves it: /openai_api_static/<digest>/

    def start(self) -> None:
        barrier = threading.Barrier(self._executor._max_workers)
        for _ in range(self._executor._max_workers):
            self._executor.submit(barrier.wait, 10)
        self._thread.start()
        self.run(self._start())

    def run[T](self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self.run(self._stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()
        self._executor.shutdown(wait=True)

    async def _start(self) -> None:
        folder = f"/openai_api_static/{card_digest()}/"
        app = web.Application()

        async def page(_: web.Request) -> web.Response:
            return web.Response(text=TEST_PAGE, content_type="text/html")

        async def fakes(_: web.Request) -> web.Response:
            return web.Response(text=FAKES_JS, content_type="text/javascript")

        app.router.add_get("/", page)
        app.router.add_get("/fakes.js", fakes)
        app.router.add_static(folder, CARD_DIR)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.origin = f"http://127.0.0.1:{port}"
        self.base = f"{self.origin}{folder}"
        self.playwright = await async_playwright().start()
        self.browser = await self.playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )

    async def _stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.browser.close()
        with contextlib.suppress(Exception):
            await self.playwright.stop()
        await self._runner.cleanup()

    async def _evaluate(self, script: str, arg: Any, page_setup: str | None) -> Any:
        context = await self.browser.new_context()
        try:
            page: Page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            await page.goto(f"{self.origin}/")
            if page_setup:
                await page.evaluate(page_setup)
            result = await page.evaluate(script, {"base": self.base, **(arg or {})})
            assert not errors, errors
            return result
        finally:
            await context.close()

    def evaluate(self, script: str, arg: Any = None, page_setup: str | None = None) -> Any:
        """Run `script` (an async JS function of {base, ...arg}) on a fresh blank page."""
        return self.run(self._evaluate(script, arg, page_setup))


@pytest.fixture(scope="module")
def lab() -> Iterator[BrowserLab]:
    """Chromium with the card's modules one import away."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the module tests run in Chromium")
    yield from running(BrowserLab)


# --- the session ----------------------------------------------------------------------------


def test_session_relay_call_states_and_hang_up(lab: BrowserLab) -> None:
    """Relay: mic, offer with its candidates through HA, answer; events move the state; stop hangs up."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const t = await f.fakeSession(base);
          const {session, connection, log, pc} = t;
          const before = {state: session.state, live: session.live};
          const started = session.start(t.createMedia);
          const whileConnecting = {state: session.state, live: session.live, sent: connection.types()};
          await started;
          const offer = connection.sent[0];
          const call = pc();
          const media = t.medias[0];
          const channel = call.channels[0];
          for (const type of [
            "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
            "response.created", "output_audio_buffer.started", "response.created",
            "output_audio_buffer.stopped", "response.created", "output_audio_buffer.cleared",
          ]) channel.receive({type});
          channel.receive("not json");
          channel.receive({type: "session.updated"});
          const remote = new f.FakeStream();
          call.playRemote(remote);
          const stats = await session.rtcStats();
          const live = {state: session.state, live: session.live, callId: session.callId};
          session.stop();
          session.stop();  // idempotent: one hang-up
          await f.sleep(10);
          return {
            before, whileConnecting, live, log, stats, offer, events: t.events,
            constraints: t.env.constraints.audio,
            sentAfter: connection.sent.slice(1),
            remoteDescription: call.remoteDescription,
            channelLabel: channel.label, pcClosed: call.closed, channelClosed: channel.closed,
            trackStopped: call.tracks[0].stopped,
            mediaGotMic: media.microphones.length === 1 && media.microphones[0].tracks[0] === call.tracks[0],
            mediaGotRemote: media.remotes[0] === remote, mediaClosed: media.closed,
            after: {state: session.state, live: session.live, stats: await session.rtcStats()},
          };
        }"""
    )
    assert result["before"] == {"state": "idle", "live": False}
    assert result["whileConnecting"] == {"state": "connecting", "live": True, "sent": []}
    # The offer waited for ICE gathering: it carries the candidate that came later.
    assert result["offer"]["type"] == CONNECT
    assert result["offer"]["entity_id"] == "assist_satellite.voice_assistant"
    assert "a=candidate:" in result["offer"]["sdp"]
    assert set(result["offer"]) == {"type", "entity_id", "sdp"}  # no session settings
    assert result["constraints"] == {
        "echoCancellation": True,
        "noiseSuppression": True,
        "autoGainControl": True,
    }
    assert result["remoteDescription"] == {"type": "answer", "sdp": "v=0 answer"}
    assert result["channelLabel"] == "oai-events"
    assert result["live"] == {"state": "listening", "live": True, "callId": "rtc_relay1"}
    # response.created while speaking keeps "speaking"; an interrupted answer listens again.
    assert result["log"] == [
        "connecting",
        "listening",
        "thinking",
        "speaking",
        "listening",
        "thinking",
        "listening",
        "idle",
    ]
    assert result["events"] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "response.created",
        "output_audio_buffer.started",
        "response.created",
        "output_audio_buffer.stopped",
        "response.created",
        "output_audio_buffer.cleared",
        "session.updated",
    ]
    assert result["stats"] == {
        "inbound_bytes": 1200,
        "outbound_bytes": 800,
        "connection_state": "connected",
    }
    assert result["sentAfter"] == [{"type": HANGUP, "call_id": "rtc_relay1"}]
    assert result["pcClosed"]
    assert result["channelClosed"]
    assert result["trackStopped"]
    assert result["mediaGotMic"]
    assert result["mediaGotRemote"]
    assert result["mediaClosed"] == 1
    assert result["after"] == {"state": "idle", "live": False, "stats": None}


def test_session_ephemeral_call(lab: BrowserLab) -> None:
    """Ephemeral: a secret from HA, the offer posted to OpenAI by the browser, then attach."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const t = await f.fakeSession(base, {mode: "ephemeral"});
          await t.session.start(t.createMedia);
          const state = t.session.state;
          t.session.stop();
          await f.sleep(10);
          const [request] = t.requests;
          return {state, sent: t.connection.sent, request: {
            url: request.url, method: request.method, headers: request.headers,
            hasCandidates: request.body.includes("a=candidate:"),
          }, answer: t.pc().remoteDescription.sdp};
        }"""
    )
    assert result["state"] == "listening"
    assert result["sent"] == [
        {"type": EPHEMERAL, "entity_id": "assist_satellite.voice_assistant"},
        {"type": ATTACH, "entity_id": "assist_satellite.voice_assistant", "call_id": "rtc_direct1"},
        {"type": HANGUP, "call_id": "rtc_direct1"},
    ]
    assert result["request"] == {
        "url": "https://api.test/v1/realtime/calls",
        "method": "POST",
        "headers": {"Authorization": "Bearer ek_test", "Content-Type": "application/sdp"},
        "hasCandidates": True,
    }
    assert result["answer"] == "v=0 direct answer"


def test_session_ephemeral_failures(lab: BrowserLab) -> None:
    """What the user reads when the browser cannot post its offer to OpenAI itself."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const cases = {
            unreachable: async () => { throw new TypeError("Failed to fetch"); },
            refused: async () => new Response(JSON.stringify({error: {message: "Invalid client secret"}}), {status: 401}),
            notJson: async () => new Response("nope", {status: 502}),
            noLocation: async () => new Response("v=0 answer", {status: 201}),
          };
          const out = {};
          for (const [name, fetch] of Object.entries(cases)) {
            const t = await f.fakeSession(base, {mode: "ephemeral", env: {fetch}});
            await t.session.start(t.createMedia);
            out[name] = {state: t.session.state, error: t.session.error, sent: t.connection.types(),
                         live: t.session.live, pcClosed: t.pc().closed, mediaClosed: t.medias[0].closed};
          }
          return out;
        }"""
    )
    assert result["unreachable"]["error"] == "Cannot reach api.test: Failed to fetch"
    assert result["refused"]["error"] == "OpenAI refused the call: Invalid client secret"
    assert result["notJson"]["error"] == "OpenAI refused the call: HTTP 502"
    assert result["noLocation"]["error"] == (
        "OpenAI's answer has no call id, so Home Assistant cannot attach to the call."
    )
    for outcome in result.values():
        assert outcome["state"] == "error"
        assert outcome["sent"] == ["ephemeral"]  # no attach, and no call to hang up
        assert not outcome["live"]
        assert outcome["pcClosed"]
        assert outcome["mediaClosed"] == 1


def test_session_follows_the_satellite_entity(lab: BrowserLab) -> None:
    """The entity's state counts when the data channel is quiet; the call leaving it ends ours."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const t = await f.fakeSession(base);
          const {session, clock} = t;
          const hass = (state, callIds) => { session.hass = f.fakeHass(t.connection, {state, callIds}); };
          await session.start(t.createMedia);
          const steps = [];
          const step = (name) => steps.push([name, session.state]);
          hass("processing", ["rtc_relay1"]);  step("entity processing, channel quiet");
          hass("responding", ["rtc_relay1"]);  step("entity responding");
          t.pc().channels[0].receive({type: "input_audio_buffer.speech_started"});
          step("channel speech started");
          clock.now += 500;
          hass("processing", ["rtc_relay1"]);  step("entity processing 0.5 s later");
          clock.now += 1500;
          hass("idle", ["rtc_relay1"]);  step("entity idle 2 s later");
          hass("idle", ["rtc_other", "rtc_relay1"]);  step("another call joins");
          hass("idle", ["rtc_other"]);  step("our call leaves the entity");
          await f.sleep(10);
          return {steps, notice: session.notice, live: session.live, sent: t.connection.types()};
        }"""
    )
    assert result["steps"] == [
        ["entity processing, channel quiet", "thinking"],
        ["entity responding", "speaking"],
        ["channel speech started", "listening"],
        ["entity processing 0.5 s later", "listening"],  # the data channel spoke recently
        ["entity idle 2 s later", "listening"],
        ["another call joins", "listening"],
        ["our call leaves the entity", "idle"],
    ]
    assert result["notice"] == "Home Assistant ended the session."
    assert not result["live"]
    assert result["sent"] == ["connect", "hangup"]


def test_session_entity_before_the_call_is_listed(lab: BrowserLab) -> None:
    """A call HA has not listed yet is not ended by the entity; a quiet entity moves nothing."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const t = await f.fakeSession(base);
          await t.session.start(t.createMedia);
          t.session.hass = f.fakeHass(t.connection, {state: "idle", callIds: []});
          const unlisted = t.session.state;
          t.session.hass = f.fakeHass(t.connection, {state: "unavailable", callIds: ["rtc_relay1"]});
          return {unlisted, unknownState: t.session.state, live: t.session.live};
        }"""
    )
    assert result == {"unlisted": "listening", "unknownState": "listening", "live": True}


def test_session_cancelled_while_connecting_hangs_up_the_late_call(lab: BrowserLab) -> None:
    """Stopping during set-up: the call HA answers afterwards is hung up, never shown live."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const answer = new f.Deferred();
          const t = await f.fakeSession(base, {replies: {"openai_api/realtime/connect": answer}});
          const started = t.session.start(t.createMedia);
          await f.until(() => t.connection.sent.length === 1, "the offer");
          t.session.stop();
          const afterStop = {state: t.session.state, live: t.session.live};
          answer.resolve({call_id: "rtc_late", sdp: "v=0 answer"});
          await started;
          await f.sleep(10);
          return {afterStop, log: t.log, sent: t.connection.sent.slice(1), state: t.session.state,
                  pcClosed: t.pc().closed, remoteSet: t.pc().remoteDescription !== null,
                  trackStopped: t.pc().tracks[0].stopped, mediaClosed: t.medias[0].closed >= 1};
        }"""
    )
    assert result["afterStop"] == {"state": "idle", "live": False}
    assert result["log"] == ["connecting", "idle"]
    assert result["sent"] == [{"type": HANGUP, "call_id": "rtc_late"}]
    assert result["state"] == "idle"
    assert result["pcClosed"]
    assert not result["remoteSet"]
    assert result["trackStopped"]
    assert result["mediaClosed"]


def test_session_ends_when_home_assistant_drops(lab: BrowserLab) -> None:
    """HA's websocket closing ends a live call with an error; after dispose() it is ignored."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const t = await f.fakeSession(base);
          t.connection.drop();
          const idleDrop = t.session.state;
          await t.session.start(t.createMedia);
          t.connection.drop();
          const dropped = {state: t.session.state, error: t.session.error, pcClosed: t.pc().closed,
                           trackStopped: t.pc().tracks[0].stopped};
          await t.session.start(t.createMedia);  // retry
          const retried = t.session.state;
          // A new hass object on the same connection does not listen twice.
          t.session.hass = f.fakeHass(t.connection, {callIds: ["rtc_relay1"]});
          const listening = t.connection.listeners;
          t.session.dispose();
          const disposed = t.session.state;
          t.connection.drop();
          await f.sleep(10);
          return {idleDrop, dropped, retried, disposed, afterDispose: t.session.state,
                  sent: t.connection.types(), listening, listenersAfterDispose: t.connection.listeners};
        }"""
    )
    assert result["idleDrop"] == "idle"
    assert result["dropped"] == {
        "state": "error",
        "error": "The connection to Home Assistant was lost, so the session ended.",
        "pcClosed": True,
        "trackStopped": True,
    }
    assert result["retried"] == "listening"
    assert result["disposed"] == "idle"
    assert result["afterDispose"] == "idle"
    assert result["listening"] == 1
    assert result["listenersAfterDispose"] == 0  # a replaced session is not kept alive by HA
    # Each call was hung up through HA (best effort when the connection is gone).
    assert result["sent"] == ["connect", "hangup", "connect", "hangup"]


def test_session_errors_and_retry(lab: BrowserLab) -> None:
    """Each failure gives its message, releases what the call held, and a retry starts afresh."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const out = {};
          const denied = (name) => async () => { throw new DOMException("no", name); };
          for (const name of ["NotAllowedError", "SecurityError", "NotFoundError", "NotReadableError"]) {
            const t = await f.fakeSession(base, {env: {getUserMedia: denied(name)}});
            await t.session.start(t.createMedia);
            out[name] = {error: t.session.error, sent: t.connection.types(), pcs: f.FakePeerConnection.instances.length,
                         mediaClosed: t.medias[0].closed};
          }
          for (const [name, env] of [["insecure", {secure: false}], ["noGetUserMedia", {getUserMedia: undefined}],
                                     ["noWebrtc", {RTCPeerConnection: undefined}]]) {
            const t = await f.fakeSession(base, {env});
            await t.session.start(t.createMedia);
            out[name] = {error: t.session.error, medias: t.medias.length, live: t.session.live};
          }
          // HA refuses with a translated error: the user reads HA's translation; Retry works.
          const translated = await f.fakeSession(base, {
            replies: {"openai_api/realtime/connect": new f.Failure({
              code: "home_assistant_error", message: "English fallback",
              translation_key: "too_many_user_sessions", translation_domain: "openai_api",
              translation_placeholders: {count: "1"}})},
            hass: {translations: {"exceptions/openai_api/component.openai_api.exceptions.too_many_user_sessions.message":
              "You already have {count} live session(s) with this voice profile."}},
          });
          await translated.session.start(translated.createMedia);
          out.translated = {error: translated.session.error, trackStopped: translated.pc().tracks[0].stopped,
                            pcClosed: translated.pc().closed};
          translated.connection.replies["openai_api/realtime/connect"] = {call_id: "rtc_again", sdp: "v=0 answer"};
          await translated.session.start(translated.createMedia);
          out.retry = {state: translated.session.state, error: translated.session.error, log: translated.log};
          // Without a translation, HA's English message; the bare "connection closed" code 3.
          for (const [name, failure] of [["untranslated", {code: "x", message: "English fallback", translation_key: "nope"}],
                                         ["closed", {error: {code: 3, message: "Connection lost"}}],
                                         ["closedBare", 3], ["empty", {}]]) {
            const t = await f.fakeSession(base, {replies: {"openai_api/realtime/connect": new f.Failure(failure)}});
            await t.session.start(t.createMedia);
            out[name] = t.session.error;
          }
          // The media path fails mid-call.
          const failed = await f.fakeSession(base);
          await failed.session.start(failed.createMedia);
          failed.pc().fail();
          await f.sleep(10);
          out.mediaFailed = {error: failed.session.error, sent: failed.connection.types()};
          // OpenAI closes the data channel: the call ended, not an error.
          const ended = await f.fakeSession(base);
          await ended.session.start(ended.createMedia);
          ended.pc().channels[0].closedByPeer();
          out.channelClosed = {state: ended.session.state, notice: ended.session.notice};
          await ended.session.start(ended.createMedia);
          out.noticeClearedOnStart = ended.session.notice === undefined;
          // The API ends the session (its 60-minute limit): over at once, whatever media does.
          const expired = await f.fakeSession(base);
          await expired.session.start(expired.createMedia);
          expired.pc().channels[0].receive({type: "error", error: {type: "invalid_request_error", code: "session_expired", message: "60 minutes"}});
          expired.pc().fail();
          await f.sleep(10);
          out.expired = {state: expired.session.state, notice: expired.session.notice, error: expired.session.error, sent: expired.connection.types()};
          // Other errors are notices on a call that goes on.
          const refused = await f.fakeSession(base);
          await refused.session.start(refused.createMedia);
          refused.pc().channels[0].receive({type: "error", error: {type: "invalid_request_error", code: "unknown_parameter", message: "x"}});
          out.refused = refused.session.state;
          return out;
        }"""
    )
    denied = "Microphone access was denied. Allow the microphone for this site in the browser, then retry."
    assert result["NotAllowedError"]["error"] == denied
    assert result["SecurityError"]["error"] == denied
    assert result["NotFoundError"]["error"] == "No microphone was found."
    assert result["NotReadableError"]["error"] == "The microphone is in use by another application."
    for name in ("NotAllowedError", "SecurityError", "NotFoundError", "NotReadableError"):
        assert result[name]["sent"] == []  # nothing reached HA
        assert result[name]["mediaClosed"] == 1
    insecure = (
        "Insecure origin: use https or localhost to reach Home Assistant, "
        "browsers only give the microphone to secure pages."
    )
    assert result["insecure"] == {"error": insecure, "medias": 0, "live": False}
    assert result["noGetUserMedia"] == {"error": insecure, "medias": 0, "live": False}
    assert result["noWebrtc"] == {
        "error": "This browser does not support WebRTC.",
        "medias": 0,
        "live": False,
    }
    assert result["translated"] == {
        "error": "You already have 1 live session(s) with this voice profile.",
        "trackStopped": True,
        "pcClosed": True,
    }
    assert result["retry"]["state"] == "listening"
    assert result["retry"]["error"] is None
    assert result["retry"]["log"][-3:] == [
        "error: You already have 1 live session(s) with this voice profile.",
        "connecting",
        "listening",
    ]
    assert result["untranslated"] == "English fallback"
    lost = "The connection to Home Assistant was lost, so the session ended."
    assert result["closed"] == lost
    assert result["closedBare"] == lost
    assert result["empty"] == "Unknown error"
    assert result["mediaFailed"] == {
        "error": "The audio connection to OpenAI failed.",
        "sent": ["connect", "hangup"],
    }
    assert result["channelClosed"] == {"state": "idle", "notice": "The session ended."}
    assert result["noticeClearedOnStart"]
    assert result["expired"] == {
        "state": "idle",
        "notice": "The session ended.",
        "error": None,
        "sent": ["connect", "hangup"],
    }
    assert result["refused"] == "listening"


# --- the transcript -------------------------------------------------------------------------


def test_transcript_order_deltas_and_finals(lab: BrowserLab) -> None:
    """The user's line keeps its place though its text comes last; finals replace deltas."""
    result = lab.evaluate(
        """async ({base}) => {
          const {Transcript} = await import(`${base}transcript.js`);
          const t = new Transcript();
          const snap = () => t.lines.map((l) => [l.role, l.text, l.final]);
          const steps = [];
          const apply = (event) => { const change = t.apply(event); steps.push(snap()); return change; };
          apply({type: "input_audio_buffer.speech_started", item_id: "u1"});
          apply({type: "input_audio_buffer.committed", item_id: "u1"});
          apply({type: "response.output_audio_transcript.delta", item_id: "a1", delta: "The light "});
          apply({type: "response.output_audio_transcript.delta", item_id: "a1", delta: "is on"});
          apply({type: "conversation.item.input_audio_transcription.delta", item_id: "u1", delta: "Turn on"});
          apply({type: "conversation.item.input_audio_transcription.completed", item_id: "u1", transcript: "Turn on the light"});
          apply({type: "response.output_audio_transcript.done", item_id: "a1", transcript: "The light is on."});
          apply({type: "response.output_audio_transcript.delta", item_id: "a1", delta: " late"});
          apply({type: "response.output_text.delta", item_id: "a2", delta: "Text "});
          apply({type: "response.output_text.done", item_id: "a2", text: "Text answer"});
          apply({type: "error", error: {message: "Tool failed"}});
          apply({type: "error"});
          const ignored = [t.apply({type: "session.updated"}), t.apply({type: "response.done"}), t.apply(undefined)];
          t.clear();
          return {steps, ignored, cleared: t.lines.length};
        }"""
    )
    steps = result["steps"]
    assert steps[0] == [["user", "", False]]  # reserved at speech start
    assert steps[1] == [["user", "", False]]  # committed: the same line
    assert steps[3] == [["user", "", False], ["assistant", "The light is on", False]]
    assert steps[4][0] == ["user", "Turn on", False]
    assert steps[6] == [
        ["user", "Turn on the light", True],
        ["assistant", "The light is on.", True],
    ]
    assert steps[7] == steps[6]  # a delta after the final text changes nothing
    assert steps[-1] == [
        ["user", "Turn on the light", True],
        ["assistant", "The light is on.", True],
        ["assistant", "Text answer", True],
        ["notice", "Tool failed", True],
        ["notice", "Unknown error", True],
    ]
    assert result["ignored"] == [None, None, None]
    assert result["cleared"] == 0


def test_transcript_keeps_the_last_lines(lab: BrowserLab) -> None:
    """At most 50 lines: the oldest go first, from the model and from the page."""
    result = lab.evaluate(
        """async ({base}) => {
          const {Transcript, TranscriptView, MAX_TRANSCRIPT_LINES} = await import(`${base}transcript.js`);
          const model = new Transcript();
          let dropped = 0;
          for (let i = 0; i < 60; i++) {
            dropped += model.apply({type: "response.output_audio_transcript.done", item_id: `a${i}`, transcript: `line ${i}`}).dropped.length;
          }
          // An item that was dropped comes back as a new line at the end.
          model.apply({type: "response.output_audio_transcript.delta", item_id: "a0", delta: "again"});
          const box = document.createElement("div");
          document.body.append(box);
          const view = new TranscriptView(box, 3);
          for (let i = 0; i < 5; i++) view.apply({type: "error", error: {message: `n${i}`}});
          return {max: MAX_TRANSCRIPT_LINES, count: model.lines.length, dropped,
                  first: model.lines[0].text, last: model.lines.at(-1).text,
                  shown: [...box.children].map((p) => p.querySelector(".text").textContent)};
        }"""
    )
    assert result["max"] == 50
    assert result["count"] == 50
    assert result["dropped"] == 10
    assert result["first"] == "line 11"
    assert result["last"] == "again"
    assert result["shown"] == ["n2", "n3", "n4"]


def test_transcript_view_renders_text_only(lab: BrowserLab) -> None:
    """The view: hidden until there is text, pending until final, and never parses HTML."""
    result = lab.evaluate(
        """async ({base}) => {
          const {TranscriptView} = await import(`${base}transcript.js`);
          const box = document.createElement("div");
          box.style.cssText = "height: 40px; overflow: auto";
          document.body.append(box);
          const view = new TranscriptView(box);
          const lines = () => [...box.children].map((p) => ({
            cls: p.className, hidden: p.hidden, final: p.dataset.final,
            who: p.querySelector(".who").textContent, text: p.querySelector(".text").textContent}));
          view.apply({type: "input_audio_buffer.speech_started", item_id: "u1"});
          const reserved = lines();
          view.apply({type: "response.output_audio_transcript.delta", item_id: "a1", delta: "<img src=x onerror=alert(1)>"});
          const pending = lines();
          view.apply({type: "conversation.item.input_audio_transcription.completed", item_id: "u1", transcript: "Hi"});
          for (let i = 0; i < 5; i++) view.apply({type: "error", error: {message: `notice ${i}`}});
          const scrolled = box.scrollTop > 0 && box.scrollTop + box.clientHeight >= box.scrollHeight - 1;
          const final = lines();
          const images = box.querySelectorAll("img").length;
          view.clear();
          return {reserved, pending, final, images, scrolled, cleared: box.children.length};
        }"""
    )
    assert result["reserved"] == [
        {"cls": "line user pending", "hidden": True, "final": "false", "who": "You: ", "text": ""}
    ]
    assert result["pending"][1] == {
        "cls": "line assistant pending",
        "hidden": False,
        "final": "false",
        "who": "Assistant: ",
        "text": "<img src=x onerror=alert(1)>",
    }
    assert result["final"][0] == {
        "cls": "line user",
        "hidden": False,
        "final": "true",
        "who": "You: ",
        "text": "Hi",
    }
    assert result["final"][2]["cls"] == "line notice"
    assert result["final"][2]["who"] == ""
    assert result["images"] == 0
    assert result["scrolled"]  # the newest line is in view
    assert result["cleared"] == 0


# --- the card in a page ---------------------------------------------------------------------

# The entry module defines its elements once HA's app has defined <home-assistant>.
HA_APP = "customElements.define('home-assistant', class extends HTMLElement {})"


def test_card_tap_leave_and_pagehide_hang_up(lab: BrowserLab) -> None:
    """The card: a tap starts the call, leaving the page for good or closing it hangs up."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const {card, connection, $} = await f.fakeCard(base);
          const view = () => ({state: card.dataset.state, status: $(".status").textContent,
                               pressed: $(".talk").getAttribute("aria-pressed"), label: $(".talk").getAttribute("aria-label")});
          const idle = view();
          $(".talk").click();
          await f.until(() => card.dataset.state === "listening", "listening");
          const live = view();
          // Moved between columns: back within the grace period, the call goes on.
          card.remove();
          await f.sleep(300);
          document.body.append(card);
          await f.sleep(1200);
          const moved = {state: card.dataset.state, sent: connection.types()};
          // Gone from the page: hung up after the grace period.
          card.remove();
          await f.until(() => connection.types().includes("hangup"), "hang-up", 3000);
          const left = {state: card.dataset.state, sent: connection.types()};
          // Back on the page, a tap starts a new call; closing the page hangs it up.
          document.body.append(card);
          $(".talk").click();
          await f.until(() => card.dataset.state === "listening", "listening again");
          window.dispatchEvent(new Event("pagehide"));
          const closed = {state: card.dataset.state, sent: connection.types()};
          // HA's connection drops during a call: the card shows why.
          $(".talk").click();
          await f.until(() => card.dataset.state === "listening", "listening a third time");
          connection.drop();
          const dropped = {state: card.dataset.state, message: $(".error .message").textContent};
          return {idle, live, moved, left, closed, dropped};
        }""",
        page_setup=HA_APP,
    )
    assert result["idle"] == {
        "state": "idle",
        "status": "Ready",
        "pressed": "false",
        "label": "Start voice session: Voice assistant",
    }
    assert result["live"] == {
        "state": "listening",
        "status": "Listening",
        "pressed": "true",
        "label": "End voice session: Voice assistant",
    }
    assert result["moved"] == {"state": "listening", "sent": ["connect"]}
    assert result["left"] == {"state": "idle", "sent": ["connect", "hangup"]}
    assert result["closed"] == {"state": "idle", "sent": ["connect", "hangup", "connect", "hangup"]}
    assert result["dropped"] == {
        "state": "error",
        "message": "The connection to Home Assistant was lost, so the session ended.",
    }


def test_card_config_stub_and_picker_entry(lab: BrowserLab) -> None:
    """Validation, stub config and suggestion (this integration's satellites), the picker entry."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          await import(`${base}openai-realtime-voice-card.js`);
          const Card = await customElements.whenDefined("openai-realtime-voice-card");
          const hass = f.fakeHass(new f.FakeConnection());
          hass.states["assist_satellite.other"] = {state: "idle", attributes: {}};
          hass.entities["assist_satellite.other"] = {platform: "esphome"};
          const ordered = {states: {"assist_satellite.other": hass.states["assist_satellite.other"], ...hass.states},
                           entities: hass.entities};
          const errors = [];
          for (const bad of [undefined, {}, {entity: "light.kitchen"}, {entity: f.ENTITY, mode: "direct"},
                             {entity: f.ENTITY, show_transcript: "yes"}]) {
            try { document.createElement("openai-realtime-voice-card").setConfig(bad); errors.push(null); }
            catch (err) { errors.push(err.message); }
          }
          const entry = window.customCards.filter((c) => c.type === "openai-realtime-voice-card");
          hass.states["light.kitchen"] = {state: "on", attributes: {}};
          const suggestions = Object.fromEntries(
            [f.ENTITY, "assist_satellite.other", "light.kitchen", "assist_satellite.gone"]
              .map((id) => [id, entry[0].getEntitySuggestion(hass, id)]));
          return {
            suggestions,
            errors, stub: Card.getStubConfig(ordered), emptyStub: Card.getStubConfig({states: {}}),
            entry: entry.map(({type, name, preview, documentationURL}) => ({type, name, preview, documentationURL})),
            editor: Card.getConfigElement().localName,
          };
        }""",
        page_setup=HA_APP,
    )
    assert result["errors"] == [
        "Invalid configuration",
        "Set `entity` to a voice satellite of the OpenAI API integration (assist_satellite.…)",
        "`entity` must be an assist_satellite entity, got light.kitchen",
        "`mode` must be one of relay, ephemeral, got direct",
        "`show_transcript` must be true or false",
    ]
    assert result["stub"] == {
        "entity": "assist_satellite.voice_assistant",
        "mode": "relay",
        "show_transcript": True,
    }
    assert result["emptyStub"] == {"entity": "", "mode": "relay", "show_transcript": True}
    assert result["entry"] == [
        {
            "type": "openai-realtime-voice-card",
            "name": "OpenAI Realtime voice",
            "preview": True,
            "documentationURL": "https://github.com/openai-api-ha/openai_api#voice-card",
        }
    ]
    assert result["editor"] == "openai-realtime-voice-card-editor"
    # "By entity" in the card picker: the card for this integration's satellites only.
    assert result["suggestions"] == {
        "assist_satellite.voice_assistant": {
            "config": {
                "type": "custom:openai-realtime-voice-card",
                "entity": "assist_satellite.voice_assistant",
            }
        },
        "assist_satellite.other": None,
        "light.kitchen": None,
        "assist_satellite.gone": None,
    }


def test_card_transcript_and_configuration_changes(lab: BrowserLab) -> None:
    """The card shows the call's transcript; a new entity or mode ends the call, a name does not."""
    result = lab.evaluate(
        """async ({base}) => {
          const f = await import("/fakes.js");
          const {card, connection, $} = await f.fakeCard(base);
          const lines = () => [...card.shadowRoot.querySelectorAll(".transcript .line:not([hidden])")]
            .map((line) => [line.classList[1], line.querySelector(".text").textContent]);
          const start = async () => {
            $(".talk").click();
            await f.until(() => card.dataset.state === "listening", "listening");
            return f.FakePeerConnection.instances.at(-1).channels[0];
          };
          let channel = await start();
          channel.receive({type: "input_audio_buffer.speech_started", item_id: "u1"});
          channel.receive({type: "output_audio_buffer.started"});
          channel.receive({type: "response.output_audio_transcript.done", item_id: "a1", transcript: "Hello!"});
          channel.receive({type: "conversation.item.input_audio_transcription.completed", item_id: "u1", transcript: "Hi"});
          const talking = {state: card.dataset.state, status: $(".status").textContent, lines: lines()};
          card.setConfig({entity: f.ENTITY, name: "Kitchen"});
          const renamed = {state: card.dataset.state, name: $(".name").textContent, sent: connection.types()};
          card.setConfig({entity: f.ENTITY, name: "Kitchen", mode: "ephemeral"});
          const remoded = {state: card.dataset.state, sent: connection.types(), lines: lines()};
          card.setConfig({entity: f.ENTITY, name: "Kitchen"});
          channel = await start();
          const newCall = lines();
          card.setConfig({entity: "assist_satellite.elsewhere", name: "Kitchen", show_transcript: false});
          const moved = {state: card.dataset.state, sent: connection.types(), transcriptHidden: $(".transcript").hidden,
                         disabled: $(".talk").disabled, hint: $(".hint").textContent};
          return {talking, renamed, remoded, newCall, moved};
        }""",
        page_setup=HA_APP,
    )
    assert result["talking"] == {
        "state": "speaking",
        "status": "Speaking",
        "lines": [["user", "Hi"], ["assistant", "Hello!"]],
    }
    assert result["renamed"] == {"state": "speaking", "name": "Kitchen", "sent": ["connect"]}
    # The ended call's transcript stays readable until the next call starts.
    assert result["remoded"] == {
        "state": "idle",
        "sent": ["connect", "hangup"],
        "lines": [["user", "Hi"], ["assistant", "Hello!"]],
    }
    assert result["newCall"] == []
    assert result["moved"] == {
        "state": "idle",
        "sent": ["connect", "hangup", "connect", "hangup"],
        "transcriptHidden": True,
        "disabled": True,  # that satellite does not exist
        "hint": "Entity not found: assist_satellite.elsewhere",
    }
