"""The OpenAI API integration: Realtime client secrets and voice for Home Assistant."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .api import OpenAIAuthenticationError, OpenAIError
from .assist_pipelines import async_make_pending_pipelines
from .client import create_client, create_sideband_session
from .const import CONF_WEBHOOK_SECRET, DOMAIN
from .errors import to_home_assistant_error
from .frontend import async_register_card
from .incoming import IncomingCalls
from .models import OpenAIConfigEntry, OpenAIRuntimeData
from .realtime.manager import CallManager
from .realtime.models import EndReason
from .services import async_setup_services
from .websocket_api import async_register_websocket_api

PLATFORMS = (
    Platform.ASSIST_SATELLITE,
    Platform.BUTTON,
    Platform.CONVERSATION,
    Platform.STT,
    Platform.TTS,
)
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, websocket commands and the card once, whatever entries exist."""
    async_setup_services(hass)
    async_register_websocket_api(hass)
    await async_register_card(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: OpenAIConfigEntry) -> bool:
    """Check the key with a cheap call, then keep the client and a call manager."""
    sideband_session = create_sideband_session()
    entry.async_on_unload(sideband_session.close)  # after the calls are hung up
    client = create_client(hass, entry.data, sideband_session)
    try:
        await client.verify()
    except OpenAIAuthenticationError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed_setup"
        ) from err
    except OpenAIError as err:
        raise to_home_assistant_error(err, ConfigEntryNotReady) from err
    manager = CallManager(hass, entry, client)
    entry.runtime_data = OpenAIRuntimeData(client=client, manager=manager)

    async def _async_stop(_event: Event) -> None:
        await manager.async_shutdown(EndReason.HOME_ASSISTANT_STOP)
        await sideband_session.close()

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_stop))
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    if entry.options.get(CONF_WEBHOOK_SECRET):
        IncomingCalls(hass, entry).async_register()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await async_make_pending_pipelines(hass, entry)
    return True


async def _async_update_listener(hass: HomeAssistant, entry: OpenAIConfigEntry) -> None:
    """Reload when a voice profile is added, changed or removed."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: OpenAIConfigEntry) -> bool:
    """Hang up every live call, then unload the satellites."""
    await entry.runtime_data.manager.async_shutdown(EndReason.ENTRY_UNLOAD)
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
