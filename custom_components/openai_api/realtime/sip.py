"""What HA reads from a SIP INVITE's headers: who calls whom."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import re
from typing import Any

# RFC 3261 compact forms of the headers we read.
_COMPACT = {"f": "from", "t": "to"}
_URI = re.compile(r"<([^>]*)>|((?:sips?|tel):[^\s;,>]+)", re.IGNORECASE)


def header_pairs(sip_headers: Any) -> list[dict[str, str]]:
    """Return the `sip_headers` of a webhook as `{name, value}` pairs (odd items dropped)."""
    if not isinstance(sip_headers, list):
        return []
    return [
        {"name": h["name"], "value": h["value"]}
        for h in sip_headers
        if isinstance(h, dict)
        and isinstance(h.get("name"), str)
        and isinstance(h.get("value"), str)
    ]


def header_map(pairs: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Headers by name as received; a repeated header's values joined with ", "."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, value = pair["name"], pair["value"]
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _header(pairs: Iterable[Mapping[str, str]], name: str) -> str | None:
    for pair in pairs:
        key = pair["name"].lower()
        if _COMPACT.get(key, key) == name:
            return pair["value"]
    return None


def uri_user(value: str | None) -> str | None:
    """Return the number (or user) of a From/To value (`"Ann" <sip:+1415@host>` -> `+1415`)."""
    if not value:
        return None
    match = _URI.search(value)
    if match is None:
        return None
    uri = (match.group(1) or match.group(2) or "").strip()
    scheme, _, rest = uri.partition(":")
    if scheme.lower() not in ("sip", "sips", "tel") or not rest:
        return None
    user = rest.split("@", 1)[0] if scheme.lower() != "tel" else rest
    user = user.split(";", 1)[0]
    return user or None


def display_name(value: str | None) -> str | None:
    """Return the display name of a From/To value, if it has one."""
    if not value or "<" not in value:
        return None
    name = value.split("<", 1)[0].strip().strip('"').strip()
    return name or None


def parties(pairs: Iterable[Mapping[str, str]]) -> dict[str, str | None]:
    """Caller and callee from the From and To headers."""
    pairs = list(pairs)
    sender, receiver = _header(pairs, "from"), _header(pairs, "to")
    return {
        "caller_number": uri_user(sender),
        "caller_name": display_name(sender),
        "callee_number": uri_user(receiver),
    }


def normalize_number(value: str) -> str:
    """Write a number as typed ("+1 (415) 555-0123") as SIP carries it ("+14155550123")."""
    value = value.strip()
    if re.fullmatch(r"[+\d\s().\-/]+", value):
        return re.sub(r"[\s().\-/]", "", value)
    return value.lower()
