"""The official OpenAPI texts, read as the API enforces them.

Two documents: the Realtime API's (simulator/openapi.json) and the audio API's
(simulator/openapi-audio.json, for `POST /audio/speech`). Each is a description for SDK
generators, looser than the server in four ways. The simulator rewrites them once, at load, so
that plain JSON Schema (Draft 2020-12) validation answers what the API answers:

1. Objects are closed. The API refuses keys it does not know (`unknown_parameter`), but the
   document declares `additionalProperties: false` on only a handful of schemas. Every object
   schema that lists its `properties` is closed unless it says otherwise itself
   (`additionalProperties`, `unevaluatedProperties` or `patternProperties`). Free-form objects
   declare no `properties` and stay open: function `parameters` (a JSON Schema of the caller's),
   `metadata`, MCP `headers`, prompt `variables`, tracing `metadata`, ...
2. `oneOf` means "one of these shapes", not "exactly one": `conversation` is `oneOf` a string
   and the enum `auto`/`none`, so `"auto"` would match both and fail. Read as `anyOf`.
3. `null` is allowed where the document says so: OpenAPI 3.0's `nullable: true`, and
   descriptions that say a field "can be set to `null`" (`noise_reduction`, `transcription`).
4. Ranges the document gives only in prose are added as keywords (`PROSE_CONSTRAINTS`).

One schema is also corrected where the document contradicts its own endpoint
(`CORRECTIONS`): see there.
"""

from __future__ import annotations

from functools import cache
import json
from pathlib import Path
import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SPEC_PATH = Path(__file__).with_name("openapi.json")
DOCUMENTS = {"realtime": SPEC_PATH, "audio": Path(__file__).with_name("openapi-audio.json")}

_LEGACY_FORMATS = ["pcm16", "g711_ulaw", "g711_alaw"]  # "Options are `pcm16`, `g711_ulaw`, …"

# Constraints stated only in descriptions, by JSON pointer under `components/schemas` (of the
# Realtime document; the audio document states its ranges as keywords).
PROSE_CONSTRAINTS: dict[str, dict[str, Any]] = {
    # "Provide an integer between 1 and 4096 to limit output tokens, or `inf`"
    "RealtimeSessionCreateRequestGA/properties/max_output_tokens/oneOf/0": {
        "minimum": 1,
        "maximum": 4096,
    },
    "RealtimeResponseCreateParams/properties/max_output_tokens/oneOf/0": {
        "minimum": 1,
        "maximum": 4096,
    },
    # "Activation threshold for VAD (0.0 to 1.0)"
    "RealtimeTurnDetection/anyOf/0/oneOf/0/properties/threshold": {"minimum": 0, "maximum": 1},
    # The legacy (beta) session requests of `/realtime/sessions` and
    # `/realtime/transcription_sessions` state these in their descriptions only.
    "RealtimeSessionCreateRequest/properties/input_audio_format": {"enum": _LEGACY_FORMATS},
    "RealtimeSessionCreateRequest/properties/output_audio_format": {"enum": _LEGACY_FORMATS},
    "RealtimeSessionCreateRequest/properties/temperature": {"minimum": 0.6, "maximum": 1.2},
    "RealtimeSessionCreateRequest/properties/max_response_output_tokens/oneOf/0": {
        "minimum": 1,
        "maximum": 4096,
    },
    "RealtimeSessionCreateRequest/properties/turn_detection/properties/type": {
        "enum": ["server_vad"]  # "only `server_vad` is currently supported"
    },
    "RealtimeSessionCreateRequest/properties/turn_detection/properties/threshold": {
        "minimum": 0,
        "maximum": 1,
    },
    "RealtimeTranscriptionSessionCreateRequest/properties/turn_detection/properties/threshold": {
        "minimum": 0,
        "maximum": 1,
    },
}


def _correct_legacy_session(schemas: dict[str, Any]) -> None:
    """`RealtimeSessionCreateRequest` (the body of `POST /realtime/sessions`) as the API takes it.

    The document lists `client_secret` among its properties and as required, and has no
    `model`. `client_secret` is what the endpoint answers with (the description: "It responds
    with a session object, plus a `client_secret` key"), and the endpoint's own example, like
    every client of it, sends `model` and no `client_secret`. So `model` is taken (a string, as
    in every other session) and `client_secret` is not: being read-only, it is refused in a
    request like any unknown field.
    """
    request = schemas["RealtimeSessionCreateRequest"]
    del request["properties"]["client_secret"]
    request["required"] = [k for k in request.get("required", []) if k != "client_secret"]
    if not request["required"]:
        del request["required"]
    request["properties"] = {
        "model": {"type": "string", "description": "The Realtime model used for this session."},
        **request["properties"],
    }


CORRECTIONS = {"realtime": (_correct_legacy_session,), "audio": ()}
_DOCUMENTED_NULL = re.compile(r"\b[Ss]et to `null`")
_OPENING_KEYWORDS = ("additionalProperties", "unevaluatedProperties", "patternProperties")


@cache
def spec(document: str = "realtime") -> dict[str, Any]:
    """A whole document ("realtime" or "audio"), rewritten as described above."""
    text = json.loads(DOCUMENTS[document].read_text())
    schemas = text["components"]["schemas"]
    if document == "realtime":
        for pointer, constraints in PROSE_CONSTRAINTS.items():
            _resolve(schemas, pointer).update(constraints)
    for correct in CORRECTIONS[document]:
        correct(schemas)
    text["components"]["schemas"] = {name: _rewrite(node) for name, node in schemas.items()}
    return text  # type: ignore[no-any-return]


def _resolve(root: Any, pointer: str) -> dict[str, Any]:
    node = root
    for part in pointer.split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    if not isinstance(node, dict):
        raise TypeError(f"{pointer} is not a schema")
    return node


def _rewrite(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _rewrite(value) for key, value in node.items()}
    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf")
    if "properties" in node and not any(key in node for key in _OPENING_KEYWORDS):
        node["additionalProperties"] = False
    documented_null = isinstance(node.get("description"), str) and bool(
        _DOCUMENTED_NULL.search(node["description"])
    )
    if (node.pop("nullable", False) or documented_null) and not admits_null(node):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


def admits_null(node: Any) -> bool:
    """Whether a (rewritten) schema node accepts `null` on its own level."""
    if not isinstance(node, dict):
        return False
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(admits_null(branch) for branch in node.get("anyOf", ()))


def schema(name: str, document: str = "realtime") -> dict[str, Any]:
    """A component schema, rewritten."""
    return spec(document)["components"]["schemas"][name]  # type: ignore[no-any-return]


def _urn(document: str) -> str:
    return f"urn:openapi:{document}"


@cache
def _registry(document: str) -> Registry[Any]:
    text = json.dumps(spec(document)).replace('"#/components/', f'"{_urn(document)}#/components/')
    return Registry().with_resource(_urn(document), Resource.opaque(json.loads(text)))


@cache
def validator(schema_name: str, document: str = "realtime") -> Draft202012Validator:
    """A validator for one component schema (references resolve in the whole document)."""
    ref = {"$ref": f"{_urn(document)}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_registry(document))


def resolve_ref(node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s of a schema node to the node itself."""
    while "$ref" in node:
        node = schema(node["$ref"].rsplit("/", 1)[-1])
    return node


def _events_by_type(union: str) -> dict[str, str]:
    """The member schemas of an event union, by the `type` each one fixes."""
    out: dict[str, str] = {}
    for member in schema(union)["anyOf"]:
        name = member["$ref"].rsplit("/", 1)[-1]
        (kind,) = schema(name)["properties"]["type"]["enum"]
        out[kind] = name
    return out


@cache
def client_events() -> dict[str, str]:
    """Client event type -> its schema name (the GA union `RealtimeClientEvent`)."""
    return _events_by_type("RealtimeClientEvent")


@cache
def server_events() -> dict[str, str]:
    """Server event type -> its schema name (the GA union `RealtimeServerEvent`)."""
    return _events_by_type("RealtimeServerEvent")


def request_schema(
    path: str, content_type: str = "application/json", document: str = "realtime"
) -> str:
    """The name of the schema a path's request body must match, as the document states it."""
    content = spec(document)["paths"][path]["post"]["requestBody"]["content"][content_type]
    return str(content["schema"]["$ref"].rsplit("/", 1)[-1])
