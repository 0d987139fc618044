"""The simulator's HTTP API answers as the OpenAPI text says, and refuses what the API refuses."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from simulator import RealtimeSimulator
from simulator.faults import FAULT_KINDS
from simulator.spec import schema, spec, validator

from .simulator_helpers import headers

SECRETS = "/realtime/client_secrets"


async def _post(
    sim: RealtimeSimulator, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sim.base_url}{path}",
            json=body,
            headers=kwargs.pop("headers", headers(sim)),
            **kwargs,
        ) as resp,
    ):
        text = await resp.text()
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = text
        return resp.status, payload, resp.headers


def _multipart(sdp: str, session: Any = None, **extra: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("sdp", sdp, content_type="application/sdp")
    if session is not None:
        text = session if isinstance(session, str) else json.dumps(session)
        form.add_field("session", text, content_type="application/json")
    for name, value in extra.items():
        form.add_field(name, value)
    return form


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"session": {"type": "realtime", "bogus": 1}}, "session.bogus", "unknown_parameter"),
        (
            {"session": {"type": "realtime", "audio": {"output": {"voicee": "marin"}}}},
            "session.audio.output.voicee",
            "unknown_parameter",
        ),
        ({"model": "gpt-realtime"}, "model", "unknown_parameter"),
        (
            {"expires_after": {"seconds": 600, "ancor": "x"}},
            "expires_after.ancor",
            "unknown_parameter",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "tools": [{"type": "function", "name": "f", "strict": True}],
                }
            },
            "session.tools[0].strict",
            "unknown_parameter",
        ),
        ({"session": {"type": "realtimee"}}, "session.type", "invalid_value"),
        ({"session": {}}, "session.type", "missing_required_parameter"),
        ({"expires_after": {"seconds": 7201}}, "expires_after.seconds", "integer_above_max_value"),
        ({"expires_after": {"seconds": "600"}}, "expires_after.seconds", "invalid_type"),
        (
            {"session": {"type": "realtime", "audio": {"output": {"speed": 9}}}},
            "session.audio.output.speed",
            "decimal_above_max_value",
        ),
        (
            {"session": {"type": "realtime", "max_output_tokens": 4097}},
            "session.max_output_tokens",
            "integer_above_max_value",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {"turn_detection": {"type": "server_vad", "threshold": 1.2}}
                    },
                }
            },
            "session.audio.input.turn_detection.threshold",
            "decimal_above_max_value",
        ),
        (
            {
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}
                    },
                }
            },
            "session.audio.input.turn_detection.threshold",
            "unknown_parameter",
        ),
        (
            {"session": {"type": "realtime", "tool_choice": "sometimes"}},
            "session.tool_choice",
            "invalid_value",
        ),
    ],
)
async def test_client_secret_requests_are_checked_like_the_api(
    simulator: RealtimeSimulator, body: dict[str, Any], param: str, code: str
) -> None:
    """Unknown fields anywhere, wrong types, values and ranges: 400 naming the field."""
    status, answer, _headers = await _post(simulator, SECRETS, body)
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    assert (answer["error"]["param"], answer["error"]["code"]) == (param, code)
    # The API names the field in the message, except for a bad value (it quotes the value).
    assert param in answer["error"]["message"] or code == "invalid_value"
    assert simulator.client_secrets == {}


async def test_free_form_objects_stay_open(simulator: RealtimeSimulator) -> None:
    """Objects the spec leaves free-form take any keys: parameters, metadata, headers, variables."""
    body = {
        "session": {
            "type": "realtime",
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "parameters": {"type": "object", "x-anything": {"deep": [1]}},
                },
                {
                    "type": "mcp",
                    "server_label": "s",
                    "server_url": "https://example.invalid/mcp",
                    "headers": {"X-Whatever": "v"},
                },
            ],
            "tracing": {"workflow_name": "w", "metadata": {"any": "thing"}},
            "prompt": {"id": "pmpt_1", "variables": {"city": "Paris"}},
            "audio": {"input": {"noise_reduction": None, "transcription": None}},
        }
    }
    status, answer, _headers = await _post(simulator, SECRETS, body)
    assert status == 200, answer
    assert answer["session"]["tools"] == body["session"]["tools"]


async def test_client_secret_answer_matches_the_spec(simulator: RealtimeSimulator) -> None:
    status, answer, response_headers = await _post(
        simulator,
        SECRETS,
        {"expires_after": {"anchor": "created_at", "seconds": 60}, "session": {"type": "realtime"}},
    )
    assert status == 200
    assert response_headers["Content-Type"].startswith("application/json")
    assert response_headers["x-request-id"].startswith("req_")
    assert answer["value"].startswith("ek_")
    _assert_valid("RealtimeCreateClientSecretResponse", answer)
    status, answer, _headers = await _post(
        simulator, SECRETS, {"session": {"type": "transcription"}}
    )
    assert status == 200
    _assert_valid("RealtimeCreateClientSecretResponse", answer)


async def test_unparsable_and_missing_bodies(simulator: RealtimeSimulator) -> None:
    status, answer, _headers = await _post(
        simulator,
        SECRETS,
        data=b"{nope",
        headers={**headers(simulator), "Content-Type": "application/json"},
    )
    assert status == 400
    assert answer["error"]["code"] is None
    assert answer["error"]["message"].startswith("We could not parse the JSON body")


async def test_calls_answer_201_with_sdp_and_location(simulator: RealtimeSimulator) -> None:
    """The spec's 201: `application/sdp` and `Location: /v1/realtime/calls/{id}`."""
    from .browser_peer import BrowserPeer

    peer = BrowserPeer()
    try:
        status, answer, response_headers = await _post(
            simulator, "/realtime/calls", data=_multipart(await peer.offer(), {"type": "realtime"})
        )
        assert status == 201
        assert response_headers["Content-Type"].startswith("application/sdp")
        assert answer.startswith("v=0")
        call = simulator.call()
        assert response_headers["Location"] == f"/v1/realtime/calls/{call.call_id}"
        # Call control answers an empty 200.
        status, answer, _headers = await _post(simulator, f"/realtime/calls/{call.call_id}/hangup")
        assert (status, answer) == (200, "")
        status, answer, _headers = await _post(simulator, f"/realtime/calls/{call.call_id}/hangup")
        assert status == 404
        assert answer["error"]["code"] == "call_not_found"
    finally:
        await peer.close()


@pytest.mark.parametrize(
    ("session", "extra", "param", "code"),
    [
        ({"type": "realtime", "voicee": "x"}, {}, "session.voicee", "unknown_parameter"),
        ({"type": "realtime"}, {"model": "gpt-realtime"}, "model", "unknown_parameter"),
        ({"type": "realtime", "instructions": 3}, {}, "session.instructions", "invalid_type"),
        ("{not json", {}, "session", None),
    ],
)
async def test_call_multipart_is_checked(
    simulator: RealtimeSimulator, session: Any, extra: dict[str, str], param: str, code: str | None
) -> None:
    status, answer, _headers = await _post(
        simulator, "/realtime/calls", data=_multipart("v=0\r\n", session, **extra)
    )
    assert status == 400
    assert (answer["error"]["param"], answer["error"]["code"]) == (param, code)
    assert simulator.calls == {}


async def test_call_control_bodies_are_checked(simulator: RealtimeSimulator) -> None:
    """accept/reject/refer validate their bodies as the spec states them."""
    call = simulator.add_call()
    path = f"/realtime/calls/{call.call_id}"
    status, answer, _headers = await _post(
        simulator, f"{path}/refer", {"target_uri": "tel:1", "x": 1}
    )
    assert (status, answer["error"]["param"], answer["error"]["code"]) == (
        400,
        "x",
        "unknown_parameter",
    )
    status, answer, _headers = await _post(simulator, f"{path}/refer", {})
    assert (answer["error"]["param"], answer["error"]["code"]) == (
        "target_uri",
        "missing_required_parameter",
    )
    status, answer, _headers = await _post(simulator, f"{path}/reject", {"status_code": "busy"})
    assert (answer["error"]["param"], answer["error"]["code"]) == ("status_code", "invalid_type")
    status, answer, _headers = await _post(
        simulator, f"{path}/accept", {"type": "realtime", "voice": "x"}
    )
    assert (answer["error"]["param"], answer["error"]["code"]) == ("voice", "unknown_parameter")
    assert not call.hung_up
    status, _answer, _headers = await _post(
        simulator, f"{path}/accept", {"type": "realtime", "instructions": "Be brief."}
    )
    assert status == 200
    assert call.session["instructions"] == "Be brief."
    status, _answer, _headers = await _post(simulator, f"{path}/reject")
    assert status == 200
    assert call.hangup_reason == "reject"


async def test_unknown_paths_and_methods(simulator: RealtimeSimulator) -> None:
    status, answer, _headers = await _post(simulator, "/realtime/nothing", {})
    assert (status, answer["error"]["code"]) == (404, "unknown_url")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{simulator.base_url}{SECRETS}", headers=headers(simulator)) as resp,
    ):
        assert resp.status == 404
        assert (await resp.json())["error"]["message"] == f"Invalid URL (GET /v1{SECRETS})"


async def test_bad_key(simulator: RealtimeSimulator) -> None:
    status, answer, _headers = await _post(
        simulator, SECRETS, {}, headers={"Authorization": "Bearer sk-wrong-key"}
    )
    assert status == 401
    assert answer["error"]["code"] == "invalid_api_key"
    assert "sk-wro***" in answer["error"]["message"]


@pytest.mark.parametrize("kind", sorted(k for k in FAULT_KINDS if k.isdigit()))
async def test_canned_faults(simulator: RealtimeSimulator, kind: str) -> None:
    """Each canned fault answers its status with OpenAI's envelope (429 with Retry-After)."""
    simulator.add_fault(SECRETS, kind, retry_after=7)
    status, answer, response_headers = await _post(simulator, SECRETS, {})
    assert status == int(kind)
    assert set(answer["error"]) == {"message", "type", "param", "code"}
    if kind == "429":
        assert response_headers["Retry-After"] == "7"
    status, _answer, _headers = await _post(simulator, SECRETS, {})
    assert status == 200  # one fault, one request


async def test_slow_malformed_and_dropped(simulator: RealtimeSimulator) -> None:
    simulator.add_fault(SECRETS, "slow", delay=0.05)
    assert (await _post(simulator, SECRETS, {}))[0] == 200
    simulator.add_fault(SECRETS, "malformed_json")
    status, answer, _headers = await _post(simulator, SECRETS, {})
    assert (status, answer) == (200, '{"value": "ek_trunc')
    simulator.add_fault(SECRETS, "drop")
    with pytest.raises(aiohttp.ClientError):
        await _post(simulator, SECRETS, {})
    with pytest.raises(ValueError, match="unknown fault"):
        simulator.add_fault(SECRETS, "418")


def test_closed_objects_come_from_the_spec() -> None:
    """Every object schema that lists properties is closed, unless it opens itself."""
    rewritten = json.dumps(spec())
    assert '"oneOf"' not in rewritten
    assert '"nullable"' not in rewritten
    session = schema("RealtimeSessionCreateRequestGA")
    assert session["additionalProperties"] is False
    assert schema("RealtimeFunctionTool")["properties"]["parameters"] == {
        "type": "object",
        "description": "Parameters of the function in JSON Schema.",
    }


def _assert_valid(name: str, instance: Any) -> None:
    """Valid against a response schema, reading a null in an optional field as "not set"."""
    from .simulator_helpers import _without_optional_nulls

    errors = list(validator(name).iter_errors(_without_optional_nulls(instance, schema(name))))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.mark.parametrize(
    ("placement", "good", "refused"),
    [
        (
            {"key_header": "x-api-key"},
            {"headers": {"x-api-key": "sk-gw"}},
            [{"headers": {"Authorization": "Bearer sk-gw"}}, {"params": {"x-api-key": "sk-gw"}}],
        ),
        (
            {"key_query": "key"},
            {"params": {"key": "sk-gw"}},
            [{"headers": {"Authorization": "Bearer sk-gw"}}, {"headers": {"key": "sk-gw"}}],
        ),
        (
            {},
            {"headers": {"Authorization": "Bearer sk-gw"}},
            [{"headers": {"x-api-key": "sk-gw"}}, {"params": {"key": "sk-gw"}}],
        ),
        ({}, {"headers": {"api-key": "sk-gw"}}, [{"headers": {"Authorization": "sk-gw"}}]),
    ],
)
async def test_key_placement(
    socket_enabled: None,
    placement: dict[str, str],
    good: dict[str, Any],
    refused: list[dict[str, Any]],
) -> None:
    """A gateway's placement: the key counts only there, on every endpoint and the sideband."""
    async with RealtimeSimulator("sk-gw", **placement) as sim, aiohttp.ClientSession() as http:
        call = sim.add_call()
        for where, ok in [(good, True), *((r, False) for r in refused)]:
            # An offer that is no SDP: 400 once authenticated, so the key was taken.
            for method, path, expected in (
                ("GET", "/models", 200),
                ("POST", SECRETS, 200),
                ("POST", "/realtime/calls", 400),
            ):
                kwargs: dict[str, Any] = (
                    {"data": _multipart("nope", {"type": "realtime"})}
                    if path == "/realtime/calls"
                    else {"json": {}}
                )
                async with http.request(method, f"{sim.base_url}{path}", **kwargs, **where) as resp:
                    assert resp.status == (expected if ok else 401), (path, where)
            ws_url = f"{sim.base_url.replace('http', 'ws')}/realtime?call_id={call.call_id}"
            if ok:
                async with http.ws_connect(ws_url, **where) as ws:
                    assert not ws.closed
            else:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refusal:
                    await http.ws_connect(ws_url, **where)
                assert refusal.value.status == 401
    with pytest.raises(ValueError, match="not both"):
        RealtimeSimulator(key_header="x", key_query="y")


async def test_missing_key_names_the_gateway_place(socket_enabled: None) -> None:
    async with RealtimeSimulator("sk-gw", key_query="key") as sim:
        status, answer, _headers = await _post(sim, "/models", headers={})
        assert status == 404  # POST /models is not a path of the API
        sim.accept_key_in(header="x-api-key")
        status, answer, _headers = await _post(sim, SECRETS, {}, headers={})
        assert status == 401
        assert "the header 'x-api-key'" in answer["error"]["message"]
        sim.accept_key_in()
        status, answer, _headers = await _post(sim, SECRETS, {}, headers={})
        assert "Authorization: Bearer YOUR_KEY" in answer["error"]["message"]


@pytest.mark.parametrize("simulator", [{"key_query": "key"}], indirect=True)
async def test_the_fixture_takes_a_placement_indirectly(simulator: RealtimeSimulator) -> None:
    assert (simulator.key_header, simulator.key_query) == (None, "key")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{simulator.base_url}/models", params={"key": simulator.api_key}) as resp,
    ):
        assert resp.status == 200


@pytest.mark.parametrize(
    ("simulator", "expected"),
    [({"key_header": "x-api-key"}, ("x-api-key", None)), ({"key_query": "k"}, (None, "k"))],
    indirect=["simulator"],
)
async def test_the_fixture_takes_a_placement(
    simulator: RealtimeSimulator, expected: tuple[Any, Any]
) -> None:
    """A test parametrizes the fixture indirectly to place the key as a gateway would."""
    assert (simulator.key_header, simulator.key_query) == expected
