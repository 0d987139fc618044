"""Home Assistant serves our brand images from the integration's brand/ folder.

HA 2026.3+ serves every integration image at /api/brands/integration/{domain}/{image}
(homeassistant.components.brands), a custom integration's own brand/ files first.
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.components.brands.const import ALLOWED_IMAGES, IMAGE_FALLBACKS
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

import custom_components.openai_api as integration
from custom_components.openai_api.const import DOMAIN

BRAND = Path(integration.__file__).parent / "brand"


def served_file(image: str) -> Path:
    """The file of brand/ HA should answer `image` with: its own, or its fallback."""
    return next(
        BRAND / name
        for name in (image, *IMAGE_FALLBACKS.get(image, ()))
        if (BRAND / name).is_file()
    )


@pytest.mark.parametrize("image", sorted(ALLOWED_IMAGES))
async def test_home_assistant_serves_our_brand_images(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, image: str
) -> None:
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    resp = await client.get(f"/api/brands/integration/{DOMAIN}/{image}")
    assert resp.status == 200
    assert resp.content_type == "image/png"
    assert await resp.read() == served_file(image).read_bytes()


def test_we_ship_the_icons_and_no_logo() -> None:
    """What the test above relies on: icons of our own; logos fall back to them."""
    assert sorted(p.name for p in BRAND.iterdir()) == [
        "dark_icon.png",
        "dark_icon@2x.png",
        "icon.png",
        "icon@2x.png",
    ]
    assert served_file("logo@2x.png").name == "icon.png"
    assert served_file("dark_logo@2x.png").name == "dark_icon@2x.png"
