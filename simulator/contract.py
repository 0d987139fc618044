"""Validation against the official OpenAPI text of the Realtime API (simulator/openapi.json).

Request bodies are checked with JSON Schema (Draft 2020-12) exactly as the document states, plus
the ranges it states only in prose. Failures become OpenAI's error envelope with a `param`
that names the field the way the API does (`session.tools[0].type`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource

SPEC_PATH = Path(__file__).with_name("openapi.json")


def _admit_null(node: Any) -> Any:
    """Turn OpenAPI 3.0 `nullable: true` (used in places by the document) into JSON Schema."""
    if isinstance(node, dict):
        node = {k: _admit_null(v) for k, v in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_admit_null(v) for v in node]
    return node


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document with nullable rewritten."""
    return _admit_null(json.loads(SPEC_PATH.read_text()))  # type: ignore[no-any-return]


@cache
def _registry() -> Registry[Any]:
    text = json.dumps(spec()).replace('"#/components/', '"urn:openapi#/components/')
    return Registry().with_resource("urn:openapi", Resource.opaque(json.loads(text)))


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    ref = {"$ref": f"urn:openapi#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_registry())


def format_param(path: Iterable[Any]) -> str:
    """Render a JSON path as OpenAI does: `session.tools[0].type`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _descend(error: ValidationError) -> ValidationError:
    """Follow a oneOf/anyOf failure into the branch the instance was meant for.

    The branch is chosen by the instance's `type` discriminator when it has one: branches that
    rejected that `type` are the other members of the union. Without a usable discriminator
    the type error itself is reported.
    """
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)

        def on_type(sub: ValidationError) -> bool:
            return list(sub.relative_path)[:1] == ["type"] or (
                sub.validator == "required" and "'type'" in sub.message
            )

        kind = error.instance.get("type") if isinstance(error.instance, dict) else None
        fitting = [errs for errs in branches.values() if not any(on_type(e) for e in errs)]
        if kind is not None and len(fitting) == 1:
            error = max(fitting[0], key=relevance)
        elif kind is not None and not fitting:
            error = next(e for e in error.context if on_type(e))
        else:
            chosen = best_match(error.context)
            if chosen is None:
                break
            error = chosen
    return error


def validate(schema_name: str, body: Any) -> dict[str, Any] | None:
    """Return an OpenAI error envelope for an invalid body, or None when it is valid."""
    validator = _validator(schema_name)
    errors = list(validator.iter_errors(body))
    if not errors:
        return None
    error = _descend(max(errors, key=relevance))
    param = format_param(error.absolute_path) or None
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        param = ".".join(p for p in (param, missing) if p) or None
        return envelope(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    if error.validator == "additionalProperties":
        return envelope(
            f"Unknown parameter: '{param}'. {error.message}", param, "unknown_parameter"
        )
    if error.validator == "type":
        return envelope(f"Invalid type for '{param}': {error.message}", param, "invalid_type")
    return envelope(f"Invalid value for '{param}': {error.message}", param, "invalid_value")


def envelope(message: str, param: str | None, code: str) -> dict[str, Any]:
    """OpenAI's error envelope for a 400."""
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


def check_prose_ranges(body: dict[str, Any]) -> dict[str, Any] | None:
    """Ranges the document states only in descriptions."""
    session = body.get("session")
    if isinstance(session, dict) and session.get("type", "realtime") == "realtime":
        tokens = session.get("max_output_tokens")
        if isinstance(tokens, int) and not isinstance(tokens, bool) and not 1 <= tokens <= 4096:
            return envelope(
                "Invalid 'session.max_output_tokens': integer must be between 1 and 4096 or 'inf'.",
                "session.max_output_tokens",
                "integer_out_of_range",
            )
        turn = ((session.get("audio") or {}).get("input") or {}).get("turn_detection")
    elif isinstance(session, dict):
        turn = ((session.get("audio") or {}).get("input") or {}).get("turn_detection")
    else:
        turn = None
    threshold = turn.get("threshold") if isinstance(turn, dict) else None
    if isinstance(threshold, int | float) and not 0 <= threshold <= 1:
        return envelope(
            "Invalid 'session.audio.input.turn_detection.threshold': must be 0.0 to 1.0.",
            "session.audio.input.turn_detection.threshold",
            "decimal_out_of_range",
        )
    return None
