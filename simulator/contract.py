"""Request bodies and client events checked against the spec, failures worded as OpenAI words them.

`validate` runs the (rewritten, see spec.py) JSON Schema and turns the most relevant failure
into the API's error: `unknown_parameter`, `missing_required_parameter`, `invalid_type`,
`invalid_value`, `integer_above_max_value`, `string_above_max_length`, ... with a `param` that
names the field the way the API does (`session.tools[0].type`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import json
from typing import Any

from jsonschema.exceptions import ValidationError, relevance

from . import spec
from .errors import ApiError

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a decimal",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def validate(
    schema_name: str, instance: Any, *, prefix: str = "", document: str = "realtime"
) -> ApiError | None:
    """The API's error for an invalid `instance`, or None; `prefix` roots the `param` names."""
    errors = list(spec.validator(schema_name, document).iter_errors(instance))
    if not errors:
        return None
    return _to_api_error(_descend(max(errors, key=relevance)), prefix)


def validate_client_event(event: Any) -> ApiError | None:
    """Check a client event: an object, a known `type`, then that type's own schema."""
    if not isinstance(event, dict):
        return ApiError(
            f"Invalid type for event: expected an object, but got {_type_name(event)} instead.",
            code="invalid_type",
        )
    if "type" not in event:
        return ApiError("Missing required parameter: 'type'.", "type", "missing_required_parameter")
    kind = event["type"]
    schema_name = spec.client_events().get(kind) if isinstance(kind, str) else None
    if schema_name is None:
        return ApiError(
            f"Invalid value: {_quote(kind)}. Supported values are: "
            f"{_enumerate(spec.client_events())}.",
            "type",
            "invalid_value",
        )
    return validate(schema_name, event)


def format_param(path: Iterable[Any], prefix: str = "") -> str:
    """Render a JSON path as OpenAI does: `session.tools[0].type`."""
    out = prefix
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# --- choosing the failure to report ----------------------------------------------------------


def _descend(error: ValidationError) -> ValidationError:
    """Follow an anyOf failure into the branch the instance was meant for.

    A branch is ruled out when the instance has the wrong JSON type for it, or when a property
    that the branch fixes to one value (a discriminator such as `type` or `role`) differs. A
    missing discriminator is reported as missing (the API needs it to know the shape). When
    every branch is ruled out, the mismatch itself is reported: the discriminator with the
    values it may take, or the JSON types the field may have.
    """
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        fitting = [
            errs
            for errs in branches.values()
            if not any(_wrong_shape(e) or _wrong_discriminator(e) for e in errs)
        ]
        missing = [e for errs in fitting for e in errs if _missing_discriminator(e)]
        if missing:
            return missing[0]
        if fitting:
            error = max((e for errs in fitting for e in errs), key=_weight)
            continue
        mismatches = [
            [e for e in errs if _wrong_discriminator(e)]
            for errs in branches.values()
            if any(_wrong_discriminator(e) for e in errs)
        ]
        if mismatches:
            fewest = min(len(m) for m in mismatches)
            closest = [e for m in mismatches if len(m) == fewest for e in m]
            culprit = closest[0].relative_path[0]
            return _merged_enum_error([e for e in closest if e.relative_path[0] == culprit])
        return _merged_type_error(error)
    return error


def _wrong_shape(error: ValidationError) -> bool:
    return error.validator == "type" and not error.relative_path


def _fixed_value(schema: Any) -> bool:
    """Whether a property schema allows exactly one value."""
    if not isinstance(schema, dict):
        return False
    return "const" in schema or len(schema.get("enum", ())) == 1


def _wrong_discriminator(error: ValidationError) -> bool:
    return len(error.relative_path) == 1 and _fixed_value(error.schema)


def _missing_discriminator(error: ValidationError) -> bool:
    if error.validator != "required" or error.relative_path or not isinstance(error.schema, dict):
        return False
    properties = error.schema.get("properties", {})
    return any(
        key not in error.instance and _fixed_value(properties.get(key))
        for key in error.validator_value
    )


def _weight(error: ValidationError) -> tuple[int, ...]:
    # Deeper failures say more; among equals, prefer what the API reports first.
    order = ("additionalProperties", "required", "type", "enum", "const")
    rank = order.index(str(error.validator)) if error.validator in order else len(order)
    return (len(error.absolute_path), -rank)


def _merged_enum_error(errors: Sequence[ValidationError]) -> ValidationError:
    """One `enum` failure listing every value the branches would have taken."""
    first = errors[0]
    values: list[Any] = []
    for err in errors:
        allowed = [err.validator_value] if err.validator == "const" else err.validator_value
        values += [v for v in allowed if v not in values]
    return ValidationError(
        first.message,
        validator="enum",
        validator_value=values,
        instance=first.instance,
        path=first.absolute_path,
    )


def _merged_type_error(error: ValidationError) -> ValidationError:
    kinds: list[str] = []
    for sub in error.context or ():
        if _wrong_shape(sub):
            expected = sub.validator_value
            kinds += [
                k
                for k in (expected if isinstance(expected, list) else [expected])
                if k not in kinds
            ]
    return ValidationError(
        error.message,
        validator="type",
        validator_value=kinds,
        instance=error.instance,
        path=error.absolute_path,
    )


# --- wording -----------------------------------------------------------------------------------


def _to_api_error(error: ValidationError, prefix: str) -> ApiError:
    param = format_param(error.absolute_path, prefix) or None
    value = error.validator_value
    match error.validator:
        case "additionalProperties":
            known = (
                set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
            )
            extra = next(k for k in error.instance if k not in known)
            param = format_param([*error.absolute_path, extra], prefix)
            return ApiError(f"Unknown parameter: '{param}'.", param, "unknown_parameter")
        case "required":
            missing = next(k for k in value if k not in error.instance)
            param = format_param([*error.absolute_path, missing], prefix)
            return ApiError(
                f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
            )
        case "type":
            expected = value if isinstance(value, list) else [value]
            names = " or ".join(_TYPE_NAMES.get(str(k), str(k)) for k in expected)
            if len(expected) > 1:
                names = f"one of {names}"
            return ApiError(
                f"Invalid type for '{param}': expected {names}, "
                f"but got {_type_name(error.instance)} instead.",
                param,
                "invalid_type",
            )
        case "enum" | "const":
            allowed = value if error.validator == "enum" else [value]
            return ApiError(
                f"Invalid value: {_quote(error.instance)}. Supported values are: "
                f"{_enumerate(allowed)}.",
                param,
                "invalid_value",
            )
        case "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum":
            return _range_error(error, param)
        case "maxLength" | "minLength" | "maxItems" | "minItems":
            return _length_error(error, param)
    return ApiError(f"Invalid value for '{param}': {error.message}", param, "invalid_value")


def _range_error(error: ValidationError, param: str | None) -> ApiError:
    # The field's type names the kind (a speed of 9 is a decimal above its maximum).
    kind = "integer" if error.schema.get("type") == "integer" else "decimal"
    above = error.validator in ("maximum", "exclusiveMaximum")
    sign = {"maximum": "<=", "exclusiveMaximum": "<", "minimum": ">=", "exclusiveMinimum": ">"}
    return ApiError(
        f"Invalid '{param}': {kind} {'above maximum' if above else 'below minimum'} value. "
        f"Expected a value {sign[str(error.validator)]} {error.validator_value:g}, "
        f"but got {error.instance:g} instead.",
        param,
        f"{kind}_{'above_max' if above else 'below_min'}_value",
    )


def _length_error(error: ValidationError, param: str | None) -> ApiError:
    kind = "string" if error.validator in ("maxLength", "minLength") else "array"
    above = str(error.validator).startswith("max")
    limit = error.validator_value
    if kind == "array" and not above and not error.instance:
        return ApiError(
            f"Invalid '{param}': empty array. Expected an array with minimum length {limit}, "
            "but got an empty array instead.",
            param,
            "empty_array",
        )
    article = "a string" if kind == "string" else "an array"
    bound = "maximum" if above else "minimum"
    return ApiError(
        f"Invalid '{param}': {kind} too {'long' if above else 'short'}. Expected {article} "
        f"with {bound} length {limit}, but got {article} with length {len(error.instance)} "
        "instead.",
        param,
        f"{kind}_{'above_max' if above else 'below_min'}_length",
    )


def _type_name(value: Any) -> str:
    for kind, test in (
        ("null", value is None),
        ("boolean", isinstance(value, bool)),
        ("integer", isinstance(value, int) and not isinstance(value, bool)),
        ("number", isinstance(value, float)),
        ("string", isinstance(value, str)),
        ("array", isinstance(value, list)),
    ):
        if test:
            return _TYPE_NAMES[kind]
    return _TYPE_NAMES["object"]


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _enumerate(values: Iterable[Any]) -> str:
    quoted = [_quote(v) for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
