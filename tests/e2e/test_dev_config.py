"""The dev instance of `scripts/develop`, started by the same code (`devtools.develop.start`).

A newcomer's first start must be clean: no error or traceback in HA's log, no repair, the
blueprints listed, and a light to talk to. With HA_RELEASE=newest (scripts/lib/env.sh) this runs
against the newest Home Assistant release. The tests of `prepare_config` need no HA.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import importlib
import json
from pathlib import Path
import re
import shutil
from typing import Any

import aiohttp
from playwright.async_api import async_playwright, expect
import pytest

from devtools import develop, ha_instance

from .harness import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Harness, free_port, running

REPO = ha_instance.REPO
BLUEPRINTS = {
    kind: sorted(p.name for p in (REPO / "blueprints" / kind / "openai_api").glob("*.yaml"))
    for kind in ha_instance.BLUEPRINT_KINDS
}
# HA's log lines start with a timestamp and the level (2026.11 added the UTC offset).
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?:[+-]\d\d:\d\d)? ([A-Z]+) ")
TIMEOUT = 20_000  # ms


class DevHarness(Harness):
    """The dev instance (simulator, HA, onboarding, the account entry) and Chromium."""

    def __init__(self, config_dir: Path) -> None:
        super().__init__(config_dir)
        self._browser_log = ARTIFACTS / "dev-browser-console.log"
        self.log = ARTIFACTS / "dev-home-assistant.log"
        self._dev: contextlib.AbstractAsyncContextManager[develop.DevInstance] | None = None

    async def _start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self._browser_log.write_text("")
        self.log.unlink(missing_ok=True)
        # The blueprints, also served at /local/ for the import dialog (as if from the web).
        www = self.config_dir / "www"
        for kind, names in BLUEPRINTS.items():
            (www / kind).mkdir(parents=True, exist_ok=True)
            for name in names:
                shutil.copyfile(REPO / "blueprints" / kind / "openai_api" / name, www / kind / name)
        self._dev = develop.start(self.config_dir, free_port(), log=self.log)
        dev = await self._dev.__aenter__()
        assert dev.simulator is not None
        self.ha, self.sim = dev.ha, dev.simulator
        self.http = aiohttp.ClientSession()
        self.playwright = await async_playwright().start()
        if CHROMIUM.exists():
            self.browser = await self.playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )

    async def _stop(self) -> None:
        await super()._stop()
        if self._dev is not None:
            with contextlib.suppress(Exception):
                await self._dev.__aexit__(None, None, None)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHarness]:
    """The dev instance, once for the module."""
    yield from running(DevHarness, tmp_path_factory.mktemp("dev") / "config")


def problems_in_log(text: str) -> list[str]:
    """The ERROR and CRITICAL lines of HA's log, and the first line of each traceback."""
    found = []
    for line in text.splitlines():
        match = LOG_LINE.match(line)
        if (match and match[1] in ("ERROR", "CRITICAL")) or line.startswith("Traceback"):
            found.append(line)
    return found


# --- with Home Assistant -------------------------------------------------------------------


def test_kitchen_light_is_exposed_and_obeys_assist(dev: DevHarness) -> None:
    async def scenario() -> None:
        state = await dev.state(ha_instance.DEMO_LIGHT)
        assert state is not None
        assert state["attributes"]["friendly_name"] == "Kitchen light"
        exposed = (await dev.ws_command({"type": "homeassistant/expose_entity/list"}))[
            "exposed_entities"
        ]
        assert exposed[ha_instance.DEMO_LIGHT] == {"conversation": True}
        # The helpers behind the lights stay hidden from the model.
        assert not any(
            settings.get("conversation")
            for entity_id, settings in exposed.items()
            if entity_id.startswith("input_boolean.")
        )
        # What the voice does through HA's Assist API (the intent HassTurnOn by name).
        for text, expected in (
            ("turn on the kitchen light", "on"),
            ("turn off kitchen light", "off"),
        ):
            result = await dev.ws_command({"type": "conversation/process", "text": text})
            assert result["response"]["response_type"] == "action_done", result
            await dev.wait_state(ha_instance.DEMO_LIGHT, expected)

    dev.run(scenario())


def test_blueprints_are_listed(dev: DevHarness) -> None:
    async def scenario() -> None:
        for kind, names in BLUEPRINTS.items():
            listed = await dev.ws_command({"type": "blueprint/list", "domain": kind})
            ours = {path: bp for path, bp in listed.items() if path.startswith("openai_api/")}
            assert sorted(ours) == [f"openai_api/{name}" for name in names]
            assert all("error" not in bp for bp in ours.values()), ours

    dev.run(scenario())


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")
def test_blueprint_descriptions_read_as_paragraphs(dev: DevHarness) -> None:
    """HA's import dialog shows each description with no line break inside a paragraph.

    The descriptions are markdown shown with `breaks` (every newline is a <br>): a hard-wrapped
    YAML description would show as ragged lines. Saves docs/screenshots/blueprint-import.png.
    """

    async def scenario() -> None:
        page = await dev.new_page(viewport=(900, 940))
        for kind, names in BLUEPRINTS.items():
            for name in names:
                url = f"{dev.url}/local/{kind}/{name}"
                await page.goto(f"{dev.url}/config/blueprint/dashboard/import?blueprint_url={url}")
                dialog = page.locator("ha-dialog[open]")
                await dialog.get_by_role("button", name=re.compile("preview", re.I)).click()
                markdown = dialog.locator("ha-markdown")
                await expect(markdown).to_contain_text("Needs", timeout=TIMEOUT)
                assert await markdown.locator("br").count() == 0, name
                assert await markdown.locator("p").count() >= 2, name
                if (kind, name) == ("automation", "announce_on_voice_satellite.yaml"):
                    # Settings → Blueprints with ours listed, and the dialog over it.
                    await dev.save_screenshot(page.locator("body"), "blueprint-import.png")
                await page.keyboard.press("Escape")

    dev.run(scenario(), timeout=120)


def test_no_repairs(dev: DevHarness) -> None:
    """Nothing in Settings → Repairs; the only ignored one is the venv install's."""

    async def scenario() -> list[dict[str, Any]]:
        return list((await dev.ws_command({"type": "repairs/list_issues"}))["issues"])

    issues = dev.run(scenario())
    assert [i for i in issues if not i["ignored"]] == []
    assert {(i["domain"], i["issue_id"]) for i in issues} <= {ha_instance.INSTALL_METHOD_REPAIR}


def test_log_is_clean(dev: DevHarness) -> None:
    """No error and no traceback in HA's log, from the start through the tests above."""
    assert problems_in_log(dev.log.read_text()) == []


# --- the config folder, without Home Assistant ----------------------------------------------


def test_prepare_config_twice_and_after_a_user_copied_blueprints(tmp_path: Path) -> None:
    config = tmp_path / "config"
    ha_instance.prepare_config(config, 8123)
    target = config / "blueprints" / "automation" / "openai_api"
    source = REPO / "blueprints" / "automation" / "openai_api"
    # The README's "copy a file": one copy as is, one edited, one of the user's own.
    first, second = BLUEPRINTS["automation"][:2]
    (target / first).unlink()
    shutil.copyfile(source / first, target / first)
    (target / second).unlink()
    (target / second).write_text("blueprint: {name: mine}\n")
    (target / "my_own.yaml").write_text("blueprint: {name: own}\n")
    # A link to a blueprint the repository no longer has.
    (target / "gone.yaml").symlink_to(source / "gone.yaml")

    ha_instance.prepare_config(config, 8124)

    for name in BLUEPRINTS["automation"]:
        assert (target / name).is_symlink()
        assert (target / name).resolve() == (source / name).resolve()
    assert (target / f"{second}.bak").read_text() == "blueprint: {name: mine}\n"
    assert (target / "my_own.yaml").read_text() == "blueprint: {name: own}\n"
    assert not (target / "gone.yaml").is_symlink()
    # Python 3.14's glob, as HA lists blueprints, finds them all.
    found = sorted(p.name for p in (config / "blueprints" / "automation").glob("**/*.yaml"))
    assert found == sorted([*BLUEPRINTS["automation"], "my_own.yaml"])


def test_prepare_config_replaces_a_linked_blueprint_folder(tmp_path: Path) -> None:
    """Earlier versions linked the whole folder, which Python 3.14's glob does not enter."""
    config = tmp_path / "config"
    target = config / "blueprints" / "script" / "openai_api"
    target.parent.mkdir(parents=True)
    target.symlink_to(REPO / "blueprints" / "script" / "openai_api")
    ha_instance.prepare_config(config, 8123)
    assert not target.is_symlink()
    assert sorted(p.name for p in target.glob("*.yaml")) == BLUEPRINTS["script"]
    assert (REPO / "blueprints" / "script" / "openai_api").is_dir()  # the repository's is intact


def test_http_settings_live_in_storage(tmp_path: Path) -> None:
    """No `http:` in YAML (a repair since 2026.10); the store says 127.0.0.1 and the port."""
    config = tmp_path / "config"
    ha_instance.prepare_config(config, 8123)
    assert "http:" not in (config / "configuration.yaml").read_text()
    store = json.loads((config / ".storage" / "http").read_text())
    assert store["data"]["stable"]["server_host"] == ["127.0.0.1"]
    assert store["data"]["stable"]["server_port"] == 8123
    # A store from a newer release keeps its format; only the address changes.
    store["version"], store["data"]["pending"] = 3, {"server_port": 1}
    (config / ".storage" / "http").write_text(json.dumps(store))
    ha_instance.prepare_config(config, 8124)
    updated = json.loads((config / ".storage" / "http").read_text())
    assert updated["version"] == 3
    assert updated["data"]["stable"]["server_port"] == 8124
    assert updated["data"]["pending"] is None


def test_requirements_ha_are_the_pinned_releases_manifest_pins() -> None:
    """requirements_ha.txt pins each package as the pinned HA's integration manifests do."""
    components = Path(importlib.import_module("homeassistant.components").__path__[0])

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    manifest_pins: dict[str, str] = {}
    for manifest in components.glob("*/manifest.json"):
        for req in json.loads(manifest.read_text()).get("requirements", []):
            if "==" in req:
                manifest_pins[norm(req.split("==")[0])] = req.split("==")[1]
    ours = {}
    for line in (REPO / "requirements_ha.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            ours[norm(name)] = version
    assert ours == {name: manifest_pins.get(name) for name in ours}


# --- a spoken turn: Chromium's fake microphone plays a WAV, the simulator listens -----------

SPOKEN_DASHBOARD = "talk-to-it"


def speech_wav(path: Path, *, rate: int = 48000) -> Path:
    """About 1.4 s of something speech-like (voiced syllables), then a long silence.

    Chromium loops the file: the silence lets the whole turn (transcript, tool, spoken answer)
    finish before the "speech" comes round again.
    """
    import math
    import struct
    import wave

    frames = bytearray()
    total = int(rate * 16.0)
    for n in range(total):
        t = n / rate
        sample = 0.0
        if 0.3 <= t < 1.7:
            # A 130 Hz voice with a few harmonics, four syllables a second.
            syllable = math.sin(math.pi * ((t - 0.3) * 4 % 1)) ** 2
            voice = sum(math.sin(2 * math.pi * 130 * k * t) / k for k in range(1, 6))
            sample = 0.3 * syllable * voice
        frames += struct.pack("<h", max(-32767, min(32767, int(sample * 32767))))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")
def test_a_spoken_turn_turns_on_the_kitchen_light(dev: DevHarness, tmp_path: Path) -> None:
    """The newcomer's first talk, with no key: speak, see the transcript, the light go on,
    Thinking, Speaking and the answer. Saves docs/screenshots/voice-turn-*.png."""
    wav = speech_wav(tmp_path / "speech.wav")

    async def scenario() -> None:
        await dev.ws_command(
            {"type": "lovelace/dashboards/create", "url_path": SPOKEN_DASHBOARD, "title": "Talk"}
        )
        await dev.ws_command(
            {
                "type": "lovelace/config/save",
                "url_path": SPOKEN_DASHBOARD,
                "config": {
                    "views": [
                        {
                            "path": "home",
                            "cards": [
                                {
                                    "type": "custom:openai-realtime-voice-card",
                                    "entity": "assist_satellite.voice_assistant",
                                }
                            ],
                        }
                    ]
                },
            }
        )
        await dev.call_service("light", "turn_off", {"entity_id": ha_instance.DEMO_LIGHT})
        browser, dev.browser = (
            dev.browser,
            await dev.playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
            ),
        )
        try:
            page = await dev.new_page(f"/{SPOKEN_DASHBOARD}/home", viewport=(480, 760))
            card = page.locator("openai-realtime-voice-card").first
            await card.locator("button.talk").click()
            seen: list[str] = []
            for state in ("listening", "thinking", "speaking"):
                await expect(card).to_have_attribute("data-state", state, timeout=TIMEOUT)
                seen.append(state)
                await dev.save_screenshot(card, f"voice-turn-{state}.png")
                if state == "thinking":
                    user = card.locator(".line.user .text").first
                    await expect(user).to_have_text("Turn on the kitchen light.", timeout=TIMEOUT)
                    await dev.wait_state(ha_instance.DEMO_LIGHT, "on")
            assistant = card.locator(".line.assistant .text").last
            await expect(assistant).to_have_text("The kitchen light is on.", timeout=TIMEOUT)
            await expect(card).to_have_attribute("data-state", "listening", timeout=TIMEOUT)
            await dev.save_screenshot(card, "voice-turn-done.png")
            assert seen == ["listening", "thinking", "speaking"]
            await card.locator("button.talk").click()
            await expect(card).to_have_attribute("data-state", "idle", timeout=TIMEOUT)
        finally:
            await dev.close_pages()
            await dev.browser.close()
            dev.browser = browser

    dev.run(scenario(), timeout=120)
