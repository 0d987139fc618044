"""Pieces of a Home Assistant set-up shared by the benchmarks and the test suite.

Nothing here imports from tests/: the benchmarks must run without the test package, and the
test fixture `test_light` can use the same light (`async_setup_test_light`).
"""

from __future__ import annotations

from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

LIGHT = "light.test_light"


async def async_setup_test_light(hass: HomeAssistant) -> str:
    """A template light on an input_boolean, exposed to Assist; return its entity id."""
    power = "input_boolean.test_light_power"
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"test_light_power": {"name": "power"}}}
    )
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "light": [
                        {
                            "name": "Test light",
                            "state": f"{{{{ is_state('{power}', 'on') }}}}",
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": {"entity_id": power},
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": {"entity_id": power},
                            },
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()
    async_expose_entity(hass, "conversation", LIGHT, True)
    return LIGHT
