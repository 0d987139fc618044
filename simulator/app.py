"""The simulator as a server: its aiohttp application and its lifecycle."""

from __future__ import annotations

from functools import cached_property
from typing import Self

from aiohttp import web

from .control import add_control_routes
from .middleware import api_middleware, decorate
from .routes import add_routes
from .state import API_PREFIX, SimulatorState


def build_app(state: SimulatorState) -> web.Application:
    """The aiohttp application serving a simulator's state."""
    app = web.Application(middlewares=[api_middleware(state)], client_max_size=4 * 1024 * 1024)
    app.on_response_prepare.append(decorate)
    add_routes(app, state)
    add_control_routes(app, state)
    return app


class RealtimeSimulator(SimulatorState):
    """A local OpenAI Realtime API: HTTP, WebRTC calls and the sideband WebSocket.

    `auto_turn` is what a caller's speech plays on calls with media (None: they do not listen).
    `key_header` or `key_query` make it take the key only in that header or query parameter,
    as a self-hosted gateway would (see `SimulatorState.accept_key_in`).
    """

    port = 0  # where it listens, once started
    _runner: web.AppRunner | None = None

    @cached_property
    def app(self) -> web.Application:
        """The aiohttp application serving this simulator (built once, when first used)."""
        return build_app(self)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen (port 0 picks a free port)."""
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """End every call and socket, then stop listening.

        Open sockets are closed first: the server would otherwise wait for their handlers
        (a client still holding a socket) before it stops.
        """
        for call in [*self.calls.values(), *self.sockets]:
            await call.end("simulator_stopped")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The API base URL, like https://api.openai.com/v1."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"
