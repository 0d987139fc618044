"""Async client for the OpenAI REST endpoints this integration uses.

It knows nothing of Home Assistant: it takes an aiohttp session (HA's shared one in
production) and maps every failure to an `OpenAIError` subclass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
from enum import StrEnum
import json
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp

DEFAULT_TIMEOUT = 30.0
# Error bodies are unbounded (a misbehaving proxy may send a whole HTML page): keep this much.
_MAX_ERROR_TEXT = 500


class OpenAIError(Exception):
    """An OpenAI request failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.request_id = request_id


class OpenAIBadRequestError(OpenAIError):
    """The API rejected the request (400, 404, 409, 422)."""


class OpenAIAuthenticationError(OpenAIError):
    """The API key is invalid or revoked (401)."""


class OpenAIPermissionError(OpenAIError):
    """The key may not use this resource (403)."""


class OpenAIRateLimitError(OpenAIError):
    """Too many requests or quota exhausted (429)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class OpenAIServerError(OpenAIError):
    """The API failed on its side (5xx)."""


class OpenAIConnectionError(OpenAIError):
    """The host could not be reached or dropped the connection."""


class OpenAITimeoutError(OpenAIError):
    """The API did not answer in time."""


class OpenAIResponseError(OpenAIError):
    """The API answered with something that is not what the contract promises."""


class KeyPlacement(StrEnum):
    """Where requests carry the API key (the Node-RED node's Service Host options)."""

    AUTO = "auto"  # Authorization: Bearer, and Azure's `api-key` on Azure hosts
    BEARER = "bearer"  # Authorization: Bearer only
    API_KEY = "api_key"  # Azure's `api-key` header only
    HEADER = "header"  # a header of the account's choosing, the key as its value
    QUERY = "query"  # a query parameter of the account's choosing


@dataclass(frozen=True, slots=True)
class CallAnswer:
    """OpenAI's answer to `POST /realtime/calls`: the call's id and its SDP answer."""

    call_id: str
    sdp_answer: str


class RedirectRefusedError(aiohttp.ClientError):
    """The host answered with a redirect, which API requests never follow."""


def refuse_redirects() -> aiohttp.TraceConfig:
    """Return a trace config that aborts any redirect of a session's requests.

    For sessions whose requests cannot turn redirects off one by one (`ws_connect` follows
    them): aiohttp drops `Authorization` across origins but keeps Azure's `api-key` header.
    """

    async def on_redirect(
        _session: aiohttp.ClientSession,
        _context: object,
        params: aiohttp.TraceRequestRedirectParams,
    ) -> None:
        raise RedirectRefusedError(f"redirect to {params.response.headers.get('Location')}")

    trace = aiohttp.TraceConfig()
    trace.on_request_redirect.append(on_redirect)
    return trace


def normalize_base_url(url: str) -> str:
    """Return the base URL without trailing slashes or surrounding blanks."""
    return url.strip().rstrip("/")


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare for OpenAI, not worth a parser
    return max(seconds, 0.0)


class OpenAIClient:
    """The subset of the OpenAI API this integration calls."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        base_url: str,
        *,
        organization: str | None = None,
        project: str | None = None,
        key_placement: KeyPlacement = KeyPlacement.AUTO,
        key_name: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        sideband_session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._session = session
        # A sideband holds its connection for the whole call, and a pool's per-host limit
        # counts open WebSockets: on a pool of their own they never starve the REST calls.
        # That session must refuse redirects (see `refuse_redirects`); a client without one
        # (the config flow's) makes REST calls only.
        self._sideband_session = sideband_session
        self.base_url = normalize_base_url(base_url)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        headers, self._params = _key_carriers(
            api_key, key_placement, key_name, urlsplit(self.base_url).hostname or ""
        )
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self._headers = headers

    def url(self, path: str) -> str:
        """Return the absolute URL of an API path such as `/models`."""
        return f"{self.base_url}{path}"

    def websocket_url(self, path: str, **query: str) -> str:
        """Return the ws(s) URL of an API path with a query string (the key's, if it goes there)."""
        parts = urlsplit(self.url(path))
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = {**query, **self._params}
        qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
        return urlunsplit((scheme, parts.netloc, parts.path, qs, ""))

    def _unreachable(self, err: aiohttp.ClientError) -> OpenAIConnectionError:
        """Name the host and the kind of failure (never the URL: it may carry the key)."""
        return OpenAIConnectionError(
            f"Cannot reach {urlsplit(self.base_url).netloc}: {err.__class__.__name__}"
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        expect: str = "json",
        timeout: float | None = None,  # noqa: ASYNC109 - an aiohttp request timeout
    ) -> tuple[Any, aiohttp.ClientResponse]:
        """Send a request; return the decoded body and the response.

        Redirects are not followed: a redirect could carry the key to another host.
        """
        all_headers = {**self._headers, **(headers or {})}
        request_timeout = self._timeout if timeout is None else aiohttp.ClientTimeout(timeout)
        try:
            async with self._session.request(
                method,
                self.url(path),
                json=json_body,
                data=data,
                headers=all_headers,
                params=self._params or None,
                timeout=request_timeout,
                allow_redirects=False,
            ) as resp:
                return _decode(resp, await resp.read(), expect), resp
        except TimeoutError as err:
            raise OpenAITimeoutError(f"No answer within {request_timeout.total:.0f} s") from err
        except aiohttp.ClientError as err:
            raise self._unreachable(err) from err

    async def list_models(self) -> list[dict[str, Any]]:
        """Return the models the key can see (a cheap authenticated call)."""
        body, resp = await self._request("GET", "/models")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise OpenAIResponseError(
                "The model list has no `data` array", request_id=resp.headers.get("x-request-id")
            )
        return data

    async def verify(self) -> None:
        """Check that the host answers and accepts the key.

        A restricted key that may not list models (403) still proves it authenticates.
        """
        with contextlib.suppress(OpenAIPermissionError):
            await self.list_models()

    async def create_client_secret(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Mint an ephemeral Realtime client secret; `payload` is sent unchanged."""
        body, resp = await self._request("POST", "/realtime/client_secrets", json_body=payload)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("value"), str)
            or not isinstance(body.get("expires_at"), int)
            or not isinstance(body.get("session"), dict)
        ):
            raise OpenAIResponseError(
                "The client secret response lacks `value`, `expires_at` or `session`",
                request_id=resp.headers.get("x-request-id"),
            )
        return body

    async def create_translation_client_secret(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Mint a client secret for a translation session; `payload` is sent unchanged."""
        body, resp = await self._request(
            "POST", "/realtime/translations/client_secrets", json_body=payload
        )
        return _expect_fields(body, resp, ("value", "expires_at", "session"))

    async def create_session(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Create a legacy (beta) Realtime session with its ephemeral key."""
        body, resp = await self._request("POST", "/realtime/sessions", json_body=payload)
        return _expect_fields(body, resp, ("client_secret",))

    async def create_transcription_session(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Create a legacy (beta) Realtime transcription session with its ephemeral key."""
        body, resp = await self._request(
            "POST", "/realtime/transcription_sessions", json_body=payload
        )
        return _expect_fields(body, resp, ("client_secret",))

    async def accept_call(self, call_id: str, session: dict[str, Any]) -> None:
        """Accept an incoming SIP call with a session (`POST .../accept`)."""
        await self._call_control(call_id, "accept", session)

    async def reject_call(self, call_id: str, body: dict[str, Any]) -> None:
        """Decline an incoming SIP call (`POST .../reject`, `status_code` optional)."""
        await self._call_control(call_id, "reject", body)

    async def refer_call(self, call_id: str, body: dict[str, Any]) -> None:
        """Transfer a SIP call (`POST .../refer` with `target_uri`)."""
        await self._call_control(call_id, "refer", body)

    async def _call_control(self, call_id: str, action: str, body: dict[str, Any]) -> None:
        await self._request(
            "POST",
            f"/realtime/calls/{quote(call_id, safe='')}/{action}",
            json_body=body,
            expect="text",
        )

    async def create_call(
        self,
        sdp_offer: str,
        session_config: dict[str, Any],
        *,
        safety_identifier: str | None = None,
    ) -> CallAnswer:
        """Create a WebRTC call with the API key: multipart `sdp` + `session`."""
        form = aiohttp.FormData()
        form.add_field("sdp", sdp_offer, content_type="application/sdp")
        form.add_field("session", json.dumps(session_config), content_type="application/json")
        headers = {"OpenAI-Safety-Identifier": safety_identifier} if safety_identifier else None
        answer, resp = await self._request(
            "POST", "/realtime/calls", data=form, headers=headers, expect="text"
        )
        location = resp.headers.get("Location", "")
        call_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not call_id.startswith("rtc_") or not answer.startswith("v=0"):
            raise OpenAIResponseError(
                "The call answer lacks an SDP body or a `Location` with the call id",
                status=resp.status,
                request_id=resp.headers.get("x-request-id"),
            )
        return CallAnswer(call_id=call_id, sdp_answer=answer)

    async def hangup_call(
        self,
        call_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - an aiohttp request timeout
    ) -> None:
        """End a call (`POST /realtime/calls/{call_id}/hangup`)."""
        await self._request(
            "POST",
            f"/realtime/calls/{quote(call_id, safe='')}/hangup",
            expect="text",
            timeout=timeout,
        )

    async def connect_sideband(self, call_id: str) -> aiohttp.ClientWebSocketResponse:
        """Open the server-side WebSocket of a call (`/realtime?call_id=...`)."""
        return await self.connect_realtime(call_id=call_id)

    async def connect_realtime(
        self, *, heartbeat: float | None = 30.0, **query: str
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a Realtime WebSocket: `call_id=` (a sideband), `model=` or `intent=`.

        The heartbeat finds a dead connection of a long-lived socket; a socket that lives for
        one exchange (a transcription) needs none.
        """
        if self._sideband_session is None:
            raise RuntimeError("This client was built without a session for WebSockets")
        try:
            return await self._sideband_session.ws_connect(
                self.websocket_url("/realtime", **query),
                headers=self._headers,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                heartbeat=heartbeat,
                max_msg_size=16 * 1024 * 1024,
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status == 401:
                raise OpenAIAuthenticationError("The API key was rejected", status=401) from err
            if err.status == 429:
                raise OpenAIRateLimitError("Rate limited", status=429) from err
            if 400 <= err.status < 500:
                # The call is unknown or over, or the request is wrong: retrying cannot help.
                raise OpenAIBadRequestError(
                    f"WebSocket refused with HTTP {err.status}", status=err.status
                ) from err
            raise OpenAIConnectionError(
                f"WebSocket handshake failed with HTTP {err.status}", status=err.status
            ) from err
        except TimeoutError as err:
            raise OpenAITimeoutError("WebSocket connection timed out") from err
        except RedirectRefusedError as err:
            raise OpenAIResponseError(
                f"The host redirected the WebSocket ({err}); redirects are not followed"
            ) from err
        except aiohttp.ClientError as err:
            raise self._unreachable(err) from err

    async def stream_speech(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        """Speak `body["input"]` (`POST /audio/speech`); yield the audio as it arrives."""
        try:
            async with self._session.post(
                self.url("/audio/speech"),
                json=body,
                headers=self._headers,
                params=self._params or None,
                timeout=aiohttp.ClientTimeout(total=None, sock_read=self._timeout.total),
                allow_redirects=False,
            ) as resp:
                if resp.status >= 300:
                    _decode(resp, await resp.read(), "text")  # raises the error
                async for chunk in resp.content.iter_any():
                    yield chunk
        except TimeoutError as err:
            raise OpenAITimeoutError("No audio within the timeout") from err
        except aiohttp.ClientError as err:
            raise self._unreachable(err) from err


def _key_carriers(
    api_key: str, placement: KeyPlacement, name: str | None, host: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Return the headers and query parameters that carry the key."""
    if placement is KeyPlacement.QUERY:
        return {}, {name or "api-key": api_key}
    if placement is KeyPlacement.HEADER:
        return {name or "api-key": api_key}, {}
    if placement is KeyPlacement.API_KEY:
        return {"api-key": api_key}, {}
    headers = {"Authorization": f"Bearer {api_key}"}
    # Azure OpenAI's v1 endpoint authenticates keys with `api-key`, not a bearer token.
    if placement is KeyPlacement.AUTO and host.endswith((".azure.com", ".azure-api.net")):
        headers["api-key"] = api_key
    return headers, {}


def _expect_fields(
    body: Any, resp: aiohttp.ClientResponse, fields: tuple[str, ...]
) -> dict[str, Any]:
    """Return `body` if it is an object with `fields`, else raise OpenAIResponseError."""
    if not isinstance(body, dict) or any(field not in body for field in fields):
        raise OpenAIResponseError(
            f"The response lacks {', '.join(f'`{f}`' for f in fields)}",
            request_id=resp.headers.get("x-request-id"),
        )
    return body


def _decode(resp: aiohttp.ClientResponse, raw: bytes, expect: str) -> Any:
    """Return the body of a response as `expect`ed ("json" or "text"), or raise its error."""
    if resp.status >= 400:
        raise _error_from_response(resp, raw)
    if 300 <= resp.status < 400:
        raise OpenAIResponseError(
            f"The host redirected to {resp.headers.get('Location', '?')}; "
            "API requests do not follow redirects",
            status=resp.status,
        )
    if expect != "json":
        return raw.decode("utf-8", errors="replace")
    try:
        return json.loads(raw)
    except ValueError as err:
        raise OpenAIResponseError(
            "The API answered with invalid JSON",
            status=resp.status,
            request_id=resp.headers.get("x-request-id"),
        ) from err


def _error_from_response(resp: aiohttp.ClientResponse, raw: bytes) -> OpenAIError:
    """Map an HTTP error response and its OpenAI error envelope to an exception."""
    status = resp.status
    request_id = resp.headers.get("x-request-id")
    message = f"HTTP {status}"
    param = code = None
    try:
        envelope = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", errors="replace").strip()
        if text:
            message = f"HTTP {status}: {text[:_MAX_ERROR_TEXT]}"
    else:
        error = envelope.get("error") if isinstance(envelope, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or message)[:_MAX_ERROR_TEXT]
            param = _str_or_none(error.get("param"))
            code = _str_or_none(error.get("code"))
    kwargs: dict[str, Any] = {
        "status": status,
        "param": param,
        "code": code,
        "request_id": request_id,
    }
    if status == 401:
        return OpenAIAuthenticationError(message, **kwargs)
    if status == 403:
        return OpenAIPermissionError(message, **kwargs)
    if status == 429:
        return OpenAIRateLimitError(
            message, retry_after=_parse_retry_after(resp.headers.get("Retry-After")), **kwargs
        )
    if status >= 500:
        return OpenAIServerError(message, **kwargs)
    return OpenAIBadRequestError(message, **kwargs)


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


__all__ = [
    "CallAnswer",
    "KeyPlacement",
    "OpenAIAuthenticationError",
    "OpenAIBadRequestError",
    "OpenAIClient",
    "OpenAIConnectionError",
    "OpenAIError",
    "OpenAIPermissionError",
    "OpenAIRateLimitError",
    "OpenAIResponseError",
    "OpenAIServerError",
    "OpenAITimeoutError",
]
