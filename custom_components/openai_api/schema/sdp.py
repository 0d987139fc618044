"""The SDP offer a browser hands to HA for the relay: bounded, and able to set up a call."""

from __future__ import annotations

from typing import Any, Final

import probatio

from .validators import type_name

MAX_SDP_BYTES: Final = 32 * 1024

_REQUIRED_LINES = (
    ("m=audio ", "an audio section (m=audio)"),
    ("a=ice-ufrag:", "ICE credentials (a=ice-ufrag)"),
    ("a=fingerprint:", "a DTLS fingerprint (a=fingerprint)"),
    # The Realtime API has no trickle ICE: the offer must already carry its candidates.
    ("a=candidate:", "ICE candidates: wait for ICE gathering to complete before sending"),
)


def sdp_offer(value: Any) -> str:
    """Accept an SDP offer of at most `MAX_SDP_BYTES` that can set up a Realtime call."""
    if not isinstance(value, str):
        raise probatio.Invalid(f"expected a string, got {type_name(value)}")
    if len(value.encode(errors="replace")) > MAX_SDP_BYTES:
        raise probatio.Invalid(f"is larger than {MAX_SDP_BYTES} bytes")
    if not value.startswith("v=0") or "\x00" in value:
        raise probatio.Invalid("is not an SDP offer (it must start with v=0)")
    lines = value.splitlines()
    for prefix, what in _REQUIRED_LINES:
        if not any(line.startswith(prefix) for line in lines):
            raise probatio.Invalid(f"lacks {what}")
    return value
