"""Constants of the OpenAI API integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "openai_api"
LOGGER = logging.getLogger(__package__)

CONF_BASE_URL: Final = "base_url"
CONF_ORGANIZATION: Final = "organization"
CONF_PROJECT: Final = "project"
CONF_KEY_PLACEMENT: Final = "key_placement"
CONF_KEY_NAME: Final = "key_name"
# Incoming phone calls: OpenAI's webhook to HA (account options).
CONF_WEBHOOK_ID: Final = "webhook_id"
CONF_WEBHOOK_SECRET: Final = "webhook_secret"

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEFAULT_TITLE: Final = "OpenAI"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"

SERVICE_CREATE_CLIENT_SECRET: Final = "create_realtime_client_secret"
SERVICE_CREATE_TRANSLATION_SECRET: Final = "create_realtime_translation_client_secret"
SERVICE_CREATE_SESSION: Final = "create_realtime_session"
SERVICE_CREATE_TRANSCRIPTION_SESSION: Final = "create_realtime_transcription_session"
SERVICE_ACCEPT_CALL: Final = "accept_realtime_call"
SERVICE_REJECT_CALL: Final = "reject_realtime_call"
SERVICE_REFER_CALL: Final = "refer_realtime_call"
SERVICE_HANGUP_CALL: Final = "hangup_realtime_call"
EVENT_CLIENT_SECRET: Final = "openai_api_realtime_client_secret"
EVENT_TRANSCRIPT: Final = "openai_api_realtime_transcript"
EVENT_CALL_INCOMING: Final = "openai_api_realtime_call_incoming"
EVENT_CALL_ACCEPTED: Final = "openai_api_realtime_call_accepted"
EVENT_CALL_REJECTED: Final = "openai_api_realtime_call_rejected"
EVENT_CALL_REFERRED: Final = "openai_api_realtime_call_referred"
EVENT_CALL_HUNG_UP: Final = "openai_api_realtime_call_hung_up"

# Voice profiles (config subentries of type "voice").
SUBENTRY_VOICE: Final = "voice"
CONF_MODEL: Final = "model"
CONF_VOICE: Final = "voice"
CONF_TURN_DETECTION: Final = "turn_detection"
CONF_EAGERNESS: Final = "eagerness"
CONF_NOISE_REDUCTION: Final = "noise_reduction"
CONF_TRANSCRIPTION_MODEL: Final = "transcription_model"
CONF_SPEED: Final = "speed"
CONF_MAX_SESSIONS: Final = "max_sessions"
CONF_MAX_SESSIONS_PER_USER: Final = "max_sessions_per_user"
CONF_MAX_DURATION: Final = "max_duration"
CONF_ALLOW_EPHEMERAL: Final = "allow_ephemeral"
CONF_ANSWER_CALLS: Final = "answer_calls"
CONF_ALLOWED_CALLERS: Final = "allowed_callers"
CONF_PHONE_USER: Final = "phone_user"
CONF_TTS_MODEL: Final = "tts_model"
CONF_ASSIST_PIPELINE: Final = "assist_pipeline"
OFF: Final = "off"

DEFAULT_PROFILE_NAME: Final = "Voice assistant"
DEFAULT_MODEL: Final = "gpt-realtime"
DEFAULT_VOICE: Final = "marin"
DEFAULT_INSTRUCTIONS: Final = (
    "You are a voice assistant for a home run by Home Assistant. Answer briefly, in the "
    "language the user speaks. Use the tools to control the home or look up its state."
)
DEFAULT_TURN_DETECTION: Final = "semantic_vad"
DEFAULT_EAGERNESS: Final = "auto"
DEFAULT_NOISE_REDUCTION: Final = "near_field"
DEFAULT_TRANSCRIPTION_MODEL: Final = "gpt-4o-mini-transcribe"
DEFAULT_SPEED: Final = 1.0
DEFAULT_MAX_SESSIONS: Final = 3
DEFAULT_MAX_SESSIONS_PER_USER: Final = 1
DEFAULT_MAX_DURATION: Final = 30  # minutes; OpenAI ends every session at 60
DEFAULT_ALLOW_EPHEMERAL: Final = True
DEFAULT_ANSWER_CALLS: Final = False
DEFAULT_TTS_MODEL: Final = "gpt-4o-mini-tts"
DEFAULT_STT_MODEL: Final = "gpt-4o-mini-transcribe"  # when the profile's transcription is off
