"""What the soak's design turned up (benchmarks/soak.py), as regression tests."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api.realtime import hangup as hangup_module
from custom_components.openai_api.realtime.models import EndReason
from simulator import RealtimeSimulator

from .voice_helpers import attach_sim_call, until


async def test_attach_while_the_same_call_is_being_hung_up(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    simulator: RealtimeSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call id attached again while HA hangs it up is refused; no sideband escapes.

    Before the fix, a second call object took the id's place in the manager, and the first
    one's end removed it: its sideband (and tools) ran on, unknown to the satellite and unload.
    """
    monkeypatch.setattr(hangup_module, "RETRY_DELAYS", (0.05, 0.05, 0.05, 0.05))
    manager = loaded_entry.runtime_data.manager
    sim_call = simulator.add_call()
    first = await attach_sim_call(loaded_entry, sim_call)
    await until(lambda: sim_call.sidebands)

    # OpenAI fails every hang-up attempt of this call: HA retries, then gives up on it.
    path = f"/realtime/calls/{sim_call.call_id}/hangup"
    simulator.add_fault(path, "503", count=10)
    hanging_up = hass.async_create_task(first.async_hangup(EndReason.HANGUP_COMMAND))
    await until(lambda: simulator.requests_to(path))

    # Meanwhile its user, holding a new secret of the profile, attaches the same call id.
    with pytest.raises(ServiceValidationError) as err:
        await attach_sim_call(loaded_entry, sim_call)
    assert err.value.translation_key == "call_ending"
    await hanging_up
    await until(lambda: not sim_call.sidebands)
    assert manager.held(sim_call.call_id) is None
    assert manager.calls == []
    simulator.clear()
