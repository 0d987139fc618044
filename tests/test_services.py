"""The `openai_api.create_realtime_client_secret` action, end to end against the simulator."""

from __future__ import annotations

import json
import time
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.openai_api.const import DOMAIN, EVENT_CLIENT_SECRET
from simulator import RealtimeSimulator

from .conftest import make_entry

ACTION = "create_realtime_client_secret"

# The two inject nodes of the Node-RED example flow (../shared/seeds/).
SEED_REALTIME_15 = {
    "expires_after": {"anchor": "created_at", "seconds": 600},
    "session": {
        "type": "realtime",
        "model": "gpt-realtime-1.5",
        "output_modalities": ["audio"],
        "instructions": "Speak clearly and keep responses concise.",
    },
}
SEED_AUDIO_15 = {
    "expires_after": {"anchor": "created_at", "seconds": 600},
    "session": {
        "type": "realtime",
        "model": "gpt-audio-1.5",
        "output_modalities": ["audio"],
        "instructions": "Generate short audio responses.",
    },
}


async def _call(hass: HomeAssistant, data: dict[str, Any], **kwargs: Any) -> Any:
    return await hass.services.async_call(
        DOMAIN, ACTION, data, blocking=True, return_response=True, **kwargs
    )


def _bodies(sim: RealtimeSimulator) -> list[Any]:
    return [r.json() for r in sim.requests_to("/realtime/client_secrets")]


@pytest.mark.parametrize(
    "seed", [SEED_REALTIME_15, SEED_AUDIO_15], ids=["realtime-1.5", "audio-1.5"]
)
async def test_seed_payloads(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    seed: dict[str, Any],
) -> None:
    """The Node-RED seeds reach the API byte for byte; response and event carry the result."""
    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    context = Context()
    before = int(time.time())

    response = await _call(hass, seed, context=context)

    request = simulator.requests_to("/realtime/client_secrets")[-1]
    assert request.json() == seed
    assert request.headers["Authorization"] == "Bearer sk-test-0123456789abcdef"
    assert request.headers["Content-Type"].startswith("application/json")

    assert set(response) == {"value", "expires_at", "session"}
    assert response["value"].startswith("ek_")
    assert before + 600 <= response["expires_at"] <= int(time.time()) + 600
    assert response["session"]["type"] == "realtime"
    assert response["session"]["model"] == seed["session"]["model"]
    assert response["session"]["instructions"] == seed["session"]["instructions"]

    assert len(events) == 1
    assert events[0].data == {**response, "config_entry_id": loaded_entry.entry_id}
    assert events[0].context is context


async def test_transcription_session(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A transcription session passes through with its nested audio config."""
    payload = {
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                    "noise_reduction": {"type": "near_field"},
                    "turn_detection": {"type": "server_vad", "threshold": 0.5},
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        }
    }
    response = await _call(hass, payload)
    assert _bodies(simulator) == [payload]
    assert response["session"]["type"] == "transcription"


async def test_no_defaults_injected(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """An empty call sends an empty body: the API applies its own defaults."""
    response = await _call(hass, {})
    assert _bodies(simulator) == [{}]
    assert response["session"]["type"] == "realtime"


async def test_rich_realtime_session_passes_through(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Every family of session fields, and unknown future ones, reach the API unchanged.

    The API itself refuses a field it does not know (400 `unknown_parameter`): the action
    reports that error, naming the field.
    """
    payload = {
        "expires_after": {"anchor": "created_at", "seconds": 7200},
        "session": {
            "type": "realtime",
            "model": "gpt-realtime-2099-preview",
            "output_modalities": ["text"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "whisper-1", "prompt": "kitchen"},
                    "noise_reduction": {"type": "far_field"},
                    "turn_detection": {
                        "type": "semantic_vad",
                        "eagerness": "high",
                        "create_response": True,
                        "interrupt_response": False,
                    },
                },
                "output": {
                    "format": {"type": "audio/pcma"},
                    "voice": {"id": "voice_1234"},
                    "speed": 1.5,
                },
            },
            "tools": [
                {
                    "type": "function",
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
                {
                    "type": "mcp",
                    "server_label": "deepwiki",
                    "server_url": "https://mcp.deepwiki.com/mcp",
                    "require_approval": "never",
                    "allowed_tools": {"tool_names": ["ask"], "read_only": True},
                },
            ],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "tracing": {"workflow_name": "ha", "group_id": "g1", "metadata": {"room": "kitchen"}},
            "truncation": {"type": "retention_ratio", "retention_ratio": 0.8},
            "prompt": {"id": "pmpt_123", "version": "2", "variables": {"city": "Paris"}},
            "include": ["item.input_audio_transcription.logprobs"],
            "max_output_tokens": "inf",
        },
    }
    await _call(hass, payload)
    assert _bodies(simulator) == [payload]

    future = {"session": {**payload["session"], "a_future_field": {"anything": [1, 2, 3]}}}
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, future)
    assert _bodies(simulator) == [payload, future]
    assert "session.a_future_field" in str(err.value)
    assert "unknown_parameter" in str(err.value)


@pytest.mark.parametrize(("seconds", "ok"), [(9, False), (10, True), (7200, True), (7201, False)])
async def test_expires_after_boundaries(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    seconds: int,
    ok: bool,
) -> None:
    """10 and 7200 seconds pass; 9 and 7201 are rejected before anything is sent."""
    payload = {"expires_after": {"anchor": "created_at", "seconds": seconds}}
    if ok:
        before = int(time.time())
        response = await _call(hass, payload)
        assert _bodies(simulator) == [payload]
        assert before + seconds <= response["expires_at"] <= int(time.time()) + seconds
        return
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, payload)
    assert err.value.translation_key == "invalid_request"
    assert err.value.translation_placeholders["field"] == "expires_after.seconds"
    assert simulator.requests_to("/realtime/client_secrets") == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"model": "gpt-realtime"}, "model"),
        ({"type": "realtime", "session": {"type": "realtime"}}, "type"),
        ({"instructions": "hi"}, "instructions"),
        ({"nonsense": 1}, "nonsense"),
        ({"session": {"model": "gpt-realtime"}}, "session.type"),
        ({"session": {"type": "video"}}, "session.type"),
        ({"session": {"type": "realtime", "model": ""}}, "session.model"),
        ({"session": {"type": "realtime", "model": 5}}, "session.model"),
        (
            {"session": {"type": "realtime", "output_modalities": ["video"]}},
            "session.output_modalities[0]",
        ),
        (
            {"session": {"type": "realtime", "audio": {"output": {"speed": 2.0}}}},
            "session.audio.output.speed",
        ),
        (
            {"session": {"type": "realtime", "audio": {"output": {"speed": 0.2}}}},
            "session.audio.output.speed",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
                }
            },
            "session.audio.input.format.rate",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}
                    },
                }
            },
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 100}}
                    },
                }
            },
            "session.audio.input.turn_detection.idle_timeout_ms",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"noise_reduction": {"type": 5}}},
                }
            },
            "session.audio.input.noise_reduction.type",
        ),
        ({"session": {"type": "realtime", "tools": [{"type": 7}]}}, "session.tools[0].type"),
        (
            {"session": {"type": "realtime", "tools": [{"type": "mcp"}]}},
            "session.tools[0].server_label",
        ),
        ({"session": {"type": "realtime", "tool_choice": "sometimes"}}, "session.tool_choice"),
        ({"session": {"type": "realtime", "max_output_tokens": 0}}, "session.max_output_tokens"),
        ({"session": {"type": "realtime", "max_output_tokens": 4097}}, "session.max_output_tokens"),
        ({"session": {"type": "realtime", "max_output_tokens": True}}, "session.max_output_tokens"),
        ({"session": {"type": "realtime", "tracing": "manual"}}, "session.tracing"),
        (
            {"session": {"type": "realtime", "truncation": {"type": "retention_ratio"}}},
            "session.truncation",
        ),
        ({"session": {"type": "realtime", "prompt": {"version": "1"}}}, "session.prompt.id"),
        ({"session": {"type": "realtime", "include": [""]}}, "session.include[0]"),
        # Values the engine could not hash, JSON could not carry, or that are not JSON at all.
        ({"session": {"type": []}}, "session.type"),
        ({"session": {"type": {"realtime": 1}}}, "session.type"),
        ({"session": {"type": "realtime", "tools": [{"type": ["mcp"]}]}}, "session.tools[0].type"),
        (
            {"session": {"type": "realtime", "audio": {"input": {"format": {"type": {}}}}}},
            "session.audio.input.format.type",
        ),
        ({"session": {"type": "realtime", "metadata": b"bytes"}}, "session.metadata"),
        ({"session": {"type": "realtime", "x": {"y": [1, 2j]}}}, "session.x.y[1]"),
        ({"session": {"type": "realtime", "x": float("nan")}}, "session.x"),
        ({"session": {"type": "realtime", "x": float("inf")}}, "session.x"),
        (
            {"session": {"type": "realtime", "tools": [{"type": "web", "v": -float("inf")}]}},
            "session.tools[0].v",
        ),
        ({"session": {"type": "realtime", "x": {1: "int key"}}}, "session.x"),
        ({"session": {"type": "realtime", "x": {"a": object()}}}, "session.x.a"),
        ({"session": {"type": "transcription", "include": "x"}}, "session.include"),
        ({"expires_after": {"anchor": "now", "seconds": 60}}, "expires_after.anchor"),
        ({"expires_after": {"seconds": "600"}}, "expires_after.seconds"),
        ({"expires_after": 600}, "expires_after"),
        ({"session": "realtime"}, "session"),
    ],
)
async def test_invalid_payload_rejected_before_sending(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    payload: dict[str, Any],
    field: str,
) -> None:
    """Bad input raises a translated ServiceValidationError naming the field; nothing is sent."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, payload)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "invalid_request"
    assert err.value.translation_placeholders["field"] == field
    assert field in str(err.value)
    assert simulator.requests_to("/realtime/client_secrets") == []


async def test_misplaced_field_says_where_it_belongs(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A top-level `model` is told to move under `session`."""
    with pytest.raises(ServiceValidationError, match=r"session\.model"):
        await _call(hass, {"model": "gpt-realtime", "session": {"type": "realtime"}})


@pytest.mark.parametrize(
    ("fault", "key", "fragment"),
    [
        ("400", "bad_request", "param session"),
        ("401", "auth_failed", "Reauthenticate"),
        ("403", "permission_denied", "may not"),
        ("429", "rate_limited", "Retry after 7 s"),
        ("500", "server_error", "HTTP 500"),
        ("503", "server_error", "HTTP 503"),
        ("malformed_json", "invalid_response", "invalid JSON"),
        ("drop", "cannot_connect", "Cannot reach"),
    ],
)
async def test_api_faults_become_clear_errors(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    fault: str,
    key: str,
    fragment: str,
) -> None:
    """Every OpenAI failure is a translated HomeAssistantError; the entry stays loaded."""
    simulator.add_fault("/realtime/client_secrets", fault, retry_after=7)
    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SEED_REALTIME_15)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == key
    assert fragment in str(err.value)
    assert events == []
    assert loaded_entry.state is ConfigEntryState.LOADED
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == (["reauth"] if fault == "401" else [])
    # The next call works again: nothing was left broken.
    assert (await _call(hass, SEED_REALTIME_15))["value"].startswith("ek_")


async def test_timeout(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A host that does not answer in time gives a timeout error."""
    loaded_entry.runtime_data.client._timeout = __import__("aiohttp").ClientTimeout(total=0.2)
    simulator.add_fault("/realtime/client_secrets", "slow", delay=2.0)
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SEED_REALTIME_15)
    assert err.value.translation_key == "timeout"


async def test_two_entries_need_config_entry_id(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """With two accounts the caller must choose; with one chosen, that key is used."""
    first = make_entry(simulator)
    second = make_entry(simulator, project="proj_second")
    for entry in (first, second):
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SEED_REALTIME_15)
    assert err.value.translation_key == "service_found_multiple_config_entry_for_domain"
    assert simulator.requests_to("/realtime/client_secrets") == []

    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    await _call(hass, {**SEED_REALTIME_15, "config_entry_id": second.entry_id})
    request = simulator.requests_to("/realtime/client_secrets")[-1]
    assert request.headers["OpenAI-Project"] == "proj_second"
    assert request.json() == SEED_REALTIME_15  # config_entry_id is not part of the body
    assert events[0].data["config_entry_id"] == second.entry_id


async def test_entry_errors(hass: HomeAssistant, simulator: RealtimeSimulator) -> None:
    """Unknown, unloaded and absent accounts give their own errors."""
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, {})
    assert err.value.translation_key == "service_found_no_config_entry_for_domain"

    entry = make_entry(simulator)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, {"config_entry_id": "nope"})
    assert err.value.translation_key == "service_config_entry_not_found"

    other = MockConfigEntry(domain="other", data={})
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, {"config_entry_id": other.entry_id})
    assert err.value.translation_key == "service_config_entry_wrong_domain"

    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, {"config_entry_id": entry.entry_id})
    assert err.value.translation_key == "service_config_entry_not_loaded"


@pytest.mark.parametrize(
    ("session", "param"),
    [
        (
            {"tools": [{"type": "mcp", "server_label": "x", "connector_id": "connector_new"}]},
            "session.tools[0].connector_id",
        ),
        ({"include": ["item.new_option"]}, "session.include[0]"),
        ({"audio": {"input": {"noise_reduction": {"type": "mid_field"}}}}, None),
        ({"tools": [{"type": "web_search"}]}, "session.tools[0].type"),
    ],
)
async def test_new_catalog_values_reach_the_api(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    session: dict[str, Any],
    param: str | None,
) -> None:
    """Names OpenAI adds (connectors, include options, tool kinds) are not refused by HA.

    Today's API (the simulator) does not know them and says so, naming the field; the day
    OpenAI ships them they work, with no update of the integration.
    """
    payload = {"session": {"type": "realtime", **session}}
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, payload)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "bad_request"
    assert simulator.requests_to("/realtime/client_secrets")[-1].json() == payload
    if param is not None:
        assert err.value.translation_placeholders["param"] == param


async def test_action_without_response(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Called without return_response (as a plain automation step) it still fires the event."""
    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    await hass.services.async_call(DOMAIN, ACTION, SEED_AUDIO_15, blocking=True)
    assert events[0].data["session"]["model"] == "gpt-audio-1.5"


async def test_action_is_admin_only(
    hass: HomeAssistant,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    hass_read_only_user: Any,
) -> None:
    """A non-admin user cannot mint secrets directly."""
    from homeassistant.exceptions import Unauthorized

    with pytest.raises(Unauthorized):
        await _call(hass, SEED_REALTIME_15, context=Context(user_id=hass_read_only_user.id))
    assert simulator.requests_to("/realtime/client_secrets") == []


async def test_key_never_in_event_or_response(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The long-lived key appears in neither the response nor the event."""
    events = async_capture_events(hass, EVENT_CLIENT_SECRET)
    response = await _call(hass, SEED_REALTIME_15)
    dumped = json.dumps(response) + json.dumps(events[0].data)
    assert "sk-test" not in dumped
