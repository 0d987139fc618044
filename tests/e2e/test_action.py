"""The action `openai_api.create_realtime_client_secret` against a real Home Assistant.

Called the way an app or a script outside HA calls it, over HA's REST and websocket APIs with
the response requested; the Realtime simulator stands in for OpenAI and records what it got.
With HA_RELEASE=newest (scripts/lib/env.sh) this runs against the newest HA release.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from .harness import API_KEY, CHROMIUM, Harness

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: the end-to-end world starts Chromium"
)

ACTION = "create_realtime_client_secret"
PATH = "/realtime/client_secrets"
REQUEST: dict[str, Any] = {
    "expires_after": {"anchor": "created_at", "seconds": 120},
    "session": {
        "type": "realtime",
        "model": "gpt-realtime-1.5",
        "output_modalities": ["audio"],
        "instructions": "Speak clearly and keep responses concise.",
        "audio": {"output": {"voice": "marin", "speed": 1.2}},
        "max_output_tokens": 512,
    },
}


async def rest_call(w: Harness, data: dict[str, Any]) -> tuple[int, Any]:
    """POST /api/services/openai_api/<action>?return_response; the status and the JSON body."""
    async with w.http.post(
        f"{w.url}/api/services/openai_api/{ACTION}?return_response",
        headers={"Authorization": f"Bearer {w.ha.token}"},
        json=data,
    ) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def ws_call(w: Harness, data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`call_service` with return_response over the websocket API, listening for the event.

    Returns the reply to the call and the events `openai_api_realtime_client_secret` that came
    before it or within a second after it.
    """
    async with w.http.ws_connect(f"{w.url}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": w.ha.token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json(
            {"id": 1, "type": "subscribe_events", "event_type": "openai_api_realtime_client_secret"}
        )
        assert (await ws.receive_json())["success"]
        await ws.send_json(
            {
                "id": 2,
                "type": "call_service",
                "domain": "openai_api",
                "service": ACTION,
                "service_data": data,
                "return_response": True,
            }
        )
        reply: dict[str, Any] | None = None
        events: list[dict[str, Any]] = []
        deadline = None
        while deadline is None or time.monotonic() < deadline:
            try:
                msg = await ws.receive_json(timeout=1 if reply else 20)
            except TimeoutError:
                break
            if msg["id"] == 1:
                events.append(msg["event"])
            elif msg["id"] == 2:
                reply = msg
                deadline = time.monotonic() + 1
        assert reply is not None
        return reply, events


def check_secret(response: dict[str, Any], sent_at: float) -> None:
    """The response has the fields the README promises, from what the request asked."""
    assert set(response) == {"value", "expires_at", "session"}
    assert response["value"].startswith("ek_")
    assert sent_at + 120 - 5 <= response["expires_at"] <= time.time() + 120 + 5
    session = response["session"]
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime-1.5"
    assert session["instructions"] == REQUEST["session"]["instructions"]
    assert session["audio"]["output"]["voice"] == "marin"


def test_rest_returns_the_secret_and_sends_exactly_the_request(world: Harness) -> None:
    async def scenario() -> None:
        sent_at = time.time()
        status, body = await rest_call(world, REQUEST)
        assert status == 200, body
        response = body["service_response"]
        check_secret(response, sent_at)
        received = world.sim.requests_to(PATH)
        assert len(received) == 1
        assert received[0].method == "POST"
        assert received[0].json() == REQUEST  # nothing added, nothing left out
        assert received[0].headers["Authorization"] == f"Bearer {API_KEY}"
        # The secret handed back is the one "OpenAI" minted, and it starts a session there.
        assert world.sim.client_secrets[response["value"]].session == response["session"]

    world.run(scenario())


def test_websocket_returns_the_secret_and_fires_the_event(world: Harness) -> None:
    async def scenario() -> None:
        entries = await world.ws_command({"type": "config_entries/get", "domain": "openai_api"})
        sent_at = time.time()
        reply, events = await ws_call(world, REQUEST)
        assert reply["success"], reply
        response = reply["result"]["response"]
        check_secret(response, sent_at)
        assert len(events) == 1
        assert events[0]["data"] == {**response, "config_entry_id": entries[0]["entry_id"]}
        # The event is fired in the caller's context, as the README says.
        assert events[0]["context"]["id"] == reply["result"]["context"]["id"]
        assert [r.json() for r in world.sim.requests_to(PATH)] == [REQUEST]

    world.run(scenario())


def test_invalid_request_names_the_field_and_sends_nothing(world: Harness) -> None:
    bad = {"session": {**REQUEST["session"], "audio": {"output": {"speed": 2.0}}}}

    async def scenario() -> None:
        status, _ = await rest_call(world, bad)
        assert status == 400
        reply, events = await ws_call(world, bad)
        assert not reply["success"]
        assert "session.audio.output.speed" in reply["error"]["message"]
        assert events == []
        assert world.sim.requests_to(PATH) == []

    world.run(scenario())
