"""The OpenAI API integration: Realtime client secrets and voice for Home Assistant."""

from __future__ import annotations

from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import OpenAIAuthenticationError, OpenAIClient, OpenAIError
from .const import CONF_BASE_URL, CONF_ORGANIZATION, CONF_PROJECT, DOMAIN
from .errors import to_home_assistant_error
from .models import OpenAIConfigEntry, OpenAIRuntimeData
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, whatever entries exist."""
    async_setup_services(hass)
    return True


def create_client(hass: HomeAssistant, data: dict[str, str] | ConfigType) -> OpenAIClient:
    """Build the API client of an entry's data over HA's shared aiohttp session."""
    return OpenAIClient(
        async_get_clientsession(hass),
        data[CONF_API_KEY],
        data[CONF_BASE_URL],
        organization=data.get(CONF_ORGANIZATION),
        project=data.get(CONF_PROJECT),
    )


async def async_setup_entry(hass: HomeAssistant, entry: OpenAIConfigEntry) -> bool:
    """Check the key with a cheap call, then keep the client."""
    client = create_client(hass, dict(entry.data))
    try:
        await client.verify()
    except OpenAIAuthenticationError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed_setup"
        ) from err
    except OpenAIError as err:
        raise to_home_assistant_error(err, ConfigEntryNotReady) from err
    entry.runtime_data = OpenAIRuntimeData(client=client)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: OpenAIConfigEntry) -> bool:
    """Unload an entry; nothing of it keeps running."""
    return True
