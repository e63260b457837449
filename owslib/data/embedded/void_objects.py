"""Void objects of the synthetic scenes: vehicle-like ones (caravans, trailers, skips, containers)
and small clutter (bins, carts, blobs).

As in real Cityscapes, void is not only shapeless stuff: caravans (labelId 29) and trailers (30)
are painted, glazed and shod exactly like cars, trucks and buses (the palettes of
:mod:`owslib.data.canvas`), skips and site containers (``static``, 4) wear vehicle paint too. Their
shapes are neither a known class nor one of the held-out ones (train, motorcycle, bicycle): a
caravan is a rounded box with one door, small windows and a tow bar but no cab; a trailer is a low
bed or box on small wheels with a drawbar. So vehicle paint alone does not mean "known class".
"""

from __future__ import annotations


import numpy as np

from owslib.data.embedded.layout import Placer
from owslib.data.embedded.canvas import (
    wheel,
    CLOTHES,
    FACADE,
    GLASS,
    PAINT,
    RIM,
    TYRE,
    L,
    Painter,
    Point,
    jitter,
    pick,
    shade,
)

Rng = np.random.Generator
_CLUTTER_COLORS = PAINT + CLOTHES + FACADE
_LIGHT_PAINT = (PAINT[0], PAINT[1], PAINT[10])  # white, silver, cream: most caravans
_SKIP_PAINT = (PAINT[8], PAINT[9], PAINT[6], PAINT[7], PAINT[4], PAINT[5])
_TARP = ((70, 90, 80), (40, 60, 110), (120, 110, 90), (60, 60, 64))
_STEEL = (55, 55, 60)


def _rounded(x0: float, y0: float, x1: float, y1: float, radii: tuple[float, ...]) -> list[Point]:
    """A rectangle (``y0`` top) with rounded corners; ``radii`` = top-right, bottom-right,
    bottom-left, top-left, each clipped to half the shorter side."""
    lim = 0.5 * min(x1 - x0, y1 - y0)
    centres = ((x1, y0, -1, 1), (x1, y1, -1, -1), (x0, y1, 1, -1), (x0, y0, 1, 1))
    pts: list[Point] = []
    for i, ((cx, cy, dx, dy), r) in enumerate(zip(centres, radii, strict=True)):
        r = min(max(r, 0.0), lim)
        for a in np.linspace(-0.5 * np.pi + i * 0.5 * np.pi, i * 0.5 * np.pi, 4):
            pts.append((cx + dx * r + r * np.cos(a), cy + dy * r + r * np.sin(a)))
    return pts


def _caravan_paint(rng: Rng) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Body colour (mostly light, sometimes any vehicle paint) and a stripe colour."""
    body = pick(rng, _LIGHT_PAINT if rng.random() < 0.65 else PAINT, 10)
    return body, pick(rng, PAINT, 10)


def caravan_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A caravan from the side: rounded box, one door, small windows, one axle, A-frame tow bar."""
    lbl, (paint, stripe) = L["caravan"], _caravan_paint(rng)
    f = 1 if rng.random() < 0.5 else -1  # the tow bar's side
    half, top, bottom = rng.uniform(2.2, 3.2) * u, y - rng.uniform(2.4, 2.9) * u, y - 0.4 * u
    front = x + f * half
    hitch = (front + f * rng.uniform(0.9, 1.2) * u, y - 0.5 * u)
    p.line([(front - f * 0.6 * u, bottom), hitch, (front, bottom - 0.3 * u)], _STEEL, lbl, 0.1 * u)
    p.line([hitch, (hitch[0], y - 0.15 * u)], _STEEL, lbl, 0.08 * u)
    p.ellipse(hitch[0], y - 0.1 * u, 0.1 * u, 0.1 * u, TYRE, lbl)  # jockey wheel
    nose, tail = rng.uniform(0.6, 1.0) * u, 0.35 * u  # the front is more rounded
    radii = (nose, 0.12 * u, 0.12 * u, tail) if f > 0 else (tail, 0.12 * u, 0.12 * u, nose)
    p.polygon(_rounded(x - half, top, x + half, bottom, radii), paint, lbl)
    p.rect(x - half + 0.1 * u, bottom - 0.6 * u, x + half - 0.1 * u, bottom - 0.45 * u, stripe, lbl)
    p.rect(x - 0.3 * u, top - 0.12 * u, x + 0.3 * u, top + 0.02 * u, shade(paint, 0.8), lbl)
    door = x - f * rng.uniform(0.15, 0.6) * half
    glass = jitter(rng, GLASS, 8)
    p.rect(door - 0.32 * u, top + 0.45 * u, door + 0.32 * u, bottom - 0.05 * u, shade(paint, 0.85),
           lbl)
    p.rect(door - 0.18 * u, top + 0.65 * u, door + 0.18 * u, top + 1.05 * u, glass, lbl)
    wy, wh = top + rng.uniform(0.55, 0.75) * u, rng.uniform(0.4, 0.6) * u
    for t in (-0.7, -0.3, 0.3, 0.7):
        cx = x + t * half
        ww = rng.uniform(0.6, 1.0) * u
        if abs(cx - door) > 0.4 * u + ww / 2 and rng.random() < 0.75:
            p.rect(cx - ww / 2, wy, cx + ww / 2, wy + wh, glass, lbl)
    for end in (x - half + 0.3 * u, x + half - 0.3 * u):  # corner steadies
        p.line([(end, bottom), (end, y)], _STEEL, lbl, 0.07 * u)
    wheel(p, x + f * rng.uniform(-0.12, 0.08) * half, y - 0.33 * u, 0.33 * u, lbl)


def caravan_rear(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A caravan from behind: rounded-top box, one small high window, lamp strips, no cab."""
    lbl, (paint, stripe) = L["caravan"], _caravan_paint(rng)
    w, top, bottom = rng.uniform(1.05, 1.25) * u, y - rng.uniform(2.4, 2.8) * u, y - 0.35 * u
    for sx in (-1, 1):
        p.rect(x + sx * 0.6 * w, y - 0.5 * u, x + sx * 0.82 * w, y, TYRE, lbl)
    r = rng.uniform(0.35, 0.55) * u
    p.polygon(_rounded(x - w, top, x + w, bottom, (r, 0.1 * u, 0.1 * u, r)), paint, lbl)
    p.rect(x - w + 0.05 * u, bottom - 0.62 * u, x + w - 0.05 * u, bottom - 0.5 * u, stripe, lbl)
    ww = rng.uniform(0.35, 0.6) * w
    p.rect(x - ww, top + 0.4 * u, x + ww, top + rng.uniform(0.8, 1.0) * u, jitter(rng, GLASS, 8),
           lbl)
    for sx in (-1, 1):
        p.rect(x + sx * 0.92 * w, bottom - 0.8 * u, x + sx * 0.76 * w, bottom - 0.2 * u,
               (190, 30, 30), lbl)
    p.rect(x - 0.22 * w, bottom - 0.34 * u, x + 0.22 * w, bottom - 0.18 * u, (225, 225, 225), lbl)
    p.rect(x - w, bottom - 0.08 * u, x + w, bottom + 0.05 * u, _STEEL, lbl)


def _cargo(p: Painter, rng: Rng, x0: float, x1: float, deck: float, u: float, paint: tuple) -> None:
    """What a trailer carries above its deck: a box, low sides, or low sides with a tarp load."""
    lbl, kind = L["trailer"], int(rng.integers(3))
    if kind == 0:
        top = deck - rng.uniform(1.0, 1.7) * u
        p.rect(x0, top, x1, deck, paint, lbl)
        for rx in np.linspace(x0, x1, int(rng.integers(3, 6)))[1:-1]:
            p.line([(rx, top + 0.05 * u), (rx, deck - 0.05 * u)], shade(paint, 0.8), lbl, 0.05 * u)
        return
    if kind == 2:
        h = rng.uniform(0.4, 0.9) * u
        tarp = pick(rng, _TARP, 10)
        p.polygon(_rounded(x0 + 0.1 * u, deck - 0.3 * u - h, x1 - 0.1 * u, deck - 0.2 * u,
                           (0.3 * u, 0, 0, 0.3 * u)), tarp, lbl)
    p.rect(x0, deck - 0.35 * u, x1, deck, paint, lbl)
    p.line([(x0, deck - 0.33 * u), (x1, deck - 0.33 * u)], shade(paint, 0.7), lbl, 0.05 * u)


def trailer_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A trailer from the side: a bed (open, tarped or boxed) on one or two small axles, drawbar."""
    lbl, paint = L["trailer"], pick(rng, PAINT)
    f, half = (1 if rng.random() < 0.5 else -1), rng.uniform(1.0, 1.8) * u
    deck, front = y - rng.uniform(0.5, 0.62) * u, x + f * half
    hitch = (front + f * rng.uniform(0.9, 1.3) * u, y - 0.45 * u)
    p.line([(x, deck + 0.08 * u), hitch, (front, deck + 0.05 * u)], _STEEL, lbl, 0.09 * u)
    p.ellipse(hitch[0], hitch[1], 0.11 * u, 0.08 * u, TYRE, lbl)  # coupling head
    p.rect(x - half, deck, x + half, deck + 0.12 * u, _STEEL, lbl)
    _cargo(p, rng, x - half, x + half, deck, u, paint)
    axles = (x,) if rng.random() < 0.6 else (x - 0.33 * u, x + 0.33 * u)
    for ax in axles:
        wheel(p, ax, y - 0.27 * u, 0.27 * u, lbl)
    p.rect(min(axles) - 0.38 * u, deck - 0.08 * u, max(axles) + 0.38 * u, deck + 0.04 * u,
           shade(paint, 0.55), lbl)


def trailer_rear(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A trailer from behind: low bed or box, wheels under outboard mudguards, a lamp bar."""
    lbl, paint = L["trailer"], pick(rng, PAINT)
    w, deck = rng.uniform(0.75, 0.95) * u, y - rng.uniform(0.5, 0.62) * u
    for sx in (-1, 1):
        p.rect(x + sx * 0.9 * w, y - 0.54 * u, x + sx * (0.9 * w + 0.2 * u), y, TYRE, lbl)
        p.rect(x + sx * 0.85 * w, deck - 0.1 * u, x + sx * (0.9 * w + 0.28 * u), deck, _STEEL, lbl)
    _cargo(p, rng, x - w, x + w, deck, u, paint)
    p.rect(x - w, deck, x + w, deck + 0.2 * u, _STEEL, lbl)
    for sx in (-1, 1):
        p.rect(x + sx * w, deck + 0.03 * u, x + sx * 0.7 * w, deck + 0.17 * u, (190, 30, 30), lbl)
    p.rect(x - 0.25 * w, deck + 0.03 * u, x + 0.25 * w, deck + 0.17 * u, (225, 225, 225), lbl)


def skip_bin(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A builder's skip (``static``): a trapezoid wider at the top with lugs, maybe rubble in it."""
    lbl, paint = L["static"], pick(rng, _SKIP_PAINT, 10)
    wb, h = rng.uniform(0.9, 1.4) * u, rng.uniform(0.9, 1.3) * u
    wt = wb + rng.uniform(0.3, 0.6) * u
    if rng.random() < 0.5:
        heap = [(x - wt + 0.2 * u, y - h), (x - 0.2 * wt, y - h - 0.4 * u), (x + 0.3 * wt, y - h - 0.25 * u),
                (x + wt - 0.2 * u, y - h)]
        p.polygon(heap, pick(rng, ((120, 110, 100), (140, 100, 70), (100, 100, 105)), 12), lbl)
    p.polygon([(x - wb, y), (x + wb, y), (x + wt, y - h), (x - wt, y - h)], paint, lbl)
    p.line([(x - wt, y - h), (x + wt, y - h)], shade(paint, 0.7), lbl, 0.1 * u)
    for t in (-0.5, 0.0, 0.5):
        p.line([(x + t * wb, y), (x + t * wt, y - h)], shade(paint, 0.8), lbl, 0.06 * u)
    for sx in (-1, 1):
        p.rect(x + sx * (wt - 0.05 * u), y - 0.7 * h, x + sx * (wt + 0.1 * u), y - 0.5 * h,
               shade(paint, 0.6), lbl)


def container(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A site or shipping container (``static``): a long ribbed box in vehicle paint."""
    lbl, paint = L["static"], pick(rng, PAINT)
    half, h = rng.uniform(1.5, 3.0) * u, rng.uniform(2.2, 2.6) * u
    p.rect(x - half, y - h, x + half, y, paint, lbl)
    for rx in np.arange(x - half + 0.3 * u, x + half, 0.3 * u):
        p.line([(rx, y - h + 0.15 * u), (rx, y - 0.15 * u)], shade(paint, 0.82), lbl, 0.05 * u)
    for ry in (y - h, y - 0.1 * u):
        p.rect(x - half, ry, x + half, ry + 0.12 * u, shade(paint, 0.6), lbl)
    if rng.random() < 0.5:  # a site cabin's window
        cx = x + rng.uniform(-0.5, 0.5) * half
        p.rect(cx - 0.5 * u, y - 0.75 * h, cx + 0.5 * u, y - 0.4 * h, jitter(rng, GLASS, 8), lbl)


def clutter(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """Unlabelled stuff: a bin or crate (static), a cart (dynamic) or a blob (unlabeled).

    More than half of it wears vehicle paint; carts have rimmed wheels, sometimes a window.
    """
    palette = PAINT if rng.random() < 0.6 else _CLUTTER_COLORS
    color, kind = pick(rng, palette, 15), int(rng.integers(3))
    w, h = rng.uniform(0.4, 1.0) * u, rng.uniform(0.5, 1.2) * u
    if kind == 0:
        p.rect(x - w / 2, y - h, x + w / 2, y, color, L["static"])
        p.rect(x - w / 2 - 0.05 * u, y - h, x + w / 2 + 0.05 * u, y - h + 0.1 * u,
               shade(color, 0.7), L["static"])
    elif kind == 1:
        p.rect(x - w, y - h, x + w, y - 0.2 * u, color, L["dynamic"])
        if rng.random() < 0.4:
            p.rect(x - 0.6 * w, y - h + 0.1 * u, x + 0.6 * w, y - 0.5 * h, jitter(rng, GLASS, 8),
                   L["dynamic"])
        for sx in (-1, 1):
            wheel(p, x + sx * 0.7 * w, y - 0.12 * u, 0.12 * u, L["dynamic"])
    else:
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        radii = rng.uniform(0.5, 1.0, 7) * w
        pts = [(x + r * np.cos(a), y - h / 2 + 0.7 * r * np.sin(a))
               for a, r in zip(angles, radii, strict=True)]
        p.polygon(pts, color, L["void"])


#: Vehicle-like void objects: draw function, where they may stand, inverse-depth range, weight.
KINDS = (
    (caravan_side, ("edge", "road", "green"), (0.1, 0.45), 0.22),
    (caravan_rear, ("edge", "road", "green"), (0.1, 0.55), 0.2),
    (trailer_side, ("edge", "road", "green"), (0.12, 0.6), 0.22),
    (trailer_rear, ("edge", "road"), (0.12, 0.65), 0.16),
    (skip_bin, ("edge", "walk", "green"), (0.15, 0.7), 0.1),
    (container, ("green", "walk"), (0.1, 0.45), 0.1),
)
_WEIGHTS = np.array([k[3] for k in KINDS]) / sum(k[3] for k in KINDS)


def place_void_vehicles(pl: Placer, rng: Rng, n: int) -> None:
    """Add ``n`` vehicle-like void objects (caravans, trailers, skips, containers) to ``pl``."""
    for _ in range(n):
        fn, wheres, s_range, _ = KINDS[int(rng.choice(len(KINDS), p=_WEIGHTS))]
        pl.add(wheres[int(rng.integers(len(wheres)))], s_range, fn)
