"""1. Client-secret minting: the HA action vs a bare aiohttp POST vs the official openai SDK.

All three send the same body to the same simulator, which runs in a process of its own
(benchmarks/sim_server.py): its request handling and validation do not share the event loop
with HA, so the loop carries only HA and the clients measured. The bare POST uses HA's shared
aiohttp session (the one the integration uses), so the difference to the action is exactly
what the integration and HA's service layer add: the action's schema, our payload validation,
the client's request/response handling, the response mapping and the event. Besides the wall
time, the event loop thread's CPU time per call is measured (`time.thread_time`): what a call
costs HA whatever else the machine runs.

Sequentially the variants take turns call by call (in a new random order each time, and with
the loop drained between calls), so each action call has
a bare and an SDK call right beside it in time; the overhead is the median of those paired
differences. A fourth variant joins there: the integration's own API client called directly
(`OpenAIClient.create_client_secret`, no HA service layer), which splits the overhead between
the client and the action around it. Under concurrency each variant runs a closed loop of N workers for a block of
calls, and blocks of the three variants alternate round by round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import gc
import random
import statistics
import time
from typing import Any

from homeassistant.core import Event, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service import async_register_admin_service
from openai import AsyncOpenAI

from custom_components.openai_api.action_helpers import ACTION_SCHEMA, validated
from custom_components.openai_api.const import (
    ATTR_CONFIG_ENTRY_ID,
    DOMAIN,
    EVENT_CLIENT_SECRET,
    SERVICE_CREATE_CLIENT_SECRET,
)
from custom_components.openai_api.schema.contract import validate_client_secret_request

from .harness import API_KEY, Bench, Remote
from .stats import median_of_differences, summary_ms

# The README's example body.
PAYLOAD: dict[str, Any] = {
    "expires_after": {"anchor": "created_at", "seconds": 600},
    "session": {
        "type": "realtime",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "Speak clearly and keep responses concise.",
        "audio": {"output": {"voice": "marin"}},
    },
}
VARIANTS = ("ha_action", "aiohttp", "openai_sdk")  # compared at every concurrency


@dataclass
class SecretsScale:
    """How many calls: sequential pairs, and rounds x block size per concurrency level."""

    warmup: int
    sequential: int
    concurrent: dict[int, tuple[int, int]]  # concurrency -> (rounds, calls per block)


def make_variants(
    bench: Bench, remote: Remote, sdk: AsyncOpenAI
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """The ways to mint a secret; each returns the secret's value."""
    hass = bench.hass
    session = async_get_clientsession(hass)
    url = f"{remote.base_url}/realtime/client_secrets"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    client = remote.entry.runtime_data.client
    # Two accounts are loaded (the benchmarks' own and the one on the simulator process), so
    # the action names its account, as it must whenever there is more than one.
    action_data = {**PAYLOAD, ATTR_CONFIG_ENTRY_ID: remote.entry.entry_id}

    async def ha_action() -> str:
        response = await hass.services.async_call(
            DOMAIN, SERVICE_CREATE_CLIENT_SECRET, action_data, blocking=True, return_response=True
        )
        assert response is not None
        return str(response["value"])

    async def bare() -> str:
        async with session.post(url, json=PAYLOAD, headers=headers) as resp:
            resp.raise_for_status()
            body = await resp.json()
        return str(body["value"])

    async def openai_sdk() -> str:
        secret = await sdk.realtime.client_secrets.create(**PAYLOAD)
        return secret.value

    async def api_client() -> str:
        return str((await client.create_client_secret(PAYLOAD))["value"])

    return {
        "ha_action": ha_action,
        "aiohttp": bare,
        "openai_sdk": openai_sdk,
        "api_client": api_client,
    }


def rotated(names: tuple[str, ...], i: int) -> tuple[str, ...]:
    """`names` starting at the i-th (so no variant always goes first)."""
    i %= len(names)
    return names[i:] + names[:i]


async def closed_loop(
    call: Callable[[], Awaitable[Any]], n: int, concurrency: int
) -> tuple[list[float], float, float]:
    """`n` calls by `concurrency` workers back to back; latencies, wall time, loop CPU time."""
    latencies: list[float] = []
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            value = await call()
            latencies.append(time.perf_counter() - start)
            assert value.startswith("ek_"), value

    start, cpu = time.perf_counter(), time.thread_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start, time.thread_time() - cpu


async def forget(remote: Remote) -> None:
    """Drop what the simulator keeps of every request and secret (outside the timed part).

    It records everything for the tests; tens of thousands of records make each of its full
    garbage collections slower, and those pauses land on whichever call is in flight. This
    process collects too, for the responses and events the calls left behind.
    """
    await remote.sim.ask(op="forget")
    gc.collect()


async def _service_floor(bench: Bench, rounds: int) -> float:
    """Microseconds per call of a no-op action registered the way ours is."""
    hass = bench.hass

    async def noop(_call: ServiceCall) -> ServiceResponse:
        return {}

    async_register_admin_service(
        hass,
        "openai_api_bench",
        "noop",
        noop,
        schema=ACTION_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    try:
        for _ in range(100):
            await hass.services.async_call(
                "openai_api_bench", "noop", PAYLOAD, blocking=True, return_response=True
            )
        start = time.perf_counter()
        for _ in range(rounds):
            await hass.services.async_call(
                "openai_api_bench", "noop", PAYLOAD, blocking=True, return_response=True
            )
        return (time.perf_counter() - start) / rounds * 1e6
    finally:
        hass.services.async_remove("openai_api_bench", "noop")


async def run(bench: Bench, remote: Remote, scale: SecretsScale) -> dict[str, Any]:
    """Run the comparison; return the results by concurrency and variant."""
    events = 0

    @callback
    def _count(_event: Event) -> None:
        nonlocal events
        events += 1

    unlisten = bench.hass.bus.async_listen(EVENT_CLIENT_SECRET, _count)
    sdk = AsyncOpenAI(api_key=API_KEY, base_url=remote.base_url)
    try:
        variants = make_variants(bench, remote, sdk)
        top = max(scale.concurrent, default=1)
        # Warm up: code paths, caches, and connection pools filled to the largest concurrency.
        for fn in variants.values():
            await closed_loop(fn, scale.warmup, 1)
            await closed_loop(fn, top * 2, top)
        action_calls = scale.warmup + 2 * top
        await forget(remote)
        results: dict[str, Any] = {}

        # Sequential, call by call, the order rotating; our API client alone joins here, to
        # split the overhead between the integration's client and HA's service layer.
        names = (*VARIANTS, "api_client")
        seq: dict[str, list[float]] = {name: [] for name in names}
        seq_cpu: dict[str, list[float]] = {name: [] for name in names}
        order = list(names)
        rng = random.Random(6)
        for i in range(scale.sequential):
            rng.shuffle(order)  # no variant always follows the same one
            for name in order:
                start, cpu = time.perf_counter(), time.thread_time()
                value = await variants[name]()
                seq[name].append(time.perf_counter() - start)
                seq_cpu[name].append(time.thread_time() - cpu)
                assert value.startswith("ek_")
                # Callbacks a call left behind (event listeners, closing the response) run
                # here, untimed, instead of inside the next variant's call.
                for _ in range(3):
                    await asyncio.sleep(0)
            if i % 500 == 499:
                await forget(remote)
        action_calls += scale.sequential
        results["1"] = {
            name: {
                **summary_ms(seq[name]),
                "calls_per_s": len(seq[name]) / sum(seq[name]),
                "cpu_us_per_call": statistics.median(seq_cpu[name]) * 1e6,
            }
            for name in names
        }
        results["1"]["overhead_us"] = {
            "ha_vs_aiohttp_paired_median": median_of_differences(seq["ha_action"], seq["aiohttp"])
            * 1e6,
            "ha_vs_aiohttp_median_diff": (
                statistics.median(seq["ha_action"]) - statistics.median(seq["aiohttp"])
            )
            * 1e6,
            "api_client_vs_aiohttp_paired_median": median_of_differences(
                seq["api_client"], seq["aiohttp"]
            )
            * 1e6,
            "ha_vs_api_client_paired_median": median_of_differences(
                seq["ha_action"], seq["api_client"]
            )
            * 1e6,
            "sdk_vs_aiohttp_paired_median": median_of_differences(seq["openai_sdk"], seq["aiohttp"])
            * 1e6,
            # The loop thread's CPU time, paired the same way: what the action costs HA,
            # whether or not the machine is busy.
            "ha_vs_aiohttp_cpu_paired_median": median_of_differences(
                seq_cpu["ha_action"], seq_cpu["aiohttp"]
            )
            * 1e6,
        }

        # Concurrent: closed loops, variant blocks alternating round by round.
        for concurrency, (rounds, block) in scale.concurrent.items():
            lat: dict[str, list[float]] = {name: [] for name in VARIANTS}
            wall: dict[str, float] = dict.fromkeys(VARIANTS, 0.0)
            cpu: dict[str, float] = dict.fromkeys(VARIANTS, 0.0)
            for r in range(rounds):
                for name in rotated(VARIANTS, r):
                    got, seconds, cpu_seconds = await closed_loop(
                        variants[name], block, concurrency
                    )
                    lat[name] += got
                    wall[name] += seconds
                    cpu[name] += cpu_seconds
                    await forget(remote)
            action_calls += rounds * block
            level: dict[str, Any] = {
                name: {
                    **summary_ms(lat[name]),
                    "calls_per_s": len(lat[name]) / wall[name],
                    "cpu_us_per_call": cpu[name] / len(lat[name]) * 1e6,
                }
                for name in VARIANTS
            }
            level["overhead_us"] = {
                "ha_vs_aiohttp_median_diff": (
                    statistics.median(lat["ha_action"]) - statistics.median(lat["aiohttp"])
                )
                * 1e6,
                # CPU-bound under load: the extra time each call costs the loop.
                "ha_vs_aiohttp_per_call_throughput": (
                    1 / level["ha_action"]["calls_per_s"] - 1 / level["aiohttp"]["calls_per_s"]
                )
                * 1e6,
                # The same from the loop thread's CPU time: not capped by how fast the
                # simulator process answers, nor stretched by other processes.
                "ha_vs_aiohttp_cpu_per_call": level["ha_action"]["cpu_us_per_call"]
                - level["aiohttp"]["cpu_us_per_call"],
            }
            results[str(concurrency)] = level

        # Pieces of the overhead: our validation of the payload, and HA's service layer alone
        # (a no-op action registered exactly like ours: admin wrapper, schema, response).
        rounds = 2000
        start = time.perf_counter()
        for _ in range(rounds):
            validated(validate_client_secret_request, PAYLOAD)
        results["payload_validation_us"] = (time.perf_counter() - start) / rounds * 1e6
        results["ha_service_layer_us"] = await _service_floor(bench, rounds)
        await bench.hass.async_block_till_done()
        results["events_fired"] = events
        results["action_calls"] = action_calls
        if events != action_calls:
            raise AssertionError(f"{events} events for {action_calls} action calls")
        return results
    finally:
        unlisten()
        await sdk.close()
