"""The end-to-end world: the Realtime simulator, a real Home Assistant and Chromium.

Everything lives on one asyncio loop in a background thread, and tests hand it coroutines with
`Harness.run(...)`:
- the simulator must keep answering (ICE, RTP, the data channel) while a test waits on the
  browser, and tests script its calls (`SimCall.user_turn`, `SimCall.send`) on its own loop;
- Playwright's sync API would mark the test thread's event loop as running, which breaks the
  per-test checks of pytest-homeassistant-custom-component; its async API on this loop does not.
Home Assistant runs as a subprocess from the working tree (devtools/ha_instance.py), so what
the browser loads is exactly what a user installs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
import contextlib
import json
import os
from pathlib import Path
import shutil
import socket
import threading
import time
from typing import Any, Protocol

import aiohttp
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    async_playwright,
)
import pytest_socket

from devtools import ha_instance
from simulator import RealtimeSimulator
from simulator.webrtc import cancel_stray_ice_tasks

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
# The README's screenshots. Every run writes its own to ARTIFACTS; the documented ones change
# only on request (they differ from run to run by the live level meters):
#   scripts/run env UPDATE_SCREENSHOTS=1 python -m pytest tests/e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
API_KEY = "sk-e2e-simulator-key"
SATELLITE = "assist_satellite.voice_assistant"
LIGHT = "light.test_light"
CARD = "custom:openai-realtime-voice-card"
# A host name that is not localhost: Chromium maps it to 127.0.0.1, but the page is not a
# secure context there (http on a name other than localhost), like HA reached by its LAN name.
INSECURE_HOST = "ha.test"

# No --use-fake-ui-for-media-stream: it accepts every microphone request, so a denied
# permission could not be tested. Each browser context is granted the microphone (or not)
# through Playwright instead; the fake device then plays a beep as the microphone.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",
]

DASHBOARD_PATH = "voice-card"
DASHBOARD = {
    "title": "Voice",
    "views": [
        {"path": "relay", "title": "Relay", "cards": [{"type": CARD, "entity": SATELLITE}]},
        {
            "path": "ephemeral",
            "title": "Ephemeral",
            "cards": [{"type": CARD, "entity": SATELLITE, "mode": "ephemeral", "name": "Direct"}],
        },
        {
            "path": "two",
            "title": "Two cards",
            "cards": [
                {"type": CARD, "entity": SATELLITE, "name": "Kitchen"},
                {"type": CARD, "entity": SATELLITE, "name": "Hallway", "show_transcript": False},
            ],
        },
    ],
}

# The browser stores HA's tokens under this key (home-assistant-js-websocket's saveTokens).
_INJECT_TOKENS = """
(tokens) => {
  if (location.origin === tokens.hassUrl) localStorage.setItem("hassTokens", JSON.stringify(tokens));
}
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Wait until `check()` (a function or a coroutine function) returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s: {check}")
        await asyncio.sleep(interval)


class _World(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


def running[W: _World, **P](make: Callable[P, W], *args: P.args, **kwargs: P.kwargs) -> Iterator[W]:
    """A module fixture's world: made and started, yielded, stopped (also if it fails to start).

    Module fixtures are set up before the first test's `socket_enabled`; the HA test plugin
    has disabled sockets by then (it does before every test), as it may have by teardown.
    """
    pytest_socket.enable_socket()
    world = make(*args, **kwargs)
    try:
        world.start()
    except BaseException:
        world.stop()
        raise
    yield world
    pytest_socket.enable_socket()
    world.stop()


class Harness:
    """The simulator, Home Assistant and Chromium, on a loop of their own."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.loop = asyncio.new_event_loop()
        # Pre-started worker threads: nothing starts a thread while a test runs (the HA test
        # plugin fails a test that leaves a new thread behind).
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="e2e-harness")
        self.loop.set_default_executor(self._executor)
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="e2e-harness-loop", daemon=True
        )
        self.sim: RealtimeSimulator
        self.ha: ha_instance.HomeAssistantProcess
        self.playwright: Playwright
        self.browser: Browser
        self.http: aiohttp.ClientSession
        self.pages: list[Page] = []
        self._contexts: list[BrowserContext] = []
        self._browser_log = ARTIFACTS / "browser-console.log"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start everything (about 5 s); raises if anything does not come up."""
        barrier = threading.Barrier(self._executor._max_workers)
        for _ in range(self._executor._max_workers):
            self._executor.submit(barrier.wait, 10)
        self._thread.start()
        self.run(self._start(), timeout=120)

    def run[T](self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the harness loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        """Stop everything and the thread."""
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self.run(self._stop(), timeout=60)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        if not self.loop.is_running():
            self.loop.close()
        self._executor.shutdown(wait=True)

    async def _start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self._browser_log.write_text("")
        log = ARTIFACTS / "home-assistant.log"
        log.unlink(missing_ok=True)
        self.sim = RealtimeSimulator(api_key=API_KEY)
        await self.sim.start()
        self.http = aiohttp.ClientSession()
        self.ha = await ha_instance.start(self.config_dir, free_port(), log=log)
        await ha_instance.onboard(self.ha)
        await ha_instance.ensure_entry(self.ha, API_KEY, self.sim.base_url)
        await until(lambda: self.state(SATELLITE), timeout=30)
        await self.ws_command(
            {"type": "lovelace/dashboards/create", "url_path": DASHBOARD_PATH, "title": "Voice"}
        )
        await self.ws_command(
            {"type": "lovelace/config/save", "url_path": DASHBOARD_PATH, "config": DASHBOARD}
        )
        self.playwright = await async_playwright().start()
        self.browser = await self.playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )

    async def _stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.close_pages()
            await self.browser.close()
        with contextlib.suppress(Exception):
            await self.playwright.stop()
        with contextlib.suppress(Exception):
            await self.ha.stop()
        with contextlib.suppress(Exception):
            await self.http.close()
        with contextlib.suppress(Exception):
            await self.sim.stop()
        await cancel_stray_ice_tasks()

    # --- Home Assistant ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where the browser reaches HA (a secure context: 127.0.0.1)."""
        return self.ha.url

    @property
    def insecure_url(self) -> str:
        """HA by a host name that is not a secure context."""
        return self.ha.url.replace("127.0.0.1", INSECURE_HOST)

    async def state(self, entity_id: str) -> dict[str, Any] | None:
        """The entity's state object from HA's REST API (None when it does not exist)."""
        async with self.http.get(
            f"{self.url}/api/states/{entity_id}",
            headers={"Authorization": f"Bearer {self.ha.token}"},
        ) as resp:
            return dict(await resp.json()) if resp.status == 200 else None

    async def wait_state(self, entity_id: str, state: str, timeout: float = 15.0) -> None:
        """Wait until the entity has `state` (REST polling)."""

        async def check() -> bool:
            current = await self.state(entity_id)
            return current is not None and current["state"] == state

        await until(check, timeout)

    async def call_service(self, domain: str, service: str, data: dict[str, Any]) -> None:
        """Call an action through HA's REST API."""
        async with self.http.post(
            f"{self.url}/api/services/{domain}/{service}",
            headers={"Authorization": f"Bearer {self.ha.token}"},
            json=data,
        ) as resp:
            resp.raise_for_status()

    async def ws_command(self, msg: dict[str, Any]) -> Any:
        """One command over HA's websocket API as the dev user; returns the result."""
        async with self.http.ws_connect(f"{self.url}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.ha.token})
            auth = await ws.receive_json()
            assert auth["type"] == "auth_ok", auth
            await ws.send_json({"id": 1, **msg})
            reply = await ws.receive_json()
        assert reply["success"], reply
        return reply["result"]

    async def quiesce(self) -> None:
        """Wait until no call is live anywhere: the next test starts from a clean slate."""
        await self.close_pages()
        await until(lambda: all(c.hung_up for c in self.sim.calls.values()), timeout=20)

        async def no_calls() -> bool:
            state = await self.state(SATELLITE)
            return state is not None and state["attributes"]["call_count"] == 0

        await until(no_calls, timeout=20)
        self.sim.clear()

    # --- the browser -------------------------------------------------------------------------

    async def new_page(
        self,
        path: str = f"/{DASHBOARD_PATH}/relay",
        *,
        origin: str | None = None,
        microphone: bool = True,
        logged_in: bool = True,
        viewport: tuple[int, int] = (480, 900),
    ) -> Page:
        """A fresh browser context (own storage and permissions) with one page at `path`."""
        origin = origin or self.url
        context = await self.browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            permissions=["microphone"] if microphone else [],
            locale="en-US",
            color_scheme="light",
        )
        self._contexts.append(context)
        if logged_in:
            tokens = await ha_instance.login(self.http, self.url, client_id=f"{origin}/")
            tokens |= {
                "hassUrl": origin,
                "clientId": f"{origin}/",
                "expires": int(time.time() * 1000) + int(tokens["expires_in"]) * 1000,
            }
            await context.add_init_script(script=f"({_INJECT_TOKENS})({json.dumps(tokens)})")
        page = await context.new_page()
        self.pages.append(page)
        page.on("console", self._log_console)
        page.on("pageerror", lambda err: self._log(f"[pageerror] {err}"))
        await page.goto(f"{origin}{path}")
        return page

    def _log_console(self, message: Any) -> None:
        self._log(f"[{message.type}] {message.text}")

    def _log(self, line: str) -> None:
        with self._browser_log.open("a") as out:
            out.write(line + "\n")

    async def screenshot_pages(self, name: str) -> None:
        """Save what every open page shows (for a failed test)."""
        for number, page in enumerate(self.pages):
            with contextlib.suppress(Exception):
                await page.screenshot(path=ARTIFACTS / f"{name}-{number}.png", full_page=True)

    async def save_screenshot(self, element: Locator, name: str) -> None:
        """Screenshot an element into ARTIFACTS, and into docs/ when asked or missing."""
        path = ARTIFACTS / name
        await element.screenshot(path=path)
        documented = SCREENSHOTS / name
        if os.environ.get("UPDATE_SCREENSHOTS") or not documented.exists():
            documented.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, documented)

    async def close_pages(self) -> None:
        """Close every browser context a test opened."""
        contexts, self._contexts, self.pages = self._contexts, [], []
        for context in contexts:
            with contextlib.suppress(Exception):
                await context.close()
