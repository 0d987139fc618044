"""Call control actions: every field checked, the exact body on the wire, a response and an event."""

from __future__ import annotations

from typing import Any

import aiohttp
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.openai_api.const import (
    EVENT_CALL_ACCEPTED,
    EVENT_CALL_HUNG_UP,
    EVENT_CALL_REFERRED,
    EVENT_CALL_REJECTED,
)
from simulator import RealtimeSimulator, Turn

from .voice_helpers import (
    LIGHT,
    SATELLITE,
    Voice,
    act,
    assert_api_failure,
    assert_refused_unsent,
    until,
)


async def test_accept_with_a_session(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_CALL_ACCEPTED)
    call = simulator.add_call()
    session = {
        "type": "realtime",
        "model": "gpt-realtime-2099",
        "instructions": "You answer for the Smiths.",
        "audio": {"output": {"voice": "cedar"}},
    }
    result = await act(hass, "accept_realtime_call", {"call_id": call.call_id, "session": session})
    assert simulator.requests_to(f"/realtime/calls/{call.call_id}/accept")[0].json() == session
    assert result == {
        "call_id": call.call_id,
        "accepted": True,
        "voice_profile": None,
        "entity_id": None,
    }
    assert events[0].data == {**result, "config_entry_id": loaded_entry.entry_id}
    # HA does not hold a call accepted with a session of the caller's own.
    assert loaded_entry.runtime_data.manager.get(call.call_id) is None


@pytest.mark.parametrize("by", ["entity", "subentry"])
async def test_accept_with_a_voice_profile_takes_the_call_under_control(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    test_light: str,
    by: str,
) -> None:
    """The profile's session, its sideband and the satellite serve the phone call."""
    subentry_id = next(iter(loaded_entry.subentries))
    call = simulator.add_call()
    profile = SATELLITE if by == "entity" else subentry_id
    result = await act(
        hass, "accept_realtime_call", {"call_id": call.call_id, "voice_profile": profile}
    )
    assert result["voice_profile"] == subentry_id
    assert result["entity_id"] == SATELLITE
    accept = simulator.requests_to(f"/realtime/calls/{call.call_id}/accept")[0].json()
    assert accept["model"] == "gpt-realtime"
    await until(lambda: call.sidebands)
    assert hass.states.get(SATELLITE).attributes["call_ids"] == [call.call_id]
    # No phone user in the default profile: the call has no tools.
    assert "tools" not in accept
    await call.user_turn(Turn(tool_name=None, reply="Hello, Smith residence."))
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"message": "Dinner is ready"},
        target={"entity_id": SATELLITE},
        blocking=True,
    )
    hung = async_capture_events(hass, EVENT_CALL_HUNG_UP)
    result = await act(hass, "hangup_realtime_call", {"call_id": call.call_id})
    assert result == {"call_id": call.call_id, "hung_up": True}
    assert call.hung_up
    assert hung[0].data["call_id"] == call.call_id
    assert hass.states.get(SATELLITE).attributes["call_count"] == 0
    assert hass.states.get(LIGHT).state == "off"


async def test_reject_refer_and_hang_up(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    rejected = async_capture_events(hass, EVENT_CALL_REJECTED)
    referred = async_capture_events(hass, EVENT_CALL_REFERRED)
    first, second, third, fourth = (simulator.add_call() for _ in range(4))

    result = await act(hass, "reject_realtime_call", {"call_id": first.call_id})
    assert simulator.requests_to(f"/realtime/calls/{first.call_id}/reject")[0].json() == {}
    assert result == {"call_id": first.call_id, "status_code": 603}

    result = await act(
        hass, "reject_realtime_call", {"call_id": second.call_id, "status_code": 486}
    )
    assert simulator.requests_to(f"/realtime/calls/{second.call_id}/reject")[0].json() == {
        "status_code": 486
    }
    assert result["status_code"] == 486
    assert [e.data["status_code"] for e in rejected] == [603, 486]

    result = await act(
        hass, "refer_realtime_call", {"call_id": third.call_id, "target_uri": "tel:+14155550123"}
    )
    assert simulator.requests_to(f"/realtime/calls/{third.call_id}/refer")[0].json() == {
        "target_uri": "tel:+14155550123"
    }
    assert referred[0].data["target_uri"] == "tel:+14155550123"

    # A call HA does not hold is hung up with one request.
    await act(hass, "hangup_realtime_call", {"call_id": fourth.call_id})
    assert len(simulator.requests_to(f"/realtime/calls/{fourth.call_id}/hangup")) == 1
    assert fourth.hung_up


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("accept_realtime_call", {}, "call_id"),
        ("accept_realtime_call", {"call_id": "abc"}, "call_id"),
        ("accept_realtime_call", {"call_id": "rtc_1"}, "session"),
        (
            "accept_realtime_call",
            {"call_id": "rtc_1", "session": {"type": "realtime"}, "voice_profile": SATELLITE},
            "session",
        ),
        (
            "accept_realtime_call",
            {"call_id": "rtc_1", "session": {"type": "transcription"}},
            "session.type",
        ),
        (
            "accept_realtime_call",
            {
                "call_id": "rtc_1",
                "session": {"type": "realtime", "audio": {"output": {"speed": 3}}},
            },
            "session.audio.output.speed",
        ),
        ("accept_realtime_call", {"call_id": ["rtc_1"]}, "call_id"),
        (
            "accept_realtime_call",
            {"call_id": "rtc_1", "session": {"type": "realtime"}, "extra": 1},
            "extra",
        ),
        ("reject_realtime_call", {"call_id": "rtc_1", "status_code": 200}, "status_code"),
        ("reject_realtime_call", {"call_id": "rtc_1", "status_code": "486"}, "status_code"),
        ("reject_realtime_call", {"call_id": "rtc_1", "reason": "busy"}, "reason"),
        ("reject_realtime_call", {"status_code": 486}, "call_id"),
        ("refer_realtime_call", {"call_id": "rtc_1"}, "target_uri"),
        (
            "refer_realtime_call",
            {"call_id": "rtc_1", "target_uri": "https://evil.example"},
            "target_uri",
        ),
        ("refer_realtime_call", {"call_id": "rtc_1", "target_uri": {"tel": 1}}, "target_uri"),
        ("hangup_realtime_call", {"call_id": {"a": 1}}, "call_id"),
        ("hangup_realtime_call", {"call_id": "rtc_1", "force": True}, "force"),
    ],
)
async def test_bad_input_sends_nothing(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    action: str,
    data: dict[str, Any],
    field: str,
) -> None:
    await assert_refused_unsent(hass, simulator, action, data, field)


async def test_unknown_voice_profile(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    for profile in ("assist_satellite.nope", "not-a-subentry", "light.kitchen"):
        with pytest.raises(ServiceValidationError) as err:
            await act(hass, "accept_realtime_call", {"call_id": "rtc_1", "voice_profile": profile})
        assert err.value.translation_key == "voice_profile_not_found"
    assert simulator.requests_to("/realtime/calls/rtc_1/accept") == []


async def test_openai_errors_are_translated(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """An unknown call is OpenAI's 404, named; a 429 says when to retry."""
    with pytest.raises(HomeAssistantError) as err:
        await act(hass, "reject_realtime_call", {"call_id": "rtc_unknown"})
    assert err.value.translation_key == "bad_request"
    assert err.value.translation_placeholders["status"] == "404"
    call = simulator.add_call()
    simulator.add_fault(f"/realtime/calls/{call.call_id}/refer", "429", retry_after=7)
    with pytest.raises(HomeAssistantError) as err:
        await act(hass, "refer_realtime_call", {"call_id": call.call_id, "target_uri": "sip:a@b.c"})
    assert err.value.translation_key == "rate_limited"
    assert err.value.translation_placeholders["retry_after"] == "7"


async def test_call_control_is_admin_only(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    hass_read_only_user: Any,
) -> None:
    call = simulator.add_call()
    for action, data in (
        ("accept_realtime_call", {"call_id": call.call_id, "voice_profile": SATELLITE}),
        ("reject_realtime_call", {"call_id": call.call_id}),
        ("refer_realtime_call", {"call_id": call.call_id, "target_uri": "tel:+1"}),
        ("hangup_realtime_call", {"call_id": call.call_id}),
    ):
        with pytest.raises(Unauthorized):
            await act(hass, action, data, context=Context(user_id=hass_read_only_user.id))
    assert not call.hung_up
    assert [r for r in simulator.requests if r.path.startswith("/realtime/calls/")] == []


async def test_phone_call_accepted_while_the_entry_unloads_is_hung_up(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    call = simulator.add_call()
    simulator.add_fault(f"/realtime/calls/{call.call_id}/accept", "slow", delay=0.3)
    task = hass.async_create_task(
        act(hass, "accept_realtime_call", {"call_id": call.call_id, "voice_profile": SATELLITE})
    )
    await until(lambda: simulator.requests_to(f"/realtime/calls/{call.call_id}/accept"))
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "entry_unloading"
    assert call.hung_up


async def test_voice_calls_end_with_the_hangup_action_too(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """A WebRTC call HA holds is ended through HA, sideband and satellite included."""
    _peer, call_id, call = await voice.connect()
    await act(hass, "hangup_realtime_call", {"call_id": call_id})
    assert call.hung_up
    await until(lambda: hass.states.get(SATELLITE).attributes["call_count"] == 0)


@pytest.mark.parametrize("fault", ["slow", "500"])
async def test_an_accept_that_may_have_worked_is_hung_up(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry, fault: str
) -> None:
    """A timeout or server error leaves HA not knowing whether OpenAI accepted the call.

    OpenAI has the call id, so HA hangs the call up rather than leave it running unmanaged.
    """
    call = simulator.add_call()
    simulator.add_fault(f"/realtime/calls/{call.call_id}/accept", fault, delay=0.5)
    loaded_entry.runtime_data.client._timeout = aiohttp.ClientTimeout(total=0.1)
    with pytest.raises(HomeAssistantError) as err:
        await act(
            hass, "accept_realtime_call", {"call_id": call.call_id, "voice_profile": SATELLITE}
        )
    assert err.value.translation_key == ("timeout" if fault == "slow" else "server_error")
    await until(lambda: simulator.requests_to(f"/realtime/calls/{call.call_id}/hangup"))
    await until(lambda: call.hung_up)
    assert loaded_entry.runtime_data.manager.calls == []


async def test_an_accept_openai_refused_is_not_hung_up(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A 4xx means the call was not accepted: there is nothing of HA's to hang up."""
    call = simulator.add_call()
    simulator.add_fault(f"/realtime/calls/{call.call_id}/accept", "400")
    with pytest.raises(HomeAssistantError):
        await act(
            hass, "accept_realtime_call", {"call_id": call.call_id, "voice_profile": SATELLITE}
        )
    await hass.async_block_till_done()
    assert simulator.requests_to(f"/realtime/calls/{call.call_id}/hangup") == []


@pytest.mark.parametrize(
    ("action", "extra"),
    [
        ("reject_realtime_call", {}),
        ("refer_realtime_call", {"target_uri": "tel:+14155550123"}),
        ("hangup_realtime_call", {}),
    ],
)
@pytest.mark.parametrize(
    ("fault", "key"),
    [("401", "auth_failed"), ("500", "server_error"), ("drop", "cannot_connect")],
)
async def test_call_control_faults_become_clear_errors(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    action: str,
    extra: dict[str, Any],
    fault: str,
    key: str,
) -> None:
    """A failure of OpenAI's is a translated error, fires no event; a 401 starts reauth."""
    call = simulator.add_call()
    verb = action.split("_", maxsplit=1)[0]
    simulator.add_fault(f"/realtime/calls/{call.call_id}/{verb}", fault)
    events = [
        async_capture_events(hass, e)
        for e in (EVENT_CALL_REJECTED, EVENT_CALL_REFERRED, EVENT_CALL_HUNG_UP)
    ]
    await assert_api_failure(
        hass, loaded_entry, act(hass, action, {"call_id": call.call_id, **extra}), key
    )
    assert all(captured == [] for captured in events)


async def test_hanging_up_a_held_call_while_the_entry_unloads(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The action and the unload both end the call: it is hung up, and nothing fails."""
    manager = loaded_entry.runtime_data.manager
    call = simulator.add_call()
    await act(hass, "accept_realtime_call", {"call_id": call.call_id, "voice_profile": SATELLITE})
    simulator.add_fault(f"/realtime/calls/{call.call_id}/hangup", "slow", delay=0.3)
    task = hass.async_create_task(act(hass, "hangup_realtime_call", {"call_id": call.call_id}))
    await until(lambda: simulator.requests_to(f"/realtime/calls/{call.call_id}/hangup"))
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert await task == {"call_id": call.call_id, "hung_up": True}
    assert call.hung_up
    assert manager.calls == []
