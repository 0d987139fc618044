"""7. Phone calls into the house: from OpenAI's webhook to HA's `accept`.

The simulator rings (`sim.ring(url, secret=…, pace=0)`): it makes a pending SIP call and posts a
signed `realtime.call.incoming` to a webhook URL, as OpenAI does, with a fresh connection per
delivery. The clock starts just before the simulator posts and stops when the call's
`POST /realtime/calls/{id}/accept` has reached the simulator (its body read; stamped by
`simclock.request_clock`). Two receivers, side by side, in a fresh random order per pair:

- `ha`: Home Assistant's webhook of an account whose voice profile answers phone calls ("Answer
  phone calls" on, the caller on its list, a phone user so the call gets the Assist tools): HA's
  HTTP server and webhook component, then the integration (body size, signature, replay check,
  the `openai_api_realtime_call_incoming` event, choosing the profile, building its session,
  the accept request through its API client).
- `bare`: a bare aiohttp server on loopback doing the same work by hand: read the body, check
  the signature with the integration's own `webhook_signature.verify`, parse the JSON, answer
  200 and POST the very session HA sent (taken from the simulator's record) to `accept` on HA's
  shared aiohttp session.

After each call (outside the clock) the call is hung up and HA has let go of it. Inside HA's
path the parts are stamped by wrapping, for the section only: the webhook handler
(`IncomingCalls._async_handle`), `verify`, the event (a listener), `async_answer`, the session
build (`async_prepare_session`) and the API client's `accept_call`.

Beside it, the signature check alone: the integration's `webhook_signature.verify` against the
official openai SDK's `webhooks.verify_signature`, on the same delivery (body and headers as
HA's server received them), in alternating blocks.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import json
import random
import statistics
import time
from typing import Any

from aiohttp import web
from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_API_KEY
from homeassistant.core import Event, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from multidict import CIMultiDict
from openai import OpenAI
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api import incoming as incoming_module
from custom_components.openai_api.const import (
    ATTR_CONFIG_ENTRY_ID,
    CONF_ALLOWED_CALLERS,
    CONF_ANSWER_CALLS,
    CONF_BASE_URL,
    CONF_PHONE_USER,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    DOMAIN,
    EVENT_CALL_INCOMING,
    SERVICE_HANGUP_CALL,
    SUBENTRY_VOICE,
)
from custom_components.openai_api.realtime import manager as manager_module
from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE
from custom_components.openai_api.webhook_signature import verify
from simulator import SimCall
from simulator.webhooks import sign

from .harness import API_KEY, PATIENCE, Bench, settle, until
from .simclock import StampedRequests, request_clock
from .stats import median_of_differences, percentile, summary_ms

SECRET = "whsec_" + base64.b64encode(b"benchmark-webhook-signing-key-01").decode()
WEBHOOK_ID = "openai-api-bench-phone"
CALLER = "+14155550123"


@dataclass
class PhoneScale:
    """Pairs of calls (after warm-ups), and the signature check's blocks."""

    pairs: int
    warmup: int
    verify_blocks: int
    verify_block: int


@dataclass
class Stamps:
    """One call's way from the webhook to the accept (perf_counter; None: not reached)."""

    start: float = 0.0
    start_cpu: float = 0.0
    handler: float | None = None
    verified: float | None = None
    event: float | None = None
    answer: float | None = None
    prepared: float | None = None
    accept_sent: float | None = None
    arrived: float | None = None
    arrived_cpu: float | None = None


class Hooks:
    """Stamps of HA's path, by wrapping its steps for the section (restored afterwards)."""

    def __init__(self) -> None:
        self.current: Stamps | None = None
        self._undo: list[Callable[[], None]] = []

    def _stamp(self, name: str) -> None:
        if self.current is not None and getattr(self.current, name) is None:
            setattr(self.current, name, time.perf_counter())

    def install(self) -> None:
        """Wrap the webhook handler, verify, async_answer and the session build."""
        hooks = self
        handle = incoming_module.IncomingCalls._async_handle

        async def timed_handle(self: Any, *args: Any) -> web.Response:
            hooks._stamp("handler")
            return await handle(self, *args)

        original_verify = incoming_module.verify

        def timed_verify(*args: Any, **kwargs: Any) -> str:
            try:
                return original_verify(*args, **kwargs)
            finally:
                hooks._stamp("verified")

        answer = incoming_module.async_answer

        async def timed_answer(*args: Any) -> Any:
            hooks._stamp("answer")
            return await answer(*args)

        prepare = manager_module.async_prepare_session

        async def timed_prepare(*args: Any, **kwargs: Any) -> Any:
            try:
                return await prepare(*args, **kwargs)
            finally:
                hooks._stamp("prepared")

        incoming_module.IncomingCalls._async_handle = timed_handle  # type: ignore[method-assign]
        incoming_module.verify = timed_verify
        incoming_module.async_answer = timed_answer  # type: ignore[assignment]
        manager_module.async_prepare_session = timed_prepare  # type: ignore[assignment]

        def undo() -> None:
            incoming_module.IncomingCalls._async_handle = handle  # type: ignore[method-assign]
            incoming_module.verify = original_verify
            incoming_module.async_answer = answer
            manager_module.async_prepare_session = prepare

        self._undo.append(undo)

    def wrap_client(self, entry: MockConfigEntry) -> None:
        """Stamp when the entry's API client starts the accept request."""
        client = entry.runtime_data.client
        accept = client.accept_call

        async def timed_accept(*args: Any) -> None:
            self._stamp("accept_sent")
            await accept(*args)

        client.accept_call = timed_accept  # type: ignore[method-assign]

    def remove(self) -> None:
        """Put everything back."""
        while self._undo:
            self._undo.pop()()


class BareReceiver:
    """A bare aiohttp webhook endpoint that verifies, parses and accepts, as HA's path does."""

    def __init__(self, bench: Bench, session_json: dict[str, Any]) -> None:
        self.bench = bench
        self.session_json = session_json
        self.current: Stamps | None = None
        self.last_delivery: tuple[bytes, CIMultiDict[str]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/webhook"

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=PATIENCE)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        stamps = self.current
        if stamps is not None:
            stamps.handler = time.perf_counter()
        body = await request.content.read(64 * 1024 + 1)
        verify(body, request.headers, secret=SECRET)
        if stamps is not None:
            stamps.verified = time.perf_counter()
        self.last_delivery = (body, CIMultiDict(request.headers))
        call_id = json.loads(body)["data"]["call_id"]
        task = asyncio.create_task(self._accept(call_id, stamps))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=200)

    async def _accept(self, call_id: str, stamps: Stamps | None) -> None:
        if stamps is not None:
            stamps.accept_sent = time.perf_counter()
        http = async_get_clientsession(self.bench.hass)
        async with http.post(
            f"{self.bench.sim.base_url}/realtime/calls/{call_id}/accept",
            json=self.session_json,
            headers={"Authorization": f"Bearer {API_KEY}"},
        ) as resp:
            await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"bare accept failed: {resp.status}")


async def _phone_entry(bench: Bench) -> MockConfigEntry:
    """An account with webhook options and one profile answering the caller, with a phone user."""
    hass = bench.hass
    phone_user = await hass.auth.async_create_user("Phone (bench)", group_ids=[GROUP_ID_USER])
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="OpenAI (phone)",
        data={CONF_API_KEY: API_KEY, CONF_BASE_URL: bench.sim.base_url},
        options={CONF_WEBHOOK_ID: WEBHOOK_ID, CONF_WEBHOOK_SECRET: SECRET},
        subentries_data=[
            ConfigSubentryData(
                data={
                    **DEFAULT_PROFILE,
                    CONF_ANSWER_CALLS: True,
                    CONF_ALLOWED_CALLERS: [CALLER],
                    CONF_PHONE_USER: phone_user.id,
                },
                subentry_type=SUBENTRY_VOICE,
                title="Phone",
                unique_id=None,
            )
        ],
    )
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        raise RuntimeError(f"the phone entry did not load: {entry.state}")
    return entry


async def _ring(
    bench: Bench, clock: StampedRequests, url: str, stamps: Stamps
) -> tuple[SimCall, Stamps]:
    """Ring `url`; wait until the call's accept has reached the simulator."""
    stamps.start, stamps.start_cpu = time.perf_counter(), time.thread_time()
    call = await bench.sim.ring(url, secret=SECRET, caller=CALLER, pace=0)
    if call.webhook_status != 200:
        raise RuntimeError(f"the webhook answered {call.webhook_status}: {call.webhook}")
    path = f"/realtime/calls/{call.call_id}/accept"
    arrival = await until(lambda: clock.arrival(lambda r: r.path == path))
    stamps.arrived, stamps.arrived_cpu, _ = arrival
    return call, stamps


async def _ha_call(
    bench: Bench, entry: MockConfigEntry, clock: StampedRequests, url: str, hooks: Hooks
) -> Stamps:
    stamps = Stamps()
    hooks.current = stamps
    try:
        call, _ = await _ring(bench, clock, url, stamps)
        # Outside the clock: HA holds the call with its sideband, then hangs it up.
        manager = entry.runtime_data.manager
        await until(lambda: call.sidebands and manager.held(call.call_id) is not None)
    finally:
        hooks.current = None
    await bench.hass.services.async_call(
        DOMAIN,
        SERVICE_HANGUP_CALL,
        {"call_id": call.call_id, ATTR_CONFIG_ENTRY_ID: entry.entry_id},
        blocking=True,
    )
    await until(lambda: call.hung_up and manager.held(call.call_id) is None)
    return stamps


async def _bare_call(bench: Bench, clock: StampedRequests, bare: BareReceiver) -> Stamps:
    stamps = Stamps()
    bare.current = stamps
    try:
        call, _ = await _ring(bench, clock, bare.url, stamps)
    finally:
        bare.current = None
    http = async_get_clientsession(bench.hass)
    async with http.post(
        f"{bench.sim.base_url}/realtime/calls/{call.call_id}/hangup",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as resp:
        if resp.status != 200:
            raise RuntimeError(f"bare hang-up failed: {resp.status}")
    await until(lambda: call.hung_up)
    return stamps


def _spans(samples: list[Stamps], parts: list[tuple[str, str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, a, b in parts:
        values = [
            getattr(s, b) - getattr(s, a)
            for s in samples
            if getattr(s, a) is not None and getattr(s, b) is not None
        ]
        out[name] = summary_ms(values)
    return out


async def _verify_blocks(
    body: bytes, headers: CIMultiDict[str], blocks: int, size: int
) -> dict[str, Any]:
    """µs per check: the integration's verify vs the openai SDK's, alternating blocks."""
    sdk = OpenAI(api_key=API_KEY, base_url="http://127.0.0.1:9/v1")
    try:
        checks: dict[str, Callable[[], object]] = {
            "ours": lambda: verify(body, headers, secret=SECRET),
            "openai_sdk": lambda: sdk.webhooks.verify_signature(body, headers, secret=SECRET),
        }
        for check in checks.values():  # both accept the delivery, and warm up
            for _ in range(50):
                check()
        per_call: dict[str, list[float]] = {name: [] for name in checks}
        rng = random.Random(7)
        for _ in range(blocks):
            order = list(checks)
            rng.shuffle(order)
            for name in order:
                check = checks[name]
                start = time.perf_counter()
                for _ in range(size):
                    check()
                per_call[name].append((time.perf_counter() - start) / size)
            await asyncio.sleep(0)  # let HA's loop breathe between blocks
    finally:
        sdk.close()
    result: dict[str, Any] = {"blocks": blocks, "block_size": size}
    for name, values in per_call.items():
        result[name] = {
            "median_us": statistics.median(values) * 1e6,
            "p10_us": percentile(values, 10) * 1e6,
            "p90_us": percentile(values, 90) * 1e6,
        }
    result["sdk_over_ours"] = result["openai_sdk"]["median_us"] / result["ours"]["median_us"]
    return result


def _resigned(body: bytes, headers: CIMultiDict[str]) -> CIMultiDict[str]:
    """The delivery's headers with a fresh timestamp and signature (it must stay in date)."""
    fresh = CIMultiDict(headers)
    now = int(time.time())
    fresh["webhook-timestamp"] = str(now)
    fresh["webhook-signature"] = sign(SECRET, fresh["webhook-id"], now, body)
    return fresh


async def run(bench: Bench, scale: PhoneScale) -> dict[str, Any]:
    """Pairs of calls rung at HA's webhook and at a bare receiver; the signature check alone."""
    hass = bench.hass
    hooks = Hooks()
    hooks.install()
    events: list[float] = []

    @callback
    def on_incoming(_event: Event) -> None:
        events.append(time.perf_counter())
        if hooks.current is not None and hooks.current.event is None:
            hooks.current.event = events[-1]

    unlisten = hass.bus.async_listen(EVENT_CALL_INCOMING, on_incoming)
    bare: BareReceiver | None = None
    entry: MockConfigEntry | None = None
    try:
        entry = await _phone_entry(bench)
        hooks.wrap_client(entry)
        url = str(bench.client.make_url(f"/api/webhook/{WEBHOOK_ID}"))
        with request_clock(bench.sim) as clock:
            # A first call through HA gives the session it accepts with, for the bare receiver.
            await _ha_call(bench, entry, clock, url, hooks)
            accepted = clock.arrival(lambda r: r.path.endswith("/accept"))
            assert accepted is not None
            bare = BareReceiver(bench, accepted[2].json())
            await bare.start()
            variants: dict[str, Callable[[], Awaitable[Stamps]]] = {
                "ha": lambda: _ha_call(bench, entry, clock, url, hooks),  # type: ignore[arg-type]
                "bare": lambda: _bare_call(bench, clock, bare),  # type: ignore[arg-type]
            }
            for _ in range(scale.warmup):
                for variant in variants.values():
                    await variant()
            samples: dict[str, list[Stamps]] = {"ha": [], "bare": []}
            rng = random.Random(11)
            for _ in range(scale.pairs):
                order = list(variants)
                rng.shuffle(order)
                for name in order:
                    samples[name].append(await variants[name]())
                await settle(hass, 0.01)
        assert bare.last_delivery is not None
        body, headers = bare.last_delivery
        signature = await _verify_blocks(
            body, _resigned(body, headers), scale.verify_blocks, scale.verify_block
        )
    finally:
        unlisten()
        hooks.remove()
        if bare is not None:
            await bare.stop()
        if entry is not None:
            await hass.config_entries.async_remove(entry.entry_id)
    errors = []
    if len(events) != 1 + scale.warmup + scale.pairs:
        errors.append(
            f"{len(events)} incoming-call events for {1 + scale.warmup + scale.pairs} calls to HA"
        )
    ha, plain = samples["ha"], samples["bare"]
    total = {name: [s.arrived - s.start for s in samples[name]] for name in samples}  # type: ignore[operator]
    cpu = {
        name: [s.arrived_cpu - s.start_cpu for s in samples[name]]  # type: ignore[operator]
        for name in samples
    }
    return {
        "pairs": scale.pairs,
        "ha": summary_ms(total["ha"]),
        "bare": summary_ms(total["bare"]),
        "added_ms_paired_median": median_of_differences(total["ha"], total["bare"]) * 1e3,
        "added_ms_paired_p90": percentile(
            [a - b for a, b in zip(total["ha"], total["bare"], strict=True)], 90
        )
        * 1e3,
        "added_cpu_ms_paired_median": median_of_differences(cpu["ha"], cpu["bare"]) * 1e3,
        "ha_parts": _spans(
            ha,
            [
                ("delivery to the handler", "start", "handler"),
                ("handler to verified", "handler", "verified"),
                ("verified to the event", "verified", "event"),
                ("event to the answer starting", "event", "answer"),
                ("building the session", "answer", "prepared"),
                ("session built to the accept sent", "prepared", "accept_sent"),
                ("accept request (sent to arrived)", "accept_sent", "arrived"),
            ],
        ),
        "bare_parts": _spans(
            plain,
            [
                ("delivery to the handler", "start", "handler"),
                ("handler to verified", "handler", "verified"),
                ("verified to the accept sent", "verified", "accept_sent"),
                ("accept request (sent to arrived)", "accept_sent", "arrived"),
            ],
        ),
        "events_fired": len(events),
        "signature": signature,
        "errors": errors,
    }
