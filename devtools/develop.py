"""`scripts/develop`: start Home Assistant with this integration on http://127.0.0.1:8123.

With OPENAI_API_KEY set, the account entry is created against OpenAI (or OPENAI_BASE_URL).
Without it, the local Realtime simulator starts on 127.0.0.1:8199 and the entry points there,
so the whole integration works with no key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
import signal

from devtools import ha_instance
from simulator import RealtimeSimulator

SIMULATOR_KEY = "sk-simulator-dev-key"


async def main() -> None:
    """Start everything and wait for Ctrl+C."""
    port = int(os.environ.get("HA_PORT", "8123"))
    config_dir = Path(os.environ.get("HA_CONFIG", ha_instance.REPO / ".dev" / "config"))
    api_key = os.environ.get("OPENAI_API_KEY")
    simulator: RealtimeSimulator | None = None
    if api_key:
        base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
    else:
        simulator = RealtimeSimulator(api_key=SIMULATOR_KEY)
        await simulator.start(host="127.0.0.1", port=int(os.environ.get("SIMULATOR_PORT", "8199")))
        api_key, base_url = SIMULATOR_KEY, simulator.base_url

    ha = await ha_instance.start(config_dir, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await ha_instance.onboard(ha)
        await ha_instance.ensure_entry(ha, api_key, base_url)
        print(ha_instance.banner(ha, base_url, simulated=simulator is not None), flush=True)
        waiter = asyncio.ensure_future(ha.process.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()
    finally:
        await ha.stop()
        if simulator is not None:
            with contextlib.suppress(Exception):
                await simulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
