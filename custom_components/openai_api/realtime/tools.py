"""Home Assistant LLM API tools as Realtime function tools, and their execution."""

from __future__ import annotations

from collections.abc import Callable
import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import llm
import probatio

from ..const import LOGGER

# Keys the Realtime API rejects at the top level of a function's parameter schema (the same
# set HA's openai_conversation strips).
_UNSUPPORTED_TOP_LEVEL = {"oneOf", "anyOf", "allOf", "enum", "not"}


def format_tool(tool: llm.Tool, custom_serializer: Callable[[Any], Any] | None) -> dict[str, Any]:
    """Turn an HA LLM tool into a Realtime `function` tool."""
    schema: dict[str, Any] = probatio.to_openapi(
        tool.parameters, custom_serializer=custom_serializer, openapi_version="3.1.0"
    )
    if _UNSUPPORTED_TOP_LEVEL.intersection(schema):
        schema = {k: v for k, v in schema.items() if k not in _UNSUPPORTED_TOP_LEVEL}
    result: dict[str, Any] = {"type": "function", "name": tool.name, "parameters": schema}
    if tool.description:
        result["description"] = tool.description
    return result


def format_tools(api: llm.APIInstance | None) -> list[dict[str, Any]]:
    """All tools of an API instance, in Realtime form."""
    if api is None:
        return []
    return [format_tool(tool, api.custom_serializer) for tool in api.tools]


async def async_run_tool(api: llm.APIInstance | None, name: str, arguments: str) -> str:
    """Run one tool call; return the JSON output the model gets back.

    Failures are reported to the model as an `error` output instead of raised: the model can
    then tell the user what went wrong, and the call goes on.
    """
    if api is None:
        return json.dumps({"error": "NoTools", "error_text": "No tools are available"})
    try:
        args = json.loads(arguments) if arguments else {}
        if not isinstance(args, dict):
            raise TypeError("arguments must be a JSON object")
    except (ValueError, TypeError) as err:
        return json.dumps({"error": "InvalidArguments", "error_text": str(err)})
    try:
        result = await api.async_call_tool(llm.ToolInput(tool_name=name, tool_args=args))
    except (HomeAssistantError, probatio.Invalid) as err:
        return json.dumps({"error": type(err).__name__, "error_text": str(err)})
    except Exception as err:
        LOGGER.exception("Tool %s failed", name)
        return json.dumps({"error": type(err).__name__, "error_text": str(err)})
    return tool_output(name, result)


def tool_output(name: str, result: llm.ToolResult) -> str:
    """Serialize a tool's result for the model; a result JSON cannot carry becomes an error.

    Objects JSON does not know are written as text; what still cannot be written (keys that are
    not strings, NaN, cycles, absurd nesting) must not leave the model without an output.
    """
    data: Any = result.data
    if result.error:
        data = {"error": True, **(data if isinstance(data, dict) else {"result": data})}
    try:
        return json.dumps(data, default=str, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        LOGGER.warning("Tool %s returned a result that is not JSON: %s", name, err)
        return json.dumps(
            {"error": "UnserializableResult", "error_text": "The tool's result is not JSON"}
        )


async def async_get_api(
    hass: HomeAssistant, api_ids: list[str], llm_context: llm.LLMContext
) -> llm.APIInstance | None:
    """Return the profile's LLM API instance, or None when it uses none."""
    if not api_ids:
        return None
    return await llm.async_get_api(hass, api_ids, llm_context)
