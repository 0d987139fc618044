"""The OpenAI API integration: Realtime client secrets and voice for Home Assistant."""

from __future__ import annotations

from typing import Any

import aiohttp
from homeassistant.const import CONF_API_KEY, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import ssl as ssl_util

from .api import OpenAIAuthenticationError, OpenAIClient, OpenAIError
from .const import CONF_BASE_URL, CONF_ORGANIZATION, CONF_PROJECT, DOMAIN
from .errors import to_home_assistant_error
from .frontend import async_register_card
from .models import OpenAIConfigEntry, OpenAIRuntimeData
from .realtime.manager import RealtimeManager
from .services import async_setup_services
from .websocket_api import async_register_websocket_api

PLATFORMS = (Platform.ASSIST_SATELLITE,)
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, websocket commands and the card once, whatever entries exist."""
    async_setup_services(hass)
    async_register_websocket_api(hass)
    await async_register_card(hass)
    return True


def create_client(
    hass: HomeAssistant,
    data: dict[str, Any] | ConfigType,
    sideband_session: aiohttp.ClientSession | None = None,
) -> OpenAIClient:
    """Build the API client of an entry's data over HA's shared aiohttp session."""
    return OpenAIClient(
        async_get_clientsession(hass),
        data[CONF_API_KEY],
        data[CONF_BASE_URL],
        organization=data.get(CONF_ORGANIZATION),
        project=data.get(CONF_PROJECT),
        sideband_session=sideband_session,
    )


def create_sideband_session() -> aiohttp.ClientSession:
    """Return a connection pool of its own for the sideband WebSockets of an entry's calls.

    HA's shared pool allows 100 connections per host and an open WebSocket keeps its
    connection for the whole call: with the sidebands in that pool, enough live calls would
    leave REST calls to the same host (hang-ups included) waiting for a free connection.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl_util.get_default_context(), limit=0)
    )


async def async_setup_entry(hass: HomeAssistant, entry: OpenAIConfigEntry) -> bool:
    """Check the key with a cheap call, then keep the client and a call manager."""
    sideband_session = create_sideband_session()
    entry.async_on_unload(sideband_session.close)  # after the calls are hung up
    client = create_client(hass, dict(entry.data), sideband_session)
    try:
        await client.verify()
    except OpenAIAuthenticationError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed_setup"
        ) from err
    except OpenAIError as err:
        raise to_home_assistant_error(err, ConfigEntryNotReady) from err
    manager = RealtimeManager(hass, entry)
    entry.runtime_data = OpenAIRuntimeData(client=client, manager=manager)

    async def _async_stop(_event: Event) -> None:
        await manager.async_shutdown("home_assistant_stop")
        await sideband_session.close()

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_stop))
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_update_listener(hass: HomeAssistant, entry: OpenAIConfigEntry) -> None:
    """Reload when a voice profile is added, changed or removed."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: OpenAIConfigEntry) -> bool:
    """Hang up every live call, then unload the satellites."""
    await entry.runtime_data.manager.async_shutdown("entry_unload")
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
