"""`scripts/develop`: start Home Assistant with this integration on http://127.0.0.1:8123.

With OPENAI_API_KEY set, the account entry is created against OpenAI (or OPENAI_BASE_URL).
Without it, the local Realtime simulator starts on 127.0.0.1:8199 and the entry points there,
so the whole integration works with no key. HA_RELEASE=newest (see scripts/lib/env.sh) runs the
newest Home Assistant release instead of the pinned one, in its own config folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import signal

from devtools import ha_instance
from simulator import RealtimeSimulator

SIMULATOR_KEY = "sk-simulator-dev-key"


@dataclass
class DevInstance:
    """What `start` brought up."""

    ha: ha_instance.HomeAssistantProcess
    base_url: str
    simulator: RealtimeSimulator | None


def default_config_dir() -> Path:
    """`.dev/config`, or `.dev/config-newest` for another HA release.

    A release cannot read the storage a newer one wrote, so the releases keep apart.
    """
    name = "config-newest" if os.environ.get("HA_PYTHON") else "config"
    return ha_instance.REPO / ".dev" / name


@contextlib.asynccontextmanager
async def start(
    config_dir: Path,
    port: int,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    simulator_port: int = 0,
    log: Path | None = None,
) -> AsyncIterator[DevInstance]:
    """Start the dev instance (simulator unless `api_key`, HA, onboarding, the account entry)."""
    simulator: RealtimeSimulator | None = None
    ha: ha_instance.HomeAssistantProcess | None = None
    try:
        if api_key:
            base_url = base_url or "https://api.openai.com/v1"
        else:
            simulator = RealtimeSimulator(api_key=SIMULATOR_KEY)
            await simulator.start(host="127.0.0.1", port=simulator_port)
            api_key, base_url = SIMULATOR_KEY, simulator.base_url
        ha = await ha_instance.start(config_dir, port, log=log)
        await ha_instance.onboard(ha)
        await ha_instance.ensure_entry(ha, api_key, base_url)
        yield DevInstance(ha, base_url, simulator)
    finally:
        if ha is not None:
            await ha.stop()
        if simulator is not None:
            with contextlib.suppress(Exception):
                await simulator.stop()


async def main() -> None:
    """Start everything and wait for Ctrl+C."""
    config_dir = Path(os.environ.get("HA_CONFIG") or default_config_dir())
    async with start(
        config_dir,
        int(os.environ.get("HA_PORT", "8123")),
        api_key=os.environ.get("OPENAI_API_KEY"),
        base_url=os.environ.get("OPENAI_BASE_URL"),
        simulator_port=int(os.environ.get("SIMULATOR_PORT", "8199")),
    ) as dev:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        version = await ha_instance.version(dev.ha)
        print(
            ha_instance.banner(
                dev.ha, dev.base_url, simulated=dev.simulator is not None, version=version
            ),
            flush=True,
        )
        waiter = asyncio.ensure_future(dev.ha.process.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
