"""3. Sideband tool turnaround: the model asks for a tool, HA answers and asks for a response.

The simulator plays a user turn whose response calls `intent__HassTurnOn` on the exposed test
light. The clock starts when the simulator sends `response.function_call_arguments.done` on the
sideband and stops when it has received HA's `conversation.item.create` (the
`function_call_output`) and then `response.create`: the simulator stamps both ends.

The call is a media-less simulator call with HA's sideband attached the way the card's
ephemeral mode does it (the websocket `ephemeral` command, then `attach`): the audio of a call flows between the browser and OpenAI and never through
HA, so leaving it out keeps aiortc's media work (on this same event loop) out of a figure that
is about HA. HA's time inside the tool itself (the Assist intent turning the light on) is
timed separately by wrapping the session's tool runner.
"""

from __future__ import annotations

import time
from typing import Any

from custom_components.openai_api.realtime import call as call_module
from simulator import SimCall, Turn

from .fixtures import LIGHT
from .harness import PATIENCE, SATELLITE, Bench, attach_new_call, settle, until
from .stats import summary_ms


def _index_after(call: SimCall, kind: str, start: int) -> int:
    return next(i for i in range(start, len(call.sent)) if call.sent[i]["type"] == kind)


async def _one_turn(bench: Bench, call: SimCall) -> tuple[float, float]:
    """Play one turn; (seconds to the function output, seconds to response.create)."""
    hass = bench.hass
    await hass.services.async_call("light", "turn_off", {"entity_id": LIGHT}, blocking=True)
    await settle(hass, 0.01)
    assert hass.states.get(LIGHT).state == "off"
    first_sent = len(call.sent)
    await call.user_turn(Turn(), tool_timeout=PATIENCE)
    i = _index_after(call, "response.function_call_arguments.done", first_sent)
    asked = call.sent_at[i]
    tool_call_id = call.sent[i]["call_id"]
    output = await call.wait_for(
        lambda r: (
            r.event["type"] == "conversation.item.create"
            and (r.event.get("item") or {}).get("call_id") == tool_call_id
        ),
        PATIENCE,
    )
    create = await call.wait_for(
        lambda r: r.event["type"] == "response.create" and r.at > asked, PATIENCE
    )
    if output.source != "sideband" or create.source != "sideband":
        raise RuntimeError("the tool output did not come over the sideband")
    if '"action_done"' not in output.event["item"]["output"]:
        raise RuntimeError(f"the tool failed: {output.event['item']['output']}")
    await until(lambda: hass.states.get(LIGHT).state == "on")
    # Let the simulator finish the spoken answer before the next turn.
    await until(lambda: call.sent[-1]["type"] == "output_audio_buffer.stopped")
    return output.at - asked, create.at - asked


async def run(bench: Bench, turns: int) -> dict[str, Any]:
    """Play `turns` tool turns on one call (after two warm-up turns)."""
    call = await attach_new_call(bench.ws, bench.sim, SATELLITE)
    await until(lambda: call.sidebands)

    tool_times: list[float] = []
    original = call_module.async_run_tool

    async def timed_run_tool(*args: Any) -> str:
        start = time.perf_counter()
        try:
            return await original(*args)
        finally:
            tool_times.append(time.perf_counter() - start)

    to_output: list[float] = []
    to_create: list[float] = []
    call_module.async_run_tool = timed_run_tool  # type: ignore[assignment]
    try:
        for _ in range(2):
            await _one_turn(bench, call)
        del tool_times[:]
        for _ in range(turns):
            out, create = await _one_turn(bench, call)
            to_output.append(out)
            to_create.append(create)
    finally:
        call_module.async_run_tool = original
        hangup = await bench.ws.command(type="openai_api/realtime/hangup", call_id=call.call_id)
        assert hangup["success"], hangup
    return {
        "turns": turns,
        "turnaround": summary_ms(to_create),
        "to_function_output": summary_ms(to_output),
        "tool_execution": summary_ms(tool_times),
        "method": "media-less simulator call; HA attached through the websocket `ephemeral` "
        "and `attach` commands",
    }
