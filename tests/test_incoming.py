"""Incoming phone calls: OpenAI's signed webhook, refused unless it is genuine and new."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.openai_api.const import (
    CONF_ALLOWED_CALLERS,
    CONF_ANSWER_CALLS,
    CONF_PHONE_USER,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_SECRET,
    EVENT_CALL_INCOMING,
)
from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE
from custom_components.openai_api.webhook_signature import sign
from simulator import RealtimeSimulator, SimCall

from .conftest import make_entry
from .voice_helpers import SATELLITE, until

SECRET = "whsec_" + base64.b64encode(b"incoming-calls-test-secret-0123").decode()
WEBHOOK_ID = "0123456789abcdef"
URL = f"/api/webhook/{WEBHOOK_ID}"
CALLER = '"Ann Example" <sip:+14155550123@pstn.example.net>;tag=8f2'
CALLEE = "<sip:+18005550000@sip.api.openai.com>"


def incoming(call_id: str, *, caller: str = CALLER, event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "realtime.call.incoming",
            "created_at": int(time.time()),
            "data": {
                "call_id": call_id,
                "sip_headers": [
                    {"name": "From", "value": caller},
                    {"name": "To", "value": CALLEE},
                    {"name": "Via", "value": "SIP/2.0/TLS a"},
                    {"name": "Via", "value": "SIP/2.0/TLS b"},
                ],
            },
        }
    ).encode()


def signed(
    body: bytes, *, delivery: str = "msg_1", age: int = 0, secret: str = SECRET
) -> dict[str, str]:
    ts = int(time.time()) - age
    return {
        "webhook-id": delivery,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(body, secret=secret, webhook_id=delivery, timestamp=ts),
        "content-type": "application/json",
    }


async def _setup(
    hass: HomeAssistant, simulator: RealtimeSimulator, **profile: Any
) -> MockConfigEntry:
    entry = make_entry(simulator, profiles={"Voice assistant": {**DEFAULT_PROFILE, **profile}})
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={CONF_WEBHOOK_ID: WEBHOOK_ID, CONF_WEBHOOK_SECRET: SECRET}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_verified_call_fires_the_event(
    hass: HomeAssistant, simulator: RealtimeSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    entry = await _setup(hass, simulator)
    events = async_capture_events(hass, EVENT_CALL_INCOMING)
    client = await hass_client_no_auth()
    call = simulator.add_call()
    body = incoming(call.call_id)
    resp = await client.post(URL, data=body, headers=signed(body))
    assert resp.status == 200
    await hass.async_block_till_done()
    [event] = events
    assert event.data["call_id"] == call.call_id
    assert event.data["caller_number"] == "+14155550123"
    assert event.data["caller_name"] == "Ann Example"
    assert event.data["callee_number"] == "+18005550000"
    assert event.data["sip_headers"][0] == {"name": "From", "value": CALLER}
    assert event.data["headers"]["Via"] == "SIP/2.0/TLS a, SIP/2.0/TLS b"
    assert event.data["config_entry_id"] == entry.entry_id
    # Answering is off by default: nothing was accepted.
    assert simulator.requests_to(f"/realtime/calls/{call.call_id}/accept") == []
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad_signature", 401),
        ("wrong_secret", 401),
        ("stale", 401),
        ("future", 401),
        ("no_signature", 401),
        ("replay", 409),
        ("bad_json", 400),
        ("no_call_id", 400),
        ("oversized", 413),
    ],
)
async def test_refused_deliveries_fire_nothing(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    case: str,
    status: int,
) -> None:
    entry = await _setup(hass, simulator, **{CONF_ANSWER_CALLS: True})
    client = await hass_client_no_auth()
    call = simulator.add_call()
    body = incoming(call.call_id)
    headers = signed(body)
    if case == "replay":
        assert (await client.post(URL, data=body, headers=headers)).status == 200
        await hass.async_block_till_done()
    events = async_capture_events(hass, EVENT_CALL_INCOMING)
    accepts = len(simulator.requests_to(f"/realtime/calls/{call.call_id}/accept"))
    if case == "bad_signature":
        headers["webhook-signature"] = headers["webhook-signature"][:-4] + "AAA="
    elif case == "wrong_secret":
        headers = signed(body, secret="whsec_" + base64.b64encode(b"someone else").decode())
    elif case == "stale":
        headers = signed(body, age=301)
    elif case == "future":
        headers = signed(body, age=-301)
    elif case == "no_signature":
        headers.pop("webhook-signature")
    elif case == "bad_json":
        body = b"{not json"
        headers = signed(body)
    elif case == "no_call_id":
        body = json.dumps(
            {"type": "realtime.call.incoming", "data": {"call_id": ["rtc_1"]}}
        ).encode()
        headers = signed(body)
    elif case == "oversized":
        body = b" " * (64 * 1024 + 1)
        headers = signed(body)
    with caplog.at_level(logging.DEBUG):
        resp = await client.post(URL, data=body, headers=headers)
        await hass.async_block_till_done()
    assert resp.status == status
    assert events == []
    assert len(simulator.requests_to(f"/realtime/calls/{call.call_id}/accept")) == accepts
    assert SECRET not in caplog.text
    assert SECRET.removeprefix("whsec_") not in caplog.text
    assert "Refused an incoming-call webhook" in caplog.text
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_other_event_types_are_acknowledged_and_ignored(
    hass: HomeAssistant, simulator: RealtimeSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    entry = await _setup(hass, simulator)
    events = async_capture_events(hass, EVENT_CALL_INCOMING)
    client = await hass_client_no_auth()
    body = json.dumps(
        {"id": "evt_2", "type": "response.completed", "data": {"id": "resp_1"}}
    ).encode()
    assert (await client.post(URL, data=body, headers=signed(body))).status == 200
    assert events == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_no_secret_no_webhook(
    hass: HomeAssistant, simulator: RealtimeSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """Without a signing secret the webhook is not registered at all."""
    entry = make_entry(simulator)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_WEBHOOK_ID: WEBHOOK_ID})
    assert await hass.config_entries.async_setup(entry.entry_id)
    events = async_capture_events(hass, EVENT_CALL_INCOMING)
    client = await hass_client_no_auth()
    body = incoming(simulator.add_call().call_id)
    assert (await client.post(URL, data=body, headers=signed(body))).status == 200  # HA's rule
    assert events == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_profile_answers_callers_on_its_list(
    hass: HomeAssistant, simulator: RealtimeSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A listed caller is answered with the profile; the call is HA's, with the phone user's tools."""
    phone = await hass.auth.async_create_user("Phone", group_ids=[GROUP_ID_USER])
    entry = await _setup(
        hass,
        simulator,
        **{
            CONF_ANSWER_CALLS: True,
            CONF_ALLOWED_CALLERS: ["+1 (415) 555-0123"],
            CONF_PHONE_USER: phone.id,
        },
    )
    client = await hass_client_no_auth()
    stranger = simulator.add_call()
    body = incoming(stranger.call_id, caller="<sip:+19995550000@x>", event_id="evt_s")
    assert (await client.post(URL, data=body, headers=signed(body, delivery="m1"))).status == 200
    await hass.async_block_till_done()
    assert simulator.requests_to(f"/realtime/calls/{stranger.call_id}/accept") == []

    known = simulator.add_call()
    body = incoming(known.call_id, event_id="evt_k")
    assert (await client.post(URL, data=body, headers=signed(body, delivery="m2"))).status == 200
    await until(lambda: known.sidebands)
    accept = simulator.requests_to(f"/realtime/calls/{known.call_id}/accept")[0].json()
    assert accept["type"] == "realtime"
    assert {t["name"] for t in accept["tools"]} >= {"intent__HassTurnOn"}
    assert hass.states.get(SATELLITE).attributes["call_ids"] == [known.call_id]
    held = entry.runtime_data.manager.get(known.call_id)
    assert held is not None
    assert str(held.mode) == "sip"
    assert held.owner.user_id == phone.id
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert known.hung_up


async def test_phone_calls_without_a_phone_user_get_no_tools(
    hass: HomeAssistant, simulator: RealtimeSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    entry = await _setup(hass, simulator, **{CONF_ANSWER_CALLS: True})
    client = await hass_client_no_auth()
    call = simulator.add_call()
    body = incoming(call.call_id)
    assert (await client.post(URL, data=body, headers=signed(body))).status == 200
    await until(lambda: call.sidebands)
    accept = simulator.requests_to(f"/realtime/calls/{call.call_id}/accept")[0].json()
    assert "tools" not in accept
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (json.dumps({"type": "realtime.call.incoming", "data": "rtc_1"}).encode(), 400),
        (json.dumps(["realtime.call.incoming"]).encode(), 200),
    ],
)
async def test_odd_but_signed_bodies(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    body: bytes,
    status: int,
) -> None:
    entry = await _setup(hass, simulator)
    events = async_capture_events(hass, EVENT_CALL_INCOMING)
    client = await hass_client_no_auth()
    assert (await client.post(URL, data=body, headers=signed(body))).status == status
    assert events == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_declared_oversized_body_is_not_read(
    hass: HomeAssistant, simulator: RealtimeSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    entry = await _setup(hass, simulator)
    client = await hass_client_no_auth()
    body = b"x" * (64 * 1024 + 10)
    resp = await client.post(
        URL, data=body, headers={**signed(body), "Content-Length": str(len(body))}
    )
    assert resp.status == 413
    assert await hass.config_entries.async_unload(entry.entry_id)


async def _ring_with_fault(
    client: Any, simulator: RealtimeSimulator, call: SimCall, fault: str, **kw: Any
) -> bytes:
    """Deliver the incoming-call webhook of `call`, whose accept meets `fault`; its body."""
    simulator.add_fault(f"/realtime/calls/{call.call_id}/accept", fault, **kw)
    body = incoming(call.call_id)
    assert (await client.post(URL, data=body, headers=signed(body))).status == 200
    return body


async def test_an_answer_that_fails_is_logged(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The profile's accept fails at OpenAI: a warning names the call; nothing else breaks."""
    entry = await _setup(hass, simulator, **{CONF_ANSWER_CALLS: True})
    call = simulator.add_call()
    await _ring_with_fault(await hass_client_no_auth(), simulator, call, "500")
    await until(lambda: f"Could not answer call {call.call_id}" in caplog.text)
    assert entry.runtime_data.manager.calls == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_entry_unloads_while_a_profile_answers(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The accept is in flight when the account unloads: the call is hung up, nothing crashes."""
    entry = await _setup(hass, simulator, **{CONF_ANSWER_CALLS: True})
    manager = entry.runtime_data.manager
    client = await hass_client_no_auth()
    call = simulator.add_call()
    body = await _ring_with_fault(client, simulator, call, "slow", delay=0.3)
    await until(lambda: simulator.requests_to(f"/realtime/calls/{call.call_id}/accept"))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await until(lambda: call.hung_up)
    assert manager.calls == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The webhook is gone with the entry (HA answers unknown webhooks 200, and nothing runs).
    events = async_capture_events(hass, EVENT_CALL_INCOMING)
    await client.post(URL, data=body, headers=signed(body, delivery="m9"))
    await hass.async_block_till_done()
    assert events == []
