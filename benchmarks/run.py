"""`scripts/run python -m benchmarks.run [--scale smoke|full]`: every benchmark, one table.

Home Assistant (with this integration) and the comparison clients run in this process against
the Realtime simulator on loopback (in this process, or in a process of its own for the client
secrets and the load), in the same run, so the figures that matter are differences and ratios
between variants measured side by side, and CPU time beside wall time.

Exit status: 0 when everything ran; 1 on a real error (an exception, a leak, a call that ended
in something other than a result or a HomeAssistantError, a broken rule in the soak). A missed
timing target is reported as MISS and never fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import cProfile
import datetime as dt
import json
import logging
import os
from pathlib import Path
import platform
import pstats
import resource
import sys
import time
import traceback
from typing import Any

# Home Assistant first: it installs probatio as `voluptuous` before anything imports it.
from homeassistant import runner
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.util.resource import set_open_file_descriptor_limit

from simulator import RealtimeSimulator

from . import (
    bench_footprint,
    bench_load,
    bench_phone,
    bench_pipeline,
    bench_relay,
    bench_secrets,
    bench_speech,
    bench_tools,
    soak,
)
from .harness import API_KEY, Bench, home_assistant, prepare, remote_simulator, start_client
from .peer import cancel_media_stragglers
from .report import render, targets

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = (
    "imports",
    "setup",
    "secrets",
    "relay",
    "tools",
    "phone",
    "pipeline",
    "speech",
    "memory",
    "load",
    "soak",
)


def scales() -> dict[str, dict[str, Any]]:
    """The counts of each scale."""
    return {
        "smoke": {
            "secrets": bench_secrets.SecretsScale(
                warmup=10, sequential=60, concurrent={10: (3, 60), 100: (3, 200)}
            ),
            "relay": 3,
            "tools": 8,
            "phone": bench_phone.PhoneScale(pairs=3, warmup=1, verify_blocks=10, verify_block=100),
            "pipeline": bench_pipeline.PipelineScale(rounds=2, warmup=0),
            "speech": bench_speech.SpeechScale(rounds=3, warmup=1),
            "imports": 1,
            "reloads": 2,
            "sessions": 20,
            "load": bench_load.LoadScale(calls=300, concurrency=100, rounds=2),
            "soak": soak.SoakScale(steps=300, media_calls=2, check_every=100),
        },
        "full": {
            "secrets": bench_secrets.SecretsScale(
                warmup=100, sequential=1500, concurrent={10: (9, 300), 100: (9, 1000)}
            ),
            "relay": 25,
            "tools": 60,
            "phone": bench_phone.PhoneScale(
                pairs=60, warmup=3, verify_blocks=200, verify_block=200
            ),
            "pipeline": bench_pipeline.PipelineScale(rounds=20, warmup=2),
            "speech": bench_speech.SpeechScale(rounds=40, warmup=2),
            "imports": 7,
            "reloads": 10,
            "sessions": 100,
            "load": bench_load.LoadScale(calls=1000, concurrency=100, rounds=2),
            "soak": soak.SoakScale(steps=3000, media_calls=12, check_every=250),
        },
    }


class Runner:
    """Runs the sections, keeps their results, and remembers what went wrong."""

    def __init__(self, only: set[str] | None, profile: str | None) -> None:
        self.results: dict[str, Any] = {}
        self.errors: list[str] = []
        self.only = only
        self.profile = profile

    def wanted(self, name: str) -> bool:
        """Whether a section runs this time."""
        return self.only is None or name in self.only

    async def section(self, name: str, coro: Callable[[], Awaitable[Any]]) -> None:
        """Run one section; an exception is recorded, and the other sections still run."""
        if not self.wanted(name):
            return
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        profiler = cProfile.Profile() if self.profile == name else None
        try:
            if profiler is not None:
                profiler.enable()
            result = await coro()
        except Exception as err:  # every failure is reported, then the run fails
            self.errors.append(f"{name}: {err.__class__.__name__}: {err}")
            traceback.print_exc()
            return
        finally:
            if profiler is not None:
                profiler.disable()
                path = RESULTS / f"profile-{name}.prof"
                profiler.dump_stats(path)
                stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
                stats.print_stats(40)
                print(f"profile written to {path}", file=sys.stderr)
        for problem in result.pop("errors", []) if isinstance(result, dict) else []:
            self.errors.append(f"{name}: {problem}")
        self.results[name] = result
        print(f"   {name} done in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def _busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine and this process (with its children) have been busy."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "home_assistant": HA_VERSION,
        "loadavg_start": [round(x, 2) for x in load],
    }


async def main(args: argparse.Namespace) -> int:
    """Run everything; return the exit status."""
    scale = scales()[args.scale]
    if args.seed is not None:
        scale["soak"].seed = args.seed
    run = Runner(set(args.only) if args.only else None, args.profile)
    info = machine()
    started = time.perf_counter()
    busy_start, mine_start = _busy_seconds()

    await run.section("imports", lambda: bench_footprint.import_time(scale["imports"]))
    async with RealtimeSimulator(api_key=API_KEY) as sim, home_assistant() as hass:
        entry = await prepare(hass, sim)
        await run.section(
            "setup", lambda: bench_footprint.setup_time(hass, sim, entry, scale["reloads"])
        )
        if entry.state is not ConfigEntryState.LOADED:
            # The setup section was left out (--only) or failed: the others need the entry.
            await hass.config_entries.async_setup(entry.entry_id)
            if entry.state is not ConfigEntryState.LOADED:
                raise RuntimeError(f"the entry did not load: {entry.state}")
        client = await start_client(hass)
        try:
            bench = await Bench.create(hass, sim, entry, client)
            async with contextlib.AsyncExitStack() as stack:
                # The simulator in its own process, for the client-secret and load sections.
                remote = (
                    await stack.enter_async_context(remote_simulator(hass))
                    if run.wanted("secrets") or run.wanted("load")
                    else None
                )
                await run.section(
                    "secrets", lambda: bench_secrets.run(bench, remote, scale["secrets"])
                )
                await run.section("relay", lambda: bench_relay.run(bench, scale["relay"]))
                await run.section("tools", lambda: bench_tools.run(bench, scale["tools"]))
                await run.section("phone", lambda: bench_phone.run(bench, scale["phone"]))
                await run.section("pipeline", lambda: bench_pipeline.run(bench, scale["pipeline"]))
                await run.section("speech", lambda: bench_speech.run(bench, scale["speech"]))
                await run.section(
                    "memory", lambda: bench_footprint.session_memory(bench, scale["sessions"])
                )
                await run.section("load", lambda: bench_load.run(bench, remote, scale["load"]))
            await run.section("soak", lambda: soak.run(bench, scale["soak"]))
            await bench.close()
        finally:
            await client.close()
    info["webrtc_tasks_cancelled"] = await cancel_media_stragglers()
    await asyncio.sleep(0.1)
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if left:
        run.errors.append(f"tasks left after Home Assistant stopped: {left[:5]}")

    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    info["seconds"] = round(time.perf_counter() - started, 1)
    busy_end, mine_end = _busy_seconds()
    # What else ran meanwhile: the machine's busy CPU time minus this run's, per second.
    info["other_load_cores"] = round(
        max(0.0, (busy_end - busy_start) - (mine_end - mine_start)) / info["seconds"], 2
    )
    info["this_run_cores"] = round((mine_end - mine_start) / info["seconds"], 2)
    checked = targets(run.results)
    document = {
        "scale": args.scale,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "targets": checked,
        "errors": run.errors,
        "results": run.results,
    }
    print(render(document))
    RESULTS.mkdir(exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / "latest.json"
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nresults written to {out}")
    if run.errors:
        print("\nERRORS:\n  " + "\n  ".join(run.errors))
        return 1
    return 0


def cli() -> None:
    """Parse the arguments and run on Home Assistant's event loop."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--scale",
        choices=("smoke", "full"),
        default=os.environ.get("BENCH_SCALE", "full"),
        help="smoke: small counts for CI (about 45 s); full: the figures for the README",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        help="run only these sections",
    )
    parser.add_argument(
        "--profile",
        choices=SECTIONS[1:],
        help="run this section under cProfile and print the top functions",
    )
    parser.add_argument("--out", help="where to write the JSON (default results/latest.json)")
    parser.add_argument(
        "--seed", type=int, help="the soak's seed (default: the scale's, so runs repeat)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Noise of HA's test setup, not of this integration: no ffmpeg binary, no fast zlib.
    for name in ("haffmpeg", "aiohttp_fast_zlib"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    set_open_file_descriptor_limit()
    sys.exit(asyncio.run(main(args), loop_factory=runner.create_event_loop))


if __name__ == "__main__":
    cli()
