"""The simulator from the command line.

python -m simulator [--host H] [--port 8199] [--api-key sk-...]    serve until interrupted
python -m simulator turn [--call-id rtc_...] [--port 8199] [--transcript ...] [--tool ...]
                                                                   play a voice turn in a
                                                                   running simulator's call
python -m simulator ring --url URL --secret whsec_... [--caller +1...] [--port 8199]
                                                                   a phone call arrives: the
                                                                   running simulator posts a
                                                                   signed realtime.call.incoming
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

import aiohttp

from .app import RealtimeSimulator
from .control import CONTROL_PREFIX


async def serve(args: argparse.Namespace) -> None:
    """Run the simulator until SIGINT or SIGTERM."""
    sim = RealtimeSimulator(
        api_key=args.api_key, key_header=args.key_header, key_query=args.key_query
    )
    await sim.start(host=args.host, port=args.port)
    print(f"base_url={sim.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


async def turn(args: argparse.Namespace) -> int:
    """Ask a running simulator to play a turn; print its answer; 0 when it plays."""
    path = f"calls/{args.call_id}/turn" if args.call_id else "turn"
    body: dict[str, Any] = {}
    for field in ("transcript", "reply"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    if args.tool is not None:
        body["tool"] = None if args.tool in ("", "none") else args.tool
    if args.arguments is not None:
        body["arguments"] = json.loads(args.arguments)
    answer = await _control(args, path, body, 202)
    if isinstance(answer, int):
        return answer
    tool = f", calling {answer['tool']}" if answer["tool"] else ", no tool call"
    print(f"{answer['call_id']}: \u201c{answer['transcript']}\u201d{tool}")
    return 0


async def ring(args: argparse.Namespace) -> int:
    """Ask a running simulator to ring `--url`; print the call and the answer; 0 on a 2xx."""
    body: dict[str, Any] = {"url": args.url, "secret": args.secret}
    for field in ("caller", "callee", "caller_name"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    headers = [dict(zip(("name", "value"), _header(h), strict=True)) for h in args.header or ()]
    if headers:
        body["sip_headers"] = headers
    answer = await _control(args, "ring", body, 200)
    if isinstance(answer, int):
        return answer
    if answer["status"] is None:
        print(f"{answer['call_id']}: the webhook was not delivered: {answer['error']}")
        return 1
    print(f"{answer['call_id']}: ringing; the webhook was answered {answer['status']}")
    return 0 if 200 <= answer["status"] < 300 else 1


async def _control(
    args: argparse.Namespace, path: str, body: dict[str, Any], expected: int
) -> dict[str, Any] | int:
    """POST `body` to a running simulator's control `path`: its answer, or an exit code.

    The answer when its status is `expected`; else 2 (no simulator) or 1 (refused), with the
    reason printed to stderr.
    """
    url = f"http://{args.host}:{args.port}{CONTROL_PREFIX}/{path}"
    try:
        async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
            answer: dict[str, Any] = await resp.json()
    except aiohttp.ClientError as err:
        print(f"No simulator at {args.host}:{args.port}: {err}", file=sys.stderr)
        return 2
    if resp.status != expected:
        print(answer.get("error", answer), file=sys.stderr)
        return 1
    return answer


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"not a 'Name: value' header: {text!r}")
    return name.strip(), value.strip()


def parser() -> argparse.ArgumentParser:
    """The command line."""
    main = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve the local OpenAI Realtime API, or play a voice turn or ring a phone "
        "call in a running one.",
    )
    main.add_argument("--host", default="127.0.0.1", help="where to listen (127.0.0.1)")
    main.add_argument("--port", type=int, default=8199, help="port to listen on (8199)")
    main.add_argument("--api-key", default="sk-simulator", help="the key clients must send")
    where = main.add_mutually_exclusive_group()
    where.add_argument(
        "--key-header", help="take the key only in this header, as a gateway (x-api-key)"
    )
    where.add_argument(
        "--key-query", help="take the key only in this query parameter, as a gateway (key)"
    )
    commands = main.add_subparsers(dest="command")
    play = commands.add_parser(
        "turn",
        help="play a voice turn in a call of a running simulator, as if the caller spoke",
    )
    play.add_argument("--call-id", help="the call (default: the newest live call)")
    play.add_argument("--host", default="127.0.0.1", help="the simulator's host (127.0.0.1)")
    play.add_argument("--port", type=int, default=8199, help="the simulator's port (8199)")
    play.add_argument("--transcript", help="what the caller says")
    play.add_argument("--tool", help="end of the tool name to call (HassTurnOff), or none")
    play.add_argument("--arguments", help="the tool's arguments, as JSON")
    play.add_argument("--reply", help="what the model answers")
    call = commands.add_parser(
        "ring",
        help="a phone call arrives at a running simulator, which tells a webhook URL (HA's)",
    )
    call.add_argument("--url", required=True, help="the webhook URL OpenAI would call")
    call.add_argument("--secret", required=True, help="the endpoint's signing secret (whsec_...)")
    call.add_argument("--caller", help="the calling number, or a whole From header value")
    call.add_argument("--caller-name", help="the caller's display name in From")
    call.add_argument("--callee", help="the dialled number, or a whole To header value")
    call.add_argument("--header", action="append", help="an extra SIP header, 'Name: value'")
    call.add_argument("--host", default="127.0.0.1", help="the simulator's host (127.0.0.1)")
    call.add_argument("--port", type=int, default=8199, help="the simulator's port (8199)")
    return main


def main() -> None:
    """Parse arguments and run."""
    args = parser().parse_args()
    if args.command in ("turn", "ring"):
        sys.exit(asyncio.run(turn(args) if args.command == "turn" else ring(args)))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
