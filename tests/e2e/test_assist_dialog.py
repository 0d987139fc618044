"""The voice profile's Assist pipeline in Home Assistant's own Assist dialog, in Chromium.

The dialog is HA's (`ha-voice-command-dialog` with `ha-assist-chat`), opened from a dashboard's
toolbar, with the pipeline the profile made ("Voice assistant": the profile's speech-to-text,
conversation agent and text-to-speech) picked in its header. Chromium's fake microphone plays a
WAV file: the simulator's voice saying the command (tests/simulator_helpers.speech_wav), then a
long silence, so that HA's voice activity detection ends the command and the looped file does
not start another before the test is done.

What the user sees is checked in the dialog; what happened, in HA (the light, the run's events
in HA's pipeline debug record, its log) and in the simulator (what it heard, what it was asked
to say). Saves docs/screenshots/assist-*.png.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, Response, expect
import pytest

from simulator import hearing
from tests.simulator_helpers import speech_wav

from .harness import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DASHBOARD_PATH, LIGHT, Harness, until

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: the end-to-end tests drive Chromium"
)

TIMEOUT = 30_000  # ms, for the UI: a spoken turn takes seconds, and the machine may be busy
DESKTOP = (1000, 800)  # wide enough for the dashboard toolbar to show its Assist button
PIPELINE = "Voice assistant"  # the pipeline the profile made, named after the profile
PREFERRED = "Home Assistant"  # HA's own pipeline, which the dialog opens with
# Speech without a tone code: the simulator hears it as its default phrase (simulator/hearing.py).
# Not a phrase in tones: HA's voice activity detection does not always take the tones for speech
# and may end the command in the middle of the code (seen: 1 run in 8, the command cut 2.2 s in),
# and the simulator then hears speech it cannot make out.
SPOKEN = hearing.DEFAULT_PHRASE  # "Turn on the test light"
SPOKEN_REPLY = "The test light is on."
# The file starts when the dialog opens the microphone; the dialog hears it once its recorder
# (an AudioWorklet it loads then) is connected, a moment later. HA's voice activity detection
# gives up 15 s into the audio: silence before + the command (1.5 s) + 0.7 s must fit in that.
SILENCE_BEFORE = 1.0  # s
SILENCE_AFTER = 30.0  # s: the whole turn, and the reply's audio, fit in it
SPEECH_ENDPOINT = "/audio/speech"

# Watches every media element the page plays (the dialog plays the reply with `new Audio(url)`,
# an element that is never in the DOM): its source and its events, with the playing position.
AUDIO_PROBE = """() => {
  if (window.__audio) return;
  window.__audio = [];
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function (...args) {
    if (!this.__watched) {
      this.__watched = true;
      for (const kind of ["playing", "ended", "error"]) {
        this.addEventListener(kind, () => window.__audio.push(
          {kind, src: this.currentSrc, time: this.currentTime, duration: this.duration,
           error: this.error ? this.error.message || String(this.error.code) : null}));
      }
    }
    return play.apply(this, args);
  };
}"""


@pytest.fixture(scope="module")
def e2e(e2e: Harness, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """The module's world, with a Chromium whose microphone says SPOKEN, then is silent."""
    wav = tmp_path_factory.mktemp("assist") / "turn-on-the-test-light.wav"
    wav.write_bytes(speech_wav(SPOKEN, lead=SILENCE_BEFORE, tail=SILENCE_AFTER))

    async def relaunch() -> None:
        await e2e.browser.close()
        e2e.browser = await e2e.playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
        )

    e2e.run(relaunch())
    return e2e


# --- the dialog ----------------------------------------------------------------------------


class AssistDialog:
    """HA's Assist dialog on a page, by what the user sees and clicks."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = page.locator("ha-voice-command-dialog")
        self.surface = self.root.locator("dialog")  # the dialog box (for screenshots)
        self.picker = self.root.locator("ha-dropdown ha-button[slot=trigger]")
        self.chat = self.root.locator("ha-assist-chat")
        self.microphone = self.chat.get_by_role("button", name="Start listening")
        self.send = self.chat.get_by_role("button", name="Send text")
        self.listening = self.chat.locator(".bouncer")  # the pulse around the microphone
        self.input = self.chat.get_by_role("textbox", name="Enter a request")
        self.user = self.chat.locator(".message.user ha-markdown")
        self.hass = self.chat.locator(".message.hass ha-markdown")
        # The agent can control HA: else the dialog warns that it cannot.
        self.no_control = self.chat.locator("ha-alert")
        self.errors: list[str] = []  # the console errors of the page once the dashboard is open

    @classmethod
    async def open(cls, w: Harness) -> AssistDialog:
        """Open a dashboard and its toolbar's Assist button; the dialog with its greeting."""
        page = await w.new_page(f"/{DASHBOARD_PATH}/relay", viewport=DESKTOP)
        dialog = cls(page)
        page.on("console", lambda m: dialog.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda err: dialog.errors.append(str(err)))
        await page.get_by_role("button", name=re.compile(r"^Assist\b")).click()
        await expect(dialog.hass.first).to_have_text("How can I assist?", timeout=TIMEOUT)
        return dialog

    async def pick(self, name: str) -> None:
        """Pick a pipeline in the dialog's header."""
        await self.picker.click()
        await self.root.locator("ha-dropdown-item").filter(has_text=name).click()
        await expect(self.picker).to_have_text(name, timeout=TIMEOUT)
        await expect(self.hass).to_have_text(["How can I assist?"], timeout=TIMEOUT)
        await expect(self.no_control).to_have_count(0)

    async def type(self, text: str, *, send_button: bool = False) -> None:
        """Type a request, then press Enter or the send button (which typing shows)."""
        await self.input.fill(text)
        await expect(self.microphone).to_have_count(0)
        if send_button:
            await self.send.click()
        else:
            await self.input.press("Enter")
        await expect(self.input).to_have_value("")


# --- what happened, in HA and in the simulator --------------------------------------------


async def pipeline_id(w: Harness, name: str) -> str:
    listed = await w.ws_command({"type": "assist_pipeline/pipeline/list"})
    [found] = [p["id"] for p in listed["pipelines"] if p["name"] == name]
    return str(found)


async def runs(w: Harness, pipeline: str) -> list[list[dict[str, Any]]]:
    """The events of each run of the pipeline HA remembers (its debug record), oldest first."""
    listed = await w.ws_command(
        {"type": "assist_pipeline/pipeline_debug/list", "pipeline_id": pipeline}
    )
    found = []
    for run in listed["pipeline_runs"]:
        debug = await w.ws_command(
            {
                "type": "assist_pipeline/pipeline_debug/get",
                "pipeline_id": pipeline,
                "pipeline_run_id": run["pipeline_run_id"],
            }
        )
        found.append(debug["events"])
    return found


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """The event types, without the streamed deltas and voice activity marks."""
    return [
        e["type"]
        for e in events
        if e["type"] not in ("intent-progress", "stt-vad-start", "stt-vad-end")
    ]


def data(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [e["data"] for e in events if e["type"] == kind]
    return dict(found)


def answer_deltas(events: list[dict[str, Any]]) -> list[str]:
    """The pieces of the agent's answer, as they were streamed to the dialog."""
    return [
        e["data"]["chat_log_delta"]["content"]
        for e in events
        if e["type"] == "intent-progress" and e["data"].get("chat_log_delta", {}).get("content")
    ]


def heard(w: Harness, since: int) -> list[str]:
    """What the simulator's transcription sessions opened since `since` heard."""
    return [
        event["transcript"]
        for socket in w.sim.sockets[since:]
        if socket.session.get("type") == "transcription"
        for event in socket.sent
        if event["type"] == "conversation.item.input_audio_transcription.completed"
    ]


def text_sessions(w: Harness, since: int) -> list[Any]:
    """The simulator's text (agent) sessions opened since `since`."""
    return [s for s in w.sim.sockets[since:] if s.session.get("type") == "realtime"]


async def played(page: Page) -> list[dict[str, Any]]:
    """Wait until the page has played one audio to its end (AUDIO_PROBE); its events.

    Fails on an error, and unless it played more than a second of audio from start to end.
    """

    async def finished() -> list[dict[str, Any]]:
        events = await page.evaluate("window.__audio")
        return list(events) if events and events[-1]["kind"] in ("ended", "error") else []

    events = await until(finished, timeout=TIMEOUT / 1000)
    # "playing" again after a stall (audio that streams in slower than it plays) is fine.
    seen = [e["kind"] for e in events]
    assert seen[0] == "playing" and seen[-1] == "ended" and "error" not in seen, events
    assert len({e["src"] for e in events}) == 1, events
    assert events[-1]["duration"] > 1.0, events  # decoded: the words, not an empty file
    assert events[-1]["time"] == pytest.approx(events[-1]["duration"], abs=0.1), events
    return events


class LogWatch:
    """The lines HA logs from now on (the harness writes them to ARTIFACTS)."""

    PATH = ARTIFACTS / "home-assistant.log"
    LINE = re.compile(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?:[+-]\d\d:\d\d)? ([A-Z]+) .*?\[([\w.]+)\]"
    )

    def __init__(self) -> None:
        self.start = self.PATH.stat().st_size

    def problems(self) -> list[str]:
        """Errors and tracebacks of anyone; warnings of the integration and the pipeline."""
        with self.PATH.open("rb") as log:
            log.seek(self.start)
            text = log.read().decode(errors="replace")
        ours = ("custom_components.openai_api", "homeassistant.components.assist_pipeline")
        found = []
        for line in text.splitlines():
            match = self.LINE.match(line)
            level, logger = (match[1], match[2]) if match else ("", "")
            error = line.startswith("Traceback") or level in ("ERROR", "CRITICAL")
            if error or (level == "WARNING" and logger.startswith(ours)):
                found.append(line)
        return found


# --- speaking --------------------------------------------------------------------------------


def test_speaking_to_the_profile_pipeline_in_the_assist_dialog(world: Harness) -> None:
    """Pick the profile's pipeline, tap the microphone, say the command: the words, the light,
    the answer, and the answer spoken (its audio fetched from HA and played to the end)."""

    async def body() -> None:
        w = world
        log = LogWatch()
        await w.call_service("light", "turn_off", {"entity_id": LIGHT})
        await w.wait_state(LIGHT, "off")
        pipeline = await pipeline_id(w, PIPELINE)
        runs_before = len(await runs(w, pipeline))
        sockets_before = len(w.sim.sockets)

        dialog = await AssistDialog.open(w)
        page = dialog.page
        tts_responses: list[Response] = []
        page.on(
            "response", lambda r: tts_responses.append(r) if "/api/tts_proxy/" in r.url else None
        )

        # HA's own pipeline is preferred: it has no speech-to-text, so no microphone.
        await expect(dialog.picker).to_have_text(PREFERRED, timeout=TIMEOUT)
        await expect(dialog.send).to_be_visible()
        await expect(dialog.microphone).to_have_count(0)
        await dialog.picker.click()
        items = dialog.root.locator("ha-dropdown-item")
        await expect(items.filter(has_text=PIPELINE)).to_be_visible(timeout=TIMEOUT)
        await w.save_screenshot(dialog.surface, "assist-dialog-pipelines.png")
        await items.filter(has_text=PIPELINE).click()
        await expect(dialog.picker).to_have_text(PIPELINE, timeout=TIMEOUT)
        # The profile's pipeline has speech-to-text: the microphone.
        await expect(dialog.microphone).to_be_visible(timeout=TIMEOUT)
        await expect(dialog.microphone).to_be_enabled()
        await expect(dialog.no_control).to_have_count(0)

        await page.evaluate(AUDIO_PROBE)
        await dialog.microphone.click()
        # Listening: the pulse, and the user's message waiting for the words.
        await expect(dialog.listening).to_be_visible(timeout=TIMEOUT)
        await expect(dialog.user).to_have_text(["…"], timeout=TIMEOUT)
        # HA's voice activity detection ends the command in the silence after it.
        await expect(dialog.user).to_have_text([SPOKEN], timeout=TIMEOUT)
        await expect(dialog.listening).to_have_count(0, timeout=TIMEOUT)
        await expect(dialog.hass).to_have_text(["How can I assist?", SPOKEN_REPLY], timeout=TIMEOUT)
        await w.wait_state(LIGHT, "on", timeout=TIMEOUT / 1000)

        # The answer is spoken: the dialog plays the run's audio to its end.
        audio = await played(page)
        src = audio[-1]["src"]

        # HA's record of the run: the stages in order, the words, the answer.
        all_runs = await runs(w, pipeline)
        assert len(all_runs) == runs_before + 1
        events = all_runs[-1]
        assert kinds(events) == [
            "run-start",
            "stt-start",
            "stt-end",
            "intent-start",
            "intent-end",
            "tts-start",
            "tts-end",
            "run-end",
        ], events
        assert data(events, "stt-end")["stt_output"]["text"] == SPOKEN
        assert data(events, "intent-start")["engine"] == "conversation.voice_assistant"
        intent = data(events, "intent-end")["intent_output"]
        assert intent["response"]["speech"]["plain"]["speech"] == SPOKEN_REPLY
        assert intent["continue_conversation"] is False  # so the dialog does not listen again
        # One audio URL, known at the start: the answer is spoken while the agent still writes
        # it (the profile's agent and text-to-speech both stream).
        tts_output = data(events, "run-start")["tts_output"]
        assert tts_output["stream_response"] is True, tts_output
        assert tts_output["mime_type"] == "audio/mpeg", tts_output
        url = tts_output["url"]
        assert data(events, "tts-end")["tts_output"]["url"] == url
        assert src == f"{w.url}{url}"
        # The browser fetched it from HA: 200, MP3 (the TTS entity's default for browsers).
        fetched = [r for r in tts_responses if r.url == src]
        assert fetched, [r.url for r in tts_responses]
        assert {r.status for r in fetched} == {200}
        assert {r.headers.get("content-type") for r in fetched} == {"audio/mpeg"}

        # The simulator heard the microphone's words and was asked to say the answer.
        assert heard(w, sockets_before) == [SPOKEN]
        assert len(text_sessions(w, sockets_before)) == 1
        [speech] = w.sim.requests_to(SPEECH_ENDPOINT)
        assert speech.json()["input"] == SPOKEN_REPLY
        assert speech.json()["voice"] == "marin"
        assert speech.json()["response_format"] == "mp3"

        # Done: the dialog does not listen again (the looped file is still "speaking" silence).
        await expect(dialog.microphone).to_be_enabled()
        await expect(dialog.listening).to_have_count(0)
        assert len(await runs(w, pipeline)) == runs_before + 1
        await page.mouse.move(0, 0)
        await w.save_screenshot(dialog.surface, "assist-dialog.png")

        # The tool call the agent made, under "Show details".
        await dialog.chat.get_by_role("button", name="Show details").click()
        details = dialog.chat.locator(".tool-call")
        await expect(details.locator(".tool-name")).to_have_text(["intent__HassTurnOn"])
        await expect(details.locator(".tool-data").first).to_contain_text('"name": "Test light"')
        await expect(details.locator(".tool-data").last).to_contain_text('"id": "light.test_light"')
        await w.save_screenshot(dialog.surface, "assist-dialog-details.png")

        assert dialog.errors == []
        assert log.problems() == []

    world.run(body(), timeout=180)


# --- typing ----------------------------------------------------------------------------------


def test_typing_to_the_profile_pipeline_in_the_assist_dialog(world: Harness) -> None:
    """Typed requests go to the profile's agent; its answers stream into the dialog, nothing is
    spoken, and the follow-up stays in the same conversation (one text session)."""

    async def body() -> None:
        w = world
        log = LogWatch()
        await w.call_service("light", "turn_on", {"entity_id": LIGHT})
        await w.wait_state(LIGHT, "on")
        pipeline = await pipeline_id(w, PIPELINE)
        runs_before = len(await runs(w, pipeline))
        sockets_before = len(w.sim.sockets)

        dialog = await AssistDialog.open(w)
        await dialog.pick(PIPELINE)

        await dialog.type("Turn off the test light")
        await expect(dialog.user).to_have_text(["Turn off the test light"])
        await expect(dialog.hass).to_have_text(
            ["How can I assist?", "The test light is off."], timeout=TIMEOUT
        )
        await w.wait_state(LIGHT, "off", timeout=TIMEOUT / 1000)

        await dialog.type("Now turn the test light on", send_button=True)
        await expect(dialog.user).to_have_text(
            ["Turn off the test light", "Now turn the test light on"]
        )
        await expect(dialog.hass).to_have_text(
            ["How can I assist?", "The test light is off.", "The test light is on."],
            timeout=TIMEOUT,
        )
        await w.wait_state(LIGHT, "on", timeout=TIMEOUT / 1000)
        # Done, and the input empty again: the microphone is back.
        await expect(dialog.microphone).to_be_enabled()

        # Each answer came in pieces, in order, before the run ended; text only, no speech.
        all_runs = await runs(w, pipeline)
        assert len(all_runs) == runs_before + 2
        first, second = all_runs[-2:]
        for events, answer in (
            (first, "The test light is off."),
            (second, "The test light is on."),
        ):
            assert kinds(events) == ["run-start", "intent-start", "intent-end", "run-end"], events
            end = [e["type"] for e in events].index("intent-end")
            assert len(answer_deltas(events[:end])) > 1, events
            assert "".join(answer_deltas(events[:end])) == answer
            assert (
                data(events, "intent-end")["intent_output"]["response"]["speech"]["plain"]["speech"]
                == answer
            )
        # One conversation: the dialog passed the first answer's conversation id along, and the
        # agent kept its text session for it.
        conversation = data(first, "intent-end")["intent_output"]["conversation_id"]
        assert data(second, "intent-start")["conversation_id"] == conversation
        assert len(text_sessions(w, sockets_before)) == 1
        assert heard(w, sockets_before) == []
        assert w.sim.requests_to(SPEECH_ENDPOINT) == []

        await dialog.page.mouse.move(0, 0)
        await w.save_screenshot(dialog.surface, "assist-dialog-typed.png")
        assert dialog.errors == []
        assert log.problems() == []

    world.run(body(), timeout=180)


# --- Settings → Voice assistants -------------------------------------------------------------


def test_the_profile_pipeline_in_settings_and_its_voice(world: Harness) -> None:
    """Settings → Voice assistants lists the pipeline; it has the profile's three entities and
    voice, and "Try voice" speaks a sentence in that voice."""

    async def body() -> None:
        w = world
        log = LogWatch()
        page = await w.new_page("/config/voice-assistants/assistants", viewport=(900, 1400))
        await page.locator("assist-pref").get_by_text(PIPELINE, exact=True).click()
        detail = page.locator("dialog-voice-assistant-pipeline-detail")
        fields = {
            "ha-conversation-agent-picker": "Voice assistant",
            "ha-stt-picker": "Voice assistant Speech-to-text",
            "ha-tts-picker": "Voice assistant Text-to-speech",
            "ha-tts-voice-picker": "marin",
        }
        for field, shown in fields.items():
            await expect(detail.locator(field)).to_contain_text(shown, timeout=TIMEOUT)
        await page.mouse.move(0, 0)
        await w.save_screenshot(detail.locator("dialog"), "assist-pipeline-settings.png")

        await page.evaluate(AUDIO_PROBE)
        await detail.get_by_role("button", name="Try voice").click()
        trial = page.locator("dialog-tts-try")
        message = trial.get_by_role("textbox", name="Message")
        await message.fill("Hello from the voice assistant.")
        await trial.get_by_role("button", name="Play").click()
        await played(page)
        [speech] = w.sim.requests_to(SPEECH_ENDPOINT)
        assert speech.json()["input"] == "Hello from the voice assistant."
        assert speech.json()["voice"] == "marin"
        assert log.problems() == []

    world.run(body(), timeout=120)
