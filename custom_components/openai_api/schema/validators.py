"""Validators for JSON request bodies, built on probatio (HA's voluptuous-compatible engine).

They accept a value or raise `probatio.Invalid` whose `path` names the field; they never convert
or fill in, so a body that passes is sent exactly as given. Whatever the input (unhashable
values, bytes, NaN, deep nesting), the outcome is the value or `Invalid`, never another error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import math
import re
from typing import Any

import probatio

type Validator = Callable[[Any], Any]

# Deeper bodies are refused rather than risk a RecursionError here or in the JSON encoder.
MAX_DEPTH = 32


def type_name(value: Any) -> str:
    """Return the JSON name of a value's type (Python's where JSON has none)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _prepended(err: probatio.Invalid, key: Any) -> probatio.Invalid:
    err.prepend([key])
    return err


def json_value(value: Any, _depth: int = 0) -> Any:
    """Accept a JSON value: null, boolean, finite number, string, array or object of those.

    Fields the integration does not know pass through to OpenAI; they must still be something
    JSON can carry faithfully (no bytes, complex numbers, NaN or infinities).
    """
    if _depth > MAX_DEPTH:
        raise probatio.Invalid(f"is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise probatio.Invalid("must be a finite number")
        return value
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            try:
                json_value(item, _depth + 1)
            except probatio.Invalid as err:
                raise _prepended(err, index) from None
        return value
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise probatio.Invalid(f"has a key that is not a string ({type_name(key)})")
            try:
                json_value(item, _depth + 1)
            except probatio.Invalid as err:
                raise _prepended(err, key) from None
        return value
    raise probatio.Invalid(f"is not a JSON value (got {type_name(value)})")


def string(value: Any) -> str:
    """Accept a string as is."""
    if not isinstance(value, str):
        raise probatio.Invalid(f"expected a string, got {type_name(value)}")
    return value


def non_empty_string(value: Any) -> str:
    """Accept a string with at least one non-blank character."""
    if not string(value).strip():
        raise probatio.Invalid("must not be empty")
    return value  # type: ignore[no-any-return]


def boolean(value: Any) -> bool:
    """Accept a real boolean (no "yes"/1 coercion)."""
    if not isinstance(value, bool):
        raise probatio.Invalid(f"expected a boolean, got {type_name(value)}")
    return value


def integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
    """Accept an int (not a bool, not a float) within bounds."""

    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise probatio.Invalid(f"expected an integer, got {type_name(value)}")
        _check_range(value, minimum, maximum)
        return value

    return validate


def number(minimum: float | None = None, maximum: float | None = None) -> Validator:
    """Accept a finite int or float (not a bool) within bounds."""

    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise probatio.Invalid(f"expected a number, got {type_name(value)}")
        if not math.isfinite(value):
            raise probatio.Invalid("must be a finite number")
        _check_range(value, minimum, maximum)
        return value

    return validate


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise probatio.Invalid(f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise probatio.Invalid(f"must be at most {maximum}, got {value}")


def one_of(*options: Any) -> Validator:
    """Accept exactly one of the listed values (type included: 1 is not True).

    For closed sets only: structural values the integration relies on. Names from OpenAI's
    growing catalogs use `catalog`.
    """

    def validate(value: Any) -> Any:
        for option in options:
            if type(value) is type(option) and value == option:
                return value
        shown = repr(value) if isinstance(value, str | int | float | bool) else type_name(value)
        raise probatio.Invalid(f"must be one of {', '.join(map(repr, options))}, got {shown}")

    return validate


def catalog(*known: str) -> Validator:
    """Accept any non-empty string: `known` lists today's values, OpenAI adds more.

    A closed list would reject a value the API accepts the day it ships; OpenAI checks the
    name and its 400 names the field.
    """
    del known  # documentation for readers; the UI offers its own lists
    return non_empty_string


def nullable(validator: Validator) -> Validator:
    """Accept None or what `validator` accepts."""

    def validate(value: Any) -> Any:
        return None if value is None else validator(value)

    return validate


def array(item: Validator, *, min_items: int = 0) -> Validator:
    """Accept a list whose items all pass `item`; errors name the index."""

    def validate(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise probatio.Invalid(f"expected an array, got {type_name(value)}")
        if len(value) < min_items:
            raise probatio.Invalid(f"needs at least {min_items} item(s)")
        for index, entry in enumerate(value):
            try:
                item(entry)
            except probatio.Invalid as err:
                raise _prepended(err, index) from None
        return value

    return validate


def mapping(value_validator: Validator) -> Validator:
    """Accept an object with string keys whose values all pass `value_validator`."""

    def validate(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise probatio.Invalid(f"expected an object, got {type_name(value)}")
        for key, item in value.items():
            if not isinstance(key, str):
                raise probatio.Invalid(f"has a key that is not a string ({type_name(key)})")
            try:
                value_validator(item)
            except probatio.Invalid as err:
                raise _prepended(err, key) from None
        return value

    return validate


def obj(
    fields: Mapping[str, Validator], *, extra: bool = True, required: tuple[str, ...] = ()
) -> Validator:
    """Accept an object whose known keys pass their validators.

    Unknown keys pass through when `extra` is set (new API fields work the day they ship) but
    must hold JSON values. Nothing is added or coerced: the validated value is the input.
    """

    def validate(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise probatio.Invalid(f"expected an object, got {type_name(value)}")
        for key in required:
            if key not in value:
                raise probatio.Invalid("required key not provided", path=[key])
        for key, item in value.items():
            if not isinstance(key, str):
                raise probatio.Invalid(f"has a key that is not a string ({type_name(key)})")
            check = fields.get(key)
            if check is None and not extra:
                known = ", ".join(f"`{k}`" for k in fields)
                raise probatio.Invalid(f"is not a field here (known: {known})", path=[key])
            try:
                (check or json_value)(item)
            except probatio.Invalid as err:
                raise _prepended(err, key) from None
        return value

    return validate


def tagged(
    tag: str,
    branches: Mapping[str, Validator],
    *,
    default: str | None = None,
    open_ended: bool = False,
) -> Validator:
    """Dispatch an object on its `tag` key (a discriminated union).

    With `open_ended`, an unknown tag passes as a plain JSON object: OpenAI adds kinds (tool
    types, audio formats) and validates them itself.
    """

    def validate(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise probatio.Invalid(f"expected an object, got {type_name(value)}")
        kind = value.get(tag, default)
        if kind is None:
            raise probatio.Invalid("required key not provided", path=[tag])
        if not isinstance(kind, str):
            raise probatio.Invalid(f"expected a string, got {type_name(kind)}", path=[tag])
        if (branch := branches.get(kind)) is not None:
            return branch(value)
        if open_ended:
            return json_value(value)
        raise probatio.Invalid(
            f"must be one of {', '.join(map(repr, branches))}, got {kind!r}", path=[tag]
        )

    return validate


def either(*validators: Validator, message: str) -> Validator:
    """Accept what any validator accepts; otherwise fail with `message`."""

    def validate(value: Any) -> Any:
        for validator in validators:
            try:
                return validator(value)
            except probatio.Invalid:
                continue
        raise probatio.Invalid(message)

    return validate


def matches(pattern: str, description: str) -> Validator:
    """Accept a string that matches `pattern` as a whole."""
    compiled = re.compile(pattern)

    def validate(value: Any) -> str:
        if not compiled.fullmatch(string(value)):
            raise probatio.Invalid(f"must be {description}, got {value!r}")
        return value  # type: ignore[no-any-return]

    return validate


def uri(value: Any) -> str:
    """Accept an absolute http(s) URL."""
    if not re.match(r"^https?://[^\s/]+", string(value)):
        raise probatio.Invalid(f"must be an absolute http(s) URL, got {value!r}")
    return value  # type: ignore[no-any-return]


def format_path(path: list[Any]) -> str:
    """Render an error path the way OpenAI writes `param` (`tools[0].type`)."""
    out = ""
    for part in path:
        key = getattr(part, "schema", part)  # Required/Optional markers wrap the key
        if isinstance(key, int) and not isinstance(key, bool):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out
