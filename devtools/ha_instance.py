"""Run a real Home Assistant with this integration from the working tree.

Used by `scripts/develop` and by the end-to-end tests: it writes a config folder, starts
`python -m homeassistant`, completes onboarding through HA's own onboarding API (so the login
is a real user) and creates the OpenAI config entry through the real config flow.

HA runs with the Python in HA_PYTHON when set (scripts/lib/env.sh sets it for HA_RELEASE=newest:
a second venv with the newest HA release), else with this process's Python. The instance starts
with a clean log: no tracebacks, no repairs (see `prepare_config` and `onboard`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
import json
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
# Written by devtools/ha_instance.py at every start: a small, offline Home Assistant for this
# integration. Not `default_config`: only what the product needs, so nothing wants the internet.
# The HTTP settings are in .storage/http (HA keeps them there since 2026.10), not here.
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
# Lights for the voice to switch: "Kitchen light" for the demo ("turn on the kitchen light"),
# exposed to Assist by `onboard`, and "Test light" for the end-to-end tests. Each is a template
# light over a helper (the helpers are not exposed, so the model sees only the lights).
input_boolean:
  kitchen_light_power:
    name: Kitchen light power
    icon: mdi:toggle-switch-variant
  test_light_power:
    name: Test light power
template:
  - light:
      - name: Kitchen light
        unique_id: openai_api_dev_kitchen_light
        state: "{{{{ is_state('input_boolean.kitchen_light_power', 'on') }}}}"
        turn_on:
          action: input_boolean.turn_on
          target:
            entity_id: input_boolean.kitchen_light_power
        turn_off:
          action: input_boolean.turn_off
          target:
            entity_id: input_boolean.kitchen_light_power
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


DEMO_LIGHT = "light.kitchen_light"
# The repair every "Home Assistant Core" installation (HA in a venv, as here) gets since 2025.12:
# it is about how this dev instance runs HA, not about its configuration, so `onboard` ignores it
# (as a user would, with "Ignore"). Every other repair stays visible.
INSTALL_METHOD_REPAIR = ("homeassistant", "deprecated_method")
BLUEPRINT_KINDS = ("automation", "script")


def prepare_config(config_dir: Path, port: int) -> None:
    """Write a config folder that loads the integration and blueprints from this checkout.

    Called before every start; what a user did in the folder in between is kept.
    """
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
    link_blueprints(config_dir)
    storage = config_dir / ".storage"
    storage.mkdir(exist_ok=True)
    _write_http_settings(storage / "http", port)
    _skip_location_step(storage / "onboarding")


def link_blueprints(config_dir: Path) -> list[Path]:
    """Link each of the repository's blueprints into `blueprints/<kind>/openai_api/`.

    One symlink per file in a real folder: HA finds blueprints with `Path.glob("**/*.yaml")`,
    which does not descend into a linked folder on Python 3.14 but does list linked files, and a
    linked file shows the repository's current text. The folder is the repository's: a link that
    points elsewhere or nowhere is replaced or removed, a folder link (older versions of this
    script) becomes a real folder, and a copy of a repository blueprint (as the README's
    "copy a file" suggests) is replaced by the link; a copy that differs from the repository's
    file is kept beside it as `NAME.yaml.bak` (HA does not read it). Returns the backups made.
    """
    backups: list[Path] = []
    for kind in BLUEPRINT_KINDS:
        source = REPO / "blueprints" / kind / "openai_api"
        target = config_dir / "blueprints" / kind / "openai_api"
        if target.is_symlink():
            target.unlink()
        target.mkdir(parents=True, exist_ok=True)
        wanted = {path.name: path for path in source.glob("*.yaml")} if source.is_dir() else {}
        for entry in target.iterdir():
            if entry.is_symlink() and entry.name not in wanted:
                pointee = Path(os.readlink(entry))
                if not entry.exists() or pointee.is_relative_to(REPO / "blueprints"):
                    entry.unlink()
        for name, path in wanted.items():
            entry = target / name
            if entry.is_symlink():
                if Path(os.readlink(entry)) == path:
                    continue
                entry.unlink()
            elif entry.exists():
                if entry.read_bytes() != path.read_bytes():
                    backup = entry.with_name(f"{name}.bak")
                    entry.replace(backup)
                    backups.append(backup)
                    print(f"Kept your edited copy of blueprint {name} as {backup}", file=sys.stderr)
                else:
                    entry.unlink()
            entry.symlink_to(path)
    return backups


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def _write_http_settings(path: Path, port: int) -> None:
    """Set HA's HTTP settings in its store: listen on 127.0.0.1:`port`.

    Since 2026.10 HA keeps them in `.storage/http`: YAML is migrated once, shows the repair "HTTP
    YAML configuration is deprecated" and is then ignored. This writes the store the way HA
    2026.10 does (format 2.2; newer releases migrate it on start), or, when it exists (perhaps
    written by a newer release), changes just the address in its confirmed ("stable") settings
    and drops an unconfirmed trial. HA is not running when this is called.
    """
    listen = {"server_host": ["127.0.0.1"], "server_port": port}
    if path.exists():
        store = json.loads(path.read_text())
        data = store["data"]
        if {k: data["stable"].get(k) for k in listen} == listen and data["pending"] is None:
            return
        data["stable"].update(listen)
        data["pending"] = None
        data["yaml_migration_done"] = True
    else:
        store = {
            "version": 2,
            "minor_version": 2,
            "key": "http",
            "data": {
                "stable": {
                    **listen,
                    # HA's defaults (homeassistant/components/http/config.py)
                    "cors_allowed_origins": ["https://cast.home-assistant.io"],
                    "login_attempts_threshold": -1,
                    "ip_ban_enabled": True,
                    "ssl_profile": "modern",
                    "use_x_frame_options": True,
                    "created_at": datetime.now(UTC).isoformat(),
                    "error": None,
                    "error_message": None,
                },
                "pending": None,
                "yaml_migration_done": True,
            },
        }
    _write_json(path, store)


def _skip_location_step(path: Path) -> None:
    """Mark onboarding's location step ("core_config") done in a new config folder.

    configuration.yaml sets the location, units and time zone that step asks for. Finishing it
    through the API would also start the config flows HA offers a new install (met,
    radio_browser, google_translate, shopping_list): the first two want the internet and log
    tracebacks offline. The other steps (user, analytics, integration) run through the API.
    """
    if not path.exists():
        _write_json(
            path,
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": ["core_config"]},
            },
        )


def python() -> str:
    """The Python that runs Home Assistant: HA_PYTHON (another HA release) or this one."""
    return os.environ.get("HA_PYTHON") or sys.executable


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
        python(),
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
                if steps.get(step):
                    continue
                async with session.post(
                    f"{ha.url}/api/onboarding/{step}", json=body, headers=headers
                ) as resp:
                    resp.raise_for_status()
        ha.token = await _login(session, ha.url)
        await _confirm_http_config(session, ha)
        await _wait_running(session, ha)
        async with session.ws_connect(f"{ha.url}/api/websocket") as ws:
            client = _WebSocket(ws)
            await client.auth(ha.token)
            await client.command(
                type="homeassistant/expose_entity",
                assistants=["conversation"],
                entity_ids=[DEMO_LIGHT],
                should_expose=True,
            )
            await _ignore_install_method_repair(client)
    return ha.token


class _WebSocket:
    """The few websocket calls `onboard` makes."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._id = 0

    async def auth(self, token: str) -> None:
        await self.ws.receive_json()  # auth_required
        await self.ws.send_json({"type": "auth", "access_token": token})
        if (reply := await self.ws.receive_json())["type"] != "auth_ok":
            raise RuntimeError(f"Websocket authentication failed: {reply}")

    async def send(self, **msg: Any) -> int:
        self._id += 1
        await self.ws.send_json({"id": self._id, **msg})
        return self._id

    async def receive(self, msg_id: int) -> dict[str, Any]:
        """The next message for `msg_id` (events of other subscriptions are dropped)."""
        while True:
            reply = dict(await self.ws.receive_json())
            if reply.get("id") == msg_id:
                return reply

    async def command(self, **msg: Any) -> Any:
        reply = await self.receive(await self.send(**msg))
        if not reply.get("success"):
            raise RuntimeError(f"{msg['type']} failed: {reply}")
        return reply["result"]


# HA raises it within milliseconds of starting, unless the machine is very busy.
REPAIR_WAIT = 10.0  # s


async def _ignore_install_method_repair(client: _WebSocket) -> None:
    """Ignore the repair HA raises for a venv install (INSTALL_METHOD_REPAIR), as a user would.

    HA raises it just after it has started; this waits for it a little (a release that no
    longer raises it costs that wait).
    """
    domain, issue_id = INSTALL_METHOD_REPAIR
    subscription = await client.send(
        type="subscribe_events", event_type="repairs_issue_registry_updated"
    )
    if not (await client.receive(subscription)).get("success"):
        return
    issues = (await client.command(type="repairs/list_issues"))["issues"]
    found = [i for i in issues if (i["domain"], i["issue_id"]) == INSTALL_METHOD_REPAIR]
    if not found:
        try:
            async with asyncio.timeout(REPAIR_WAIT):
                while True:
                    data = (await client.receive(subscription))["event"]["data"]
                    if (data["domain"], data["issue_id"]) == INSTALL_METHOD_REPAIR:
                        break
        except TimeoutError:
            return
    elif found[0]["ignored"]:
        return
    await client.command(type="repairs/ignore_issue", domain=domain, issue_id=issue_id, ignore=True)


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


async def version(ha: HomeAssistantProcess) -> str:
    """The running Home Assistant's version."""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {ha.token}"}) as session,
        session.get(f"{ha.url}/api/config") as resp,
    ):
        resp.raise_for_status()
        return str((await resp.json())["version"])


def banner(ha: HomeAssistantProcess, base_url: str, simulated: bool, version: str = "") -> str:
    """What `scripts/develop` prints once HA is ready."""
    target = "the local Realtime simulator" if simulated else "OpenAI"
    name = f"Home Assistant {version}" if version else "Home Assistant"
    return textwrap.dedent(
        f"""
        {name} is running: {ha.url}
          login:    {USERNAME} / {PASSWORD}
          config:   {ha.config_dir}
          account:  OpenAI API entry against {target} ({base_url})
          try:      "Turn on the kitchen light" ({DEMO_LIGHT} is exposed to Assist)
        Stop with Ctrl+C.
        """
    )
