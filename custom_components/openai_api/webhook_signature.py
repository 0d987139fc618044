"""Standard Webhooks signatures, as OpenAI signs its webhooks (`realtime.call.incoming`).

`webhook-signature` holds one or more space-separated signatures (`v1,<base64>`), each an
HMAC-SHA256 with the secret (`whsec_<base64>`) over `{webhook-id}.{webhook-timestamp}.{body}`;
the timestamp must be within five minutes of now. This mirrors the official openai SDK's
`webhooks.verify_signature` (the tests use it as the oracle). Replayed ids are refused by the
caller, which remembers them (the SDK does not).

Written here rather than taken from the `standardwebhooks` package: the check is a dozen lines
of the standard library, and that package would add HTTP client dependencies to Home
Assistant's environment for it. Knows nothing of Home Assistant.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
import hashlib
import hmac
import time

TOLERANCE = 300  # seconds, as OpenAI's SDK


class WebhookSignatureError(Exception):
    """The webhook cannot be shown to come from OpenAI."""


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookSignatureError(f"missing {name} header")


def _digest(secret: str, webhook_id: str, timestamp: str, body: str) -> str:
    if secret.startswith("whsec_"):
        try:
            # Not validating, as the SDK decodes it.
            key = base64.b64decode(secret[6:])
        except (binascii.Error, ValueError) as err:
            raise WebhookSignatureError("the signing secret is not valid base64") from err
    else:
        key = secret.encode()
    signed = f"{webhook_id}.{timestamp}.{body}".encode()
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign(payload: bytes, *, secret: str, webhook_id: str, timestamp: int) -> str:
    """Return the `v1,<base64>` signature of a payload (for tests and the simulator)."""
    return f"v1,{_digest(secret, webhook_id, str(timestamp), payload.decode())}"


def verify(
    payload: bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> str:
    """Check a webhook's signature and age; return its `webhook-id`.

    Raises `WebhookSignatureError` naming what is wrong (never the secret).
    """
    signature_header = _header(headers, "webhook-signature")
    timestamp = _header(headers, "webhook-timestamp")
    webhook_id = _header(headers, "webhook-id")
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookSignatureError("invalid webhook-timestamp") from None
    current = int(time.time() if now is None else now)
    if current - sent > tolerance:
        raise WebhookSignatureError("webhook-timestamp is too old")
    if sent > current + tolerance:
        raise WebhookSignatureError("webhook-timestamp is too new")
    try:
        body = payload.decode()
    except UnicodeDecodeError:
        raise WebhookSignatureError("the body is not UTF-8") from None
    # The header's text is signed, as the SDK signs it (int() accepts blanks around it).
    expected = _digest(secret, webhook_id, timestamp, body)
    candidates = [part.removeprefix("v1,") for part in signature_header.split()]
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    if not any(
        hmac.compare_digest(expected.encode(), c.encode(errors="surrogateescape"))
        for c in candidates
    ):
        raise WebhookSignatureError("no signature matches")
    return webhook_id
