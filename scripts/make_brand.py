"""Draw the integration's brand images into custom_components/<domain>/brand/.

The mark is a speech bubble shaped like a house, with a sound wave cut out of it: voice in the
home. It is our own drawing (no third-party logo). Sizes follow home-assistant/brands: icons are
square, 256x256 and 512x512 (@2x), PNG with a transparent background, trimmed to the edges.
HA falls back to the icon where there is no logo, so no logo is drawn.

Run: scripts/run python scripts/make_brand.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]

# Drawn this many times larger, then scaled down: Pillow draws polygons without antialiasing.
SUPERSAMPLE = 4

# (top, bottom) of the vertical gradient; the dark variant is lighter so it reads on dark themes.
LIGHT = ((0x7B, 0x61, 0xFF), (0x3F, 0x2B, 0xC4))
DARK = ((0xC4, 0xB8, 0xFF), (0x8A, 0x73, 0xFF))

# The silhouette in unit coordinates (0..1 of the canvas).
ROOF = [(0.0, 0.47), (0.5, 0.03), (1.0, 0.47)]
BODY = (0.13, 0.40, 0.87, 0.84)
TAIL = [(0.20, 0.80), (0.12, 0.99), (0.46, 0.80)]
# The sound wave: bar heights, centred in the body.
BARS = (0.12, 0.24, 0.34, 0.24, 0.12)
BAR_WIDTH = 0.075
BAR_PITCH = 0.125
WAVE_CENTRE = (0.5, 0.625)
ROUNDING = 0.035  # corner radius, as blur before thresholding


def integration_dir() -> Path:
    """The one integration of this repository (found, not named)."""
    (manifest,) = ROOT.glob("custom_components/*/manifest.json")
    return manifest.parent


def _silhouette(size: int) -> Image.Image:
    """The bubble as a mask, corners rounded, trimmed and scaled to fill the canvas."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)

    def px(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * size, y * size) for x, y in points]

    draw.polygon(px(ROOF), fill=255)
    draw.rectangle([c * size for c in BODY], fill=255)
    draw.polygon(px(TAIL), fill=255)
    # Blur and threshold rounds every corner, convex and concave alike.
    mask = mask.filter(ImageFilter.GaussianBlur(ROUNDING * size))
    mask = mask.point(lambda v: 255 if v >= 128 else 0)

    bars = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(bars)
    cx, cy = WAVE_CENTRE
    first = cx - BAR_PITCH * (len(BARS) - 1) / 2
    for i, height in enumerate(BARS):
        x = first + i * BAR_PITCH
        box = [(x - BAR_WIDTH / 2) * size, (cy - height / 2) * size]
        box += [(x + BAR_WIDTH / 2) * size, (cy + height / 2) * size]
        draw.rounded_rectangle(box, radius=BAR_WIDTH / 2 * size, fill=255)
    mask = ImageChops.subtract(mask, bars)

    # Trim, then scale the shape to touch the canvas edges (brands wants no empty margin).
    bbox = mask.getbbox()
    assert bbox is not None
    shape = mask.crop(bbox)
    scale = size / max(shape.size)
    shape = shape.resize(
        (round(shape.width * scale), round(shape.height * scale)), Image.Resampling.LANCZOS
    )
    canvas = Image.new("L", (size, size), 0)
    canvas.paste(shape, ((size - shape.width) // 2, (size - shape.height) // 2))
    return canvas


def draw_icon(size: int, colors: tuple[tuple[int, int, int], tuple[int, int, int]]) -> Image.Image:
    """The icon at `size` pixels square, RGBA on a transparent background."""
    big = size * SUPERSAMPLE
    top, bottom = colors
    gradient = Image.new("RGB", (1, big))
    for y in range(big):
        t = y / (big - 1)
        gradient.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    image = gradient.resize((big, big)).convert("RGBA")
    image.putalpha(_silhouette(big))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write icon, icon@2x and their dark variants."""
    brand = integration_dir() / "brand"
    brand.mkdir(exist_ok=True)
    for prefix, colors in (("", LIGHT), ("dark_", DARK)):
        draw_icon(256, colors).save(brand / f"{prefix}icon.png", optimize=True)
        draw_icon(512, colors).save(brand / f"{prefix}icon@2x.png", optimize=True)


if __name__ == "__main__":
    main()
