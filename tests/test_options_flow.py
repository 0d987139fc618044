"""The account's options: the webhook URL for incoming calls, and its signing secret."""

from __future__ import annotations

from unittest.mock import AsyncMock, patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

SECRET = "whsec_c2lnbmluZy1zZWNyZXQtb2YtdGhlLXRlc3Q="


async def test_webhook_url_and_secret(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    await hass.config.async_update(external_url="https://ha.example.org")
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    url = result["description_placeholders"]["webhook_url"]
    assert url.startswith("https://ha.example.org/api/webhook/")
    assert result["description_placeholders"]["status"] == "off"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"webhook_secret": "not-a-secret"}
    )
    assert result["errors"] == {"webhook_secret": "invalid_webhook_secret"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"webhook_secret": SECRET}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options["webhook_secret"] == SECRET
    webhook_id = loaded_entry.options["webhook_id"]
    assert url.endswith(webhook_id)

    # Shown again: the same URL, incoming calls on. Emptied: off, the id kept for next time.
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["description_placeholders"]["webhook_url"] == url
    assert result["description_placeholders"]["status"] == "on"
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "webhook_secret" not in loaded_entry.options
    assert loaded_entry.options["webhook_id"] == webhook_id


async def test_without_an_external_url(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["description_placeholders"]["webhook_url"] == "-"


async def test_home_assistant_cloud_gives_a_cloudhook(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.config.components.add("cloud")
    hook = "https://hooks.nabu.casa/abcdef"
    with (
        patch("homeassistant.components.cloud.async_active_subscription", return_value=True),
        patch(
            "homeassistant.components.cloud.async_get_or_create_cloudhook",
            AsyncMock(return_value=hook),
        ) as create,
    ):
        result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["description_placeholders"]["webhook_url"] == hook
    assert create.await_args is not None
    assert len(create.await_args.args[1]) == 64  # the webhook id HA generates
