"""Write translations/en.json from strings.json, resolving HA's `[%key:...%]` references.

Run: scripts/run python scripts/gen_translations.py (tests fail when en.json is stale).
"""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import homeassistant

INTEGRATION = Path(__file__).resolve().parents[1] / "custom_components" / "openai_api"
COMMON = json.loads((Path(homeassistant.__file__).parent / "strings.json").read_text())


def resolve(value: Any) -> Any:
    """Replace `[%key:a::b%]` with HA's common string at that path."""
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, str) and (match := re.fullmatch(r"\[%key:(.+)%\]", value)):
        node: Any = COMMON
        for part in match.group(1).split("::"):
            node = node[part]
        return node
    return value


def render() -> str:
    """The en.json text for the current strings.json."""
    strings = json.loads((INTEGRATION / "strings.json").read_text())
    return json.dumps(resolve(strings), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    (INTEGRATION / "translations" / "en.json").write_text(render())
