"""Voice profiles: config subentries, their satellites and the session they produce."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY, CONF_LLM_HASS_API, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api.const import (
    CONF_BASE_URL,
    CONF_MAX_DURATION,
    CONF_MODEL,
    CONF_SPEED,
    CONF_VOICE,
    DOMAIN,
    SUBENTRY_VOICE,
)
from custom_components.openai_api.realtime.profile import DEFAULT_PROFILE, VoiceProfile
from simulator import RealtimeSimulator

from .conftest import API_KEY, make_entry

PROFILE_INPUT: dict[str, Any] = {
    CONF_NAME: "Storyteller",
    **{k: v for k, v in DEFAULT_PROFILE.items() if k != CONF_LLM_HASS_API},
    CONF_MODEL: "gpt-realtime-2099",
    CONF_VOICE: "cedar",
}


async def test_new_account_gets_default_profile(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """Creating the account creates one voice profile and its satellite."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_BASE_URL: simulator.base_url}
    )
    await hass.async_block_till_done()
    entry = result["result"]
    [profile] = entry.subentries.values()
    assert profile.subentry_type == SUBENTRY_VOICE
    assert profile.title == "Voice assistant"
    assert profile.data[CONF_LLM_HASS_API] == ["assist"]
    state = hass.states.get("assist_satellite.voice_assistant")
    assert state is not None
    assert state.state == "idle"
    assert state.attributes["call_count"] == 0


async def test_add_reconfigure_remove_profile(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Profiles are added, changed and removed from the UI, each with its own device."""
    result = await hass.config_entries.subentries.async_init(
        (loaded_entry.entry_id, SUBENTRY_VOICE), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], PROFILE_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    subentry = next(s for s in loaded_entry.subentries.values() if s.title == "Storyteller")
    assert subentry.data[CONF_MODEL] == "gpt-realtime-2099"
    assert CONF_NAME not in subentry.data
    entity_id = er.async_get(hass).async_get_entity_id(
        "assist_satellite", DOMAIN, subentry.subentry_id
    )
    assert entity_id == "assist_satellite.storyteller"
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, subentry.subentry_id), loaded_entry.entry_id
    )
    assert device is not None
    assert device.model == "gpt-realtime-2099"

    result = await loaded_entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {**{k: v for k, v in PROFILE_INPUT.items() if k != CONF_NAME}, CONF_SPEED: 1.25},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.subentries[subentry.subentry_id].data[CONF_SPEED] == 1.25

    assert hass.config_entries.async_remove_subentry(loaded_entry, subentry.subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get("assist_satellite.storyteller") is None
    assert er.async_get(hass).async_get(entity_id) is None
    assert (
        dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, subentry.subentry_id), loaded_entry.entry_id
        )
        is None
    )


def _suggested(result: Any, key: str) -> Any:
    marker = next(k for k in result["data_schema"].schema if k == key)
    return (marker.description or {}).get("suggested_value")


async def test_new_profile_form_suggests_a_free_name_and_keeps_api_names(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The first profile is "Voice assistant": the next one is offered "Voice assistant 2"."""
    result = await hass.config_entries.subentries.async_init(
        (loaded_entry.entry_id, SUBENTRY_VOICE), context={"source": SOURCE_USER}
    )
    assert _suggested(result, CONF_NAME) == "Voice assistant 2"
    assert _suggested(result, CONF_VOICE) == "marin"
    voice = next(k for k in result["data_schema"].schema if k == CONF_VOICE)
    selector = result["data_schema"].schema[voice]
    # The list shows the API's names, as the field does once one is chosen.
    assert "translation_key" not in selector.config
    assert "marin" in selector.config["options"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {**PROFILE_INPUT, CONF_NAME: "Voice assistant 2", CONF_LLM_HASS_API: ["assist"]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    created = next(s for s in loaded_entry.subentries.values() if s.title == "Voice assistant 2")
    assert created.data[CONF_LLM_HASS_API] == ["assist"]
    result = await hass.config_entries.subentries.async_init(
        (loaded_entry.entry_id, SUBENTRY_VOICE), context={"source": SOURCE_USER}
    )
    assert _suggested(result, CONF_NAME) == "Voice assistant 3"


async def test_profile_validated_with_the_action_schema(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """A profile that would send an invalid session is refused with the field named."""
    result = await hass.config_entries.subentries.async_init(
        (loaded_entry.entry_id, SUBENTRY_VOICE), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**PROFILE_INPUT, CONF_MODEL: "   "}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_profile"}
    assert "model" in result["description_placeholders"]["error"]


def build_session_config(data: Any, **kwargs: Any) -> dict[str, Any]:
    return VoiceProfile("profile", "Profile", data).session_config(**kwargs)


def test_session_config_from_profile() -> None:
    """The defaults give a complete, valid realtime session."""
    session = build_session_config(DEFAULT_PROFILE, instructions="Be brief.", tools=[])
    assert session == {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "Be brief.",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "turn_detection": {"type": "semantic_vad", "eagerness": "auto"},
                "noise_reduction": {"type": "near_field"},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
            },
            "output": {"voice": "marin", "speed": 1.0},
        },
    }


@pytest.mark.parametrize(
    ("changes", "expected_input"),
    [
        (
            {
                "turn_detection": "server_vad",
                "noise_reduction": "off",
                "transcription_model": "off",
            },
            {"turn_detection": {"type": "server_vad"}},
        ),
        (
            {"noise_reduction": "far_field", "transcription_model": "whisper-1"},
            {
                "turn_detection": {"type": "semantic_vad", "eagerness": "auto"},
                "noise_reduction": {"type": "far_field"},
                "transcription": {"model": "whisper-1"},
            },
        ),
    ],
)
def test_session_config_options(changes: dict[str, Any], expected_input: dict[str, Any]) -> None:
    session = build_session_config({**DEFAULT_PROFILE, **changes})
    assert session["audio"]["input"] == expected_input
    tools = [{"type": "function", "name": "x", "parameters": {"type": "object"}}]
    assert build_session_config(DEFAULT_PROFILE, tools=tools)["tool_choice"] == "auto"


async def test_two_profiles_two_satellites(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """A kitchen assistant and a storyteller live side by side on one key."""
    entry = make_entry(
        simulator,
        profiles={"Kitchen": DEFAULT_PROFILE, "Stories": {**DEFAULT_PROFILE, CONF_MAX_DURATION: 5}},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("assist_satellite.kitchen").state == "idle"
    assert hass.states.get("assist_satellite.stories").state == "idle"
