"""Vehicle sprites of the synthetic scenes: cars, trucks, buses and the unknown train/motorcycle/bicycle.

Each function draws one object standing on the ground point ``(x, y)`` at ``u`` pixels per world
unit. All bodies take their paint from the same palette (:data:`owslib.data.canvas.PAINT`), wheels
and glass share colours too: the unknown classes differ from the known ones by shape, not colour.
"""

from __future__ import annotations

import numpy as np

from owslib.data.embedded.canvas import (
    GLASS,
    PAINT,
    RIM,
    TYRE,
    L,
    Painter,
    jitter,
    pick,
    shade,
    wheel,
)

Rng = np.random.Generator


def car_rear(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A car seen from behind (or the front): body, cabin with window, wheels, lamps."""
    paint, lbl = pick(rng, PAINT), L["car"]
    w = rng.uniform(0.85, 0.95) * u
    for sx in (-1, 1):
        p.rect(x + sx * 0.62 * w, y - 0.45 * u, x + sx * 0.9 * w, y, TYRE, lbl)
    p.rect(x - w, y - 1.0 * u, x + w, y - 0.25 * u, paint, lbl)
    cabin = [(x - 0.85 * w, y - 1.0 * u), (x + 0.85 * w, y - 1.0 * u), (x + 0.65 * w, y - 1.5 * u),
             (x - 0.65 * w, y - 1.5 * u)]
    p.polygon(cabin, shade(paint, 0.93), lbl)
    glass = [(x - 0.75 * w, y - 1.05 * u), (x + 0.75 * w, y - 1.05 * u), (x + 0.6 * w, y - 1.42 * u),
             (x - 0.6 * w, y - 1.42 * u)]
    p.polygon(glass, jitter(rng, GLASS, 8), lbl)
    lamp = (190, 25, 25) if rng.random() < 0.6 else (235, 230, 200)
    for sx in (-1, 1):
        p.rect(x + sx * 0.7 * w, y - 0.85 * u, x + sx * 0.95 * w, y - 0.7 * u, lamp, lbl)
    p.rect(x - 0.25 * w, y - 0.55 * u, x + 0.25 * w, y - 0.42 * u, (225, 225, 225), lbl)


def car_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A car seen from the side: long body, cabin with two windows, two wheels."""
    paint, lbl = pick(rng, PAINT), L["car"]
    half = rng.uniform(1.9, 2.3) * u
    f = 1 if rng.random() < 0.5 else -1  # which way it faces
    p.polygon([(x - half, y - 0.3 * u), (x + half, y - 0.3 * u), (x + half, y - 0.85 * u),
               (x - half, y - 1.0 * u)], paint, lbl)
    cabin = [(x - f * 1.3 * u, y - 0.95 * u), (x + f * 1.0 * u, y - 0.9 * u), (x + f * 0.5 * u, y - 1.45 * u),
             (x - f * 1.0 * u, y - 1.45 * u)]
    p.polygon(cabin, shade(paint, 0.95), lbl)
    for a, b in ((-1.15, -0.2), (-0.1, 0.8)):
        p.polygon([(x + f * a * u, y - 1.0 * u), (x + f * b * u, y - 1.0 * u),
                   (x + f * (b - 0.3) * u, y - 1.38 * u), (x + f * a * u, y - 1.38 * u)],
                  jitter(rng, GLASS, 8), lbl)
    for sx in (-1, 1):
        wheel(p, x + sx * (half - 0.65 * u), y - 0.32 * u, 0.33 * u, lbl)


def truck_rear(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A lorry seen from behind: a tall cargo box with doors, bumper and twin wheels."""
    paint, lbl = pick(rng, PAINT[:2] + PAINT, 10), L["truck"]
    w, top = 1.25 * u, rng.uniform(3.0, 3.6) * u
    for sx in (-1, 1):
        p.rect(x + sx * 0.55 * w, y - 0.6 * u, x + sx * 0.95 * w, y, TYRE, lbl)
    p.rect(x - w, y - top, x + w, y - 0.55 * u, paint, lbl)
    p.line([(x, y - top + 0.1 * u), (x, y - 0.6 * u)], shade(paint, 0.6), lbl, 0.06 * u)
    p.rect(x - w, y - 0.65 * u, x + w, y - 0.5 * u, (40, 40, 40), lbl)
    for sx in (-1, 1):
        p.rect(x + sx * 0.8 * w, y - 0.9 * u, x + sx * 0.95 * w, y - 0.7 * u, (190, 25, 25), lbl)


def truck_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A lorry seen from the side: cab with window, long cargo box, three wheels."""
    paint, box, lbl = pick(rng, PAINT), pick(rng, PAINT[:2] + PAINT, 10), L["truck"]
    f, length = (1 if rng.random() < 0.5 else -1), rng.uniform(7.0, 9.0) * u
    x0 = x - f * length / 2
    x_cab = x0 + f * (length - 2.0 * u)
    p.rect(x0, y - rng.uniform(3.2, 3.7) * u, x_cab - f * 0.1 * u, y - 0.5 * u, box, lbl)
    p.polygon([(x_cab, y - 0.5 * u), (x_cab + f * 2.0 * u, y - 0.5 * u), (x_cab + f * 2.0 * u, y - 2.0 * u),
               (x_cab + f * 1.5 * u, y - 2.9 * u), (x_cab, y - 2.9 * u)], paint, lbl)
    p.rect(
        x_cab + f * 0.9 * u,
        y - 2.7 * u,
        x_cab + f * 1.6 * u,
        y - 1.9 * u,
        jitter(rng, GLASS, 8),
        lbl,
    )
    for t in (0.12, 0.3, 0.85):
        wheel(p, x0 + f * t * length, y - 0.45 * u, 0.45 * u, lbl)


def bus_rear(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A bus seen from behind: tall body, big rear window, lamps, wheels."""
    paint, lbl = pick(rng, PAINT), L["bus"]
    w, top = 1.3 * u, rng.uniform(2.9, 3.3) * u
    for sx in (-1, 1):
        p.rect(x + sx * 0.6 * w, y - 0.5 * u, x + sx * 0.95 * w, y, TYRE, lbl)
    p.rect(x - w, y - top, x + w, y - 0.3 * u, paint, lbl)
    p.rect(x - 0.85 * w, y - top + 0.25 * u, x + 0.85 * w, y - 1.9 * u, jitter(rng, GLASS, 8), lbl)
    p.rect(x - 0.6 * w, y - 1.5 * u, x + 0.6 * w, y - 1.1 * u, (30, 30, 30), lbl)
    for sx in (-1, 1):
        p.rect(x + sx * 0.75 * w, y - 0.9 * u, x + sx * 0.95 * w, y - 0.6 * u, (200, 40, 30), lbl)


def bus_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A bus seen from the side: long body, a continuous window band, a door, two wheels."""
    paint, lbl = pick(rng, PAINT), L["bus"]
    half, top = rng.uniform(5.0, 6.0) * u, rng.uniform(2.9, 3.3) * u
    p.rect(x - half, y - top, x + half, y - 0.3 * u, paint, lbl)
    p.rect(
        x - half + 0.3 * u,
        y - top + 0.3 * u,
        x + half - 0.3 * u,
        y - 1.5 * u,
        jitter(rng, GLASS, 8),
        lbl,
    )
    door = x + rng.uniform(-0.6, 0.6) * half
    p.rect(door - 0.5 * u, y - top + 0.3 * u, door + 0.5 * u, y - 0.35 * u, shade(paint, 0.7), lbl)
    for t in (-0.7, 0.72):
        wheel(p, x + t * half, y - 0.45 * u, 0.45 * u, lbl)


def train_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """(Unknown) A tram/train crossing: very long body, separate tall windows, doors, bogies."""
    paint, lbl = pick(rng, PAINT), L["train"]
    half, top = rng.uniform(8.0, 13.0) * u, rng.uniform(3.4, 3.9) * u
    f = 1 if rng.random() < 0.5 else -1
    nose = x + f * half
    p.polygon([(x - f * half, y - 0.4 * u), (nose, y - 0.4 * u), (nose + f * 0.6 * u, y - 1.6 * u),
               (nose, y - top), (x - f * half, y - top)], paint, lbl)
    p.rect(x - half, y - top, x + half, y - top + 0.3 * u, shade(paint, 0.6), lbl)
    glass = jitter(rng, GLASS, 8)
    for wx in np.arange(x - half + 0.8 * u, x + half - 1.0 * u, 1.6 * u):
        p.rect(wx, y - top + 0.7 * u, wx + 0.9 * u, y - 1.8 * u, glass, lbl)
    for t in (-0.5, 0.0, 0.5):
        p.rect(
            x + t * half - 0.4 * u,
            y - 1.9 * u,
            x + t * half + 0.4 * u,
            y - 0.5 * u,
            shade(paint, 0.8),
            lbl,
        )
    for t in (-0.8, -0.6, 0.6, 0.8):
        p.rect(x + t * half - 0.3 * u, y - 0.45 * u, x + t * half + 0.3 * u, y, (45, 45, 48), lbl)


def motorcycle_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> tuple[float, float]:
    """(Unknown) A motorcycle from the side: two thick wheels, tank, seat, engine, fork.

    Returns the seat position, where a rider can be drawn.
    """
    paint, lbl = pick(rng, PAINT), L["motorcycle"]
    f, r = (1 if rng.random() < 0.5 else -1), 0.32 * u
    rear, front = x - f * 0.72 * u, x + f * 0.72 * u
    for wx in (rear, front):
        wheel(p, wx, y - r, r, lbl)
    p.polygon([(rear, y - r), (x + f * 0.2 * u, y - 0.35 * u), (x + f * 0.3 * u, y - 0.75 * u),
               (rear - f * 0.1 * u, y - 0.7 * u)], (50, 50, 55), lbl)
    p.polygon([(x - f * 0.2 * u, y - 0.72 * u), (x + f * 0.45 * u, y - 0.75 * u), (x + f * 0.3 * u, y - 1.0 * u),
               (x - f * 0.05 * u, y - 0.98 * u)], paint, lbl)
    p.rect(rear - f * 0.15 * u, y - 0.82 * u, x - f * 0.2 * u, y - 0.7 * u, (25, 25, 25), lbl)
    p.line([(front, y - r), (x + f * 0.5 * u, y - 1.15 * u)], RIM, lbl, 0.07 * u)
    p.line([(x + f * 0.4 * u, y - 1.15 * u), (x + f * 0.62 * u, y - 1.2 * u)], TYRE, lbl, 0.06 * u)
    return rear + f * 0.25 * u, y - 0.85 * u


def bicycle_side(p: Painter, rng: Rng, x: float, y: float, u: float) -> tuple[float, float]:
    """(Unknown) A bicycle from the side: two thin-rimmed wheels and a diamond frame.

    Returns the saddle position, where a rider can be drawn.
    """
    paint, lbl = pick(rng, PAINT), L["bicycle"]
    f, r, t = (1 if rng.random() < 0.5 else -1), 0.34 * u, 0.08 * u
    rear, front, hub_y = x - f * 0.55 * u, x + f * 0.55 * u, y - 0.34 * u
    for wx in (rear, front):
        p.ring(wx, hub_y, r, TYRE, lbl, max(1.0, t))
    seat, crank, head = (
        (x - f * 0.15 * u, y - 0.95 * u),
        (x, y - 0.36 * u),
        (x + f * 0.42 * u, y - 0.98 * u),
    )
    p.line([(rear, hub_y), seat, crank, (rear, hub_y)], paint, lbl, t)
    p.line([seat, head, crank], paint, lbl, t)
    p.line([head, (front, hub_y)], paint, lbl, t)
    p.line(
        [(seat[0] - 0.12 * u, seat[1] - 0.05 * u), (seat[0] + 0.12 * u, seat[1] - 0.05 * u)],
        TYRE,
        lbl,
        t,
    )
    p.line([head, (head[0] + f * 0.1 * u, head[1] - 0.15 * u)], TYRE, lbl, t)
    return seat[0], seat[1] - 0.05 * u
