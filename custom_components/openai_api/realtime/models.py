"""The vocabulary of live calls: how a call came to be, why it ended, whose it is, its usage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CallMode(StrEnum):
    """How a call reached OpenAI."""

    RELAY = "relay"  # HA posted the browser's SDP offer with the API key
    EPHEMERAL = "ephemeral"  # the browser posted it with a client secret HA minted
    SIP = "sip"  # a phone call HA accepted through OpenAI's SIP endpoint


class EndReason(StrEnum):
    """Why a call ended."""

    HANGUP_COMMAND = "hangup_command"
    HANGUP_ACTION = "hangup_action"
    CONNECTION_CLOSED = "connection_closed"
    ENTRY_UNLOAD = "entry_unload"
    HOME_ASSISTANT_STOP = "home_assistant_stop"
    MAX_DURATION = "max_duration"
    SIDEBAND_LOST = "sideband_lost"
    AUTH_FAILED = "auth_failed"
    CALL_ENDED = "call_ended"  # OpenAI no longer knows the call
    SESSION_EXPIRED = "session_expired"
    SESSION_TAMPERED = "session_tampered"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOwner:
    """Who started a call, and for which voice profile and satellite."""

    entry_id: str
    profile_id: str
    entity_id: str | None
    user_id: str | None


@dataclass(slots=True)
class Usage:
    """Token totals from `response.done`, and transcriptions apart from them.

    Transcriptions are billed at the transcription model's price, per token or per second
    (the API says which), so they are not added to the response tokens.
    """

    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    transcriptions: int = 0
    transcription_tokens: int = 0
    transcription_seconds: float = 0.0

    def add(self, usage: Any) -> None:
        """Add one response's usage (whatever the server sent)."""
        self.responses += 1
        if not isinstance(usage, dict):
            return
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            setattr(self, key, getattr(self, key) + _count(usage.get(key)))

    def add_transcription(self, usage: Any) -> None:
        """Add one transcription's usage (`type` `tokens` or `duration`)."""
        self.transcriptions += 1
        if not isinstance(usage, dict):
            return
        self.transcription_tokens += _count(usage.get("total_tokens"))
        seconds = usage.get("seconds")
        # NaN and negative values are not seconds anyone was billed for.
        if (
            isinstance(seconds, int | float)
            and not isinstance(seconds, bool)
            and 0 <= seconds < float("inf")
        ):
            self.transcription_seconds = round(self.transcription_seconds + seconds, 3)

    def merge(self, other: Usage) -> None:
        """Add another total to this one."""
        for key in _USAGE_FIELDS:
            setattr(self, key, getattr(self, key) + getattr(other, key))

    def as_dict(self) -> dict[str, int | float]:
        """Plain dict for attributes and diagnostics."""
        return {key: getattr(self, key) for key in _USAGE_FIELDS}


_USAGE_FIELDS = (
    "responses",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "transcriptions",
    "transcription_tokens",
    "transcription_seconds",
)


def _count(value: Any) -> int:
    """Return the token count the server sent, or 0 for anything that is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
