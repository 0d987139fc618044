"""A Realtime WebSocket that HA opens for itself (not a call's sideband)."""

from __future__ import annotations

import json
from typing import Any, Self

import aiohttp

from ..api import OpenAIClient, OpenAIConnectionError, OpenAIError, OpenAITimeoutError

RECEIVE_TIMEOUT = 30.0


class RealtimeEventError(OpenAIError):
    """The server answered a client event with an `error` event."""


class RealtimeSocket:
    """JSON events over one Realtime WebSocket; errors become `OpenAIError`s."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    @classmethod
    async def open(
        cls, client: OpenAIClient, *, heartbeat: float | None = 30.0, **query: str
    ) -> Self:
        """Connect with the account's key (`model=` for a conversation, `intent=`...)."""
        return cls(await client.connect_realtime(heartbeat=heartbeat, **query))

    @property
    def closed(self) -> bool:
        """Whether the socket is closed."""
        return self._ws.closed

    async def send(self, event: dict[str, Any]) -> None:
        """Send a client event."""
        try:
            await self._ws.send_str(json.dumps(event))
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as err:
            raise OpenAIConnectionError(f"The Realtime connection dropped: {err}") from err

    async def receive(
        self,
        timeout: float = RECEIVE_TIMEOUT,  # noqa: ASYNC109 - the WebSocket's own receive timeout
    ) -> dict[str, Any]:
        """Return the next server event; an `error` event raises."""
        while True:
            try:
                msg = await self._ws.receive(timeout=timeout)
            except TimeoutError as err:
                raise OpenAITimeoutError(f"No Realtime event within {timeout:g} s") from err
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                raise OpenAIConnectionError("The Realtime connection closed")
            if msg.type is aiohttp.WSMsgType.ERROR:
                raise OpenAIConnectionError("The Realtime connection failed")
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                event = json.loads(msg.data)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if event.get("type") == "error":
                error = event["error"] if isinstance(event.get("error"), dict) else {}
                raise RealtimeEventError(
                    str(error.get("message") or "Realtime error"),
                    param=error.get("param") if isinstance(error.get("param"), str) else None,
                    code=error.get("code") if isinstance(error.get("code"), str) else None,
                )
            return event

    async def close(self) -> None:
        """Close the socket (idempotent)."""
        await self._ws.close()
