"""The fields of a call's session that belong to the voice profile, kept as the profile set them.

The browser holds the call's data channel, where the API accepts `session.update`: a dashboard
user could change the instructions, swap a tool for an MCP server with the same name, or load a
stored `prompt`. The sideband compares every guarded field of each `session.updated` with the
profile's value and puts the profile's values back.
"""

from __future__ import annotations

from typing import Any

# Paths into the session, and the value the session has when the profile does not set one.
GUARDED_FIELDS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("instructions",), None),
    (("tools",), []),
    (("tool_choice",), "auto"),
    (("prompt",), None),
    (("output_modalities",), None),
    (("max_output_tokens",), "inf"),
    (("audio", "input", "transcription"), None),
    (("audio", "input", "turn_detection"), None),
    (("audio", "input", "noise_reduction"), None),
    (("audio", "output", "voice"), None),
    (("audio", "output", "speed"), None),
)
_MISSING = object()


def _lookup(session: Any, path: tuple[str, ...]) -> Any:
    value = session
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _matches(ours: Any, theirs: Any) -> bool:
    """Whether the server's value carries ours: every key and item we set, with our value.

    The server may add its defaults inside objects (a tool's `strict`, a VAD's threshold), so
    keys we did not set are allowed; anything we set must be there, unchanged.
    """
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(
            key in theirs and _matches(value, theirs[key]) for key, value in ours.items()
        )
    if isinstance(ours, list):
        return (
            isinstance(theirs, list)
            and len(ours) == len(theirs)
            and all(_matches(a, b) for a, b in zip(ours, theirs, strict=True))
        )
    return bool(ours == theirs) and isinstance(theirs, bool) == isinstance(ours, bool)


class SessionGuard:
    """The profile's values of the guarded fields of one call."""

    def __init__(self, session_config: dict[str, Any]) -> None:
        self._expected: list[tuple[tuple[str, ...], Any]] = []
        for path, default in GUARDED_FIELDS:
            value = _lookup(session_config, path)
            self._expected.append((path, default if value is _MISSING else value))

    def tampered_fields(self, session: Any) -> list[str]:
        """List the guarded fields in which the server's session differs from the profile's."""
        if not isinstance(session, dict):
            return []
        changed = []
        for path, expected in self._expected:
            actual = _lookup(session, path)
            if actual is _MISSING:
                actual = None
            if not _matches(expected, actual):
                changed.append(".".join(path))
        return changed

    def restore_update(self) -> dict[str, Any]:
        """Return a `session.update` event that puts every guarded field back."""
        session: dict[str, Any] = {"type": "realtime"}
        for path, expected in self._expected:
            node = session
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = expected
        return {"type": "session.update", "session": session}
