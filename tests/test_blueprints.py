"""The blueprints under blueprints/: they load through HA's blueprint integration, and run.

Each blueprint is installed into the test instance's config folder and instantiated as a real
automation or script with `use_blueprint`; its effect is checked against the simulator (the
request body of the client secret, the sideband of a live call) and HA (events, the logbook).
"""

from __future__ import annotations

import json
from pathlib import Path
import shutil
import time
from typing import Any

from homeassistant.components import persistent_notification
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.automation.helpers import (
    async_get_blueprints as automation_blueprints,
)
from homeassistant.components.blueprint import BLUEPRINT_SCHEMA, Blueprint, importer
from homeassistant.components.script.helpers import async_get_blueprints as script_blueprints
from homeassistant.const import EVENT_LOGBOOK_ENTRY
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers import selector
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util, yaml as yaml_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.openai_api.const import EVENT_CLIENT_SECRET, EVENT_TRANSCRIPT
from simulator import RealtimeSimulator, SimCall, Turn

from .conftest import make_entry
from .voice_helpers import SATELLITE, Voice, until

ROOT = Path(__file__).parent.parent
BLUEPRINTS = ROOT / "blueprints"
REPO = "openai-api-ha/openai_api"

SECRET_AUTOMATION = "openai_api/realtime_client_secret.yaml"
SECRET_SCRIPT = "openai_api/realtime_client_secret.yaml"
ANNOUNCE = "openai_api/announce_on_voice_satellite.yaml"
TRANSCRIPT = "openai_api/react_to_transcript.yaml"
PHONE = "openai_api/answer_phone_calls.yaml"

ALL = [
    ("automation", SECRET_AUTOMATION),
    ("automation", ANNOUNCE),
    ("automation", TRANSCRIPT),
    ("automation", PHONE),
    ("script", SECRET_SCRIPT),
]

# The first inject node of the Node-RED example (../shared/seeds/), plus the blueprints' voice.
SEED_BODY = {
    "expires_after": {"anchor": "created_at", "seconds": 600},
    "session": {
        "type": "realtime",
        "model": "gpt-realtime-1.5",
        "output_modalities": ["audio"],
        "instructions": "Speak clearly and keep responses concise.",
        "audio": {"output": {"voice": "marin"}},
    },
}

# A user action that hands every variable a test wants to see to an event.
SEEN = "blueprint_test_seen"


def _report(**data: str) -> list[dict[str, Any]]:
    return [{"event": SEEN, "event_data": data}]


@pytest.fixture(autouse=True)
async def auto_enable_custom_integrations(
    recorder_db_url: str, hass: HomeAssistant, enable_custom_integrations: None
) -> None:
    """As in conftest, but the recorder's database comes before `hass` (the logbook needs it)."""
    assert await async_setup_component(hass, "homeassistant", {})


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config folder of the test's own: blueprints are copied into it."""
    return hass_tmp_config_dir


@pytest.fixture(autouse=True)
def installed(hass: HomeAssistant) -> None:
    """Install the repository's blueprints where HA looks for them."""
    for domain in ("automation", "script"):
        source = BLUEPRINTS / domain / "openai_api"
        target = Path(hass.config.path("blueprints", domain, "openai_api"))
        shutil.copytree(source, target)


async def _automation(hass: HomeAssistant, path: str, **inputs: Any) -> str:
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "id": "under_test",
                    "alias": "Under test",
                    "use_blueprint": {"path": path, "input": inputs},
                }
            ]
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("automation.under_test")
    assert state is not None
    assert state.state == "on", state.attributes  # "unavailable" when the blueprint is invalid
    return "automation.under_test"


async def _script(hass: HomeAssistant, **inputs: Any) -> None:
    assert await async_setup_component(
        hass,
        "script",
        {
            "script": {
                "realtime_secret": {
                    "use_blueprint": {"path": SECRET_SCRIPT, "input": inputs},
                }
            }
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("script.realtime_secret")
    assert state is not None
    assert state.state == "off", state.attributes  # "unavailable" when the blueprint is invalid


def _secret_bodies(simulator: RealtimeSimulator) -> list[Any]:
    return [r.json() for r in simulator.requests_to("/realtime/client_secrets")]


# --- the files ----------------------------------------------------------------------------


def test_every_blueprint_is_tested() -> None:
    """A new blueprint file needs a line in ALL (and tests)."""
    found = {
        (path.parent.parent.name, f"openai_api/{path.name}")
        for path in BLUEPRINTS.glob("*/openai_api/*.yaml")
    }
    assert found == set(ALL)


@pytest.mark.parametrize(("domain", "path"), ALL)
def test_blueprint_is_valid(domain: str, path: str) -> None:
    """Schema, domain, metadata, and every input described with a selector its default fits."""
    data = yaml_util.load_yaml_dict(BLUEPRINTS / domain / path)
    schema = AUTOMATION_BLUEPRINT_SCHEMA if domain == "automation" else BLUEPRINT_SCHEMA
    blueprint = Blueprint(data, expected_domain=domain, path=path, schema=schema)
    assert blueprint.validate() is None  # min_version is met by the installed HA
    meta = blueprint.metadata
    assert meta["source_url"] == f"https://github.com/{REPO}/blob/main/blueprints/{domain}/{path}"
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert meta["homeassistant"]["min_version"] == hacs["homeassistant"]
    assert meta["author"]
    assert "**Needs**" in meta["description"]
    assert blueprint.inputs
    for key, spec in blueprint.inputs.items():
        assert spec["name"], key
        assert spec["description"], key
        sel = selector.selector(spec["selector"])
        if "default" in spec:
            sel(spec["default"])  # raises when the default does not fit the selector
    assert data["mode"] in {"single", "restart", "queued", "parallel"}


@pytest.mark.parametrize(("domain", "path"), ALL)
async def test_blueprint_imports_from_its_badge_url(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, domain: str, path: str
) -> None:
    """The README's import badge points at the raw file; HA's importer accepts it."""
    raw_url = f"https://raw.githubusercontent.com/{REPO}/main/blueprints/{domain}/{path}"
    aioclient_mock.get(raw_url, text=(BLUEPRINTS / domain / path).read_text())
    imported = await importer.fetch_blueprint_from_url(hass, raw_url)
    assert imported.blueprint.domain == domain
    assert imported.suggested_filename == f"openai-api-ha/{Path(path).stem}"
    # The source_url in the file is the github.com page, which HA's importer also accepts.
    source_url = yaml_util.load_yaml_dict(BLUEPRINTS / domain / path)["blueprint"]["source_url"]
    assert importer._get_github_import_url(source_url) == raw_url


async def test_installed_blueprints_load(hass: HomeAssistant) -> None:
    """HA's own loader finds every blueprint in the config folder, none failing."""
    for domain, get in (("automation", automation_blueprints), ("script", script_blueprints)):
        loaded = await get(hass).async_get_blueprints()
        ours = {path: bp for path, bp in loaded.items() if path.startswith("openai_api/")}
        assert ours, domain
        for path, bp in ours.items():
            assert isinstance(bp, Blueprint), (path, bp)


# --- 1. automation: a client secret on a trigger ------------------------------------------------


async def test_secret_automation_with_defaults(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Defaults are the Node-RED example's; the user's actions get the response."""
    seen = async_capture_events(hass, SEEN)
    minted = async_capture_events(hass, EVENT_CLIENT_SECRET)
    await _automation(
        hass,
        SECRET_AUTOMATION,
        triggers=[{"trigger": "event", "event_type": "tablet_wants_a_secret"}],
        actions=_report(
            value="{{ client_secret.value }}",
            expires_at="{{ client_secret.expires_at }}",
            model="{{ client_secret.session.model }}",
            voice="{{ client_secret.session.audio.output.voice }}",
            trigger="{{ trigger.event.event_type }}",
        ),
    )
    before = int(time.time())
    hass.bus.async_fire("tablet_wants_a_secret")
    await hass.async_block_till_done()

    assert _secret_bodies(simulator) == [SEED_BODY]
    assert len(seen) == 1
    data = seen[0].data
    assert data["value"].startswith("ek_")
    assert data["value"] == minted[0].data["value"]
    assert before + 600 <= data["expires_at"] <= int(time.time()) + 600
    assert data["model"] == "gpt-realtime-1.5"
    assert data["voice"] == "marin"
    assert data["trigger"] == "tablet_wants_a_secret"


async def test_secret_automation_with_every_input(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """Account, model, custom voice, templated instructions, lifetime and extra settings."""
    first, second = make_entry(simulator), make_entry(simulator, base_url=simulator.base_url + "/")
    for entry in (first, second):
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    minted = async_capture_events(hass, EVENT_CLIENT_SECRET)
    seen = async_capture_events(hass, SEEN)
    await _automation(
        hass,
        SECRET_AUTOMATION,
        triggers=[{"trigger": "event", "event_type": "go"}],
        config_entry=second.entry_id,
        model="gpt-audio-1.5",
        voice="my-custom-voice",
        instructions="Greet {{ trigger.event.data.who }}.\nBe brief.",
        lifetime=120.0,  # the number selector may hand over a float
        session_options={
            "max_output_tokens": 500,
            "audio": {
                "input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}},
                "output": {"speed": 1.2},
            },
        },
        actions=_report(session="{{ client_secret.session | to_json }}"),
    )
    hass.bus.async_fire("go", {"who": "Ada"})
    await hass.async_block_till_done()

    assert _secret_bodies(simulator) == [
        {
            "expires_after": {"anchor": "created_at", "seconds": 120},
            "session": {
                "type": "realtime",
                "model": "gpt-audio-1.5",
                "output_modalities": ["audio"],
                "instructions": "Greet Ada.\nBe brief.",
                "max_output_tokens": 500,
                "audio": {
                    "input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}},
                    "output": {"voice": "my-custom-voice", "speed": 1.2},
                },
            },
        }
    ]
    assert [e.data["config_entry_id"] for e in minted] == [second.entry_id]
    session = json.loads(seen[0].data["session"])
    assert session["model"] == "gpt-audio-1.5"
    assert session["audio"]["output"]["voice"] == "my-custom-voice"


async def test_secret_automation_leaves_empty_inputs_to_openai(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Empty model, voice and instructions are not sent; no actions is fine (the event)."""
    minted = async_capture_events(hass, EVENT_CLIENT_SECRET)
    await _automation(
        hass,
        SECRET_AUTOMATION,
        triggers=[{"trigger": "event", "event_type": "go"}],
        model="",
        voice="",
        instructions="",
    )
    hass.bus.async_fire("go")
    await hass.async_block_till_done()
    assert _secret_bodies(simulator) == [
        {
            "expires_after": {"anchor": "created_at", "seconds": 600},
            "session": {"type": "realtime", "output_modalities": ["audio"]},
        }
    ]
    assert len(minted) == 1


async def _plain_user(hass: HomeAssistant) -> Context:
    """The context of a non-admin user who may control entities."""
    group = await hass.auth.async_get_group("system-users")
    assert group is not None
    user = MockUser(name="Plain", groups=[group]).add_to_hass(hass)
    assert not user.is_admin
    return Context(user_id=user.id)


async def test_secret_automation_for_a_plain_users_button(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A non-admin presses an input_button: the automation (not the user) mints the secret."""
    assert await async_setup_component(hass, "input_button", {"input_button": {"talk": {}}})
    seen = async_capture_events(hass, SEEN)
    await _automation(
        hass,
        SECRET_AUTOMATION,
        triggers=[{"trigger": "state", "entity_id": "input_button.talk"}],
        actions=_report(value="{{ client_secret.value }}"),
    )
    await hass.services.async_call(
        "input_button",
        "press",
        {"entity_id": "input_button.talk"},
        blocking=True,
        context=await _plain_user(hass),
    )
    await hass.async_block_till_done()
    assert len(_secret_bodies(simulator)) == 1
    assert seen[0].data["value"].startswith("ek_")


# --- 2. script: returns a client secret -----------------------------------------------------


async def test_secret_script_returns_the_response(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Called with no fields, the defaults; with fields, those for this call."""
    minted = async_capture_events(hass, EVENT_CLIENT_SECRET)
    await _script(hass)
    before = int(time.time())

    response = await hass.services.async_call(
        "script", "realtime_secret", {}, blocking=True, return_response=True
    )
    assert _secret_bodies(simulator) == [SEED_BODY]
    assert response is not None
    assert set(response) == {"value", "expires_at", "session"}
    assert response["value"].startswith("ek_")
    assert before + 600 <= response["expires_at"] <= int(time.time()) + 600
    assert response["session"]["model"] == "gpt-realtime-1.5"
    assert response["session"]["audio"]["output"]["voice"] == "marin"
    assert minted[-1].data["value"] == response["value"]

    response = await hass.services.async_call(
        "script",
        "realtime_secret",
        {"model": "gpt-audio-1.5", "voice": "cedar", "instructions": "Greet.", "lifetime": 60},
        blocking=True,
        return_response=True,
    )
    assert _secret_bodies(simulator)[-1] == {
        "expires_after": {"anchor": "created_at", "seconds": 60},
        "session": {
            "type": "realtime",
            "model": "gpt-audio-1.5",
            "output_modalities": ["audio"],
            "instructions": "Greet.",
            "audio": {"output": {"voice": "cedar"}},
        },
    }
    assert response is not None
    assert response["session"]["audio"]["output"]["voice"] == "cedar"
    assert response["value"] != minted[0].data["value"]


async def test_secret_script_inputs_and_empty_fields(
    hass: HomeAssistant, simulator: RealtimeSimulator
) -> None:
    """Script inputs are the defaults; empty fields fall back to them; the account is used."""
    first, second = make_entry(simulator), make_entry(simulator, base_url=simulator.base_url + "/")
    for entry in (first, second):
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    minted = async_capture_events(hass, EVENT_CLIENT_SECRET)
    await _script(
        hass,
        config_entry=first.entry_id,
        model="gpt-realtime",
        voice="ash",
        instructions="It is {{ 'day' }}.",
        lifetime=7200,
        session_options={"tool_choice": "none"},
    )
    await hass.services.async_call(
        "script",
        "realtime_secret",
        {"model": "", "voice": None, "instructions": ""},
        blocking=True,
        return_response=True,
    )
    assert _secret_bodies(simulator) == [
        {
            "expires_after": {"anchor": "created_at", "seconds": 7200},
            "session": {
                "type": "realtime",
                "model": "gpt-realtime",
                "output_modalities": ["audio"],
                "instructions": "It is day.",
                "tool_choice": "none",
                "audio": {"output": {"voice": "ash"}},
            },
        }
    ]
    assert [e.data["config_entry_id"] for e in minted] == [first.entry_id]


async def test_secret_script_called_from_another_script(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The documented use: `action: script.…` with a response_variable."""
    await _script(hass)
    seen = async_capture_events(hass, SEEN)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": {"trigger": "event", "event_type": "go"},
                "actions": [
                    {
                        "action": "script.realtime_secret",
                        "data": {"instructions": "Greet the visitor."},
                        "response_variable": "secret",
                    },
                    *_report(
                        value="{{ secret.value }}",
                        instructions="{{ secret.session.instructions }}",
                    ),
                ],
            }
        },
    )
    hass.bus.async_fire("go")
    await hass.async_block_till_done()
    assert seen[0].data["value"].startswith("ek_")
    assert seen[0].data["instructions"] == "Greet the visitor."


async def test_secret_script_refused_for_a_non_admin(
    hass: HomeAssistant, simulator: RealtimeSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A script runs as its caller: the admin-only action refuses a plain user (documented)."""
    await _script(hass)
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            "script",
            "realtime_secret",
            {},
            blocking=True,
            return_response=True,
            context=await _plain_user(hass),
        )
    assert _secret_bodies(simulator) == []


# --- 3. automation: announce, or fall back -----------------------------------------------------


def _announcements(call: SimCall) -> list[str]:
    return [
        r.event["response"]["instructions"]
        for r in call.received
        if r.event["type"] == "response.create"
        and r.source == "sideband"
        and "response" in r.event
        and "instructions" in r.event["response"]
    ]


async def _announce_automation(hass: HomeAssistant, **inputs: Any) -> None:
    await _automation(
        hass,
        ANNOUNCE,
        triggers=[{"trigger": "event", "event_type": "doorbell"}],
        satellite=SATELLITE,
        **inputs,
    )


async def test_announce_into_a_live_call(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """The message (a template) goes down the sideband; the fallback does not run."""
    fallback = async_capture_events(hass, SEEN)
    await _announce_automation(
        hass,
        message="{{ trigger.event.data.who }} is at the door.",
        fallback=_report(message="{{ announcement }}"),
    )
    _peer, _call_id, call = await voice.connect()

    hass.bus.async_fire("doorbell", {"who": "The postman"})
    await hass.async_block_till_done()

    await until(lambda: _announcements(call))
    said = "Say exactly this to the user, word for word, and nothing else: "
    assert _announcements(call) == [said + '"The postman is at the door."']
    assert fallback == []


async def test_announce_falls_back_without_a_call(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """No live call: the fallback runs with the rendered message, nothing reaches OpenAI."""
    fallback = async_capture_events(hass, SEEN)
    await _announce_automation(
        hass,
        message="Ring at {{ trigger.event.data.door }}",
        fallback=_report(message="{{ announcement }}", satellite="{{ satellite }}"),
    )
    assert hass.states.get(SATELLITE).attributes["call_count"] == 0
    hass.bus.async_fire("doorbell", {"door": "the back door"})
    await hass.async_block_till_done()
    assert [e.data for e in fallback] == [
        {"message": "Ring at the back door", "satellite": SATELLITE}
    ]
    assert simulator.requests_to("/realtime/calls") == []


async def test_announce_default_fallback_is_a_notification(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """Left as is, the fallback creates a persistent notification with the message."""
    assert await async_setup_component(hass, "persistent_notification", {})
    await _announce_automation(hass)
    hass.bus.async_fire("doorbell")
    await hass.async_block_till_done()
    notifications = persistent_notification._async_get_or_create_notifications(hass)
    assert [(n["title"], n["message"]) for n in notifications.values()] == [
        ("Announcement", "Someone is at the door.")
    ]


async def test_announce_with_an_empty_fallback(
    hass: HomeAssistant, voice: Voice, simulator: RealtimeSimulator
) -> None:
    """An empty fallback is valid: nothing happens, no error."""
    await _announce_automation(hass, fallback=[])
    hass.bus.async_fire("doorbell")
    await hass.async_block_till_done()
    assert hass.states.get("automation.under_test").attributes["last_triggered"] is not None


async def test_announce_falls_back_when_the_call_ends_meanwhile(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The user hangs up while the announcement is being spoken: the fallback runs too."""
    fallback = async_capture_events(hass, SEEN)
    await _announce_automation(hass, message="Dinner is ready", fallback=_report(ok="yes"))
    _peer, call_id, call = await voice.connect()

    async def never_answer(*_args: Any, **_kwargs: Any) -> None:
        """The model is still talking: no response.done yet."""

    monkeypatch.setattr(call, "_respond", never_answer)
    hass.bus.async_fire("doorbell")
    await call.wait_for(lambda r: r.event["type"] == "response.create")
    reply = await voice.command(type="openai_api/realtime/hangup", call_id=call_id)
    assert reply["result"]["ended"] is True
    await hass.async_block_till_done()
    await until(lambda: fallback)
    assert [e.data for e in fallback] == [{"ok": "yes"}]


# --- 4. automation: react to transcripts --------------------------------------------------------


@pytest.fixture
async def logbook(hass: HomeAssistant, recorder_mock: Any) -> None:
    """The logbook (with its recorder and frontend); set up before `voice` starts HTTP."""
    assert await async_setup_component(hass, "logbook", {})


async def test_transcripts_go_to_the_logbook_by_default(
    hass: HomeAssistant,
    logbook: None,
    voice: Voice,
    simulator: RealtimeSimulator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A real turn of a call: both lines are logged on the satellite, in order."""
    entries = async_capture_events(hass, EVENT_LOGBOOK_ENTRY)
    start = dt_util.utcnow()
    await _automation(hass, TRANSCRIPT)
    _peer, _call_id, call = await voice.connect()

    await call.user_turn(Turn(tool_name=None, reply="Hello there."))
    await until(lambda: len(entries) == 2)
    await hass.async_block_till_done()
    assert [(e.data["name"], e.data["message"], e.data["entity_id"]) for e in entries] == [
        ("Voice assistant", "heard: “Turn on the test light”", SATELLITE),
        ("Voice assistant", "said: “Hello there.”", SATELLITE),
    ]
    # And they are in the satellite's logbook, as the UI reads it.
    await async_wait_recording_done(hass)
    reply = await voice.command(
        type="logbook/get_events", start_time=start.isoformat(), entity_ids=[SATELLITE]
    )
    assert reply["success"], reply
    logged = [(e.get("name"), e.get("message")) for e in reply["result"] if "message" in e]
    assert logged == [
        ("Voice assistant", "heard: “Turn on the test light”"),
        ("Voice assistant", "said: “Hello there.”"),
    ]


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # Everything by default.
        ({}, ["u1", "a1", "u2", "u3", "u4"]),
        ({"role": "user"}, ["u1", "u2", "u3", "u4"]),
        ({"role": "assistant"}, ["a1"]),
        ({"satellites": [SATELLITE]}, ["u1", "a1", "u3", "u4"]),
        ({"satellites": "assist_satellite.other"}, ["u2"]),  # a single id, by hand
        ({"phrases": ["HELP"]}, ["u1", "a1", "u2"]),
        ({"phrases": ["lights off", " "]}, ["u4"]),
        (
            {"role": "user", "satellites": [SATELLITE], "phrases": ["help", "emergency"]},
            ["u1"],
        ),
    ],
)
async def test_transcript_filters(
    hass: HomeAssistant,
    inputs: dict[str, Any],
    expected: list[str],
) -> None:
    """Who spoke, which satellite, which phrase; the actions get the transcript."""
    seen = async_capture_events(hass, SEEN)
    await _automation(
        hass,
        TRANSCRIPT,
        actions=_report(
            role="{{ role }}",
            text="{{ text }}",
            satellite="{{ satellite }}",
            call_id="{{ call_id }}",
            item_id="{{ item_id }}",
            matched="{{ matched_phrase }}",
        ),
        **inputs,
    )
    lines = {
        "u1": ("user", "Please HELP me", SATELLITE),
        "a1": ("assistant", "Help is on the way.", SATELLITE),
        "u2": ("user", "help", "assist_satellite.other"),
        "u3": ("user", "What time is it?", SATELLITE),
        "u4": ("user", "Turn the lights OFF", SATELLITE),
    }
    for item_id, (role, text, entity_id) in lines.items():
        hass.bus.async_fire(
            EVENT_TRANSCRIPT,
            {
                "role": role,
                "text": text,
                "entity_id": entity_id,
                "call_id": "rtc_1",
                "item_id": item_id,
                "config_entry_id": "x",
            },
        )
        await hass.async_block_till_done()
    assert [e.data["item_id"] for e in seen] == expected
    for event in seen:
        role, text, entity_id = lines[event.data["item_id"]]
        assert event.data["role"] == role
        assert event.data["text"] == text
        assert event.data["satellite"] == entity_id
        assert event.data["call_id"] == "rtc_1"
        phrases = inputs.get("phrases", [])
        wanted = next((p for p in phrases if p.strip() and p.lower() in text.lower()), "")
        assert event.data["matched"] == wanted


# --- Answer phone calls with a voice profile -------------------------------------------------


def _ring(hass: HomeAssistant, entry: Any, call: SimCall, caller: str) -> None:
    """What the webhook fires for a verified incoming call (tests/test_incoming.py)."""
    hass.bus.async_fire(
        "openai_api_realtime_call_incoming",
        {
            "call_id": call.call_id,
            "caller_number": caller,
            "caller_name": None,
            "callee_number": "+18005550000",
            "sip_headers": [],
            "headers": {},
            "config_entry_id": entry.entry_id,
        },
    )


@pytest.mark.parametrize(
    ("caller", "inputs", "expected"),
    [
        ("+14155550123", {"allowed_callers": ["+1 (415) 555-0123"]}, "accept"),
        ("+19995550000", {"allowed_callers": ["+14155550123"]}, "reject"),
        ("+19995550000", {"allowed_callers": ["+14155550123"], "reject_status": 486}, "reject"),
        (
            "+19995550000",
            {
                "allowed_callers": ["+14155550123"],
                "otherwise": "refer",
                "refer_to": "tel:+15550001",
            },
            "refer",
        ),
        ("anonymous", {}, "accept"),  # an empty list answers everybody
    ],
)
async def test_answer_phone_calls(
    hass: HomeAssistant,
    voice: Voice,
    simulator: RealtimeSimulator,
    loaded_entry: MockConfigEntry,
    caller: str,
    inputs: dict[str, Any],
    expected: str,
) -> None:
    await _automation(hass, PHONE, satellite=SATELLITE, **inputs)
    call = simulator.add_call()
    _ring(hass, loaded_entry, call, caller)
    await until(
        lambda: any(
            r.path.startswith(f"/realtime/calls/{call.call_id}/") for r in simulator.requests
        )
    )
    [request] = [
        r for r in simulator.requests if r.path.startswith(f"/realtime/calls/{call.call_id}/")
    ]
    assert request.path.endswith(f"/{expected}")
    if expected == "accept":
        await until(lambda: call.sidebands)
        assert hass.states.get(SATELLITE).attributes["call_ids"] == [call.call_id]
    elif expected == "reject":
        assert request.json() == {"status_code": inputs.get("reject_status", 603)}
    else:
        assert request.json() == {"target_uri": "tel:+15550001"}
