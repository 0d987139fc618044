"""2. Call set-up: HA's websocket relay vs a direct multipart POST of the same SDP.

Relay: the browser sends `openai_api/realtime/connect` with its offer over HA's websocket;
HA resolves the satellite, checks the limits, builds the session (prompt, LLM API tools),
POSTs the multipart to `/realtime/calls` and answers with the SDP. Direct: the same kind of
offer and the very session HA sent (taken from the simulator's record of a relay call), POSTed
by aiohttp to the simulator. Both are timed from sending the offer to holding the answer.

Every attempt uses a fresh aiortc offer (gathered before the clock starts); the media is then
brought up and the call hung up outside the timed part, so attempts do not overlap.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import aiohttp
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from custom_components.openai_api.realtime import manager as manager_module
from simulator.routes import parse_multipart

from .harness import API_KEY, SATELLITE, Bench, settle, until
from .peer import BrowserPeer
from .stats import median_of_differences, summary_ms


async def relay_once(bench: Bench) -> tuple[float, float, str]:
    """One call through HA's relay: seconds from offer to answer, CPU seconds, the call id."""
    peer = BrowserPeer()
    try:
        offer = await peer.offer()
        start, cpu = time.perf_counter(), time.thread_time()
        reply = await bench.ws.command(
            type="openai_api/realtime/connect", entity_id=SATELLITE, sdp=offer
        )
        elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
        if not reply.get("success"):
            raise RuntimeError(f"relay failed: {reply}")
        call_id = reply["result"]["call_id"]
        await peer.accept(reply["result"]["sdp"])
        call = bench.sim.calls[call_id]
        await until(lambda: call.sidebands and peer.connected)
        hangup = await bench.ws.command(type="openai_api/realtime/hangup", call_id=call_id)
        assert hangup["success"], hangup
    finally:
        await peer.close()
    return elapsed, cpu, call_id


async def direct_once(bench: Bench, session_json: str) -> tuple[float, float]:
    """One call POSTed straight to the simulator: seconds from offer to answer, CPU seconds."""
    http = async_get_clientsession(bench.hass)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    peer = BrowserPeer()
    try:
        offer = await peer.offer()
        start, cpu = time.perf_counter(), time.thread_time()
        form = aiohttp.FormData()
        form.add_field("sdp", offer, content_type="application/sdp")
        form.add_field("session", session_json, content_type="application/json")
        async with http.post(
            f"{bench.sim.base_url}/realtime/calls", data=form, headers=headers
        ) as resp:
            answer = await resp.text()
            location = resp.headers["Location"]
        elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
        if resp.status != 201:
            raise RuntimeError(f"direct call failed: {resp.status} {answer}")
        await peer.accept(answer)
        await until(lambda: peer.connected)
        async with http.post(
            f"{bench.sim.base_url}/realtime/calls/{location.rsplit('/', 1)[-1]}/hangup",
            headers=headers,
        ) as resp:
            assert resp.status == 200
    finally:
        await peer.close()
    return elapsed, cpu


async def run(bench: Bench, pairs: int) -> dict[str, Any]:
    """Alternate relay and direct set-ups; the relay's added milliseconds."""
    # A warm-up relay call, whose recorded request gives the session for the direct POSTs.
    await relay_once(bench)
    request = bench.sim.requests_to("/realtime/calls")[-1]
    session_json = parse_multipart(request.body, request.headers["Content-Type"])["session"][1]
    await direct_once(bench, session_json)

    # Where the relay's own time goes: the session it builds for the call (prompt, tools),
    # `async_prepare_session` as the call manager calls it.
    prepare: list[float] = []
    original = manager_module.async_prepare_session

    async def timed_prepare(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            prepare.append(time.perf_counter() - start)

    relay: list[float] = []
    direct: list[float] = []
    relay_cpu: list[float] = []
    direct_cpu: list[float] = []
    manager_module.async_prepare_session = timed_prepare  # type: ignore[assignment]
    try:
        for i in range(pairs):
            for path in ("direct", "relay") if i % 2 else ("relay", "direct"):
                if path == "relay":
                    seconds, cpu, _ = await relay_once(bench)
                    relay.append(seconds)
                    relay_cpu.append(cpu)
                else:
                    seconds, cpu = await direct_once(bench, session_json)
                    direct.append(seconds)
                    direct_cpu.append(cpu)
            await settle(bench.hass, 0.02)
    finally:
        manager_module.async_prepare_session = original
    return {
        "pairs": pairs,
        "relay": summary_ms(relay),
        "direct": summary_ms(direct),
        "added_ms_paired_median": median_of_differences(relay, direct) * 1e3,
        "added_ms_median_diff": (statistics.median(relay) - statistics.median(direct)) * 1e3,
        # This loop's CPU time over the same spans: what the relay costs, whatever else runs.
        "added_cpu_ms_paired_median": median_of_differences(relay_cpu, direct_cpu) * 1e3,
        "session_build_median_ms": statistics.median(prepare) * 1e3,
        "session_bytes": len(session_json),
        "tools": session_json.count('"type": "function"'),
    }
