"""Constants of the OpenAI API integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "openai_api"
LOGGER = logging.getLogger(__package__)

CONF_BASE_URL: Final = "base_url"
CONF_ORGANIZATION: Final = "organization"
CONF_PROJECT: Final = "project"

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEFAULT_TITLE: Final = "OpenAI"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_EXPIRES_AFTER: Final = "expires_after"
ATTR_SESSION: Final = "session"

SERVICE_CREATE_CLIENT_SECRET: Final = "create_realtime_client_secret"
EVENT_CLIENT_SECRET: Final = "openai_api_realtime_client_secret"
EVENT_TRANSCRIPT: Final = "openai_api_realtime_transcript"
