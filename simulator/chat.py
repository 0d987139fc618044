"""The model's script for what a user says in a conversation (typed, or heard in their audio).

Deterministic, so that tests know the answer. Read top to bottom; the first rule that applies:

1. "turn on …" / "turn off …" (also "turn the … on", "switch …"): a call to the session's
   function tool whose name ends with `HassTurnOn` / `HassTurnOff`, with `{"name": <the thing,
   capitalised, without "the">}`. Once its output is in the conversation, the next response
   says "The <thing> is on." ("… is off."), or "Sorry, I could not turn on the <thing>." when
   the output reports an error (`{"error": …}`, or HA's `"response_type": "error"`). Without
   such a tool: "I have no way to turn on the <thing>."
2. A message that ends with "?": a question back, "Good question. Shall I look into it?", so
   that the user answers (HA keeps the conversation open after a question).
3. Anything else: "Okay."

Usage is counted as the API counts it, roughly: a token per four characters of the
instructions and conversation in, of the answer out (at least one each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any

CANNED_REPLY = "Okay."
QUESTION_REPLY = "Good question. Shall I look into it?"
_TURN = re.compile(
    r"\b(?:turn|switch)\s+(?P<state>on|off)\s+(?P<name>.+)|"
    r"\b(?:turn|switch)\s+(?P<name2>.+?)\s+(?P<state2>on|off)\b",
    re.IGNORECASE,
)
_TOOLS = {"on": "HassTurnOn", "off": "HassTurnOff"}


@dataclass(frozen=True)
class Answer:
    """What the model does: call a tool (then say `reply`), or just say `reply`."""

    reply: str
    tool_name: str | None = None
    tool_arguments: dict[str, Any] = field(default_factory=dict)
    failure_reply: str | None = None


def answer(text: str, tools: list[Any]) -> Answer:
    """The model's answer to a user's message, by the rules above."""
    text = text.strip()
    match = _TURN.search(text)
    if match is not None:
        state = (match.group("state") or match.group("state2")).lower()
        thing = _thing(match.group("name") or match.group("name2"))
        tool = find_tool(tools, _TOOLS[state])
        if tool is None:
            return Answer(f"I have no way to turn {state} the {thing.lower()}.")
        return Answer(
            reply=f"The {thing.lower()} is {state}.",
            tool_name=tool,
            tool_arguments={"name": thing},
            failure_reply=f"Sorry, I could not turn {state} the {thing.lower()}.",
        )
    if text.endswith("?"):
        return Answer(QUESTION_REPLY)
    return Answer(CANNED_REPLY)


def find_tool(tools: list[Any], suffix: str) -> str | None:
    """The name of the function tool called `suffix`, or whose name ends with it."""
    names = [
        str(tool.get("name"))
        for tool in tools
        if isinstance(tool, dict) and tool.get("type") == "function"
    ]
    return next((n for n in names if n == suffix), None) or next(
        (n for n in names if n.endswith(suffix)), None
    )


def tokens(*texts: str) -> int:
    """A rough token count (four characters a token), at least one."""
    return max(1, round(sum(len(t) for t in texts) / 4))


def _thing(words: str) -> str:
    name = re.sub(r"^(?:the|my|our)\s+", "", words.strip(), flags=re.IGNORECASE)
    name = re.sub(r"(?:[\s,]+please)?[\s.!?,;:]*$", "", name, flags=re.IGNORECASE)
    return name[:1].upper() + name[1:] if name else name
