"""A turn without a microphone: the control endpoint and `python -m simulator turn`."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from simulator import RealtimeSimulator
from simulator.__main__ import parser, turn

from .simulator_helpers import sideband
from .test_simulator_voice import SESSION


async def _control(
    sim: RealtimeSimulator, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"http://127.0.0.1:{sim.port}/_simulator{path}", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_turn_in_the_newest_call(simulator: RealtimeSimulator) -> None:
    status, answer = await _control(simulator, "POST", "/turn")
    assert (status, answer) == (404, {"error": "No such live call."})
    older, newest = simulator.add_call(SESSION), simulator.add_call(SESSION)
    status, answer = await _control(simulator, "GET", "/calls")
    assert [c["call_id"] for c in answer["calls"]] == [older.call_id, newest.call_id]
    async with sideband(simulator, newest) as ws:
        status, answer = await _control(simulator, "POST", "/turn")
        assert status == 202
        assert answer == {
            "call_id": newest.call_id,
            "transcript": "Turn on the kitchen light.",
            "tool": "HassTurnOn",
        }
        arguments = await ws.next("response.function_call_arguments.done")
    assert arguments["name"] == "intent__HassTurnOn"  # found by the end of its name
    assert not older.sent
    # The simulator's own endpoints are not part of the recorded API traffic.
    assert [r.path for r in simulator.requests] == ["/realtime"]  # the sideband


async def test_turn_with_changes_in_a_given_call(simulator: RealtimeSimulator) -> None:
    call = simulator.add_call(SESSION)
    async with sideband(simulator, call) as ws:
        status, _answer = await _control(
            simulator,
            "POST",
            f"/calls/{call.call_id}/turn",
            {"transcript": "What time is it?", "tool": None, "reply": "It is noon."},
        )
        assert status == 202
        said = await ws.next("response.output_audio_transcript.done")
    assert said["transcript"] == "It is noon."
    assert not [e for e in ws.events if e["type"].startswith("response.function_call")]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"transcrip": "x"}, "Unknown field 'transcrip'"),
        ({"arguments": "x"}, "wrong type"),
        ([1], "object"),
    ],
)
async def test_bad_turn_requests(simulator: RealtimeSimulator, body: Any, fragment: str) -> None:
    call = simulator.add_call(SESSION)
    status, answer = await _control(simulator, "POST", f"/calls/{call.call_id}/turn", body)
    assert status == 400
    assert fragment in answer["error"]
    assert not call.sent


async def test_cli_turn(simulator: RealtimeSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m simulator turn` asks a running simulator for a turn."""
    port = str(simulator.port)
    assert await turn(parser().parse_args(["turn", "--port", port])) == 1
    assert "No such live call" in capsys.readouterr().err
    call = simulator.add_call(SESSION)
    async with sideband(simulator, call) as ws:
        args = parser().parse_args(
            [
                "turn",
                "--port",
                port,
                "--call-id",
                call.call_id,
                "--tool",
                "HassTurnOff",
                "--arguments",
                '{"name": "Hall"}',
            ]
        )
        assert await turn(args) == 0
        arguments = await ws.next("response.function_call_arguments.done")
    assert (arguments["name"], json.loads(arguments["arguments"])) == (
        "intent__HassTurnOff",
        {"name": "Hall"},
    )
    assert capsys.readouterr().out == (
        f"{call.call_id}: \u201cTurn on the kitchen light.\u201d, calling HassTurnOff\n"
    )
    assert await turn(parser().parse_args(["turn", "--port", "1"])) == 2
