"""Shared pieces of the simulator's own tests: an HTTP client, a sideband, spec conformance."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
from typing import Any

import aiohttp

from simulator import RealtimeSimulator, SimCall
from simulator.spec import schema, server_events, validator


def headers(sim: RealtimeSimulator) -> dict[str, str]:
    """The standard key's auth header."""
    return {"Authorization": f"Bearer {sim.api_key}"}


@contextlib.asynccontextmanager
async def sideband(sim: RealtimeSimulator, call: SimCall) -> AsyncIterator[Sideband]:
    """A server-side WebSocket on a call, as HA opens it."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{sim.base_url.replace('http', 'ws')}/realtime?call_id={call.call_id}",
            headers=headers(sim),
        ) as ws,
    ):
        yield Sideband(ws)


class Sideband:
    """Send client events, read server events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []

    async def send(self, event: Any) -> None:
        await self.ws.send_str(event if isinstance(event, str) else json.dumps(event))

    async def next(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next server event of a type (events before it are kept in `events`)."""
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads((await self.ws.receive()).data)
                self.events.append(event)
                if event["type"] == kind:
                    return event

    async def error(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next `error` event's error."""
        return (await self.next("error", timeout))["error"]  # type: ignore[no-any-return]


def conformance_errors(event: dict[str, Any]) -> list[str]:
    """How a server event departs from its schema in the spec (empty: it conforms).

    A null in an optional field stands for "not set": the API's own examples send
    `"status_details": null`, `"usage": null`, `"include": null` where the schema has no null.
    """
    name = server_events().get(event.get("type", ""))
    if name is None:
        return [f"no server event {event.get('type')!r} in the spec"]
    return [
        f"{event['type']}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(name).iter_errors(_without_optional_nulls(event, schema(name)))
    ]


def _without_optional_nulls(value: Any, node: dict[str, Any]) -> Any:
    """Drop null members the schema does not require (recursively, through refs/anyOf)."""
    if isinstance(value, list):
        items = _resolve(node).get("items", {})
        return [_without_optional_nulls(v, items) for v in value]
    if not isinstance(value, dict):
        return value
    node = _object_schema(node, value)
    required = set(node.get("required", ()))
    properties = node.get("properties", {})
    return {
        key: _without_optional_nulls(v, properties.get(key, {}))
        for key, v in value.items()
        if v is not None or key in required
    }


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema(node["$ref"].rsplit("/", 1)[-1])
    return node


def _object_schema(node: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """The branch of a union that describes this object (by its `type`/`role`, else the first)."""
    node = _resolve(node)
    branches = [_resolve(b) for b in node.get("anyOf", ())]
    candidates = [b for b in branches if "properties" in b] or [node]
    for branch in candidates:
        fixed = {
            k: p.get("enum", [p.get("const")])
            for k, p in branch.get("properties", {}).items()
            if "const" in p or len(p.get("enum", ())) == 1
        }
        if all(value.get(k) in allowed for k, allowed in fixed.items() if k in value):
            return branch
    return candidates[0]
