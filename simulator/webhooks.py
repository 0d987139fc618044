"""OpenAI's webhooks as the simulator sends them: `realtime.call.incoming`, signed.

A SIP call that reaches the project makes OpenAI post a `realtime.call.incoming` event (schema
`WebhookRealtimeCallIncoming`) to the project's webhook URL, signed per Standard Webhooks:

    webhook-id          wh_…, the delivery's id (the same for every retry of one event)
    webhook-timestamp   when this attempt was sent, in Unix seconds
    webhook-signature   v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">

The key is the signing secret OpenAI shows for the endpoint, `whsec_<base64 of the key>`; the
official SDK's `webhooks.verify_signature` decodes it the same way (a secret without the
prefix is used as its UTF-8 bytes). OpenAI retries a delivery that is not answered 2xx; the
simulator posts once, and `redeliver` posts again as a retry would.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import aiohttp

USER_AGENT = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
SIP_DOMAIN = "sip.api.openai.com"
DELIVERY_TIMEOUT = 10.0  # seconds; a webhook endpoint should answer quickly


def secret_key(secret: str) -> bytes:
    """The HMAC key of a signing secret (`whsec_` + base64, else the text itself)."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of one delivery."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sip_headers(
    caller: str,
    callee: str,
    *,
    caller_name: str | None = None,
    extra: list[dict[str, str]] | None = None,
) -> list[dict[str, str]]:
    """The INVITE's headers as OpenAI lists them: `[{"name": …, "value": …}, …]`.

    `caller` and `callee` are numbers (`+14155550123`) or whole header values (anything with a
    `<` or `sip:` is used as it is). `extra` headers follow the standard ones.
    """
    tag = secrets.token_hex(4)
    if "<" in caller or "sip:" in caller:
        from_value = caller
    else:
        shown = f'"{caller_name}" ' if caller_name else ""
        from_value = f"{shown}<sip:{caller}@pstn.example.net>;tag={tag}"
    to_value = callee if "<" in callee or "sip:" in callee else f"<sip:{callee}@{SIP_DOMAIN}>"
    headers = [
        {"name": "From", "value": from_value},
        {"name": "To", "value": to_value},
        {"name": "Call-ID", "value": f"{secrets.token_hex(16)}@pstn.example.net"},
        {"name": "CSeq", "value": "1 INVITE"},
        {"name": "Contact", "value": "<sip:pstn.example.net:5061;transport=tls>"},
        {"name": "Max-Forwards", "value": "69"},
        {"name": "Content-Type", "value": "application/sdp"},
    ]
    return headers + list(extra or [])


def incoming_call(call_id: str, headers: list[dict[str, str]]) -> dict[str, Any]:
    """A `realtime.call.incoming` event (schema `WebhookRealtimeCallIncoming`)."""
    return {
        "id": f"evt_{secrets.token_hex(16)}",
        "object": "event",
        "type": "realtime.call.incoming",
        "created_at": int(time.time()),
        "data": {"call_id": call_id, "sip_headers": headers},
    }


@dataclass
class Delivery:
    """One webhook delivery: where it went, what it carried, how it was answered."""

    url: str
    secret: str
    event: dict[str, Any]
    webhook_id: str = field(default_factory=lambda: f"wh_{secrets.token_hex(16)}")
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # the endpoint's answer (None: it could not be reached)
    error: str | None = None  # why it could not be reached
    attempts: int = 0

    def __post_init__(self) -> None:
        self.body = json.dumps(self.event).encode()

    def signed_headers(self, timestamp: int | None = None) -> dict[str, str]:
        """The headers of an attempt sent at `timestamp` (now by default)."""
        sent = int(time.time()) if timestamp is None else timestamp
        return {
            "user-agent": USER_AGENT,
            "content-type": "application/json",
            "webhook-id": self.webhook_id,
            "webhook-timestamp": str(sent),
            "webhook-signature": sign(self.secret, self.webhook_id, sent, self.body),
        }


async def deliver(delivery: Delivery) -> int | None:
    """Post the event (an attempt: fresh timestamp and signature); the answer's status."""
    delivery.headers = delivery.signed_headers()
    delivery.attempts += 1
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)) as http,
            http.post(
                delivery.url,
                data=delivery.body,
                headers=delivery.headers,
                allow_redirects=False,  # a webhook endpoint answers; it is not followed
            ) as resp,
        ):
            await resp.read()
            delivery.status, delivery.error = resp.status, None
    except (aiohttp.ClientError, TimeoutError) as err:
        delivery.status, delivery.error = None, f"{err.__class__.__name__}: {err}"
    return delivery.status
