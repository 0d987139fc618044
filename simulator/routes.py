"""The simulator's endpoints, per the OpenAPI text: models, client secrets, calls, sideband."""

from __future__ import annotations

import asyncio
import email
import email.policy
from functools import partial
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import contract
from .calls import SimCall
from .webrtc import MediaPeer, allow_loopback_ice

if TYPE_CHECKING:
    from .app import Handler, RealtimeSimulator

MODELS = (
    "gpt-realtime",
    "gpt-realtime-1.5",
    "gpt-audio-1.5",
    "gpt-realtime-mini",
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
)
DEFAULT_INSTRUCTIONS = (
    "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI."
)
MAX_SDP = 64 * 1024


def build_app(sim: RealtimeSimulator) -> web.Application:
    """The aiohttp application of a simulator."""
    from .app import API_PREFIX  # noqa: PLC0415

    app = web.Application(middlewares=[_middleware(sim)], client_max_size=4 * 1024 * 1024)
    p = API_PREFIX
    app.router.add_get(f"{p}/models", partial(_models, sim))
    app.router.add_post(f"{p}/realtime/client_secrets", partial(_client_secrets, sim))
    app.router.add_post(f"{p}/realtime/calls", partial(_create_call, sim))
    app.router.add_post(f"{p}/realtime/calls/{{call_id}}/{{action}}", partial(_call_action, sim))
    app.router.add_get(f"{p}/realtime", partial(_sideband, sim))
    return app


def _middleware(sim: RealtimeSimulator) -> Any:
    from .app import API_PREFIX, RecordedRequest, error_response, new_request_id  # noqa: PLC0415

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            # A browser's CORS preflight (ephemeral-key clients post their offer directly).
            return _cors(
                web.Response(
                    status=204,
                    headers={
                        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                        "Access-Control-Allow-Headers": request.headers.get(
                            "Access-Control-Request-Headers", "Authorization, Content-Type"
                        ),
                        "Access-Control-Max-Age": "600",
                    },
                )
            )
        body = await request.read()
        path = request.path.removeprefix(API_PREFIX)
        sim.requests.append(
            RecordedRequest(request.method, path, dict(request.query), request.headers.copy(), body)
        )
        request_id = new_request_id()
        fault = sim.next_fault(path)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            fault = None
        if fault is not None:
            response = _fault_response(request, fault)
        else:
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = error_response(
                    404,
                    contract.envelope(
                        f"Invalid URL ({request.method} {request.path})", None, "unknown_url"
                    ),
                )
        if not response.prepared:
            response.headers["x-request-id"] = request_id
            _cors(response)
        return response

    return middleware


def _cors(response: web.StreamResponse) -> web.StreamResponse:
    """Let browsers call the API and read the call id, as OpenAI's API does."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Location, x-request-id"
    return response


def _fault_response(request: web.Request, fault: Any) -> web.StreamResponse:
    from .app import error_response, invalid_key_response  # noqa: PLC0415

    kind = fault.kind
    if kind == "drop":
        assert request.transport is not None
        request.transport.close()
        raise ConnectionResetError("dropped by fault injection")
    if kind == "malformed_json":
        return web.Response(body=b'{"value": "ek_trunc', content_type="application/json")
    if kind == "401":
        return invalid_key_response(request)
    if kind == "429":
        return error_response(
            429,
            {
                "error": {
                    "message": "Rate limit reached for requests. Please try again later.",
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
            **{"Retry-After": f"{fault.retry_after if fault.retry_after is not None else 1:g}"},
        )
    if kind in ("500", "503"):
        return error_response(
            int(kind),
            {
                "error": {
                    "message": "The server had an error while processing your request. Sorry about that!",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
        )
    if kind == "403":
        return error_response(
            403,
            {
                "error": {
                    "message": "You have insufficient permissions for this operation.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "insufficient_permissions",
                }
            },
        )
    if kind == "404":
        return error_response(
            404,
            contract.envelope(f"Invalid URL ({request.method} {request.path})", None, None),  # type: ignore[arg-type]
        )
    return error_response(
        400, contract.envelope("Invalid value for 'session'.", "session", "invalid_value")
    )


async def _json_body(request: web.Request) -> tuple[Any, web.Response | None]:
    from .app import error_response  # noqa: PLC0415

    if request.content_type != "application/json":
        return None, error_response(
            400,
            contract.envelope(
                "Unsupported content type: expected application/json.",
                None,
                "unsupported_content_type",
            ),
        )
    try:
        return json.loads(await request.read()), None
    except ValueError:
        return None, error_response(
            400,
            contract.envelope(
                "We could not parse the JSON body of your request.", None, "invalid_json"
            ),
        )


# --- models and client secrets -----------------------------------------------------------


async def _models(sim: RealtimeSimulator, request: web.Request) -> web.Response:
    from .app import invalid_key_response  # noqa: PLC0415

    if sim.authenticate(request) is None:
        return invalid_key_response(request)
    now = int(time.time())
    return web.json_response(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": now, "owned_by": "system"} for m in MODELS
            ],
        }
    )


def effective_session(session: dict[str, Any] | None) -> dict[str, Any]:
    """The session object the API returns: the request's fields over the API's defaults."""
    session = dict(session or {"type": "realtime"})
    if session.get("type") == "transcription":
        base: dict[str, Any] = {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": f"sess_{secrets.token_hex(12)}",
            "expires_at": 0,
            "include": None,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                    },
                }
            },
        }
    else:
        base = {
            "type": "realtime",
            "object": "realtime.session",
            "id": f"sess_{secrets.token_hex(12)}",
            "model": "gpt-realtime",
            "output_modalities": ["audio"],
            "instructions": DEFAULT_INSTRUCTIONS,
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": 0,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                        "idle_timeout_ms": None,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": "alloy",
                    "speed": 1.0,
                },
            },
            "include": None,
        }
    return _merge(base, session)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate_secret_request(body: Any) -> dict[str, Any] | None:
    if isinstance(body, dict):
        for key in body:
            if key not in ("expires_after", "session"):
                return contract.envelope(f"Unknown parameter: '{key}'.", key, "unknown_parameter")
    return contract.validate(
        "RealtimeCreateClientSecretRequest", body
    ) or contract.check_prose_ranges(body)


async def _client_secrets(sim: RealtimeSimulator, request: web.Request) -> web.Response:
    from .app import ClientSecret, error_response, invalid_key_response  # noqa: PLC0415

    if sim.authenticate(request) is None:
        return invalid_key_response(request)
    body, problem = await _json_body(request)
    if problem is not None:
        return problem
    if (error := _validate_secret_request(body)) is not None:
        return error_response(400, error)
    seconds = (body.get("expires_after") or {}).get("seconds", 600)
    secret = ClientSecret(
        value=f"ek_{secrets.token_hex(16)}",
        expires_at=int(time.time()) + seconds,
        session=effective_session(body.get("session")),
    )
    sim.client_secrets[secret.value] = secret
    return web.json_response(
        {"value": secret.value, "expires_at": secret.expires_at, "session": secret.session}
    )


# --- WebRTC calls --------------------------------------------------------------------------


async def _create_call(sim: RealtimeSimulator, request: web.Request) -> web.Response:
    """`POST /realtime/calls`: multipart with the API key, or bare SDP with an ephemeral key."""
    from .app import error_response, invalid_key_response  # noqa: PLC0415

    key = sim.authenticate(request, ephemeral=True)
    if key is None:
        return invalid_key_response(request)
    ephemeral = key != sim.api_key
    session: dict[str, Any]
    if request.content_type == "multipart/form-data":
        parts = parse_multipart(await request.read(), request.headers["Content-Type"])
        if "sdp" not in parts:
            return error_response(
                400,
                contract.envelope(
                    "Missing required parameter: 'sdp'.", "sdp", "missing_required_parameter"
                ),
            )
        offer = parts["sdp"][1]
        session = {"type": "realtime"}
        if "session" in parts:
            try:
                session = json.loads(parts["session"][1])
            except ValueError:
                return error_response(
                    400,
                    contract.envelope("Invalid 'session': not JSON.", "session", "invalid_json"),
                )
            problem = contract.validate("RealtimeSessionCreateRequestGA", session)
            if problem is None:
                problem = contract.check_prose_ranges({"session": session})
            if problem is not None:
                err = problem["error"]
                if err["param"]:
                    err["param"] = f"session.{err['param']}"
                return error_response(400, problem)
        if ephemeral:
            session = sim.client_secrets[key].session
    elif request.content_type == "application/sdp":
        if not ephemeral:
            return error_response(
                400,
                contract.envelope(
                    "A bare SDP body needs an ephemeral client secret; send multipart with a session.",
                    None,
                    "invalid_request",
                ),
            )
        offer = (await request.read()).decode()
        session = sim.client_secrets[key].session
    else:
        return error_response(
            400, contract.envelope("Unsupported content type.", None, "unsupported_content_type")
        )
    if len(offer) > MAX_SDP or not offer.startswith("v=0"):
        return error_response(400, contract.envelope("Invalid SDP offer.", "sdp", "invalid_offer"))

    call = SimCall(effective_session(session), ephemeral=ephemeral)
    allow_loopback_ice()
    peer = MediaPeer(
        lambda text: call.receive(text, "datachannel"),
        call.audio_level,
        lambda: None,
    )
    call.peer = peer
    try:
        answer = await peer.answer(offer)
    except Exception as err:
        await peer.close()
        return error_response(
            400, contract.envelope(f"Invalid SDP offer: {err}", "sdp", "invalid_offer")
        )
    sim.calls[call.call_id] = call
    call.spawn(_greet(call))
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call.call_id}"},
    )


def parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str, str]]:
    """Parts of a multipart/form-data body by name: (content type, text)."""
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    parts: dict[str, tuple[str, str]] = {}
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = (part.get_content_type(), payload.decode())
    return parts


async def _greet(call: SimCall) -> None:
    """`session.created` on the data channel once it opens, as the API does."""
    assert call.peer is not None
    try:
        await asyncio.wait_for(call.peer.channel_open.wait(), 30)
    except TimeoutError:
        return
    await call.send({"type": "session.created", "session": call.session})


async def _call_action(sim: RealtimeSimulator, request: web.Request) -> web.Response:
    """hangup, accept, reject and refer."""
    from .app import error_response, invalid_key_response  # noqa: PLC0415

    if sim.authenticate(request) is None:
        return invalid_key_response(request)
    call_id, action = request.match_info["call_id"], request.match_info["action"]
    if action not in ("hangup", "accept", "reject", "refer"):
        raise web.HTTPNotFound
    call = sim.calls.get(call_id)
    if call is None or call.hung_up:
        return error_response(
            404, contract.envelope(f"Call '{call_id}' not found.", "call_id", "call_not_found")
        )
    if action == "hangup":
        await call.end("hangup")
        return web.Response(status=200)
    body, problem = (
        await _json_body(request) if action != "reject" or request.can_read_body else ({}, None)
    )
    if problem is not None:
        return problem
    schema = {
        "accept": "RealtimeSessionCreateRequestGA",
        "reject": "RealtimeCallRejectRequest",
        "refer": "RealtimeCallReferRequest",
    }[action]
    if (error := contract.validate(schema, body)) is not None:
        return error_response(400, error)
    if action == "accept":
        call.session = effective_session(body)
    else:
        await call.end(action)
    return web.Response(status=200)


async def _sideband(sim: RealtimeSimulator, request: web.Request) -> web.StreamResponse:
    """`GET /realtime?call_id=…`: the server-side WebSocket of a call (standard key only)."""
    from .app import error_response, invalid_key_response  # noqa: PLC0415

    if sim.authenticate(request) is None:
        return invalid_key_response(request)
    call = sim.calls.get(request.query.get("call_id", ""))
    if call is None or call.hung_up:
        return error_response(
            404, contract.envelope("Call not found.", "call_id", "call_not_found")
        )
    if sim.sideband_refusals > 0:
        sim.sideband_refusals -= 1
        return error_response(
            503,
            {
                "error": {
                    "message": "Service unavailable",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
        )
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    call.sidebands.append(ws)
    call.sideband_connects += 1
    try:
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                call.receive(msg.data, "sideband")
    finally:
        if ws in call.sidebands:
            call.sidebands.remove(ws)
    return ws


def drop_sidebands(call: SimCall) -> asyncio.Future[Any]:
    """Close a call's sideband sockets abnormally (the call itself lives on)."""
    sockets = list(call.sidebands)
    call.sidebands.clear()
    return asyncio.gather(*(ws.close(code=1011, message=b"dropped") for ws in sockets))
