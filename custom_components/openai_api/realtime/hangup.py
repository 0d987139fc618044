"""Hanging up a call at OpenAI, retried: a call HA gives up on keeps running (and billing)."""

from __future__ import annotations

import asyncio

from ..api import (
    OpenAIAuthenticationError,
    OpenAIBadRequestError,
    OpenAIClient,
    OpenAIError,
    OpenAIRateLimitError,
)
from ..const import LOGGER

# Pauses between attempts; with the per-attempt timeout this bounds how long unload waits.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
ATTEMPT_TIMEOUT = 10.0
MAX_RETRY_AFTER = 5.0


async def async_end_call(client: OpenAIClient, call_id: str) -> bool:
    """Hang up `call_id`; True once OpenAI confirms it or no longer knows the call.

    Server errors, rate limits, timeouts and lost connections are retried with backoff; after
    the last attempt a warning names the call, since it may still be live at OpenAI.
    """
    error: OpenAIError | None = None
    for backoff in (0.0, *RETRY_DELAYS):
        if backoff:
            if isinstance(error, OpenAIRateLimitError) and error.retry_after is not None:
                backoff = max(backoff, min(error.retry_after, MAX_RETRY_AFTER))  # noqa: PLW2901
            await asyncio.sleep(backoff)
        try:
            await client.hangup_call(call_id, timeout=ATTEMPT_TIMEOUT)
        except OpenAIBadRequestError as err:
            if err.status == 404:
                return True  # already over
            error = err
            break  # the request itself is wrong: repeating it cannot help
        except OpenAIAuthenticationError as err:
            error = err
            break
        except OpenAIError as err:
            error = err
            LOGGER.debug("Hang-up of %s failed, retrying: %s", call_id, err)
            continue
        return True
    LOGGER.warning(
        "Could not hang up call %s at OpenAI (%s); it runs until OpenAI ends it", call_id, error
    )
    return False
