"""The API client of an account entry, over Home Assistant's HTTP sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import ssl as ssl_util

from .api import KeyPlacement, OpenAIClient, refuse_redirects
from .const import (
    CONF_BASE_URL,
    CONF_KEY_NAME,
    CONF_KEY_PLACEMENT,
    CONF_ORGANIZATION,
    CONF_PROJECT,
)


def create_sideband_session() -> aiohttp.ClientSession:
    """Return a connection pool of its own for the sideband WebSockets of an entry's calls.

    HA's shared pool allows 100 connections per host and an open WebSocket keeps its
    connection for the whole call: with the sidebands in that pool, enough live calls would
    leave REST calls to the same host (hang-ups included) waiting for a free connection.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl_util.get_default_context(), limit=0),
        trace_configs=[refuse_redirects()],
    )


def create_client(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    sideband_session: aiohttp.ClientSession | None = None,
) -> OpenAIClient:
    """Build the API client of an entry's data over HA's shared aiohttp session."""
    return OpenAIClient(
        async_get_clientsession(hass),
        data[CONF_API_KEY],
        data[CONF_BASE_URL],
        organization=data.get(CONF_ORGANIZATION),
        project=data.get(CONF_PROJECT),
        key_placement=KeyPlacement(data.get(CONF_KEY_PLACEMENT, KeyPlacement.AUTO)),
        key_name=data.get(CONF_KEY_NAME),
        sideband_session=sideband_session,
    )
