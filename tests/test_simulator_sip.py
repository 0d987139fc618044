"""Phone calls over SIP: the signed incoming-call webhook, the call's states, turns on it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import contextlib
import json
import time
from typing import Any

import aiohttp
from aiohttp import web
import openai
import pytest

from simulator import RealtimeSimulator, SimCall
from simulator.__main__ import parser, ring
from simulator.sessions import effective_session
from simulator.spec import validator
from simulator.webhooks import sign

from .simulator_helpers import function_output, headers, sideband

SECRET = "whsec_" + base64.b64encode(b"simulator-test-signing-secret").decode()
SDK = openai.OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")
SESSION = {"type": "realtime", "instructions": "Answer the phone."}


class Receiver:
    """A webhook endpoint that checks each delivery with the official SDK, as HA would."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.events: list[Any] = []
        self.answer = 200
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.deliveries.append((dict(request.headers), body))
        try:
            self.events.append(SDK.webhooks.unwrap(body, request.headers, secret=SECRET))
        except openai.InvalidWebhookSignatureError:
            return web.Response(status=401)
        return web.Response(status=self.answer)


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    app = web.Application()
    app.router.add_post("/api/webhook/test", endpoint.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    endpoint.url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/webhook/test"
    try:
        yield endpoint
    finally:
        await runner.cleanup()


async def _control(sim: RealtimeSimulator, call: SimCall, action: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sim.base_url}/realtime/calls/{call.call_id}/{action}",
            json=body,
            headers=headers(sim),
        ) as resp,
    ):
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None)


async def test_ring_posts_a_signed_incoming_call(simulator: RealtimeSimulator) -> None:
    """The delivery verifies with the SDK's `webhooks.unwrap` and matches the spec's schema."""
    async with receiver() as endpoint:
        call = await simulator.ring(endpoint.url, secret=SECRET, caller_name="Ann Example", pace=0)
    assert call.webhook_status == 200
    assert call.status == "pending"
    assert call.transport == "sip"
    [(sent_headers, body)] = endpoint.deliveries
    [event] = endpoint.events
    assert event.type == "realtime.call.incoming"
    assert event.data.call_id == call.call_id
    payload = json.loads(body)
    assert not list(validator("WebhookRealtimeCallIncoming").iter_errors(payload))
    assert payload["object"] == "event"
    assert payload["id"].startswith("evt_")
    assert abs(payload["created_at"] - time.time()) < 5
    by_name = {h["name"]: h["value"] for h in payload["data"]["sip_headers"]}
    assert by_name["From"].startswith('"Ann Example" <sip:+14155550123@')
    assert ";tag=" in by_name["From"]
    assert by_name["To"] == "<sip:+18005550000@sip.api.openai.com>"
    assert {"Call-ID", "CSeq", "Content-Type"} <= set(by_name)
    assert sent_headers["webhook-id"].startswith("wh_")
    assert sent_headers["User-Agent"].startswith("OpenAI/1.0")
    assert sent_headers["webhook-signature"] == sign(
        SECRET, sent_headers["webhook-id"], int(sent_headers["webhook-timestamp"]), body
    )
    assert call.sip_headers == payload["data"]["sip_headers"]


async def test_ring_headers_and_a_refusing_endpoint(simulator: RealtimeSimulator) -> None:
    """Extra headers follow the standard ones; the endpoint's answer is the status."""
    async with receiver() as endpoint:
        endpoint.answer = 500
        call = await simulator.ring(
            endpoint.url,
            secret=SECRET,
            caller='"Bob" <sip:bob@example.com>;tag=1',
            callee="+18005551234",
            sip_headers=[{"name": "X-Twilio-CallSid", "value": "CA123"}],
        )
        assert call.webhook_status == 500
        wrong = await simulator.ring(
            endpoint.url, secret="whsec_" + base64.b64encode(b"x").decode()
        )
        assert wrong.webhook_status == 401  # signed with another secret: the SDK refuses it
        # A retry: the same delivery id and body, a fresh signature that verifies.
        endpoint.answer = 200
        assert await simulator.redeliver(call) == 200
    first, retry = endpoint.deliveries[0], endpoint.deliveries[2]
    assert retry[0]["webhook-id"] == first[0]["webhook-id"]
    assert retry[1] == first[1]
    assert call.webhook is not None and call.webhook.attempts == 2
    data = json.loads(first[1])["data"]
    assert data["sip_headers"][0] == {"name": "From", "value": '"Bob" <sip:bob@example.com>;tag=1'}
    assert data["sip_headers"][1]["value"] == "<sip:+18005551234@sip.api.openai.com>"
    assert data["sip_headers"][-1] == {"name": "X-Twilio-CallSid", "value": "CA123"}
    with pytest.raises(ValueError, match="not announced"):
        await simulator.redeliver(simulator.add_call())


async def test_unreachable_endpoint(simulator: RealtimeSimulator) -> None:
    call = await simulator.ring("http://127.0.0.1:9/hook", secret=SECRET)
    assert call.webhook_status is None
    assert call.webhook is not None and call.webhook.error
    assert call.status == "pending"  # OpenAI would retry; the call rings on


async def test_accept_makes_a_pending_call_live(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call(sip=True)
    assert await _control(simulator, call, "accept", {"type": "realtime", "bogus": 1}) == (
        400,
        {
            "error": {
                "message": "Unknown parameter: 'bogus'.",
                "type": "invalid_request_error",
                "param": "bogus",
                "code": "unknown_parameter",
            }
        },
    )
    assert call.status == "pending"
    assert await _control(simulator, call, "accept", SESSION) == (200, None)
    assert call.status == "live"
    assert call.session["instructions"] == "Answer the phone."
    assert call.session["id"].startswith("sess_")
    for action, body in (("accept", SESSION), ("reject", None)):
        status, answer = await _control(simulator, call, action, body)
        assert status == 400
        assert answer["error"]["code"] == "invalid_call_state"
        assert "already been accepted" in answer["error"]["message"]
    assert await _control(simulator, call, "refer", {"target_uri": "tel:+14155550100"}) == (
        200,
        None,
    )
    assert (call.status, call.hangup_reason, call.referred_to) == (
        "ended",
        "refer",
        "tel:+14155550100",
    )
    status, answer = await _control(simulator, call, "hangup")
    assert (status, answer["error"]["code"]) == (404, "call_not_found")


@pytest.mark.parametrize(
    ("action", "body", "reason", "sip_status"),
    [
        ("reject", None, "reject", 603),
        ("reject", {}, "reject", 603),
        ("reject", {"status_code": 486}, "reject", 486),
        ("refer", {"target_uri": "sip:desk@example.com"}, "refer", None),
        ("hangup", None, "hangup", None),
    ],
)
async def test_a_pending_call_ends(
    simulator: RealtimeSimulator,
    action: str,
    body: dict[str, Any] | None,
    reason: str,
    sip_status: int | None,
) -> None:
    """reject (603 unless told), refer and hangup end a ringing call; nothing works after."""
    call = simulator.add_call(sip=True)
    assert await _control(simulator, call, action, body) == (200, None)
    assert (call.status, call.hangup_reason, call.sip_status) == ("ended", reason, sip_status)
    for again, again_body in (("accept", SESSION), ("reject", None), ("hangup", None)):
        status, answer = await _control(simulator, call, again, again_body)
        assert (status, answer["error"]["code"]) == (404, "call_not_found")


async def test_webrtc_calls_take_no_sip_control(simulator: RealtimeSimulator) -> None:
    """accept, reject and refer are for SIP calls; hangup ends any call."""
    call = SimCall(effective_session(None), ephemeral=False, transport="webrtc")
    simulator.calls[call.call_id] = call
    for action, body in (
        ("accept", SESSION),
        ("reject", None),
        ("refer", {"target_uri": "tel:+1"}),
    ):
        status, answer = await _control(simulator, call, action, body)
        assert (status, answer["error"]["code"], answer["error"]["param"]) == (
            400,
            "invalid_call_state",
            "call_id",
        )
        assert "SIP call" in answer["error"]["message"]
    assert call.status == "live"
    assert await _control(simulator, call, "hangup") == (200, None)


async def test_an_unanswered_call_expires(simulator: RealtimeSimulator) -> None:
    simulator.ring_timeout = 0.05
    call = simulator.add_call(sip=True)
    answered = simulator.add_call(sip=True)
    assert await _control(simulator, answered, "accept", SESSION) == (200, None)
    await asyncio.sleep(0.15)
    assert (call.status, call.hangup_reason) == ("ended", "unanswered")
    status, answer = await _control(simulator, call, "accept", SESSION)
    assert (status, answer["error"]["code"]) == (404, "call_not_found")
    assert answered.status == "live"


async def test_sideband_waits_for_accept(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call(sip=True)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        async with sideband(simulator, call):
            pass
    assert refused.value.status == 400
    await _control(simulator, call, "accept", SESSION)
    async with sideband(simulator, call) as ws:
        await ws.send({"type": "session.update", "session": {"type": "realtime"}})
        updated = await ws.next("session.updated")
    assert updated["session"]["instructions"] == "Answer the phone."


async def _answered(sim: RealtimeSimulator, endpoint: Receiver, **session: Any) -> SimCall:
    call = await sim.ring(endpoint.url, secret=SECRET, pace=0)
    assert await _control(sim, call, "accept", {**SESSION, **session}) == (200, None)
    return call


TOOLS = [
    {"type": "function", "name": "intent__HassTurnOn", "parameters": {"type": "object"}},
    {"type": "function", "name": "intent__HassTurnOff", "parameters": {"type": "object"}},
]


async def test_turns_on_an_accepted_sip_call(simulator: RealtimeSimulator) -> None:
    """Scripted turns run as on WebRTC calls: transcripts, tool calls, the spoken reply."""
    async with receiver() as endpoint:
        call = await _answered(
            simulator,
            endpoint,
            tools=TOOLS,
            audio={"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        )
    assert call.peer is None  # no media: the audio stays on the phone network
    async with sideband(simulator, call) as ws:
        turn = asyncio.ensure_future(call.user_turn())
        heard = await ws.next("conversation.item.input_audio_transcription.completed")
        arguments = await ws.next("response.function_call_arguments.done")
        await ws.send(function_output(arguments["call_id"], json.dumps({"success": True})))
        await turn
        await ws.send({"type": "response.create"})
        said = await ws.next("response.output_audio_transcript.done")
        stopped = await ws.next("output_audio_buffer.stopped")
    assert heard["transcript"] == "Turn on the test light"
    assert arguments["name"] == "intent__HassTurnOn"
    assert said["transcript"] == "The test light is on."
    assert stopped["response_id"] == said["response_id"]


async def test_announcements_on_a_sip_call(simulator: RealtimeSimulator) -> None:
    """An announcement is spoken: transcript events, and no track to play it on."""
    async with receiver() as endpoint:
        call = await _answered(simulator, endpoint)
    async with sideband(simulator, call) as ws:
        await ws.send(
            {
                "type": "response.create",
                "response": {"instructions": 'Say exactly this: "The pizza is here."'},
            }
        )
        said = await ws.next("response.output_audio_transcript.done")
        await ws.next("output_audio_buffer.stopped")
    assert said["transcript"] == "The pizza is here."
    kinds = [e["type"] for e in ws.events]
    assert "response.output_audio_transcript.delta" in kinds
    assert "response.output_audio.delta" not in kinds  # the audio goes to the phone, not here


async def _control_endpoint(sim: RealtimeSimulator, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{sim.port}/_simulator{path}", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_control_endpoint_rings_and_plays_turns(simulator: RealtimeSimulator) -> None:
    async with receiver() as endpoint:
        status, answer = await _control_endpoint(
            simulator,
            "/ring",
            {"url": endpoint.url, "secret": SECRET, "caller": "+4930123456", "pace": 0},
        )
        assert status == 200
        call = simulator.call(answer["call_id"])
        assert answer == {
            "call_id": call.call_id,
            "webhook_id": endpoint.deliveries[0][0]["webhook-id"],
            "status": 200,
            "error": None,
        }
        assert endpoint.events[0].data.sip_headers[0].value.startswith("<sip:+4930123456@")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{simulator.port}/_simulator/calls") as resp,
    ):
        [listed] = (await resp.json())["calls"]
    assert (listed["transport"], listed["status"]) == ("sip", "pending")
    status, answer = await _control_endpoint(simulator, f"/calls/{call.call_id}/turn")
    assert (status, answer) == (409, {"error": f"Call {call.call_id} is ringing: accept it first."})
    await _control(simulator, call, "accept", {**SESSION, "tools": TOOLS})
    async with sideband(simulator, call) as ws:
        status, answer = await _control_endpoint(simulator, "/turn", {"tool": "HassTurnOff"})
        assert (status, answer["call_id"]) == (202, call.call_id)
        arguments = await ws.next("response.function_call_arguments.done")
    assert arguments["name"] == "intent__HassTurnOff"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"secret": SECRET}, "'url' is required"),
        ({"url": "http://x", "secret": SECRET, "callr": "+1"}, "Unknown field 'callr'"),
        ({"url": "http://x", "secret": SECRET, "pace": True}, "wrong type"),
        ({"url": "http://x", "secret": SECRET, "sip_headers": [{"name": "X"}]}, "sip_headers"),
    ],
)
async def test_bad_ring_requests(simulator: RealtimeSimulator, body: Any, fragment: str) -> None:
    status, answer = await _control_endpoint(simulator, "/ring", body)
    assert status == 400
    assert fragment in answer["error"]
    assert simulator.calls == {}


async def test_cli_ring(simulator: RealtimeSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    port = str(simulator.port)
    async with receiver() as endpoint:
        args = parser().parse_args(
            [
                "ring",
                "--port",
                port,
                "--url",
                endpoint.url,
                "--secret",
                SECRET,
                "--caller",
                "+15550001111",
                "--caller-name",
                "Kim",
                "--header",
                "X-Room: kitchen",
            ]
        )
        assert await ring(args) == 0
        call = simulator.call()
        assert capsys.readouterr().out == f"{call.call_id}: ringing; the webhook was answered 200\n"
        headers_sent = endpoint.events[0].data.sip_headers
        assert headers_sent[0].value.startswith('"Kim" <sip:+15550001111@')
        assert (headers_sent[-1].name, headers_sent[-1].value) == ("X-Room", "kitchen")
        endpoint.answer = 503
        assert (
            await ring(
                parser().parse_args(
                    ["ring", "--port", port, "--url", endpoint.url, "--secret", SECRET]
                )
            )
            == 1
        )
    assert (
        await ring(
            parser().parse_args(
                ["ring", "--port", port, "--url", "http://127.0.0.1:9/", "--secret", SECRET]
            )
        )
        == 1
    )
    assert "was not delivered" in capsys.readouterr().out
    assert (
        await ring(parser().parse_args(["ring", "--port", "1", "--url", "u", "--secret", "s"])) == 2
    )
