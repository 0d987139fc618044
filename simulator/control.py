"""The simulator's own endpoints (not OpenAI's): look at calls, play a turn without a mic, ring.

    GET  /_simulator/calls                   calls that have not ended, oldest first
    POST /_simulator/turn                    play a voice turn in the newest live call
    POST /_simulator/calls/{call_id}/turn    ... in that call
    POST /_simulator/ring                    a phone call arrives: a pending SIP call, and its
                                             signed `realtime.call.incoming` posted to a URL

A turn's JSON body is optional; its fields replace those of the default voice turn:
`transcript`, `tool` (the end of a tool name, such as `HassTurnOff`, or null for no tool
call), `arguments` (an object) and `reply`. A ring's body has `url` and `secret` (`whsec_…`),
and optionally `caller`, `callee`, `caller_name`, `sip_headers` (a list of `{name, value}`)
and `pace`; it answers the call's id and how the webhook endpoint answered. None of these is
recorded and faults do not apply.
"""

from __future__ import annotations

import dataclasses
from functools import partial
import json
from typing import Any

from aiohttp import web

from .calls import SimCall
from .state import SimulatorState

CONTROL_PREFIX = "/_simulator"
_TURN_FIELDS: dict[str, type | tuple[type, ...]] = {
    "transcript": str,
    "tool": (str, type(None)),
    "arguments": dict,
    "reply": str,
}
_TURN_ATTRIBUTES = {"tool": "tool_name", "arguments": "tool_arguments"}
_RING_FIELDS: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "secret": str,
    "caller": str,
    "callee": str,
    "caller_name": str,
    "sip_headers": list,
    "pace": (int, float),
}


def add_control_routes(app: web.Application, state: SimulatorState) -> None:
    """Serve the control endpoints under /_simulator."""
    app.router.add_get(f"{CONTROL_PREFIX}/calls", partial(list_calls, state))
    app.router.add_post(f"{CONTROL_PREFIX}/turn", partial(play_turn, state))
    app.router.add_post(f"{CONTROL_PREFIX}/calls/{{call_id}}/turn", partial(play_turn, state))
    app.router.add_post(f"{CONTROL_PREFIX}/ring", partial(ring, state))


def describe(call: SimCall) -> dict[str, Any]:
    """What the control API tells about a call."""
    return {
        "call_id": call.call_id,
        "transport": call.transport,
        "status": call.status,
        "media": call.peer is not None,
        "sidebands": len(call.sidebands),
        "listening": call.auto_turn is not None,
        "model": call.session.get("model"),
    }


async def list_calls(state: SimulatorState, _request: web.Request) -> web.Response:
    """The calls that have not ended (SIP calls still ringing among them)."""
    live = [describe(c) for c in state.calls.values() if not c.hung_up]
    return web.json_response({"calls": live})


async def play_turn(state: SimulatorState, request: web.Request) -> web.Response:
    """Play the voice turn (with the body's changes) as if the caller had said it."""
    call_id = request.match_info.get("call_id")
    call = state.live_call(call_id)
    if call is None:
        if call_id and (pending := state.open_call(call_id)) is not None and pending.pending:
            return web.json_response(
                {"error": f"Call {call_id} is ringing: accept it first."}, status=409
            )
        wanted = f"call {call_id}" if call_id else "live call"
        return web.json_response({"error": f"No such {wanted}."}, status=404)
    try:
        changes = await _turn_changes(request)
    except ValueError as err:
        return web.json_response({"error": str(err)}, status=400)
    base = call.auto_turn or state.auto_turn
    if base is None:
        return web.json_response({"error": "Voice turns are switched off."}, status=409)
    turn = dataclasses.replace(base, **changes)
    call.spawn(call.user_turn(turn))
    return web.json_response(
        {"call_id": call.call_id, "transcript": turn.transcript, "tool": turn.tool_name},
        status=202,
    )


async def ring(state: SimulatorState, request: web.Request) -> web.Response:
    """Ring: a pending SIP call, announced by a signed webhook to the body's `url`."""
    try:
        body = await _object_body(request)
        options = _ring_options(body)
    except ValueError as err:
        return web.json_response({"error": str(err)}, status=400)
    call = await state.ring(options.pop("url"), **options)
    delivery = call.webhook
    assert delivery is not None
    return web.json_response(
        {
            "call_id": call.call_id,
            "webhook_id": delivery.webhook_id,
            "status": delivery.status,
            "error": delivery.error,
        }
    )


def _ring_options(body: dict[str, Any]) -> dict[str, Any]:
    for key in ("url", "secret"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise ValueError(f"Field {key!r} is required (a string).")
    options: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _RING_FIELDS:
            raise ValueError(f"Unknown field {key!r}; known: {', '.join(_RING_FIELDS)}.")
        if not isinstance(value, _RING_FIELDS[key]) or isinstance(value, bool):
            raise ValueError(f"Field {key!r} has the wrong type.")
        options[key] = value
    headers = options.get("sip_headers") or []
    if not all(
        isinstance(h, dict)
        and set(h) == {"name", "value"}
        and all(isinstance(v, str) for v in h.values())
        for h in headers
    ):
        raise ValueError("Field 'sip_headers' must be a list of {name, value} strings.")
    return options


async def _object_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = json.loads(await request.read())
    except ValueError as err:
        raise ValueError("The body is not JSON.") from err
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    return body


async def _turn_changes(request: web.Request) -> dict[str, Any]:
    body = await _object_body(request)
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key not in _TURN_FIELDS:
            raise ValueError(f"Unknown field {key!r}; known: {', '.join(_TURN_FIELDS)}.")
        if not isinstance(value, _TURN_FIELDS[key]):
            raise ValueError(f"Field {key!r} has the wrong type.")
        changes[_TURN_ATTRIBUTES.get(key) or key] = value
    return changes
