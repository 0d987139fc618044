"""Fixtures of the end-to-end tests: one world (simulator, HA, Chromium) for the whole module.

These tests do not use the in-process `hass` of pytest-homeassistant-custom-component: Home
Assistant runs as a real subprocess. The harness's per-test checks still apply (no lingering
tasks on the test's loop, no new threads, no blocked sockets): the world lives on its own
thread, started before the first test and stopped after the last.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from .harness import Harness, running


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replace tests/conftest.py's fixture of that name, which sets up an in-process `hass`.

    Home Assistant runs as a subprocess here and loads custom_components/ from the checkout.
    """


@pytest.fixture(autouse=True)
def _real_sockets(socket_enabled: None) -> None:
    """The browser, Home Assistant and the simulator talk over loopback sockets."""


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """Start the simulator, Home Assistant and Chromium once for all tests of the module."""
    yield from running(Harness, tmp_path_factory.mktemp("e2e") / "config")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Let fixtures know whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def world(e2e: Harness, request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The world for one test; afterwards no call is live and no page is open."""
    yield e2e
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        e2e.run(e2e.screenshot_pages(request.node.name))
    e2e.run(e2e.quiesce())
