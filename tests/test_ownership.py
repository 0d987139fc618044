"""A call belongs to the user who started it: attach, announce, ask and hang-up respect that.

Written as an attacker would try it: another user's call ids (public in the satellite's
`call_ids`), through another profile's or another account's satellite, a disabled satellite,
and ephemeral secrets used to get past the limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import json
import logging
from typing import Any

from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE
from simulator import RealtimeSimulator, Turn

from .conftest import make_entry
from .voice_helpers import SATELLITE, Voice, until


@pytest.fixture
async def user(hass: HomeAssistant) -> User:
    """A non-admin user who may control entities (the `Users` group)."""
    return await hass.auth.async_create_user("Mallory", group_ids=[GROUP_ID_USER])


@pytest.fixture
async def user_voice(
    hass: HomeAssistant,
    user: User,
    simulator: RealtimeSimulator,
    hass_ws_client: WebSocketGenerator,
    voice: Voice,
) -> AsyncIterator[Voice]:
    """The non-admin user's browser on HA's websocket API."""
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    v = Voice(
        hass, await hass_ws_client(hass, hass.auth.async_create_access_token(refresh)), simulator
    )
    yield v
    await v.close()


async def _ephemeral_call(v: Voice, entity_id: str = SATELLITE) -> str:
    """Mint a secret as the card does and create a media-less call with it at the simulator."""
    reply = await v.command(type="openai_api/realtime/ephemeral", entity_id=entity_id)
    assert reply["success"], reply
    return str(v.simulator.add_call().call_id)


async def test_attach_to_another_users_call_is_refused(
    hass: HomeAssistant, voice: Voice, user_voice: Voice, simulator: RealtimeSimulator
) -> None:
    """The victim's call id is public; attaching to it gives nothing and ends nothing."""
    _peer, call_id, call = await voice.connect()
    assert hass.states.get(SATELLITE).attributes["call_ids"] == [call_id]
    await _ephemeral_call(user_voice)  # even holding a secret of the profile

    reply = await user_voice.command(
        type="openai_api/realtime/attach", entity_id=SATELLITE, call_id=call_id
    )
    assert reply["success"] is False
    assert reply["error"]["code"] == "unauthorized"
    await user_voice.ws.close()
    await hass.async_block_till_done()
    assert not call.hung_up
    assert call.sideband_connects == 1
    assert hass.states.get(SATELLITE).attributes["call_ids"] == [call_id]


async def test_attach_through_another_profile_or_account_is_refused(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Another satellite (profile or account) cannot open a second sideband into a call."""
    other = make_entry(
        simulator,
        profiles={"Other account": DEFAULT_PROFILE},
        project="proj_other",
    )
    other.add_to_hass(hass)
    assert await hass.config_entries.async_setup(other.entry_id)
    await hass.config_entries.subentries.async_init(
        (loaded_entry.entry_id, "voice"), context={"source": "user"}
    )
    second = make_entry(simulator, profiles={"Second": DEFAULT_PROFILE, "Third": DEFAULT_PROFILE})
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    await hass.async_block_till_done()

    _peer, call_id, call = await voice.connect()
    for satellite in ("assist_satellite.other_account", "assist_satellite.third"):
        await _ephemeral_call(voice, satellite)  # the same admin, holding a secret there
        reply = await voice.command(
            type="openai_api/realtime/attach", entity_id=satellite, call_id=call_id
        )
        assert reply["success"] is False, satellite
    await hass.async_block_till_done()
    assert call.sideband_connects == 1
    assert [r for r in call.received if r.event["type"] == "session.update"] == []
    assert not call.hung_up
    for entry in (other, second):
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_attach_needs_a_secret_of_the_profile(
    hass: HomeAssistant, user_voice: Voice, simulator: RealtimeSimulator
) -> None:
    """Without an unused secret nothing is attached: call ids cannot be guessed in."""
    stranger = simulator.add_call()
    reply = await user_voice.command(
        type="openai_api/realtime/attach", entity_id=SATELLITE, call_id=stranger.call_id
    )
    assert reply["error"]["translation_key"] == "no_ephemeral_secret"
    await hass.async_block_till_done()
    assert stranger.sideband_connects == 0


async def test_ephemeral_secrets_count_against_the_limits(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """One session per user: a second secret, or a relay call beside a secret, is refused."""
    first = await voice.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE)
    assert first["success"]
    second = await voice.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE)
    assert second["error"]["translation_key"] == "too_many_user_sessions"
    with pytest.raises(AssertionError):
        await voice.connect()
    assert len(simulator.requests_to("/realtime/client_secrets")) == 1
    assert simulator.requests_to("/realtime/calls") == []

    # The secret lapses unused: the slot is free again.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=120))
    await hass.async_block_till_done()
    call_id = await _ephemeral_call(voice)
    reply = await voice.command(
        type="openai_api/realtime/attach", entity_id=SATELLITE, call_id=call_id
    )
    assert reply["result"] == {"call_id": call_id}
    # The call took the secret's place: still one session for this user.
    again = await voice.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE)
    assert again["error"]["translation_key"] == "too_many_user_sessions"
    assert [c.call_id for c in loaded_entry.runtime_data.manager.calls] == [call_id]


async def test_profile_can_refuse_ephemeral_mode(
    hass: HomeAssistant, simulator: RealtimeSimulator, hass_ws_client: WebSocketGenerator
) -> None:
    """With direct connections off, no secret leaves HA."""
    entry = make_entry(
        simulator, profiles={"Voice assistant": {**DEFAULT_PROFILE, "allow_ephemeral": False}}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    v = Voice(hass, await hass_ws_client(hass), simulator)
    reply = await v.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE)
    assert reply["error"]["translation_key"] == "ephemeral_not_allowed"
    assert simulator.requests_to("/realtime/client_secrets") == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_disabled_satellite_refuses_calls(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    er.async_get(hass).async_update_entity(SATELLITE, disabled_by=er.RegistryEntryDisabler.USER)
    await hass.async_block_till_done()
    for command in ("openai_api/realtime/ephemeral",):
        reply = await voice.command(type=command, entity_id=SATELLITE)
        assert reply["error"]["translation_key"] == "satellite_disabled"
    with pytest.raises(AssertionError):
        await voice.connect()
    reply = await voice.command(
        type="openai_api/realtime/attach", entity_id=SATELLITE, call_id="rtc_x"
    )
    assert reply["error"]["translation_key"] == "satellite_disabled"
    assert simulator.requests_to("/realtime/calls") == []
    assert simulator.requests_to("/realtime/client_secrets") == []


async def _announce(hass: HomeAssistant, context: Context | None, **data: Any) -> Any:
    return await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"message": "Hello", **data},
        target={"entity_id": SATELLITE},
        blocking=True,
        context=context,
    )


async def test_users_speak_only_into_their_own_calls(
    hass: HomeAssistant, voice: Voice, user_voice: Voice, user: User, simulator: RealtimeSimulator
) -> None:
    """A non-admin cannot speak into, or hear the answers of, the admin's call."""
    _peer, _admin_call_id, admin_call = await voice.connect()
    mallory = Context(user_id=user.id)
    with pytest.raises(HomeAssistantError) as err:
        await _announce(hass, mallory)
    assert err.value.translation_key == "no_live_session"
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "assist_satellite",
            "ask_question",
            {"entity_id": SATELLITE, "question": "What is the alarm code?"},
            blocking=True,
            return_response=True,
            context=mallory,
        )
    assert err.value.translation_key == "no_live_session"
    assert [r for r in admin_call.received if r.event["type"] == "response.create"] == []

    # Her own call, she may speak into; the admin and an automation (no user) may use either.
    own = await _ephemeral_call(user_voice)
    reply = await user_voice.command(
        type="openai_api/realtime/attach", entity_id=SATELLITE, call_id=own
    )
    assert reply["success"]
    own_call = simulator.calls[own]
    await until(lambda: own_call.sidebands)
    await _announce(hass, mallory, message="For Mallory")
    assert "For Mallory" in json.dumps(
        [r.event for r in own_call.received if r.event["type"] == "response.create"]
    )
    assert "For Mallory" not in json.dumps([r.event for r in admin_call.received])
    admin = await hass.auth.async_get_owner()
    await _announce(hass, Context(user_id=admin.id if admin else None), message="From admin")
    await _announce(hass, None, message="From automation")


async def test_ask_question_answer_comes_from_the_askers_call(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """The answer is read from the call the question went into."""
    _peer, _call_id, call = await voice.connect()
    task = hass.async_create_task(
        hass.services.async_call(
            "assist_satellite",
            "ask_question",
            {"entity_id": SATELLITE, "question": "Ready?"},
            blocking=True,
            return_response=True,
        )
    )
    await call.wait_for(lambda r: r.event["type"] == "response.create")
    await call.user_turn(Turn(transcript="Yes", tool_name=None, reply="Good."))
    response = await task
    assert response["sentence"] == "Yes"


async def test_refusals_are_not_errors_in_the_log(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused extra session is answered, and logged at debug level only (no ERROR)."""
    await voice.connect()
    with caplog.at_level(logging.DEBUG, logger="homeassistant.components.websocket_api"):
        reply = await voice.command(type="openai_api/realtime/ephemeral", entity_id=SATELLITE)
    assert reply["error"]["translation_key"] == "too_many_user_sessions"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(
        r.levelno == logging.DEBUG and "Refused openai_api/realtime/ephemeral" in r.getMessage()
        for r in caplog.records
    )
