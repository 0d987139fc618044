"""The conversation agent's turns: a Realtime text session per HA conversation.

HA's chat log holds the conversation; the Realtime session holds the same conversation on
OpenAI's side, so a follow-up sends only what is new. If the session is lost, the next turn
opens a new one and replays the chat log into it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import json
from typing import Any

from homeassistant.components import conversation
from homeassistant.helpers import llm

from ..api import OpenAIClient, OpenAIConnectionError
from ..realtime.tools import format_tools, tool_output
from .socket import RealtimeSocket

MAX_TOOL_ROUNDS = 10  # responses of one turn, tool calls included
RESPONSE_TIMEOUT = 60.0


def _item(content: conversation.Content) -> list[dict[str, Any]]:
    """Return the conversation items that stand for one piece of chat log content."""
    if isinstance(content, conversation.UserContent):
        return [_message("user", "input_text", content.content)]
    if isinstance(content, conversation.ToolResultContent):
        return [_tool_output(content)]
    if isinstance(content, conversation.AssistantContent):
        items = [_message("assistant", "output_text", content.content)] if content.content else []
        for call in content.tool_calls or []:
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.id,
                    "name": call.tool_name,
                    "arguments": json.dumps(call.tool_args),
                }
            )
        return items
    return []  # system content goes into the session's instructions


def _message(role: str, kind: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def _tool_output(content: conversation.ToolResultContent) -> dict[str, Any]:
    return {
        "type": "function_call_output",
        "call_id": content.tool_call_id,
        "output": tool_output(content.tool_name, content.result),
    }


class TextConversation:
    """One HA conversation held as a Realtime session that answers in text."""

    def __init__(self, client: OpenAIClient, model: str, on_usage: Callable[[Any], None]) -> None:
        self._client = client
        self._model = model
        self._on_usage = on_usage
        self._socket: RealtimeSocket | None = None
        self._session: dict[str, Any] = {}
        self._sent = 0  # chat log contents already in OpenAI's conversation

    async def async_close(self) -> None:
        """Close the session (the conversation ended or HA unloads)."""
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close()

    async def async_respond(self, chat_log: conversation.ChatLog, agent_id: str) -> None:
        """Answer the chat log's new content, running tool calls, into the chat log.

        A session kept from an earlier turn may have been closed by OpenAI meanwhile: if it
        fails before anything of the answer arrived, the turn runs once more on a new session
        that gets the whole chat log.
        """
        reused, before = self._socket is not None, len(chat_log.content)
        try:
            await self._respond(chat_log, agent_id)
        except OpenAIConnectionError:
            if not reused or len(chat_log.content) != before:
                raise
            await self._respond(chat_log, agent_id)

    async def _respond(self, chat_log: conversation.ChatLog, agent_id: str) -> None:
        try:
            await self._sync(chat_log)
            for _ in range(MAX_TOOL_ROUNDS):
                socket = self._open_socket()
                await socket.send({"type": "response.create"})
                async for content in chat_log.async_add_delta_content_stream(
                    agent_id, self._deltas(socket)
                ):
                    if isinstance(content, conversation.ToolResultContent):
                        await socket.send(
                            {"type": "conversation.item.create", "item": _tool_output(content)}
                        )
                self._sent = len(chat_log.content)
                if not chat_log.unresponded_tool_results:
                    return
        except BaseException:
            # Half a turn on OpenAI's side: start the next turn afresh from the chat log.
            await self.async_close()
            raise

    def _open_socket(self) -> RealtimeSocket:
        if self._socket is None or self._socket.closed:
            raise RuntimeError("The text session is not open")
        return self._socket

    async def _sync(self, chat_log: conversation.ChatLog) -> None:
        """Open the session if needed, update its instructions and tools, send new content."""
        if self._socket is None or self._socket.closed:
            self._socket = await RealtimeSocket.open(self._client, model=self._model)
            self._session, self._sent = {}, 0
        session = {
            "type": "realtime",
            "output_modalities": ["text"],
            "instructions": _instructions(chat_log),
            "tools": format_tools(chat_log.llm_api),
            "tool_choice": "auto",
        }
        if session != self._session:
            await self._socket.send({"type": "session.update", "session": session})
            self._session = session
        for content in chat_log.content[max(self._sent, 1) :]:
            for item in _item(content):
                await self._socket.send({"type": "conversation.item.create", "item": item})
        self._sent = len(chat_log.content)

    async def _deltas(
        self, socket: RealtimeSocket
    ) -> AsyncIterator[conversation.AssistantContentDeltaDict]:
        """Yield the chat log deltas of one response, as its events arrive."""
        yield {"role": "assistant"}
        while True:
            event = await socket.receive(RESPONSE_TIMEOUT)
            kind = event.get("type")
            if kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
                yield {"content": event["delta"]}
            elif kind == "response.function_call_arguments.done":
                yield {"tool_calls": [_tool_input(event)]}
            elif kind == "response.done":
                response = event.get("response")
                self._on_usage(response.get("usage") if isinstance(response, dict) else None)
                return


def _instructions(chat_log: conversation.ChatLog) -> str:
    """Return the system prompt HA rendered into the chat log (prompt, API prompt, extra)."""
    first = chat_log.content[0] if chat_log.content else None
    return first.content if isinstance(first, conversation.SystemContent) else ""


def _tool_input(event: dict[str, Any]) -> llm.ToolInput:
    try:
        args = json.loads(event.get("arguments") or "{}")
    except ValueError:
        args = {}
    return llm.ToolInput(
        id=str(event.get("call_id") or ""),
        tool_name=str(event.get("name") or ""),
        tool_args=args if isinstance(args, dict) else {},
    )
