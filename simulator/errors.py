"""OpenAI's error shape, once: the HTTP envelope and the `error` server event carry the same fields.

Every answer the simulator refuses with, from a bad request body to a bad client event on the
data channel, is an `ApiError`; how it travels (a JSON response or an event) is decided at the
edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

# The API's answer to a body that is not JSON (its own wording; `code` is null).
UNPARSABLE_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)


@dataclass(frozen=True, slots=True)
class ApiError:
    """One error as OpenAI reports it."""

    message: str
    param: str | None = None
    code: str | None = None
    type: str = "invalid_request_error"
    status: int = 400

    def body(self) -> dict[str, Any]:
        """The JSON envelope of an HTTP error response."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self, **headers: str) -> web.Response:
        """The HTTP response."""
        return web.json_response(self.body(), status=self.status, headers=headers)

    def event(self, event_id: str | None) -> dict[str, Any]:
        """The `error` server event for a client event (`event_id`: the client's, if it gave one)."""
        return {
            "type": "error",
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "event_id": event_id,
            },
        }


def standard_key(request: web.Request) -> str | None:
    """The key as OpenAI reads it: `Authorization: Bearer`, else Azure's `api-key` header."""
    auth = request.headers.get("Authorization", "")
    bearer = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
    return bearer or request.headers.get("api-key")


def invalid_api_key(presented: str | None, where: str | None = None) -> ApiError:
    """401 like OpenAI's: the key is named only by its first characters.

    `where` names the header or query parameter a gateway wants the key in (None: OpenAI's
    own `Authorization: Bearer`).
    """
    if presented:
        message = f"Incorrect API key provided: {presented[:6]}***."
    elif where is None:
        message = (
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    else:
        message = f"You didn't provide an API key. You need to provide your API key in {where}."
    return ApiError(message, code="invalid_api_key", status=401)


def unknown_url(request: web.Request) -> ApiError:
    """404 for a path the API does not have."""
    return ApiError(
        f"Invalid URL ({request.method} {request.path})", code="unknown_url", status=404
    )


def call_not_found(call_id: str) -> ApiError:
    """404 for a call id the API does not know (or that has ended)."""
    return ApiError(
        f"Call '{call_id}' not found.", param="call_id", code="call_not_found", status=404
    )


SERVER_ERROR = ApiError(
    "The server had an error while processing your request. Sorry about that!",
    type="server_error",
    status=500,
)


class Refused(Exception):
    """Raised by a handler to answer with an API error (the middleware turns it into one)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error
