"""The API's endpoints, as the OpenAPI texts state them.

Models, client secrets (GA, translation, legacy), calls and call control, the `/realtime`
WebSocket, and `/audio/speech`.

Each handler authenticates, checks its body against the request schema the document names for
the path (spec.request_schema), and answers with the status, body and headers the document
gives: `201` with `application/sdp` and `Location` for a new call, an empty `200` for call
control, chunked audio for speech. Refusals are raised as `Refused` and answered by the
middleware.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from functools import partial
import json
import secrets
import time
from typing import Any

from aiohttp import web

from . import contract, legacy, sessions, spec, tts
from .calls import SimCall
from .errors import UNPARSABLE_JSON, ApiError, Refused, call_not_found, invalid_api_key
from .faults import STREAM_FAULT
from .state import API_PREFIX, ClientSecret, SimulatorState
from .webrtc import MediaPeer, allow_loopback_ice

MODELS = (
    "gpt-realtime",
    "gpt-realtime-1.5",
    "gpt-audio-1.5",
    "gpt-realtime-mini",
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
)
MAX_SDP = 64 * 1024
DECLINE = 603  # the SIP status a rejected caller gets when the request names none
DEFAULT_SECRET_SECONDS = 600
CALLS = "/realtime/calls"


def add_routes(app: web.Application, state: SimulatorState) -> None:
    """Serve the API's paths under /v1."""
    routes = (
        ("GET", "/models", list_models),
        ("POST", "/realtime/client_secrets", create_client_secret),
        ("POST", "/realtime/translations/client_secrets", create_translation_secret),
        ("POST", "/realtime/sessions", create_legacy_session),
        ("POST", "/realtime/transcription_sessions", create_legacy_transcription_session),
        ("POST", CALLS, create_call),
        ("POST", f"{CALLS}/{{call_id}}/hangup", hangup_call),
        ("POST", f"{CALLS}/{{call_id}}/accept", accept_call),
        ("POST", f"{CALLS}/{{call_id}}/reject", reject_call),
        ("POST", f"{CALLS}/{{call_id}}/refer", refer_call),
        ("GET", "/realtime", realtime_socket),
        ("POST", "/audio/speech", create_speech),
    )
    for method, path, handler in routes:
        app.router.add_route(method, API_PREFIX + path, partial(handler, state))


# --- shared steps ----------------------------------------------------------------------------


def _authenticate(state: SimulatorState, request: web.Request, *, ephemeral: bool = False) -> str:
    key = state.authenticate(request, ephemeral=ephemeral)
    if key is None:
        raise Refused(invalid_api_key(state.presented_key(request), state.key_place()))
    return key


def _check(error: ApiError | None) -> None:
    if error is not None:
        raise Refused(error)


async def _json_body(request: web.Request, *, required: bool = True) -> Any:
    """The JSON body (None when an optional body is absent)."""
    if not required and not request.body_exists:
        return None
    if request.content_type != "application/json":
        raise Refused(
            ApiError(
                "Unsupported content type: expected application/json.",
                code="unsupported_content_type",
            )
        )
    try:
        return json.loads(await request.read())
    except ValueError:
        raise Refused(ApiError(UNPARSABLE_JSON)) from None


def _open_call(state: SimulatorState, request: web.Request) -> SimCall:
    """The call a call-control request names, if it has not ended (404 otherwise)."""
    call_id = request.match_info["call_id"]
    call = state.open_call(call_id)
    if call is None:
        raise Refused(call_not_found(call_id))
    return call


def _may(call: SimCall, action: str) -> None:
    """Refuse call control that does not apply to the call's kind or state."""
    _check(call.refusal(action))


async def _call_action(
    state: SimulatorState, request: web.Request, action: str, *, required: bool = True
) -> tuple[SimCall, Any]:
    """A call-control request with a JSON body: its open call and its body, both checked.

    The body against the action's request schema (an absent optional body is None, unchecked),
    then the action against the call's kind and state.
    """
    _authenticate(state, request)
    call = _open_call(state, request)
    body = await _json_body(request, required=required)
    if required or body is not None:
        _check(contract.validate(spec.request_schema(f"{CALLS}/{{call_id}}/{action}"), body))
    _may(call, action)
    return call, body


# --- models and client secrets -----------------------------------------------------------


async def list_models(state: SimulatorState, request: web.Request) -> web.Response:
    """`GET /models`."""
    _authenticate(state, request)
    now = int(time.time())
    return web.json_response(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": now, "owned_by": "system"} for m in MODELS
            ],
        }
    )


async def create_client_secret(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/client_secrets`: an `ek_…` key and the effective session it carries."""
    _authenticate(state, request)
    body = await _json_body(request)
    _check(contract.validate(spec.request_schema("/realtime/client_secrets"), body))
    seconds = (body.get("expires_after") or {}).get("seconds", DEFAULT_SECRET_SECONDS)
    secret = ClientSecret(
        value=f"ek_{secrets.token_hex(16)}",
        expires_at=int(time.time()) + seconds,
        session=sessions.effective_session(body.get("session"), expires_at=0),
    )
    state.client_secrets[secret.value] = secret
    return web.json_response(
        {"value": secret.value, "expires_at": secret.expires_at, "session": secret.session}
    )


async def create_translation_secret(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/translations/client_secrets`: a key and its translation session."""
    _authenticate(state, request)
    body = await _json_body(request)
    path = "/realtime/translations/client_secrets"
    _check(contract.validate(spec.request_schema(path), body))
    seconds = (body.get("expires_after") or {}).get("seconds", DEFAULT_SECRET_SECONDS)
    expires_at = int(time.time()) + seconds
    answer = {
        "value": f"ek_{secrets.token_hex(16)}",
        "expires_at": expires_at,
        "session": legacy.translation_session(body["session"], expires_at),
    }
    state.translation_secrets[answer["value"]] = answer
    return web.json_response(answer)


async def create_legacy_session(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/sessions` (beta): the session and its `client_secret` (see legacy.py)."""
    _authenticate(state, request)
    body = await _json_body(request)
    _check(contract.validate(spec.request_schema("/realtime/sessions"), body))
    session = sessions.effective_session(legacy.ga_session(body))
    secret = legacy.new_secret()
    _keep_secret(state, secret, {**session, "expires_at": 0})
    return web.json_response(legacy.session_response(session, secret))


async def create_legacy_transcription_session(
    state: SimulatorState, request: web.Request
) -> web.Response:
    """`POST /realtime/transcription_sessions` (beta): the session and its `client_secret`."""
    _authenticate(state, request)
    body = await _json_body(request)
    _check(contract.validate(spec.request_schema("/realtime/transcription_sessions"), body))
    secret = legacy.new_secret()
    session = sessions.effective_session(legacy.ga_transcription_session(body), expires_at=0)
    _keep_secret(state, secret, session)
    return web.json_response(legacy.transcription_response(body, secret))


def _keep_secret(state: SimulatorState, secret: dict[str, Any], session: dict[str, Any]) -> None:
    state.client_secrets[secret["value"]] = ClientSecret(
        secret["value"], secret["expires_at"], session
    )


# --- WebRTC calls --------------------------------------------------------------------------


async def create_call(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/calls`: multipart with the API key, or bare SDP with an ephemeral key."""
    key = _authenticate(state, request, ephemeral=True)
    ephemeral = key != state.api_key
    if request.content_type == "multipart/form-data":
        offer, session = await _multipart_offer(request)
    elif request.content_type == "application/sdp":
        if not ephemeral:
            raise Refused(
                ApiError(
                    "A bare SDP body needs an ephemeral client secret; send multipart with a session.",
                    code="invalid_request",
                )
            )
        offer, session = (await request.read()).decode(), None
    else:
        raise Refused(ApiError("Unsupported content type.", code="unsupported_content_type"))
    if len(offer) > MAX_SDP or not offer.startswith("v=0"):
        raise Refused(ApiError("Invalid SDP offer.", "sdp", "invalid_offer"))
    call = SimCall(_call_session(state, key, session), ephemeral=ephemeral, transport="webrtc")
    answer = await _answer_offer(state, call, offer)
    state.calls[call.call_id] = call
    call.spawn(call.greet())
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": f"{API_PREFIX}{CALLS}/{call.call_id}"},
    )


async def _multipart_offer(request: web.Request) -> tuple[str, dict[str, Any] | None]:
    """The SDP offer and session of a multipart body, checked as one request object."""
    parts = parse_multipart(await request.read(), request.headers["Content-Type"])
    body: dict[str, Any] = {name: text for name, (_type, text) in parts.items()}
    if "session" in body:
        try:
            body["session"] = json.loads(body["session"])
        except ValueError:
            raise Refused(ApiError(UNPARSABLE_JSON, "session")) from None
    _check(contract.validate(spec.request_schema(CALLS, "multipart/form-data"), body))
    return body["sdp"], body.get("session")


def _call_session(
    state: SimulatorState, key: str, session: dict[str, Any] | None
) -> dict[str, Any]:
    """The session of a new call: the request's, or the client secret's updated by it."""
    if key == state.api_key:
        return sessions.effective_session(session)
    carried = sessions.started(state.client_secrets[key].session)
    return sessions.updated_session(carried, session) if session else carried


async def _answer_offer(state: SimulatorState, call: SimCall, offer: str) -> str:
    allow_loopback_ice()
    peer = MediaPeer(lambda text: call.receive(text, "datachannel"), call.audio_level)
    try:
        answer = await peer.answer(offer)
    except Exception as err:
        await peer.close()
        raise Refused(ApiError(f"Invalid SDP offer: {err}", "sdp", "invalid_offer")) from err
    call.attach(peer, state.auto_turn)
    return answer


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


# --- call control ------------------------------------------------------------------------


async def hangup_call(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/calls/{call_id}/hangup` (no body): ends any call, SIP or WebRTC."""
    _authenticate(state, request)
    call = _open_call(state, request)
    await call.end("hangup")
    return web.Response(status=200)


async def accept_call(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/calls/{call_id}/accept` with the session: a pending SIP call goes live."""
    call, body = await _call_action(state, request, "accept")
    call.accept(sessions.effective_session(body))
    return web.Response(status=200)


async def reject_call(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/calls/{call_id}/reject`, optionally with a SIP status code (603)."""
    call, body = await _call_action(state, request, "reject", required=False)
    call.sip_status = (body or {}).get("status_code", DECLINE)
    await call.end("reject")
    return web.Response(status=200)


async def refer_call(state: SimulatorState, request: web.Request) -> web.Response:
    """`POST /realtime/calls/{call_id}/refer`: the SIP call goes to `target_uri`."""
    call, body = await _call_action(state, request, "refer")
    call.referred_to = body["target_uri"]
    await call.end("refer")
    return web.Response(status=200)


# --- the sideband ---------------------------------------------------------------------------


async def realtime_socket(state: SimulatorState, request: web.Request) -> web.StreamResponse:
    """`GET /realtime`: a WebSocket (standard key only).

    A call's sideband (`call_id=`), or a session of its own: a conversation (`model=`) or a
    transcription session (`intent=transcription`), which starts with `session.created`.
    """
    _authenticate(state, request)
    if "call_id" in request.query:
        return await sideband(state, request)
    intent = request.query.get("intent")
    if intent is not None and intent != "transcription":
        raise Refused(
            ApiError(
                f"Invalid value: '{intent}'. Supported values are: 'transcription'.",
                "intent",
                "invalid_value",
            )
        )
    if intent is None and not request.query.get("model"):
        raise Refused(
            ApiError("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        )
    request_session = (
        {"type": "transcription"}
        if intent
        else {"type": "realtime", "model": request.query["model"]}
    )
    session = SimCall(
        sessions.effective_session(request_session), ephemeral=False, transport="websocket"
    )
    session.pace = state.socket_pace
    state.sockets.append(session)
    ws = await _open_socket(request, session)
    await session.send({"type": "session.created", "session": session.session})
    try:
        await _serve_socket(ws, session)
    finally:
        await session.end("closed")
    return ws


async def sideband(state: SimulatorState, request: web.Request) -> web.StreamResponse:
    """`GET /realtime?call_id=…`: the server-side WebSocket of a call."""
    call_id = request.query.get("call_id", "")
    call = state.open_call(call_id)
    if call is None:
        raise Refused(ApiError("Call not found.", "call_id", "call_not_found", status=404))
    if call.pending:
        raise Refused(
            ApiError(
                f"Call '{call_id}' has not been accepted yet; accept it before connecting.",
                "call_id",
                "invalid_call_state",
            )
        )
    if state.sideband_refusals > 0:
        state.sideband_refusals -= 1
        raise Refused(ApiError("Service unavailable", type="server_error", status=503))
    ws = await _open_socket(request, call)
    call.sideband_connects += 1
    await _serve_socket(ws, call)
    return ws


async def _open_socket(request: web.Request, call: SimCall) -> web.WebSocketResponse:
    """Complete the handshake; the socket joins the call, with the faults its request armed."""
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=16 * 1024 * 1024)
    await ws.prepare(request)
    assert request.transport is not None
    call.add_socket(ws, request.transport)
    fault = request.get(STREAM_FAULT)
    if fault is not None:
        call.inject_fault(fault.kind)
    return ws


async def _serve_socket(ws: web.WebSocketResponse, call: SimCall) -> None:
    try:
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                call.receive(msg.data, "sideband")
    finally:
        call.remove_socket(ws)


def drop_sidebands(call: SimCall) -> asyncio.Future[Any]:
    """Close a call's sideband sockets abnormally (the call itself lives on)."""
    sockets = list(call.sidebands)
    call.sidebands.clear()
    return asyncio.gather(*(ws.close(code=1011, message=b"dropped") for ws in sockets))


# --- text to speech -------------------------------------------------------------------------


async def create_speech(state: SimulatorState, request: web.Request) -> web.StreamResponse:
    """`POST /audio/speech` (the audio document): the input spoken, streamed (see tts.py)."""
    _authenticate(state, request)
    body = await _json_body(request)
    _check(contract.validate("CreateSpeechRequest", body, document="audio"))
    _check(tts.refusal(body))
    data, seconds = await asyncio.to_thread(tts.render, body)
    sse = body.get("stream_format") == "sse"
    pieces = list(tts.events(body, data, seconds)) if sse else tts.pieces(data, seconds)
    response = web.StreamResponse(
        headers={"Content-Type": tts.EVENTS_TYPE if sse else tts.AUDIO_TYPE}
    )
    response.enable_chunked_encoding()
    await asyncio.sleep(tts.FIRST_BYTE * state.speech_pace)
    await response.prepare(request)
    fault = request.get(STREAM_FAULT)
    for piece in pieces:
        await response.write(piece.data)
        if fault is not None and fault.kind == "drop_mid_stream":
            assert request.transport is not None
            request.transport.close()  # after the first piece, as a broken connection
            return response
        await asyncio.sleep(piece.seconds / tts.GENERATION_SPEED * state.speech_pace)
    await response.write_eof()
    return response
