"""Reproductions of what the soak's design turned up (benchmarks/soak.py), kept until fixed.

Each test states the behaviour the integration should have; it is marked `xfail(strict=True)`
while the integration does not have it, so CI stays green and the mark must go with the fix.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.openai_api.realtime import hangup as hangup_module
from custom_components.openai_api.realtime.models import EndReason
from simulator import RealtimeSimulator

from .voice_helpers import attach_sim_call, until


@pytest.mark.xfail(
    strict=True,
    reason="CallManager._new_call replaces a call HA is still hanging up; the old call's end "
    "then removes the new one from the manager, which keeps its sideband open unmanaged",
)
async def test_attach_while_the_same_call_is_being_hung_up(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    simulator: RealtimeSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call id attached again while HA hangs it up stays under the manager's control."""
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
    second = await attach_sim_call(loaded_entry, sim_call)
    try:
        assert second is not first
        await hanging_up
        await until(lambda: len(sim_call.sidebands) == 1)  # the second call's sideband is live

        # HA has a live sideband into this call: the manager must know the call it belongs
        # to (so the satellite shows it, and unloading hangs it up).
        assert manager.get(sim_call.call_id) is second
    finally:
        simulator.clear()  # the remaining hang-up faults
        await second.async_hangup(EndReason.HANGUP_COMMAND)  # unload would not (the bug)
