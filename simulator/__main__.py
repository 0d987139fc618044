"""`python -m simulator --port 8199 --api-key sk-...`: run the simulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from . import RealtimeSimulator


async def _main(args: argparse.Namespace) -> None:
    sim = RealtimeSimulator(api_key=args.api_key)
    await sim.start(host=args.host, port=args.port)
    print(f"base_url={sim.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--api-key", default="sk-simulator")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
