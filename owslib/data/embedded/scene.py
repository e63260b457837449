"""Procedural street scenes: layout, the background ("stuff") classes, lighting and texture.

:func:`render_scene` draws one image and its Cityscapes labelId map: sky, a perspective road with
lane markings, sidewalks, grass verges, building facades with windows, hedges, walls and fences;
then the depth-sorted objects of :mod:`owslib.data.sprites`; then texture noise, cast shadows and a
per-image exposure and tint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from owslib.data.embedded import sprites
from owslib.data.embedded.layout import Street
from owslib.data.embedded.canvas import (
    FACADE,
    FOLIAGE,
    GLASS,
    L,
    Painter,
    View,
    jitter,
    pick,
    shade,
)

S_FAR = 1.0 / 16.0  # inverse depth where the street ends (a row of distant buildings)
S_NEAR = 1.6  # beyond the bottom row: ground and facades start below the image

# Texture-noise amplitude (grey levels) per labelId: leafy vegetation is rough, sky smooth.
_TEXTURE = np.full(256, 6.0, dtype=np.float32)
for _name, _amp in {"sky": 1.5, "road": 5.0, "sidewalk": 6.0, "vegetation": 26.0, "terrain": 14.0,
                    "building": 5.0, "wall": 7.0, "fence": 6.0, "void": 10.0}.items():
    _TEXTURE[L[_name]] = _amp


def sample_layout(rng: np.random.Generator, height: int, width: int) -> tuple[View, Street]:
    """A random camera (horizon, vanishing point, focal scale) and street cross-section."""
    view = View(
        height=height,
        width=width,
        horizon=height * rng.uniform(0.36, 0.46),
        vp_x=width * rng.uniform(0.4, 0.6),
        k=width / 14.0 * rng.uniform(0.9, 1.1),
    )
    n_lanes = int(rng.integers(2, 4))
    lane_w = rng.uniform(2.8, 3.4)
    left = -(int(rng.integers(n_lanes)) + rng.uniform(0.3, 0.7)) * lane_w
    lanes = tuple(left + (i + 0.5) * lane_w for i in range(n_lanes))
    verges = [rng.uniform(1.2, 2.5) if rng.random() < 0.5 else 0.0 for _ in range(2)]
    street = Street(left, left + n_lanes * lane_w, lanes, rng.uniform(2.0, 3.0), *verges)
    return view, street


def draw_sky(rng: np.random.Generator, view: View) -> tuple[np.ndarray, np.ndarray]:
    """A vertical sky gradient (clear or overcast) with a few clouds; everything labelled sky."""
    h, w = view.height, view.width
    if rng.random() < 0.7:
        top, bottom = jitter(rng, (70, 120, 190), 15), jitter(rng, (175, 200, 230), 10)
    else:
        top, bottom = jitter(rng, (150, 155, 165), 10), jitter(rng, (205, 205, 210), 8)
    t = np.clip(np.arange(h, dtype=np.float32) / max(view.horizon, 1.0), 0, 1)[:, None, None]
    rgb = (np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t).astype(
        np.uint8
    )
    rgb = np.ascontiguousarray(np.broadcast_to(rgb, (h, w, 3)))
    label = np.full((h, w), L["sky"], dtype=np.uint8)
    painter = Painter(rgb, label)
    for _ in range(int(rng.integers(0, 4))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, view.horizon * 0.6)
        painter.ellipse(cx, cy, rng.uniform(8, 30) * w / 256, rng.uniform(3, 8) * h / 128,
                        jitter(rng, (235, 238, 242), 8), L["sky"])
    return painter.arrays()


def draw_ground(p: Painter, rng: np.random.Generator, view: View, st: Street) -> None:
    """Road with lane markings and maybe a crosswalk, sidewalks with kerbs and tiles, verges."""
    h = view.height
    p.rect(0, view.horizon, view.width, h, jitter(rng, (90, 80, 70), 10), L["void"])
    grass = jitter(rng, (150, 160, 90), 15)  # verges, and the ground behind the facades
    for x0, x1 in (
        (st.facade_left - 5000, st.road_left - st.walk),
        (st.road_right + st.walk, st.facade_right + 5000),
    ):
        p.polygon(view.quad(x0, x1, S_NEAR, 0.0), grass, L["terrain"])
    walk = jitter(rng, (178, 172, 166), 14)
    for x0 in (st.road_left - st.walk, st.road_right):
        p.polygon(view.quad(x0, x0 + st.walk, S_NEAR, 0.0), walk, L["sidewalk"])
        for d in np.arange(1.0, 1.0 / S_FAR, rng.uniform(0.8, 1.4)):
            p.line(
                view.quad(x0, x0 + st.walk, 1 / d, 1 / d)[:2], shade(walk, 0.85), L["sidewalk"], 1
            )
    road = jitter(rng, (92, 92, 96), 12)
    p.polygon(view.quad(st.road_left, st.road_right, S_NEAR, 0.0), road, L["road"])
    paint = jitter(rng, (228, 228, 222), 8)
    for x in (st.road_left + 0.15, st.road_right - 0.3):
        p.polygon(view.quad(x, x + 0.15, S_NEAR, 0.0), paint, L["road"])
    phase = rng.uniform(0, 3)
    for xb in (a + (b - a) / 2 for a, b in zip(st.lanes[:-1], st.lanes[1:], strict=True)):
        for d in np.arange(0.6 + phase, 1.0 / S_FAR, 3.0):
            p.polygon(view.quad(xb - 0.08, xb + 0.08, 1 / d, 1 / (d + 1.3)), paint, L["road"])
    if rng.random() < 0.3:
        d = rng.uniform(2.0, 5.0)
        for x in np.arange(st.road_left + 0.4, st.road_right - 0.5, 1.0):
            p.polygon(view.quad(x, x + 0.5, 1 / d, 1 / (d + 2.5)), paint, L["road"])


def _building(
    p: Painter, rng: np.random.Generator, view: View, x: float, d0: float, d1: float
) -> None:
    """A facade in the plane ``x`` between depths ``d0 < d1``, with a grid of windows."""
    height = rng.uniform(5.0, 16.0)
    wall = pick(rng, FACADE, 15)
    p.polygon(view.facade(x, 1 / d0, 1 / d1, 0.0, height), wall, L["building"])
    glass = jitter(rng, GLASS, 10) if rng.random() < 0.7 else jitter(rng, (200, 190, 150), 15)
    step_y, step_d = rng.uniform(2.6, 3.4), rng.uniform(1.8, 2.8)
    for y in np.arange(1.0, height - 1.5, step_y):
        for d in np.arange(d0 + 0.4, d1 - 0.9, step_d):
            quad = view.facade(x, 1 / d, 1 / (d + 0.5 * step_d), y, y + 0.5 * step_y)
            p.polygon(quad, glass, L["building"])
    p.line(view.facade(x, 1 / d0, 1 / d1, height, height)[:2], shade(wall, 0.7), L["building"], 1)


def _hedge(
    p: Painter, rng: np.random.Generator, view: View, x: float, d0: float, d1: float
) -> None:
    """A row of trees or a hedge in the plane ``x``: an irregular green silhouette."""
    ds = np.linspace(d0, d1, max(3, int((d1 - d0) * 3)))
    tops = np.clip(rng.uniform(2.0, 4.5) + np.cumsum(rng.normal(0, 0.4, len(ds))), 1.2, 6.0)
    pts = [view.point(x, 0.0, 1 / d0)] + [
        view.point(x, t, 1 / d) for d, t in zip(ds, tops, strict=True)
    ]
    p.polygon([*pts, view.point(x, 0.0, 1 / d1)], pick(rng, FOLIAGE, 12), L["vegetation"])


def _barrier(
    p: Painter, rng: np.random.Generator, view: View, x: float, d0: float, d1: float
) -> None:
    """A low wall (brick courses) or a fence (posts and rails) in front of the facades."""
    s0, s1 = 1 / d0, 1 / d1
    if rng.random() < 0.5:
        top = rng.uniform(0.8, 1.6)
        color = pick(rng, ((165, 160, 150), (150, 120, 100), (130, 135, 140)), 10)
        p.polygon(view.facade(x, s0, s1, 0.0, top), color, L["wall"])
        for y in np.arange(0.3, top, 0.35):
            p.line(view.facade(x, s0, s1, y, y)[:2], shade(color, 0.8), L["wall"], 1)
        return
    top = rng.uniform(1.0, 2.0)
    color = pick(rng, ((110, 120, 110), (150, 140, 120), (90, 90, 95)), 10)
    p.polygon(view.facade(x, s0, s1, 0.0, top), shade(color, 0.75), L["fence"])
    for y in (0.3, top - 0.1):
        p.line(view.facade(x, s0, s1, y, y)[:2], color, L["fence"], max(1, 0.08 * view.px(s0)))
    for d in np.arange(d0, d1, 0.5):
        p.line(view.facade(x, 1 / d, 1 / d, 0.0, top)[1:3], color, L["fence"], 1)


def draw_background(p: Painter, rng: np.random.Generator, view: View, st: Street) -> None:
    """Distant buildings at the street's end, facades and hedges on both sides, walls and fences."""
    x0, _ = view.point(st.facade_left, 0, S_FAR)
    x1, ground = view.point(st.facade_right, 0, S_FAR)
    x = x0 - 2
    while x < x1 + 2:
        w = rng.uniform(4, 12) * view.px(S_FAR)
        top = ground - rng.uniform(3, 14) * view.px(S_FAR)
        p.rect(x, top, x + w, ground, pick(rng, FACADE, 20), L["building"])
        x += w
    for side_x in (st.facade_left, st.facade_right):
        d = 0.25  # facades start beside the camera (s = 4), so no gap shows at the image border
        while d < 1 / S_FAR:
            d_next = min(d + rng.uniform(3.0, 10.0), 1 / S_FAR)
            hedge = d >= 1.0 and rng.random() < 0.22  # no giant hedge right beside the camera
            (_hedge if hedge else _building)(p, rng, view, side_x, d, d_next)
            d = d_next
        for _ in range(int(rng.integers(0, 3))):
            d0 = rng.uniform(0.8, 8.0)
            inset = 0.3 if side_x < 0 else -0.3
            _barrier(p, rng, view, side_x + inset, d0, d0 + rng.uniform(2.0, 8.0))


def _shadows(rng: np.random.Generator, view: View, st: Street) -> np.ndarray:
    """A multiplicative shading map (1 = lit) of shadows cast across the street by the facades."""
    img = Image.new("L", (view.width, view.height), 255)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 4))):
        d0 = rng.uniform(0.6, 10.0)
        d1 = d0 + rng.uniform(2.0, 8.0)
        reach = rng.uniform(3.0, 10.0)
        x0, x1 = (st.facade_left, st.facade_left + reach)
        if rng.random() < 0.35:
            x0, x1 = (st.facade_right - reach, st.facade_right)
        draw.polygon(view.quad(x0, x1, 1 / d0, 1 / d1), fill=int(rng.uniform(120, 190)))
    return np.asarray(img, dtype=np.float32) / 255.0


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Unit-variance-ish noise, bilinearly upsampled from a grid of ``cell``-pixel cells."""
    small = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR))


def finish(
    rng: np.random.Generator, rgb: np.ndarray, label: np.ndarray, shading: np.ndarray
) -> np.ndarray:
    """Texture noise (amplitude by class), shadows, exposure, tint and a vertical light falloff."""
    h, w = label.shape
    img = rgb.astype(np.float32)
    amp = _TEXTURE[label][..., None]
    grain = rng.standard_normal((h, w, 1), dtype=np.float32)
    chroma = rng.standard_normal((h, w, 3), dtype=np.float32) * 0.3
    img += amp * (0.5 * grain + 0.8 * _smooth_noise(rng, h, w, 3)[..., None] + chroma)
    img *= shading[..., None]
    gain = rng.uniform(0.65, 1.25) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    falloff = 1.0 + rng.uniform(-0.15, 0.15) * (np.arange(h, dtype=np.float32) / h - 0.5)
    img = img * gain[None, None, :] * falloff[:, None, None]
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def render_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    n_unknown: int,
    n_clutter: int,
    n_void_vehicles: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One street scene: an RGB image (H×W×3 uint8) and its labelId map (H×W uint8).

    ``n_unknown`` objects of the held-out classes (train, motorcycle, bicycle), ``n_clutter`` small
    void objects (labelIds 0/4/5) and ``n_void_vehicles`` vehicle-like void objects (caravans 29,
    trailers 30, skips and containers 4) are placed among the known objects.
    """
    view, street = sample_layout(rng, height, width)
    rgb, label = draw_sky(rng, view)
    painter = Painter(rgb, label)
    draw_ground(painter, rng, view, street)
    draw_background(painter, rng, view, street)
    shading = _shadows(rng, view, street)
    for _, draw in sprites.place_objects(
        rng, view, street, n_unknown=n_unknown, n_clutter=n_clutter, n_void_vehicles=n_void_vehicles
    ):
        draw(painter)
    rgb, label = painter.arrays()
    return finish(rng, rgb, label, shading), label
