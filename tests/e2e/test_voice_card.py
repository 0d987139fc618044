"""The voice card in Chromium against a real Home Assistant and the Realtime simulator.

Each test opens the card on a dashboard, taps it (or uses the keyboard) and checks what the
user sees, what Home Assistant's state says, and what reached "OpenAI" (the simulator).
"""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.async_api import Locator, Page, WebSocketRoute, expect
import pytest

from custom_components.openai_api.realtime.manager import EPHEMERAL_SECONDS
from simulator import Turn
from simulator.routes import parse_multipart

from .harness import (
    CHROMIUM,
    DASHBOARD_PATH,
    LIGHT,
    SATELLITE,
    Harness,
    until,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: the end-to-end tests drive Chromium"
)

TIMEOUT = 20_000  # ms, for the UI: the machine may be busy with other test runs
PHONE = (412, 860)


async def open_card(w: Harness, view: str = "relay", **kwargs: Any) -> tuple[Page, Locator]:
    """Open a view of the test dashboard; return the page and its first voice card."""
    page = await w.new_page(f"/{DASHBOARD_PATH}/{view}", viewport=PHONE, **kwargs)
    card = page.locator("openai-realtime-voice-card").first
    await expect(card).to_have_attribute("data-state", "idle", timeout=30_000)
    return page, card


async def expect_state(card: Locator, state: str) -> None:
    """Wait until the card shows `state`."""
    await expect(card).to_have_attribute("data-state", state, timeout=TIMEOUT)


async def start(w: Harness, card: Locator) -> Any:
    """Tap the card and wait for a live call; return the simulator's call."""
    before = set(w.sim.calls)
    await card.locator("button.talk").click()
    await expect_state(card, "listening")
    return w.sim.calls[next(c for c in w.sim.calls if c not in before)]


async def transcript(card: Locator) -> list[tuple[str, str]]:
    """The transcript lines the card shows: (role, text)."""
    lines = await card.evaluate(
        """el => [...el.shadowRoot.querySelectorAll('.transcript .line')]
            .filter(line => line.querySelector('.text').textContent)
            .map(line => [line.classList[1], line.querySelector('.text').textContent])"""
    )
    return [(role, text) for role, text in lines]


async def remote_level(card: Locator) -> bool:
    """Whether the card hears the model (the simulator plays a tone at RMS 0.2)."""
    return float(await card.get_attribute("data-remote-level") or 0) > 0.01


async def no_live_calls(w: Harness) -> bool:
    """Whether the satellite entity lists no live call."""
    return await satellite_attr(w, "call_count") == 0


async def satellite_attr(w: Harness, name: str) -> Any:
    state = await w.state(SATELLITE)
    assert state is not None
    return state["attributes"][name]


def test_login_idle_card_and_editor(world: Harness) -> None:
    """Log in through HA's login form; the card is idle, accessible, and has an editor."""

    async def body() -> None:
        w = world
        page = await w.new_page(f"/{DASHBOARD_PATH}/relay", logged_in=False, viewport=PHONE)
        await page.locator("input[name=username]").fill("dev")
        await page.locator("input[name=password]").fill("dev-password")
        await page.locator("input[name=password]").press("Enter")
        card = page.locator("openai-realtime-voice-card").first
        await expect(card).to_have_attribute("data-state", "idle", timeout=30_000)
        assert "/auth/" not in page.url

        button = card.locator("button.talk")
        await expect(button).to_have_attribute("aria-pressed", "false")
        await expect(button).to_have_attribute("aria-label", "Start voice session: Voice assistant")
        await expect(card.locator(".name")).to_have_text("Voice assistant")
        await expect(card.locator(".status")).to_have_text("Ready")
        await expect(card.locator(".status")).to_have_attribute("aria-live", "polite")
        await expect(card.locator(".transcript")).to_have_attribute("role", "log")
        await expect(card.locator(".hint")).to_have_text("Tap to talk")
        # Keyboard users see where they are.
        await button.focus()
        await page.keyboard.press("Tab")
        await page.keyboard.press("Shift+Tab")
        outline = await button.evaluate("el => getComputedStyle(el).outlineStyle")
        assert outline == "solid"
        await page.mouse.move(0, 0)
        await page.locator("body").click(position={"x": 5, "y": 600})  # blur: no focus ring
        await w.save_screenshot(card, "voice-card-idle.png")

        # The card picker entry, the stub config, validation and the visual editor.
        result = await page.evaluate(
            """async () => {
              const hass = document.querySelector("home-assistant").hass;
              const Card = customElements.get("openai-realtime-voice-card");
              const errors = [];
              for (const bad of [{}, {entity: "light.test_light"},
                  {entity: "assist_satellite.voice_assistant", mode: "direct"},
                  {entity: "assist_satellite.voice_assistant", show_transcript: "yes"}]) {
                try { document.createElement("openai-realtime-voice-card").setConfig(bad); errors.push(null); }
                catch (err) { errors.push(err.message); }
              }
              const stub = Card.getStubConfig(hass);
              const small = document.createElement("openai-realtime-voice-card");
              small.setConfig({entity: stub.entity, show_transcript: false});
              // HA loads ha-form with its own card editors: load one, as the editor dialog does.
              const helpers = await window.loadCardHelpers();
              const tile = await helpers.createCardElement({type: "tile", entity: "light.test_light"});
              await tile.constructor.getConfigElement();
              await customElements.whenDefined("ha-form");
              const editor = Card.getConfigElement();
              const changes = [];
              editor.addEventListener("config-changed", (ev) => changes.push(ev.detail.config));
              document.body.append(editor);
              editor.hass = hass;
              editor.setConfig({type: "custom:openai-realtime-voice-card", entity: stub.entity});
              const form = editor.querySelector("ha-form");
              // Labels end up in text, in `label` properties, or in shadow roots: gather all.
              const text = (root) => [...root.querySelectorAll("*")].map((el) =>
                [el.shadowRoot ? text(el.shadowRoot) : "", typeof el.label === "string" ? el.label : "",
                 [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("")]
                  .join(" ")).join(" ");
              // ha-form loads each selector on demand: wait until the last one has rendered.
              for (let i = 0; i < 100 && !text(form.shadowRoot ?? form).includes("Show transcript"); i++) {
                await new Promise((resolve) => setTimeout(resolve, 100));
              }
              form.dispatchEvent(new CustomEvent("value-changed",
                {detail: {value: {...form.data, mode: "ephemeral", name: ""}}}));
              editor.remove();
              return {
                errors, stub, size: small.getCardSize(), grid: small.getGridOptions(),
                customCards: window.customCards.map((c) => c.type),
                schema: form.schema.map((s) => [s.name, Object.keys(s.selector)[0], !!s.required]),
                entityFilter: form.schema[0].selector.entity.filter,
                data: form.data, labels: text(form.shadowRoot), changes,
              };
            }"""
        )
        assert result["errors"][0].startswith("Set `entity` to a voice satellite")
        assert "must be an assist_satellite entity" in result["errors"][1]
        assert "`mode` must be one of relay, ephemeral" in result["errors"][2]
        assert "`show_transcript` must be true or false" in result["errors"][3]
        assert result["stub"] == {"entity": SATELLITE, "mode": "relay", "show_transcript": True}
        assert result["size"] == 3
        assert result["grid"]["rows"] == 3
        assert "openai-realtime-voice-card" in result["customCards"]
        assert result["schema"] == [
            ["entity", "entity", True],
            ["name", "text", False],
            ["mode", "select", False],
            ["show_transcript", "boolean", False],
        ]
        assert result["entityFilter"] == {"domain": "assist_satellite", "integration": "openai_api"}
        assert result["data"]["mode"] == "relay"
        assert result["data"]["show_transcript"] is True
        for label in ("Voice satellite", "Connection", "Show transcript"):
            assert label in result["labels"]
        assert result["changes"] == [
            {
                "type": "custom:openai-realtime-voice-card",
                "entity": SATELLITE,
                "mode": "ephemeral",
                "show_transcript": True,
            }
        ]

    world.run(body())


def test_relay_session_end_to_end(world: Harness) -> None:
    """Keyboard start, the profile's session, audio both ways, states, transcript, tool, hang-up."""

    async def body() -> None:
        w = world
        await w.call_service("light", "turn_off", {"entity_id": LIGHT})
        page, card = await open_card(w)
        button = card.locator("button.talk")
        await button.focus()
        await page.keyboard.press("Enter")
        await expect_state(card, "listening")
        await expect(button).to_have_attribute("aria-pressed", "true")
        await expect(button).to_have_attribute("aria-label", "End voice session: Voice assistant")
        call = w.sim.call()
        assert not call.ephemeral

        # HA relayed the offer with the profile's session (and the browser's ICE candidates).
        request = w.sim.requests_to("/realtime/calls")[-1]
        parts = parse_multipart(request.body, request.headers["Content-Type"])
        assert "a=candidate" in parts["sdp"][1]
        session = json.loads(parts["session"][1])
        assert session["model"] == "gpt-realtime"
        assert session["audio"]["output"]["voice"] == "marin"
        assert "You are a voice assistant" in session["instructions"]
        assert "intent__HassTurnOn" in {tool["name"] for tool in session["tools"]}
        assert call.session["model"] == "gpt-realtime"

        # Audio both ways: the microphone reaches "OpenAI", the model's tone plays in the card.
        await until(lambda: call.peer is not None and call.peer.frames_received > 10)
        await until(lambda: call.sidebands)  # HA's sideband is attached
        await until(lambda: remote_level(card))
        stats = await card.evaluate("el => el.rtcStats()")
        assert stats["inbound_bytes"] > 0
        assert stats["outbound_bytes"] > 0
        assert stats["connection_state"] == "connected"
        assert call.call_id in await satellite_attr(w, "call_ids")

        # The states, one server event at a time: the card and the satellite entity follow.
        steps = [
            ("input_audio_buffer.speech_started", "listening", "listening"),
            ("input_audio_buffer.speech_stopped", "thinking", "processing"),
            ("output_audio_buffer.started", "speaking", "responding"),
            ("output_audio_buffer.stopped", "listening", "idle"),
        ]
        for event, card_state, entity_state in steps:
            await call.send({"type": event, "item_id": "item_steps", "response_id": "resp_steps"})
            await expect_state(card, card_state)
            await w.wait_state(SATELLITE, entity_state)
            await expect(card.locator(".status")).to_have_text(
                {"listening": "Listening", "thinking": "Thinking…", "speaking": "Speaking"}[
                    card_state
                ]
            )

        # A scripted turn: the user asks, the model calls HA's tool, the light goes on.
        assert (await w.state(LIGHT) or {})["state"] == "off"
        await call.user_turn(Turn())
        await w.wait_state(LIGHT, "on")
        await expect(card.locator(".line.assistant .text").last).to_have_text(
            "The test light is on.", timeout=TIMEOUT
        )
        assert await transcript(card) == [
            ("user", "Turn on the test light"),
            ("assistant", "The test light is on."),
        ]
        await expect_state(card, "listening")
        await button.evaluate("el => el.blur()")
        await w.save_screenshot(card, "voice-card-live.png")

        # Transcript deltas are appended, the final text replaces them.
        for delta in ("Any", "thing else?"):
            await call.send(
                {"type": "response.output_audio_transcript.delta", "item_id": "i1", "delta": delta}
            )
        pending = card.locator(".line.assistant[data-final=false] .text")
        await expect(pending).to_have_text("Anything else?", timeout=TIMEOUT)
        await call.send(
            {
                "type": "response.output_audio_transcript.done",
                "item_id": "i1",
                "transcript": "Anything else I can do?",
            }
        )
        await expect(card.locator(".line.assistant .text").last).to_have_text(
            "Anything else I can do?"
        )
        assert (await transcript(card))[-1] == ("assistant", "Anything else I can do?")
        assert len(await transcript(card)) == 3

        # A tap hangs up: HA ends the call at OpenAI.
        await button.click()
        await expect_state(card, "idle")
        await expect(button).to_have_attribute("aria-pressed", "false")
        await until(lambda: call.hung_up)
        hangups = [r.path for r in w.sim.requests if r.path.endswith("/hangup")]
        assert hangups == [f"/realtime/calls/{call.call_id}/hangup"]
        await until(lambda: no_live_calls(w))
        assert (await w.state(SATELLITE) or {})["state"] == "idle"

    world.run(body())


def test_ephemeral_session(world: Harness) -> None:
    """Ephemeral mode: HA mints a secret, the browser posts its offer to OpenAI, HA attaches."""

    async def body() -> None:
        w = world
        await w.call_service("light", "turn_on", {"entity_id": LIGHT})
        page, card = await open_card(w, "ephemeral")
        await expect(card.locator(".name")).to_have_text("Direct")
        await card.locator("button.talk").focus()
        await page.keyboard.press(" ")
        await expect_state(card, "listening")
        call = w.sim.call()
        assert call.ephemeral

        [secret] = w.sim.requests_to("/realtime/client_secrets")
        assert secret.json()["expires_after"] == {
            "anchor": "created_at",
            "seconds": EPHEMERAL_SECONDS,
        }
        assert secret.json()["session"]["model"] == "gpt-realtime"
        [offer] = w.sim.requests_to("/realtime/calls")
        assert offer.headers["Authorization"].startswith("Bearer ek_")  # the browser's own post
        assert offer.headers["Content-Type"] == "application/sdp"
        await until(lambda: call.sidebands)  # attached
        assert call.call_id in await satellite_attr(w, "call_ids")
        await until(lambda: remote_level(card))

        await call.user_turn(
            Turn(
                transcript="Turn off the test light",
                tool_name="intent__HassTurnOff",
                reply="The test light is off.",
            )
        )
        await w.wait_state(LIGHT, "off")
        await expect(card.locator(".line.assistant .text").last).to_have_text(
            "The test light is off.", timeout=TIMEOUT
        )
        assert ("user", "Turn off the test light") in await transcript(card)

        await card.locator("button.talk").click()
        await expect_state(card, "idle")
        await until(lambda: call.hung_up)
        assert f"/realtime/calls/{call.call_id}/hangup" in [r.path for r in w.sim.requests]

    world.run(body())


def test_microphone_denied_then_retry(world: Harness) -> None:
    """Without microphone permission the card says so; once allowed, Retry starts the session."""

    async def body() -> None:
        w = world
        page, card = await open_card(w, microphone=False)
        await card.locator("button.talk").click()
        await expect_state(card, "error")
        await expect(card.locator(".error .message")).to_have_text(
            re.compile("^Microphone access was denied")
        )
        await expect(card.locator(".status")).to_have_text("Error")
        assert not w.sim.requests_to("/realtime/calls")

        await page.context.grant_permissions(["microphone"])
        await card.locator("button.retry").click()
        await expect_state(card, "listening")
        await card.locator("button.talk").click()
        await expect_state(card, "idle")

    world.run(body())


def test_too_many_sessions_then_retry(world: Harness) -> None:
    """A second session of the same user is refused with HA's message; Retry works later."""

    async def body() -> None:
        w = world
        _page, kitchen = await open_card(w, "two")
        hallway = kitchen.page.locator("openai-realtime-voice-card").nth(1)
        await expect(hallway.locator(".name")).to_have_text("Hallway")
        await expect(hallway.locator(".transcript")).to_be_hidden()
        await start(w, kitchen)

        await hallway.locator("button.talk").click()
        await expect_state(hallway, "error")
        message = "You already have 1 live session(s) with this voice profile."
        await expect(hallway.locator(".error .message")).to_have_text(message)
        await w.save_screenshot(hallway, "voice-card-error.png")

        await kitchen.locator("button.talk").click()
        await expect_state(kitchen, "idle")
        await until(lambda: no_live_calls(w))
        await hallway.locator("button.retry").click()
        await expect_state(hallway, "listening")
        await hallway.locator("button.talk").click()
        await expect_state(hallway, "idle")

    world.run(body())


def test_openai_error_then_retry(world: Harness) -> None:
    """An OpenAI server error reaches the card as HA's translated message; Retry works."""

    async def body() -> None:
        w = world
        w.sim.add_fault("/realtime/calls", "500")
        _page, card = await open_card(w)
        await card.locator("button.talk").click()
        await expect_state(card, "error")
        await expect(card.locator(".error .message")).to_have_text(
            re.compile(r"^OpenAI server error \(HTTP 500\): The server had an error")
        )
        await card.locator("button.retry").click()
        await expect_state(card, "listening")
        await card.locator("button.talk").click()
        await expect_state(card, "idle")

    world.run(body())


def test_insecure_origin(world: Harness) -> None:
    """On plain http by a host name the browser gives no microphone: the card says why."""

    async def body() -> None:
        w = world
        page, card = await open_card(w, origin=w.insecure_url)
        assert await page.evaluate("window.isSecureContext") is False
        await card.locator("button.talk").click()
        await expect_state(card, "error")
        await expect(card.locator(".error .message")).to_have_text(
            re.compile("^Insecure origin: use https or localhost")
        )
        assert not w.sim.requests_to("/realtime/calls")

    world.run(body())


def test_sessions_end_with_the_page_the_view_and_the_connection(world: Harness) -> None:
    """Closing the tab, leaving the view, losing HA's websocket, OpenAI ending: all hang up."""

    async def body() -> None:
        w = world
        # Closing the tab: HA hangs up when the page's websocket closes.
        page, card = await open_card(w)
        call = await start(w, card)
        await page.close()
        await until(lambda: call.hung_up)

        # Leaving the view removes the card from the page: the card hangs up.
        page, card = await open_card(w)
        call = await start(w, card)
        await page.evaluate(
            """(path) => {
              history.pushState(null, "", path);  // how HA's own links navigate
              window.dispatchEvent(new CustomEvent("location-changed"));
            }""",
            f"/{DASHBOARD_PATH}/ephemeral",
        )
        await until(lambda: call.hung_up)
        assert call.hangup_reason == "hangup"
        await page.goto(f"{w.url}/{DASHBOARD_PATH}/relay")
        card = page.locator("openai-realtime-voice-card").first
        await expect_state(card, "idle")

        # HA's websocket drops: the session ends (HA hangs up too) and the card says so while
        # HA is unreachable. New websockets go through a gate that refuses them meanwhile.
        reachable = False

        async def gate(route: WebSocketRoute) -> None:
            if reachable:
                route.connect_to_server()
            else:
                await route.close()

        await page.route_web_socket(re.compile(r"/api/websocket$"), gate)
        call = await start(w, card)
        await page.evaluate(
            "document.querySelector('home-assistant').hass.connection.socket.close()"
        )
        await expect_state(card, "error")
        await expect(card.locator(".error .message")).to_have_text(
            "The connection to Home Assistant was lost, so the session ended."
        )
        await until(lambda: call.hung_up)
        # Back online, HA rebuilds the dashboard: a new, idle card starts a new session.
        reachable = True
        await page.wait_for_function(
            "document.querySelector('home-assistant').hass.connection.connected",
            timeout=TIMEOUT,
        )
        await expect_state(card, "idle")
        await start(w, card)

        # OpenAI ends the call (the 60-minute limit): the card goes back to idle.
        call = w.sim.call()
        await until(lambda: call.sidebands)
        await call.expire()
        await expect_state(card, "idle")
        await expect(card.locator(".status")).to_have_text(
            re.compile("^(The session ended.|Home Assistant ended the session.)$")
        )
        await expect(card.locator("button.talk")).to_have_attribute("aria-pressed", "false")

    world.run(body())
