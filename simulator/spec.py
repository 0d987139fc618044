"""The official OpenAPI text of the Realtime API (simulator/openapi.json), read as the API enforces it.

The document is a description for SDK generators, looser than the server in four ways. The
simulator rewrites it once, at load, so that plain JSON Schema (Draft 2020-12) validation
answers what the API answers:

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
_URN = "urn:openapi"

# Constraints stated only in descriptions, by JSON pointer under `components/schemas`.
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
}
_DOCUMENTED_NULL = re.compile(r"\b[Ss]et to `null`")
_OPENING_KEYWORDS = ("additionalProperties", "unevaluatedProperties", "patternProperties")


@cache
def spec() -> dict[str, Any]:
    """The whole document, rewritten as described above."""
    document = json.loads(SPEC_PATH.read_text())
    schemas = document["components"]["schemas"]
    for pointer, constraints in PROSE_CONSTRAINTS.items():
        _resolve(schemas, pointer).update(constraints)
    document["components"]["schemas"] = {name: _rewrite(node) for name, node in schemas.items()}
    return document  # type: ignore[no-any-return]


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


def schema(name: str) -> dict[str, Any]:
    """A component schema, rewritten."""
    return spec()["components"]["schemas"][name]  # type: ignore[no-any-return]


@cache
def _registry() -> Registry[Any]:
    text = json.dumps(spec()).replace('"#/components/', f'"{_URN}#/components/')
    return Registry().with_resource(_URN, Resource.opaque(json.loads(text)))


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """A validator for one component schema (references resolve in the whole document)."""
    ref = {"$ref": f"{_URN}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_registry())


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


def request_schema(path: str, content_type: str = "application/json") -> str:
    """The name of the schema a path's request body must match, as the document states it."""
    content = spec()["paths"][path]["post"]["requestBody"]["content"][content_type]
    return str(content["schema"]["$ref"].rsplit("/", 1)[-1])
