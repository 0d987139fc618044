"""Our Standard Webhooks check agrees with the official openai SDK's, the oracle."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from hypothesis import given, settings, strategies as st
import openai
import pytest

from custom_components.openai_api.webhook_signature import (
    WebhookSignatureError,
    sign,
    verify,
)

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SDK = openai.OpenAI(api_key="sk-unused", base_url="http://127.0.0.1:9/v1")


def _sdk_accepts(payload: bytes, headers: dict[str, str], secret: str) -> bool:
    try:
        SDK.webhooks.verify_signature(payload, headers, secret=secret)
    except Exception:  # the SDK also crashes on some garbage (bad base64, non-ASCII)
        return False
    return True


def _ours_accepts(payload: bytes, headers: dict[str, str], secret: str) -> bool:
    try:
        verify(payload, headers, secret=secret)
    except WebhookSignatureError:
        return False
    return True


def _independent_signature(secret: str, msg_id: str, ts: str, body: bytes) -> str:
    """HMAC-SHA256 written out from the Standard Webhooks text, not from our code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_our_signature_is_the_standard_one() -> None:
    body = b'{"type": "realtime.call.incoming"}'
    now = int(time.time())
    assert sign(body, secret=SECRET, webhook_id="wh_1", timestamp=now) == (
        _independent_signature(SECRET, "wh_1", str(now), body)
    )


bodies = st.binary(max_size=64) | st.text(max_size=64).map(str.encode)
offsets = st.sampled_from([0, -1, -299, -300, -301, 299, 300, 301, -10_000, 10_000])


@st.composite
def deliveries(draw: Any) -> tuple[bytes, dict[str, str], str]:
    body = draw(bodies)
    secret = draw(
        st.sampled_from([SECRET, "whsec_" + base64.b64encode(b"other").decode(), "plain-secret"])
    )
    signer = draw(st.sampled_from([SECRET, secret]))
    msg_id = draw(st.sampled_from(["wh_1", "evt_abc", ""]))
    ts = int(time.time()) + draw(offsets)
    ts_text = draw(st.sampled_from([str(ts), f" {ts}", "abc", str(ts) + ".5"]))
    good = (
        _independent_signature(signer, msg_id, ts_text, body)
        if signer.startswith("whsec_")
        else "v1,xyz"
    )
    signature = draw(
        st.sampled_from(
            [
                good,
                good[3:],  # no version prefix: the SDK accepts it, so do we
                f"v1,bogus {good}",  # several signatures, one of them good
                "v1,AAAA",
                good[:-2] + "xx",
                "",
                "v2," + good[3:],
            ]
        )
    )
    headers = {"webhook-id": msg_id, "webhook-timestamp": ts_text, "webhook-signature": signature}
    drop = draw(st.sampled_from([None, "webhook-id", "webhook-timestamp", "webhook-signature"]))
    if drop:
        headers.pop(drop)
    return body, headers, secret


@settings(max_examples=400, deadline=None)
@given(delivery=deliveries())
def test_verification_agrees_with_the_sdk(delivery: tuple[bytes, dict[str, str], str]) -> None:
    body, headers, secret = delivery
    assert _ours_accepts(body, headers, secret) == _sdk_accepts(body, headers, secret)


def test_headers_are_case_insensitive() -> None:
    now = int(time.time())
    body = b"{}"
    headers = {
        "Webhook-Id": "wh_1",
        "WEBHOOK-TIMESTAMP": str(now),
        "webhook-signature": sign(body, secret=SECRET, webhook_id="wh_1", timestamp=now),
    }
    assert verify(body, headers, secret=SECRET) == "wh_1"


@pytest.mark.parametrize(
    "signature", ["v1,ünïcödé", "v1," + "€" * 44, "\udcff"], ids=["latin", "euro", "surrogate"]
)
def test_non_ascii_signatures_are_refused_not_crashed(signature: str) -> None:
    now = int(time.time())
    headers = {"webhook-id": "wh", "webhook-timestamp": str(now), "webhook-signature": signature}
    with pytest.raises(WebhookSignatureError):
        verify(b"{}", headers, secret=SECRET)


def test_errors_never_name_the_secret() -> None:
    for secret in (SECRET, "whsec_!!!notbase64", "plain-secret"):
        try:
            verify(
                b"{}",
                {"webhook-id": "a", "webhook-timestamp": "0", "webhook-signature": "x"},
                secret=secret,
            )
        except WebhookSignatureError as err:
            assert secret not in str(err)
            assert secret.removeprefix("whsec_") not in str(err)


def test_a_fresh_signed_delivery_passes_both() -> None:
    """The agreement above is not only about refusals."""
    now = str(int(time.time()))
    body = b'{"id": "evt_1"}'
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": now,
        "webhook-signature": "v1,bogus " + _independent_signature(SECRET, "evt_1", now, body),
    }
    assert _ours_accepts(body, headers, SECRET)
    assert _sdk_accepts(body, headers, SECRET)
