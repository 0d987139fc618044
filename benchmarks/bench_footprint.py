"""4. Footprint: import time, entry setup time, memory per live sideband session."""

from __future__ import annotations

import asyncio
import gc
import json
import os
from pathlib import Path
import statistics
import sys
import time
import tracemalloc
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.setup import async_setup_component
import psutil
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api.const import DOMAIN
from simulator import RealtimeSimulator, SimCall

from .harness import API_KEY, SESSIONS_PER_PROFILE, Bench, attach_new_call, settle, until

REPO = Path(__file__).resolve().parents[1]
TRACE_DEPTH = 30  # frames kept per allocation: deep enough to reach the integration's frame
MANIFEST = json.loads((REPO / "custom_components" / DOMAIN / "manifest.json").read_text())

# --- import time ------------------------------------------------------------------------------

# What is always imported before HA loads any integration.
_CORE = "import homeassistant.core, homeassistant.helpers.config_validation, homeassistant.helpers.entity_platform"
_DEPS = "; ".join(f"import homeassistant.components.{d}" for d in MANIFEST["dependencies"])
_PROBE = """
import time
{prelude}
start = time.perf_counter()
import custom_components.openai_api
print(time.perf_counter() - start)
"""


async def _probe(prelude: str, importtime: bool) -> tuple[float, str]:
    args = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c"]
    proc = await asyncio.create_subprocess_exec(
        *args,
        _PROBE.format(prelude=prelude),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"import probe failed: {err.decode()[-2000:]}")
    return float(out.decode().strip().splitlines()[-1]), err.decode()


def _parse_importtime(text: str) -> tuple[float, list[tuple[str, float]]]:
    """Self time of our own modules (s), and what else the import pulled in (by package)."""
    rows: list[tuple[int, float, str]] = []  # (indent, self seconds, module)
    for line in text.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        try:
            self_us = float(parts[0])
        except ValueError:
            continue  # the header
        name = parts[2].rstrip()
        rows.append((len(name) - len(name.lstrip()), self_us / 1e6, name.strip()))
    # `-X importtime` prints a module after everything it imported, indented deeper: the
    # subtree of our import is the run of deeper lines right before its own line.
    end = max(i for i, row in enumerate(rows) if row[2] == "custom_components.openai_api")
    start = end
    while start > 0 and rows[start - 1][0] > rows[end][0]:
        start -= 1
    own = 0.0
    pulled: dict[str, float] = {}
    for _, seconds, module in rows[start : end + 1]:
        if module.startswith("custom_components"):
            own += seconds
            continue
        parts = module.split(".")
        key = ".".join(parts[:3]) if parts[0] == "homeassistant" else parts[0]
        pulled[key] = pulled.get(key, 0.0) + seconds
    return own, sorted(pulled.items(), key=lambda kv: kv[1], reverse=True)[:6]


async def import_time(runs: int) -> dict[str, Any]:
    """Import `custom_components.openai_api` in fresh interpreters (bytecode already cached).

    - core: with HA's core and helpers imported; the figure includes the HA components the
      package imports (conversation, assist_satellite, ...), which a real HA has usually
      imported already for other reasons.
    - deps: with the manifest's dependencies (http, websocket_api, conversation,
      assist_satellite) imported first, as they are when HA loads the integration.
    - own: the self time of our own modules alone, from `python -X importtime`.
    """
    await _probe(_CORE, False)  # compile and cache bytecode once
    core: list[float] = []
    deps: list[float] = []
    own: list[float] = []
    top: list[tuple[str, float]] = []
    for _ in range(runs):
        _, text = await _probe(_CORE, True)
        own_s, top = _parse_importtime(text)
        own.append(own_s)
        core.append((await _probe(_CORE, False))[0])
        deps.append((await _probe(f"{_CORE}; {_DEPS}", False))[0])
    return {
        "runs": runs,
        "method": "fresh subprocess per figure; perf_counter around `import custom_components.openai_api`",
        "with_ha_core_ms": statistics.median(core) * 1e3,
        "with_dependencies_ms": statistics.median(deps) * 1e3,
        "own_modules_self_ms": statistics.median(own) * 1e3,
        "pulled_in_self_ms": {name: round(s * 1e3, 1) for name, s in top},
    }


# --- setup time --------------------------------------------------------------------------------


async def setup_time(
    hass: HomeAssistant, sim: RealtimeSimulator, entry: MockConfigEntry, reloads: int
) -> dict[str, Any]:
    """First setup of the integration and its entry, then reloads; GET /models for reference.

    HA sets up an integration's dependencies before the integration; they are set up first and
    timed on their own so the first-setup figure is the integration's own.
    """
    start = time.perf_counter()
    for dep in MANIFEST["dependencies"]:
        assert await async_setup_component(hass, dep, {})
    deps = time.perf_counter() - start
    await hass.async_block_till_done()

    start = time.perf_counter()
    assert await hass.config_entries.async_setup(entry.entry_id)
    first = time.perf_counter() - start
    await settle(hass)
    if entry.state is not ConfigEntryState.LOADED:
        raise RuntimeError(f"entry state {entry.state}")

    warm: list[float] = []
    for _ in range(reloads):
        assert await hass.config_entries.async_unload(entry.entry_id)
        await settle(hass)
        start = time.perf_counter()
        assert await hass.config_entries.async_setup(entry.entry_id)
        warm.append(time.perf_counter() - start)
        await settle(hass)

    session = async_get_clientsession(hass)
    models: list[float] = []
    for _ in range(max(reloads, 5)):
        start = time.perf_counter()
        async with session.get(
            f"{sim.base_url}/models", headers={"Authorization": f"Bearer {API_KEY}"}
        ) as resp:
            await resp.read()
        models.append(time.perf_counter() - start)
    satellites = [
        e for e in er.async_get(hass).entities.values() if e.config_entry_id == entry.entry_id
    ]
    return {
        "dependencies_ms": deps * 1e3,
        "first_setup_ms": first * 1e3,
        "reload_setup_median_ms": statistics.median(warm) * 1e3 if warm else None,
        "get_models_median_ms": statistics.median(models) * 1e3,
        "satellites": len(satellites),
    }


# --- memory per session -------------------------------------------------------------------------


def _satellites(bench: Bench) -> list[str]:
    """Satellite entities of the memory benchmark's profiles (20 sessions each)."""
    reg = er.async_get(bench.hass)
    profiles = {
        sid for sid, sub in bench.entry.subentries.items() if sub.title.startswith("Bench ")
    }
    return sorted(
        e.entity_id
        for e in reg.entities.values()
        if e.config_entry_id == bench.entry.entry_id and e.config_subentry_id in profiles
    )


async def open_sessions(bench: Bench, n: int) -> list[SimCall]:
    """Attach HA's sideband to `n` media-less calls (the websocket `ephemeral`, then `attach`)."""
    satellites = _satellites(bench)
    if n > len(satellites) * SESSIONS_PER_PROFILE:
        raise ValueError(f"{n} sessions need more profiles")
    calls = [
        await attach_new_call(bench.ws, bench.sim, satellites[i // SESSIONS_PER_PROFILE])
        for i in range(n)
    ]
    manager = bench.entry.runtime_data.manager
    await until(
        lambda: (
            all(c.sidebands for c in calls)
            and sum(1 for c in manager.calls if c.sideband_connected) >= n
        ),
        step=0.01,
    )
    return calls


async def close_sessions(bench: Bench, calls: list[SimCall]) -> None:
    """Hang every session up through the websocket command; wait until both ends let go."""
    for call in calls:
        reply = await bench.ws.command(type="openai_api/realtime/hangup", call_id=call.call_id)
        if not (reply.get("success") and reply["result"]["ended"]):
            raise RuntimeError(f"hang-up failed: {reply}")
    manager = bench.entry.runtime_data.manager
    await until(lambda: not manager.calls and not any(c.sidebands for c in calls), step=0.01)
    await settle(bench.hass)


def _rss() -> int:
    return int(psutil.Process(os.getpid()).memory_info().rss)


OURS = f"{os.sep}custom_components{os.sep}openai_api{os.sep}"
SIMULATOR = f"{REPO}{os.sep}simulator{os.sep}"


def _by_origin(snapshot: tracemalloc.Snapshot) -> dict[str, int]:
    """Bytes by who made the allocation: any frame in the integration, else in the simulator."""
    out = {"total": 0, "integration": 0, "simulator": 0}
    for stat in snapshot.statistics("traceback"):  # identical stacks come grouped
        files = [frame.filename for frame in stat.traceback]
        out["total"] += stat.size
        if any(OURS in f for f in files):
            out["integration"] += stat.size
        elif any(f.startswith(SIMULATOR) for f in files):
            out["simulator"] += stat.size
    return out


def _top_sites(new: tracemalloc.Snapshot, old: tracemalloc.Snapshot) -> list[dict[str, Any]]:
    """Where in the integration the session's memory was asked for (innermost own frame)."""

    def sites(snapshot: tracemalloc.Snapshot) -> dict[str, int]:
        out: dict[str, int] = {}
        for stat in snapshot.statistics("traceback"):
            own = next((f for f in stat.traceback if OURS in f.filename), None)
            if own is not None:
                key = f"{own.filename.split(OURS)[-1]}:{own.lineno}"
                out[key] = out.get(key, 0) + stat.size
        return out

    after, before = sites(new), sites(old)
    diff = {k: v - before.get(k, 0) for k, v in after.items()}
    return [
        {"where": k, "kib": round(v / 1024, 1)}
        for k, v in sorted(diff.items(), key=lambda kv: kv[1], reverse=True)[:8]
    ]


async def session_memory(bench: Bench, n: int) -> dict[str, Any]:
    """Memory of `n` live sideband sessions.

    The calls are media-less simulator calls (`RealtimeSimulator.add_call`): HA never touches
    the media of a call, only its sideband, so what HA holds per session is the same as for a
    WebRTC call, without a DTLS/ICE stack per call in this process. HA attaches the card's
    ephemeral way (the websocket `ephemeral` command, which mints a client secret from the
    profile, then `attach`), so each session is a RealtimeCall with its sideband WebSocket, its
    loop task, its time-limit timer and its LLM API instance (the tools).

    Two passes: RSS first (the process as the OS sees it), then tracemalloc (Python
    allocations, split by where they were made: under the integration's code, under the
    simulator's, or elsewhere, such as socket buffers filled by the event loop).
    """
    hass = bench.hass
    tasks_before = len(asyncio.all_tasks())
    await close_sessions(bench, await open_sessions(bench, 5))  # warm code paths and caches

    gc.collect()
    rss0 = _rss()
    calls = await open_sessions(bench, n)
    await settle(hass)
    gc.collect()
    rss1 = _rss()
    await close_sessions(bench, calls)

    tracemalloc.start(TRACE_DEPTH)
    try:
        gc.collect()
        snap0 = tracemalloc.take_snapshot()
        calls = await open_sessions(bench, n)
        await settle(hass)
        gc.collect()
        snap1 = tracemalloc.take_snapshot()
        await close_sessions(bench, calls)
        gc.collect()
        snap2 = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()

    base, live, ended = _by_origin(snap0), _by_origin(snap1), _by_origin(snap2)
    total = live["total"] - base["total"]
    integration = live["integration"] - base["integration"]
    simulator = live["simulator"] - base["simulator"]
    after = ended["total"] - base["total"]
    after_integration = ended["integration"] - base["integration"]
    top = _top_sites(snap1, snap0)
    top_after = _top_sites(snap2, snap0)
    del snap0, snap1, snap2
    gc.collect()
    await settle(hass)
    errors = []
    if (leaked := len(asyncio.all_tasks()) - tasks_before) > 0:
        errors.append(f"{leaked} tasks left after hanging up every session")
    return {
        "sessions": n,
        "method": "media-less simulator calls, HA attached through the websocket `ephemeral` "
        "and `attach` commands",
        "rss_total_mib": (rss1 - rss0) / 2**20,
        "rss_per_session_kib": (rss1 - rss0) / n / 1024,
        "traced_total_mib": total / 2**20,
        "traced_per_session_kib": total / n / 1024,
        "traced_integration_per_session_kib": integration / n / 1024,
        "traced_simulator_per_session_kib": simulator / n / 1024,
        "traced_after_hangup_kib": after / 1024,
        "traced_after_hangup_integration_kib": after_integration / 1024,
        "top_integration_sites": top,
        "top_integration_sites_after_hangup": top_after,
        "errors": errors,
    }
