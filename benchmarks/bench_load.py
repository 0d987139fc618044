"""5. Load: client secrets at high concurrency with faults injected by the simulator.

The simulator runs in a process of its own here (benchmarks/sim_server.py), with an account
entry of its own pointing at it: the event loop then carries Home Assistant's work only.

Every action call must end in a result or in a HomeAssistantError with a rendered message; the
errors must match the faults the simulator injected one for one (429 -> rate_limited,
500 -> server_error). Meanwhile a ticker measures how late the event loop runs a 5 ms sleep
and a second websocket client pings HA: both tell whether HA stays responsive. The same load
sent by bare aiohttp POSTs gives the reference for both. The calls of each variant are split
into rounds, and the variant that goes first alternates round by round, so neither always runs
on the warmer (or the more contended) machine. Tasks, file descriptors and sockets are counted
before and after (the connection pool is filled to the load's concurrency beforehand, so a
pooled keep-alive connection is not taken for a leak).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
import gc
import os
import time
from typing import Any

import aiohttp
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from custom_components.openai_api.const import (
    ATTR_CONFIG_ENTRY_ID,
    DOMAIN,
    SERVICE_CREATE_CLIENT_SECRET,
)

from .bench_secrets import PAYLOAD
from .harness import API_KEY, Bench, Remote, WsClient, settle
from .stats import percentile, summary_ms

PATH = "/realtime/client_secrets"
FAULTS = {"429": 0.05, "500": 0.05}
EXPECTED = {"429": "rate_limited", "500": "server_error"}
TICK = 0.005


@dataclass
class LoadScale:
    """How many calls (of each variant), how many at once, in how many rounds."""

    calls: int
    concurrency: int
    rounds: int = 2


def resources() -> dict[str, int]:
    """Tasks, open file descriptors and sockets of this process."""
    fds = os.listdir("/proc/self/fd")
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # the directory's own descriptor, already closed
    return {"tasks": len(asyncio.all_tasks()), "fds": len(fds), "sockets": sockets}


class Watch:
    """Event-loop lag (a ticker) and HA websocket ping times while something runs."""

    def __init__(self, ws: WsClient) -> None:
        self.ws = ws
        self.lags: list[float] = []
        self.busy: list[float] = []
        self.pings: list[float] = []
        self.gc_pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._gc_start = 0.0
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_start))

    async def _tick(self) -> None:
        while self._running:
            start, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK)
            self.lags.append(time.perf_counter() - start - TICK)
            # The part of the lag the loop thread spent working (its CPU time beyond the
            # tick): HA's own share, apart from time the OS gave the core to other processes.
            self.busy.append(max(0.0, time.thread_time() - cpu - TICK))

    async def _ping(self) -> None:
        while self._running:
            start = time.perf_counter()
            reply = await self.ws.command(type="ping")
            assert reply["type"] == "pong", reply
            self.pings.append(time.perf_counter() - start)
            await asyncio.sleep(0.02)

    def start(self) -> None:
        """Start watching."""
        gc.callbacks.append(self._on_gc)
        self._running = True
        self._tasks = [asyncio.create_task(self._tick()), asyncio.create_task(self._ping())]

    async def stop(self) -> None:
        """Stop watching."""
        self._running = False
        await asyncio.gather(*self._tasks)
        gc.callbacks.remove(self._on_gc)

    def summary(self) -> dict[str, Any]:
        """Lag and ping percentiles in ms."""

        def ms(values: list[float]) -> dict[str, float]:
            return {
                "samples": len(values),
                "median": percentile(values, 50) * 1e3,
                "p99": percentile(values, 99) * 1e3,
                "max": max(values, default=0.0) * 1e3,
            }

        oldest = [seconds for generation, seconds in self.gc_pauses if generation == 2]
        return {
            "loop_lag_ms": ms(self.lags),
            "loop_lag_own_cpu_ms": ms(self.busy),
            "ws_ping_ms": ms(self.pings),
            "gc": {
                "collections": len(self.gc_pauses),
                "max_ms": max((p for _, p in self.gc_pauses), default=0.0) * 1e3,
                "full_collections": len(oldest),
                "full_max_ms": max(oldest, default=0.0) * 1e3,
            },
        }


async def _closed_loop(call: Any, calls: int, concurrency: int) -> float:
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def run(bench: Bench, remote: Remote, scale: LoadScale) -> dict[str, Any]:
    """Run the load against the simulator process; return outcomes, responsiveness, resources."""
    hass = bench.hass
    sim = remote.sim
    watch_ws = await bench.ws_client()
    payload = {**PAYLOAD, ATTR_CONFIG_ENTRY_ID: remote.entry.entry_id}
    http = async_get_clientsession(hass)
    url = f"{remote.base_url}{PATH}"
    headers = {"Authorization": f"Bearer {API_KEY}"}

    async def action() -> Any:
        return await hass.services.async_call(
            DOMAIN, SERVICE_CREATE_CLIENT_SECRET, payload, blocking=True, return_response=True
        )

    async def bare() -> None:
        try:
            async with http.post(url, json=PAYLOAD, headers=headers) as resp:
                await resp.read()
        except aiohttp.ClientError:
            pass  # the reference only loads the loop; its outcomes are not checked

    # Warm both up (and the simulator process), filling the pool to this concurrency without
    # faults; then count what is open.
    for call in (bare, action, bare, action):
        await _closed_loop(call, scale.concurrency * 2, scale.concurrency)
    await sim.ask(op="forget")
    await settle(hass, 0.2)
    gc.collect()
    before = resources()
    await sim.ask(op="fault_rate", path=PATH, rates=FAULTS, seed=6)

    outcomes: Counter[str] = Counter()
    unexpected: list[str] = []
    unclear: list[str] = []
    latencies: list[float] = []

    async def one() -> None:
        start = time.perf_counter()
        try:
            result = await action()
        except HomeAssistantError as err:
            key = err.translation_key or type(err).__name__
            outcomes[f"error:{key}"] += 1
            message = str(err)
            if not message or message == key or "{" in message:
                unclear.append(f"{key}: {message!r}")
        except Exception as err:  # anything else is what we look for
            unexpected.append(repr(err))
        else:
            if isinstance(result, dict) and str(result.get("value", "")).startswith("ek_"):
                outcomes["result"] += 1
            else:
                unexpected.append(f"odd result {result!r}")
        latencies.append(time.perf_counter() - start)

    # The variants take turns round by round, the first alternating (action first in even
    # rounds); the faults the simulator injects while the action runs are counted per block.
    watch, reference = Watch(watch_ws), Watch(watch_ws)
    wall = reference_wall = 0.0
    injected: Counter[str] = Counter()
    first: list[str] = []
    per_round = [scale.calls // scale.rounds] * scale.rounds
    per_round[-1] += scale.calls - sum(per_round)
    try:
        for r, calls in enumerate(per_round):
            order = ("action", "reference") if r % 2 == 0 else ("reference", "action")
            first.append(order[0])
            for variant in order:
                if variant == "reference":
                    reference.start()
                    try:
                        reference_wall += await _closed_loop(bare, calls, scale.concurrency)
                    finally:
                        await reference.stop()
                    continue
                stats_before = Counter((await sim.ask(op="stats"))["injected"])
                watch.start()
                try:
                    wall += await _closed_loop(one, calls, scale.concurrency)
                finally:
                    await watch.stop()
                injected.update(Counter((await sim.ask(op="stats"))["injected"]) - stats_before)
    finally:
        await sim.ask(op="fault_rate", path=PATH, rates=None)

    # Back to rest: give closing sockets a moment, then compare.
    after = resources()
    for _ in range(30):
        await settle(hass, 0.1)
        gc.collect()
        after = resources()
        if all(after[k] <= before[k] for k in before):
            break
    await watch_ws.close()

    errors: list[str] = []
    errors += [f"call ended in {u}" for u in unexpected[:5]]
    errors += [f"unclear error message {u}" for u in unclear[:5]]
    if sum(outcomes.values()) != scale.calls:
        errors.append(f"{sum(outcomes.values())} outcomes for {scale.calls} calls")
    for kind, key in EXPECTED.items():
        if injected[kind] != outcomes[f"error:{key}"]:
            errors.append(
                f"{injected[kind]} injected {kind} but {outcomes[f'error:{key}']} {key} errors"
            )
    other = {k: v for k, v in outcomes.items() if k != "result" and k[6:] not in EXPECTED.values()}
    if other:
        errors.append(f"errors the simulator did not inject: {other}")
    for key in before:
        if after[key] > before[key]:
            errors.append(f"leak: {key} {before[key]} before, {after[key]} after")
    return {
        "calls": scale.calls,
        "concurrency": scale.concurrency,
        "rounds": scale.rounds,
        "first_per_round": first,
        "faults": FAULTS,
        "simulator": "separate process",
        "injected": {k: v for k, v in injected.items() if v},
        "outcomes": dict(outcomes),
        "unexpected": len(unexpected),
        "calls_per_s": scale.calls / wall,
        "latency": summary_ms(latencies),
        **watch.summary(),
        "reference_bare_aiohttp": {
            "calls_per_s": scale.calls / reference_wall,
            **reference.summary(),
        },
        "resources_before": before,
        "resources_after": after,
        "errors": errors,
    }
