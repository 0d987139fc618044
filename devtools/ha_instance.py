"""Run a real Home Assistant with this integration from the working tree.

Used by `scripts/develop` and by the end-to-end tests: it writes a config folder, starts
`python -m homeassistant`, completes onboarding through HA's own onboarding API (so the login
is a real user) and creates the OpenAI config entry through the real config flow.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import os
from pathlib import Path
import signal
import sys
import textwrap
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
USERNAME = "dev"
PASSWORD = "dev-password"
CLIENT_ID = "http://127.0.0.1/"

CONFIGURATION_YAML = """\
# Written by devtools/ha_instance.py: a small, offline Home Assistant for this integration.
homeassistant:
  name: OpenAI API dev
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: NL
  currency: EUR
  language: en

http:
  server_host: 127.0.0.1
  server_port: {port}

frontend:
config:
api:
automation: !include automations.yaml
script: !include scripts.yaml
blueprint:
history:
logbook:
conversation:
assist_pipeline:
input_boolean:
  test_light_power:
    name: Test light power
template:
  - light:
      - name: Test light
        state: "{{{{ is_state('input_boolean.test_light_power', 'on') }}}}"
        turn_on:
          action: input_boolean.turn_on
          target:
            entity_id: input_boolean.test_light_power
        turn_off:
          action: input_boolean.turn_off
          target:
            entity_id: input_boolean.test_light_power
logger:
  default: warning
  logs:
    custom_components.openai_api: debug
"""


def prepare_config(config_dir: Path, port: int) -> None:
    """Write a config folder that loads the integration and blueprints from this checkout."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(CONFIGURATION_YAML.format(port=port))
    for name in ("automations.yaml", "scripts.yaml"):
        path = config_dir / name
        if not path.exists():
            path.write_text("[]\n" if name == "automations.yaml" else "{}\n")
    components = config_dir / "custom_components"
    components.mkdir(exist_ok=True)
    link = components / "openai_api"
    if not link.is_symlink():
        link.symlink_to(REPO / "custom_components" / "openai_api")
    blueprints = config_dir / "blueprints"
    for kind in ("automation", "script"):
        target = blueprints / kind / "openai_api"
        source = REPO / "blueprints" / kind / "openai_api"
        if source.exists() and not target.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)


@dataclass
class HomeAssistantProcess:
    """A running `python -m homeassistant` and how to reach it."""

    process: asyncio.subprocess.Process
    url: str
    config_dir: Path
    token: str = ""

    async def stop(self) -> None:
        """Stop HA and wait for it."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start(config_dir: Path, port: int, *, log: Path | None = None) -> HomeAssistantProcess:
    """Start HA and wait until its HTTP API answers."""
    prepare_config(config_dir, port)
    out = open(log, "ab") if log else None  # noqa: ASYNC230, SIM115 - handed to the child process
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "homeassistant",
        "--config",
        str(config_dir),
        "--skip-pip",
        stdout=out,
        stderr=asyncio.subprocess.STDOUT if out else None,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    ha = HomeAssistantProcess(process, url, config_dir)
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.returncode is not None:
                raise RuntimeError(f"Home Assistant exited with code {process.returncode}")
            try:
                async with session.get(f"{url}/api/onboarding") as resp:
                    if resp.status in (200, 404):
                        return ha
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    await ha.stop()
    raise RuntimeError("Home Assistant did not start within 150 s")


async def _tokens(
    session: aiohttp.ClientSession, url: str, code: str, client_id: str = CLIENT_ID
) -> dict[str, Any]:
    async with session.post(
        f"{url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
    ) as resp:
        resp.raise_for_status()
        return dict(await resp.json())


async def _token(session: aiohttp.ClientSession, url: str, code: str) -> str:
    return str((await _tokens(session, url, code))["access_token"])


async def login(
    session: aiohttp.ClientSession, url: str, client_id: str = CLIENT_ID
) -> dict[str, Any]:
    """Log in with the dev user through HA's login flow; return HA's token response.

    It has `access_token`, `refresh_token` and `expires_in`. The end-to-end tests log the
    browser in with it, using the frontend's own client id (`http://host:port/`).
    """
    async with session.post(
        f"{url}/auth/login_flow",
        json={
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": client_id,
        },
    ) as resp:
        flow = await resp.json()
    async with session.post(
        f"{url}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": client_id, "username": USERNAME, "password": PASSWORD},
    ) as resp:
        result = await resp.json()
    if result.get("type") != "create_entry":
        raise RuntimeError(f"Login failed: {result}")
    return await _tokens(session, url, result["result"], client_id)


async def _login(session: aiohttp.ClientSession, url: str) -> str:
    """Log in with the dev user; return an access token."""
    return str((await login(session, url))["access_token"])


async def onboard(ha: HomeAssistantProcess) -> str:
    """Finish onboarding (once) and return an access token of the dev user."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{ha.url}/api/onboarding") as resp:
            steps = {s["step"]: s["done"] for s in await resp.json()} if resp.status == 200 else {}
        if not steps.get("user", True):
            async with session.post(
                f"{ha.url}/api/onboarding/users",
                json={
                    "name": "Developer",
                    "username": USERNAME,
                    "password": PASSWORD,
                    "client_id": CLIENT_ID,
                    "language": "en",
                },
            ) as resp:
                resp.raise_for_status()
                token = await _token(session, ha.url, (await resp.json())["auth_code"])
            headers = {"Authorization": f"Bearer {token}"}
            for step, body in (
                ("core_config", {}),
                ("analytics", {}),
                ("integration", {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID}),
            ):
                async with session.post(
                    f"{ha.url}/api/onboarding/{step}", json=body, headers=headers
                ) as resp:
                    resp.raise_for_status()
        ha.token = await _login(session, ha.url)
        await _confirm_http_config(session, ha)
        await _wait_running(session, ha)
    return ha.token


async def _wait_running(session: aiohttp.ClientSession, ha: HomeAssistantProcess) -> None:
    """Wait until HA has started: template entities (the test light) render only then."""
    headers = {"Authorization": f"Bearer {ha.token}"}
    async with asyncio.timeout(120):
        while True:
            async with session.get(f"{ha.url}/api/config", headers=headers) as resp:
                if resp.status == 200 and (await resp.json()).get("state") == "RUNNING":
                    return
            await asyncio.sleep(0.2)


async def _confirm_http_config(session: aiohttp.ClientSession, ha: HomeAssistantProcess) -> None:
    """Keep the HTTP settings from configuration.yaml.

    HA 2026.10 moves them to storage as a trial that reverts (and restarts HA on port 8123)
    unless a user confirms it within five minutes; until then every page shows a dialog asking
    to. This confirms it, as clicking "Confirm" would. Nothing to do once confirmed.
    """
    async with session.ws_connect(f"{ha.url}/api/websocket") as ws:
        await ws.receive_json()  # auth_required
        await ws.send_json({"type": "auth", "access_token": ha.token})
        await ws.receive_json()  # auth_ok
        await ws.send_json({"id": 1, "type": "http/config"})
        config = await ws.receive_json()
        if config.get("success") and config["result"].get("pending"):
            await ws.send_json({"id": 2, "type": "http/config/promote"})
            result = await ws.receive_json()
            if not result.get("success"):
                raise RuntimeError(f"Could not confirm the HTTP settings: {result}")


async def ensure_entry(ha: HomeAssistantProcess, api_key: str, base_url: str) -> dict[str, Any]:
    """Create the OpenAI account entry through the config flow unless one exists."""
    headers = {"Authorization": f"Bearer {ha.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{ha.url}/api/config/config_entries/entry?domain=openai_api") as r:
            entries = await r.json()
        if entries:
            return dict(entries[0])
        async with session.post(
            f"{ha.url}/api/config/config_entries/flow", json={"handler": "openai_api"}
        ) as resp:
            flow = await resp.json()
        async with session.post(
            f"{ha.url}/api/config/config_entries/flow/{flow['flow_id']}",
            json={"api_key": api_key, "base_url": base_url},
        ) as resp:
            result = await resp.json()
        if result.get("type") != "create_entry":
            raise RuntimeError(f"Config flow did not create an entry: {result}")
        return dict(result["result"])


def banner(ha: HomeAssistantProcess, base_url: str, simulated: bool) -> str:
    """What `scripts/develop` prints once HA is ready."""
    target = "the local Realtime simulator" if simulated else "OpenAI"
    return textwrap.dedent(
        f"""
        Home Assistant is running: {ha.url}
          login:    {USERNAME} / {PASSWORD}
          config:   {ha.config_dir}
          account:  OpenAI API entry against {target} ({base_url})
        Stop with Ctrl+C.
        """
    )
