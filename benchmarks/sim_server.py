"""The simulator in a process of its own, steered over stdin (client secrets and load).

In its own process the simulator's work does not run on Home Assistant's event loop, so the
time measured on that loop (latency, loop lag) is Home Assistant's and the clients' alone, and
the file descriptors counted are only HA's side of the connections.

Protocol, one JSON object per line: it prints `{"base_url": ...}` once listening; then for
`{"op": "fault_rate", "path": ..., "rates": {...} | null, "seed": n}` it answers `{"ok": true}`,
for `{"op": "stats"}` the faults injected so far by kind and the requests received, for
`{"op": "forget"}` it drops its record of requests and minted secrets (and collects garbage)
and answers `{"ok": true}`, and on `{"op": "quit"}` (or end of input) it stops.
"""

from __future__ import annotations

import asyncio
from collections import Counter
import gc
import json
import sys
from typing import Any

from simulator import RealtimeSimulator

# Generous: on a busy machine the other process may wait a while for a core.
START_TIMEOUT = 120.0
ANSWER_TIMEOUT = 120.0


async def serve(api_key: str) -> None:
    """Run until told to quit."""
    sim = RealtimeSimulator(api_key=api_key)
    injected: Counter[str] = Counter()
    original = sim.next_fault

    def counting(path: str) -> Any:
        fault = original(path)
        if fault is not None:
            injected[fault.kind] += 1
        return fault

    sim.next_fault = counting  # type: ignore[method-assign]
    await sim.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    say({"base_url": sim.base_url})
    try:
        while line := await reader.readline():
            command = json.loads(line)
            op = command.get("op")
            if op == "fault_rate":
                sim.fault_rate(command["path"], command["rates"], seed=command.get("seed", 0))
                say({"ok": True})
            elif op == "stats":
                say({"injected": dict(injected), "requests": len(sim.requests)})
            elif op == "forget":
                sim.requests.clear()
                sim.client_secrets.clear()
                gc.collect()
                say({"ok": True})
            elif op == "quit":
                break
            else:
                say({"error": f"unknown op {op!r}"})
    finally:
        await sim.stop()


class SimulatorProcess:
    """The parent's handle on a simulator process."""

    def __init__(self, proc: asyncio.subprocess.Process, base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url

    @classmethod
    async def start(cls, api_key: str) -> SimulatorProcess:
        """Start the process and wait until it listens."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.sim_server",
            api_key,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        if not line:
            raise RuntimeError("the simulator process did not start")
        return cls(proc, json.loads(line)["base_url"])

    async def ask(self, **command: Any) -> dict[str, Any]:
        """Send one command; return its answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        answer: dict[str, Any] = json.loads(
            await asyncio.wait_for(self.proc.stdout.readline(), ANSWER_TIMEOUT)
        )
        return answer

    async def stop(self) -> None:
        """Ask it to quit and wait for it."""
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"op": "quit"}\n')
            await self.proc.stdin.drain()
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
