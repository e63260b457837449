"""Drawing surface of the synthetic scenes: a perspective view, a paired RGB/labelId painter, palettes.

Every primitive is drawn twice with the same geometry — colour into the RGB image, the Cityscapes
``labelId`` into the label image — so labels align with pixels exactly (PIL rasterises a shape the
same way in both modes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from owslib.labels import LABEL_ID_BY_NAME

Color = tuple[int, int, int]
Point = tuple[float, float]

#: labelIds by short name (the official Cityscapes ids; see ``owslib.labels``).
L = {
    "void": LABEL_ID_BY_NAME["unlabeled"],
    "static": LABEL_ID_BY_NAME["static"],
    "dynamic": LABEL_ID_BY_NAME["dynamic"],
    **{n: LABEL_ID_BY_NAME[n] for n in ("road", "sidewalk", "building", "wall", "fence", "pole")},
    **{n: LABEL_ID_BY_NAME[n] for n in ("vegetation", "terrain", "sky", "person", "rider", "car")},
    **{n: LABEL_ID_BY_NAME[n] for n in ("truck", "bus", "train", "motorcycle", "bicycle")},
    **{n: LABEL_ID_BY_NAME[n] for n in ("caravan", "trailer")},  # void vehicles (trainId 255)
    "light": LABEL_ID_BY_NAME["traffic light"],
    "sign": LABEL_ID_BY_NAME["traffic sign"],
}

# Palettes. Vehicle paint is shared by cars, trucks, buses and by the unknown classes (train,
# motorcycle, bicycle), so an unknown object cannot be told apart by its colour alone.
PAINT: tuple[Color, ...] = (
    (235, 235, 232), (182, 184, 190), (32, 32, 38), (30, 52, 112), (168, 32, 30), (82, 84, 90),
    (52, 92, 172), (40, 92, 62), (222, 182, 42), (212, 112, 32), (200, 190, 160), (120, 20, 40),
)
GLASS: Color = (48, 60, 78)
TYRE: Color = (24, 24, 26)
RIM: Color = (150, 152, 156)
CLOTHES: tuple[Color, ...] = (
    (30, 30, 40), (60, 60, 70), (140, 30, 30), (30, 60, 130), (200, 200, 200), (90, 70, 50),
    (40, 100, 60), (200, 120, 40), (110, 40, 110), (170, 160, 120),
)
SKIN: tuple[Color, ...] = ((230, 190, 160), (200, 150, 110), (150, 100, 70), (100, 70, 50))
FACADE: tuple[Color, ...] = (
    (200, 185, 160), (160, 160, 160), (150, 80, 60), (225, 222, 210), (200, 160, 90),
    (170, 180, 190), (120, 110, 100),
)
FOLIAGE: tuple[Color, ...] = ((60, 100, 40), (45, 85, 35), (80, 110, 50), (55, 90, 60))


def jitter(rng: np.random.Generator, color: Color, amount: float = 12.0) -> Color:
    """``color`` with independent uniform noise of ±``amount`` per channel, clipped to 0..255."""
    c = np.clip(np.asarray(color, dtype=np.float64) + rng.uniform(-amount, amount, 3), 0, 255)
    return tuple(int(v) for v in c)  # type: ignore[return-value]


def pick(rng: np.random.Generator, palette: Sequence[Color], amount: float = 12.0) -> Color:
    """A jittered random entry of ``palette``."""
    return jitter(rng, palette[int(rng.integers(len(palette)))], amount)


def shade(color: Color, factor: float) -> Color:
    """``color`` scaled by ``factor`` (darker below 1), clipped."""
    return tuple(int(min(255, max(0, c * factor))) for c in color)  # type: ignore[return-value]


@dataclass(frozen=True)
class View:
    """A pinhole camera over a flat street: ``s`` is inverse depth (1 at the bottom image row).

    World ``X`` is lateral (units ≈ metres, camera at 0), ``Y`` height above ground. A ground point
    at inverse depth ``s`` lies on row ``horizon + (height - horizon) * s``; sizes scale with
    ``k * s`` pixels per unit.
    """

    height: int
    width: int
    horizon: float
    vp_x: float
    k: float

    def px(self, s: float) -> float:
        """Pixels per world unit at inverse depth ``s``."""
        return self.k * s

    def ground_y(self, s: float) -> float:
        return self.horizon + (self.height - self.horizon) * s

    def point(self, x: float, y: float, s: float) -> Point:
        """Screen position of world point (lateral ``x``, height ``y``) at inverse depth ``s``."""
        return (self.vp_x + x * self.k * s, self.ground_y(s) - y * self.k * s)

    def quad(self, x0: float, x1: float, s0: float, s1: float, y: float = 0.0) -> list[Point]:
        """A horizontal patch at height ``y`` spanning lateral ``x0..x1`` and depths ``s0..s1``."""
        return [
            self.point(x0, y, s0),
            self.point(x1, y, s0),
            self.point(x1, y, s1),
            self.point(x0, y, s1),
        ]

    def facade(self, x: float, s0: float, s1: float, y0: float, y1: float) -> list[Point]:
        """A vertical patch in the plane of lateral ``x`` (parallel to the street)."""
        return [
            self.point(x, y0, s0),
            self.point(x, y0, s1),
            self.point(x, y1, s1),
            self.point(x, y1, s0),
        ]


class Painter:
    """Draws every shape into an RGB image and, with the same geometry, into a labelId image."""

    def __init__(self, rgb: np.ndarray, label: np.ndarray) -> None:
        self._rgb_img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
        self._lab_img = Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8))
        self._rgb = ImageDraw.Draw(self._rgb_img)
        self._lab = ImageDraw.Draw(self._lab_img)

    def polygon(self, pts: Sequence[Point], color: Color, label: int) -> None:
        self._rgb.polygon(list(pts), fill=color)
        self._lab.polygon(list(pts), fill=label)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color, label: int) -> None:
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        self._rgb.rectangle(box, fill=color)
        self._lab.rectangle(box, fill=label)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color: Color, label: int) -> None:
        rx, ry = max(rx, 0.5), max(ry, 0.5)
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        self._rgb.ellipse(box, fill=color)
        self._lab.ellipse(box, fill=label)

    def ring(self, cx: float, cy: float, r: float, color: Color, label: int, width: float) -> None:
        """A circle outline (a wheel) of radius ``r`` and stroke ``width`` pixels."""
        r = max(r, 1.0)
        box = (cx - r, cy - r, cx + r, cy + r)
        w = max(1, round(width))
        self._rgb.ellipse(box, outline=color, width=w)
        self._lab.ellipse(box, outline=label, width=w)

    def line(self, pts: Sequence[Point], color: Color, label: int, width: float) -> None:
        w = max(1, round(width))
        self._rgb.line(list(pts), fill=color, width=w)
        self._lab.line(list(pts), fill=label, width=w)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The RGB (H×W×3) and labelId (H×W) images drawn so far, as uint8 arrays."""
        return np.asarray(self._rgb_img).copy(), np.asarray(self._lab_img).copy()


def wheel(p: Painter, x: float, y: float, r: float, label: int) -> None:
    """A tyre with its rim, of radius ``r`` at ``(x, y)``."""
    p.ellipse(x, y, r, r, TYRE, label)
    p.ellipse(x, y, 0.45 * r, 0.45 * r, RIM, label)
