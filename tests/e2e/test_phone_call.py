"""A phone call into the house, end to end, against a real Home Assistant.

The simulator plays OpenAI's side: it rings HA's webhook with a signed
`realtime.call.incoming`, the "Answer phone calls" blueprint accepts the call with the voice
profile, a scripted caller asks to turn on the light, the light turns on, transcript events
fire, the satellite shows the call, an announcement is spoken into it, and the hang-up ends it
with nothing left running.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp

from simulator import Turn

from .harness import LIGHT, SATELLITE, Harness, until

SECRET = "whsec_" + base64.b64encode(b"the e2e phone call signing key!").decode()


async def _rest(w: Harness, method: str, path: str, body: Any = None) -> Any:
    async with w.http.request(
        method, f"{w.url}{path}", json=body, headers={"Authorization": f"Bearer {w.ha.token}"}
    ) as resp:
        resp.raise_for_status()
        return await resp.json()


async def _set_up_phone_calls(w: Harness) -> str:
    """Incoming calls on (options), a phone user for the profile's tools, the blueprint.

    Returns the webhook URL the options form showed.
    """
    [entry] = await _rest(w, "GET", "/api/config/config_entries/entry?domain=openai_api")
    entry_id = entry["entry_id"]
    # The options form shows the URL to give OpenAI: HA's external URL (here its own).
    await w.ws_command({"type": "config/core/update", "external_url": w.url})
    form = await _rest(w, "POST", "/api/config/config_entries/options/flow", {"handler": entry_id})
    url = form["description_placeholders"]["webhook_url"]
    assert url.startswith(f"{w.url}/api/webhook/")
    options = await _rest(
        w,
        "POST",
        f"/api/config/config_entries/options/flow/{form['flow_id']}",
        {"webhook_secret": SECRET},
    )
    assert options["type"] == "create_entry"
    user = await w.ws_command(
        {"type": "config/auth/create", "name": "Phone", "group_ids": ["system-users"]}
    )
    subentries = await w.ws_command(
        {"type": "config_entries/subentries/list", "entry_id": entry_id}
    )
    profile = next(s for s in subentries if s["title"] == "Voice assistant")
    current = await _rest(
        w,
        "POST",
        "/api/config/config_entries/subentries/flow",
        {"handler": [entry_id, "voice"], "subentry_id": profile["subentry_id"]},
    )
    data = {
        str(field["name"]): field["description"]["suggested_value"]
        for field in current["data_schema"]
        if (field.get("description") or {}).get("suggested_value") is not None
    }
    result = await _rest(
        w,
        "POST",
        f"/api/config/config_entries/subentries/flow/{current['flow_id']}",
        {**data, "phone_user": user["user"]["id"]},
    )
    assert result["type"] == "abort" and result["reason"] == "reconfigure_successful", result
    await until(lambda: w.state(SATELLITE), timeout=30)
    # The blueprint, as an automation (what its import dialog and the editor would save).
    await _rest(
        w,
        "POST",
        "/api/config/automation/config/answer_phone_calls",
        {
            "alias": "Answer phone calls",
            "use_blueprint": {
                "path": "openai_api/answer_phone_calls.yaml",
                "input": {"satellite": SATELLITE, "allowed_callers": ["+1 (415) 555-0123"]},
            },
        },
    )
    await until(lambda: w.state("automation.answer_phone_calls"), timeout=30)
    return str(url)


def test_phone_call_into_the_house(world: Harness) -> None:
    async def body() -> None:
        w = world
        webhook_url = await _set_up_phone_calls(w)
        await w.call_service("light", "turn_off", {"entity_id": LIGHT})
        events: list[dict[str, Any]] = []
        async with w.http.ws_connect(f"{w.url}/api/websocket") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": w.ha.token})
            await ws.receive_json()
            for number, event_type in enumerate(
                (
                    "openai_api_realtime_call_incoming",
                    "openai_api_realtime_call_accepted",
                    "openai_api_realtime_transcript",
                    "openai_api_realtime_call_hung_up",
                ),
                start=1,
            ):
                await ws.send_json(
                    {"id": number, "type": "subscribe_events", "event_type": event_type}
                )
                assert (await ws.receive_json())["success"]

            async def collect() -> None:
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT and msg.json().get("type") == "event":
                        events.append(msg.json()["event"])

            collector = asyncio.ensure_future(collect())
            try:
                call = await w.sim.ring(
                    webhook_url,
                    secret=SECRET,
                    caller="+14155550123",
                    caller_name="Ann",
                    pace=0,
                )
                assert call.webhook_status == 200
                await until(lambda: call.status == "live" and call.sidebands, timeout=30)
                accept = w.sim.requests_to(f"/realtime/calls/{call.call_id}/accept")[0].json()
                assert {t["name"] for t in accept["tools"]} >= {"intent__HassTurnOn"}

                async def shows_call() -> bool:
                    state = await w.state(SATELLITE)
                    return state is not None and state["attributes"]["call_ids"] == [call.call_id]

                await until(shows_call, timeout=15)

                await call.user_turn(Turn())  # "Turn on the test light"
                await w.wait_state(LIGHT, "on")
                await w.call_service(
                    "assist_satellite",
                    "announce",
                    {"entity_id": SATELLITE, "message": "Dinner is ready"},
                )
                assert any(
                    r.event["type"] == "response.create"
                    and "Dinner is ready" in json.dumps(r.event)
                    for r in call.received
                )
                await w.call_service(
                    "openai_api", "hangup_realtime_call", {"call_id": call.call_id}
                )
                await until(lambda: call.hung_up, timeout=15)

                async def no_call() -> bool:
                    state = await w.state(SATELLITE)
                    return state is not None and state["attributes"]["call_count"] == 0

                await until(no_call, timeout=15)
                await until(
                    lambda: any(
                        e["event_type"] == "openai_api_realtime_call_hung_up" for e in events
                    ),
                    timeout=10,
                )
            finally:
                collector.cancel()
        kinds = [e["event_type"] for e in events]
        assert kinds[0] == "openai_api_realtime_call_incoming"
        incoming = events[0]["data"]
        assert (incoming["call_id"], incoming["caller_number"], incoming["caller_name"]) == (
            call.call_id,
            "+14155550123",
            "Ann",
        )
        assert "openai_api_realtime_call_accepted" in kinds
        transcripts = [
            (e["data"]["role"], e["data"]["text"])
            for e in events
            if e["event_type"] == "openai_api_realtime_transcript"
        ]
        assert ("user", "Turn on the test light") in transcripts
        assert ("assistant", "The test light is on.") in transcripts
        # Nothing left running: the call is over at OpenAI and no sideband is open.
        assert all(c.hung_up for c in w.sim.calls.values())
        assert not call.sidebands

    world.run(body(), timeout=180)
