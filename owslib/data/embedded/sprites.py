"""Object sprites of the synthetic scenes (people, poles, signs, lights, trees) and the placement in
depth of all objects, with the vehicles of :mod:`owslib.data.vehicles` and the void objects of
:mod:`owslib.data.void_objects`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from owslib.data.embedded import vehicles as veh
from owslib.data.embedded.layout import Placer, Street
from owslib.data.embedded import void_objects as void
from owslib.data.embedded.canvas import (
    CLOTHES,
    FOLIAGE,
    PAINT,
    SKIN,
    TYRE,
    L,
    Painter,
    View,
    jitter,
    pick,
    shade,
)


Rng = np.random.Generator
Draw = Callable[[Painter], None]


def person(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A pedestrian: legs mid-stride, torso, arms, head."""
    lbl, top, legs = L["person"], pick(rng, CLOTHES), pick(rng, CLOTHES)
    stride = rng.uniform(-0.2, 0.2) * u
    for sx in (-1, 1):
        p.line([(x + sx * 0.06 * u, y - 0.88 * u), (x + sx * stride, y)], legs, lbl, 0.14 * u)
    p.polygon([(x - 0.2 * u, y - 1.45 * u), (x + 0.2 * u, y - 1.45 * u), (x + 0.15 * u, y - 0.82 * u),
               (x - 0.15 * u, y - 0.82 * u)], top, lbl)
    for sx in (-1, 1):
        p.line(
            [(x + sx * 0.19 * u, y - 1.4 * u), (x + sx * 0.26 * u, y - 0.92 * u)],
            top,
            lbl,
            0.09 * u,
        )
    p.ellipse(x, y - 1.6 * u, 0.12 * u, 0.13 * u, pick(rng, SKIN, 8), lbl)
    p.ellipse(x, y - 1.67 * u, 0.12 * u, 0.07 * u, shade(pick(rng, CLOTHES), 0.5), lbl)


def rider(p: Painter, rng: Rng, sx: float, sy: float, u: float, f: int) -> None:
    """A seated, forward-leaning rider with a helmet; ``(sx, sy)`` is the seat, ``f`` the heading."""
    lbl, top, legs = L["rider"], pick(rng, CLOTHES), pick(rng, CLOTHES)
    shoulder = (sx + f * 0.25 * u, sy - 0.6 * u)
    knee, foot = (sx + f * 0.35 * u, sy + 0.15 * u), (sx + f * 0.25 * u, sy + 0.55 * u)
    p.line([(sx, sy), knee, foot], legs, lbl, 0.14 * u)
    p.line([(sx, sy), shoulder], top, lbl, 0.26 * u)
    p.line([shoulder, (sx + f * 0.62 * u, sy - 0.3 * u)], top, lbl, 0.09 * u)
    p.ellipse(
        shoulder[0] + f * 0.08 * u, shoulder[1] - 0.2 * u, 0.14 * u, 0.14 * u, pick(rng, PAINT), lbl
    )


def scooter(p: Painter, rng: Rng, x: float, y: float, u: float, f: int) -> tuple[float, float]:
    """A small seated e-scooter (void ``dynamic``); returns its seat position."""
    lbl, color = L["dynamic"], pick(rng, PAINT)
    for wx in (x - f * 0.5 * u, x + f * 0.5 * u):
        p.ellipse(wx, y - 0.18 * u, 0.18 * u, 0.18 * u, TYRE, lbl)
    p.rect(x - 0.5 * u, y - 0.32 * u, x + 0.5 * u, y - 0.2 * u, color, lbl)
    p.line([(x - f * 0.2 * u, y - 0.3 * u), (x - f * 0.2 * u, y - 0.72 * u)], color, lbl, 0.08 * u)
    p.line([(x + f * 0.5 * u, y - 0.3 * u), (x + f * 0.6 * u, y - 1.1 * u)], color, lbl, 0.08 * u)
    return x - f * 0.2 * u, y - 0.75 * u


def ridden(
    p: Painter, rng: Rng, x: float, y: float, u: float, vehicle: Callable, with_rider: bool
) -> None:
    """A two-wheeler (``scooter``, ``motorcycle_side``, ``bicycle_side``), maybe with a rider on it."""
    f = 1 if rng.random() < 0.5 else -1
    if vehicle is scooter:
        seat = scooter(p, rng, x, y, u, f)
    else:
        seat = vehicle(p, rng, x, y, u)
        f = 1 if seat[0] < x else -1  # the seat sits behind the centre, facing forward
    if with_rider:
        rider(p, rng, seat[0], seat[1], u, f)


def pole(p: Painter, rng: Rng, x: float, y: float, u: float, kind: str, toward: int) -> None:
    """A pole carrying a traffic sign, a traffic light (maybe on an arm over the road), both or none."""
    lbl, grey = L["pole"], jitter(rng, (140, 142, 145), 20)
    top = y - rng.uniform(3.4, 4.6) * u
    half = max(0.6, 0.07 * u)
    p.rect(x - half, top, x + half, y, grey, lbl)
    lx, ly = x + toward * 0.3 * u, top + 0.1 * u
    if kind in ("light", "both") and rng.random() < 0.4:
        lx = x + toward * rng.uniform(1.8, 3.0) * u
        p.line([(x, top + 0.1 * u), (lx, top + 0.1 * u)], grey, lbl, max(1.0, 0.12 * u))
    if kind in ("light", "both"):
        traffic_light(p, rng, lx, ly, u)
    if kind in ("sign", "both"):
        traffic_sign(p, rng, x - toward * 0.05 * u, top + (1.3 if kind == "both" else 0.35) * u, u)


def traffic_light(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A signal head hanging from ``(x, y)``: a housing with three lamps, one of them lit."""
    lbl = L["light"]
    housing = (
        jitter(rng, (40, 40, 36), 8) if rng.random() < 0.75 else jitter(rng, (190, 160, 40), 10)
    )
    p.rect(x - 0.17 * u, y, x + 0.17 * u, y + 0.85 * u, housing, lbl)
    lit = int(rng.integers(3))
    for i, color in enumerate(((235, 40, 30), (240, 170, 20), (40, 220, 90))):
        c = color if i == lit else shade(color, 0.3)
        p.ellipse(x, y + (0.16 + 0.27 * i) * u, 0.09 * u, 0.09 * u, c, lbl)


def traffic_sign(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A sign centred at ``(x, y)``: a prohibition disc, a blue panel, a warning triangle or a diamond."""
    lbl, r = L["sign"], rng.uniform(0.28, 0.38) * u
    kind = int(rng.integers(4))
    if kind == 0:
        p.ellipse(x, y, r, r, (200, 30, 30), lbl)
        p.ellipse(x, y, 0.65 * r, 0.65 * r, (235, 235, 235), lbl)
    elif kind == 1:
        p.rect(x - r, y - r, x + r, y + r, (40, 80, 170), lbl)
        p.line(
            [(x - 0.5 * r, y + 0.4 * r), (x + 0.5 * r, y - 0.4 * r)], (235, 235, 235), lbl, 0.2 * r
        )
    elif kind == 2:
        p.polygon(
            [(x, y - r), (x + 1.1 * r, y + 0.8 * r), (x - 1.1 * r, y + 0.8 * r)], (200, 30, 30), lbl
        )
        p.polygon([(x, y - 0.4 * r), (x + 0.6 * r, y + 0.55 * r), (x - 0.6 * r, y + 0.55 * r)],
                  (235, 235, 235), lbl)
    else:
        p.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], (235, 200, 40), lbl)


def tree(p: Painter, rng: Rng, x: float, y: float, u: float) -> None:
    """A street tree (trunk and crown are both vegetation, as in Cityscapes)."""
    lbl, leaf = L["vegetation"], pick(rng, FOLIAGE, 12)
    height = rng.uniform(2.0, 3.0) * u
    p.rect(x - 0.11 * u, y - height, x + 0.11 * u, y, jitter(rng, (85, 65, 45), 10), lbl)
    for _ in range(int(rng.integers(3, 6))):
        cx, cy = x + rng.uniform(-0.7, 0.7) * u, y - height - rng.uniform(0.2, 1.2) * u
        radius = rng.uniform(0.7, 1.2) * u
        p.ellipse(
            cx, cy, radius, radius * rng.uniform(0.8, 1.1), shade(leaf, rng.uniform(0.85, 1.1)), lbl
        )


def _counts(rng: Rng) -> dict[str, int]:
    """How many objects of each kind one scene holds."""
    return {
        "car": int(rng.integers(2, 7)),
        "truck": int(rng.choice(3, p=[0.5, 0.35, 0.15])),
        "bus": int(rng.random() < 0.45),
        "person": int(rng.integers(1, 7)),
        "rider": int(rng.choice(3, p=[0.45, 0.4, 0.15])),
        "pole": int(rng.integers(2, 6)),
        "tree": int(rng.integers(0, 6)),
    }


def _place_known(pl: Placer, rng: Rng) -> None:
    n = _counts(rng)
    for _ in range(n["car"]):
        side = rng.random() < 0.3
        pl.add("road", (0.12, 0.6) if side else (0.1, 0.75), veh.car_side if side else veh.car_rear)
    for kind in ("truck", "bus"):
        for _ in range(n[kind]):
            view = "side" if rng.random() < 0.35 else "rear"
            pl.add(
                "road", (0.1, 0.4) if view == "side" else (0.1, 0.5), getattr(veh, f"{kind}_{view}")
            )
    for _ in range(n["person"]):
        pl.add("walk" if rng.random() < 0.8 else "road", (0.12, 0.85), person)
    for _ in range(n["rider"]):
        pl.add("edge", (0.15, 0.75), ridden, vehicle=scooter, with_rider=True)
    for _ in range(n["pole"]):
        side = int(rng.integers(2))
        kind = str(rng.choice(["sign", "light", "both", "bare"], p=[0.45, 0.3, 0.15, 0.1]))
        pl.add(f"kerb{side}", (0.1, 0.8), pole, kind=kind, toward=1 if side == 0 else -1)
    for _ in range(n["tree"]):
        pl.add("green", (0.08, 0.7), tree)


def _place_unknown(pl: Placer, rng: Rng) -> None:
    kind = str(rng.choice(["train", "motorcycle", "bicycle"], p=[0.25, 0.375, 0.375]))
    if kind == "train":
        pl.add("road", (0.18, 0.35), veh.train_side)
        return
    vehicle = veh.motorcycle_side if kind == "motorcycle" else veh.bicycle_side
    where = "road" if rng.random() < 0.6 else "edge"
    pl.add(where, (0.35, 0.85), ridden, vehicle=vehicle, with_rider=rng.random() < 0.4)


def place_objects(
    rng: Rng, view: View, st: Street, *, n_unknown: int, n_clutter: int, n_void_vehicles: int = 0
) -> list[tuple[float, Draw]]:
    """Objects of one scene as ``(inverse depth, draw)`` pairs sorted far to near (painter's order).

    Known objects: cars, trucks, buses (rear or side view), pedestrians, riders on e-scooters,
    poles with signs and lights, trees. Then ``n_clutter`` small void objects, ``n_void_vehicles``
    vehicle-like void objects (caravans, trailers, skips, containers) and ``n_unknown`` unknown
    objects (trains crossing, motorcycles and bicycles on or beside the road, sometimes ridden).
    """
    placer = Placer(rng, view, st)
    _place_known(placer, rng)
    for _ in range(n_clutter):
        placer.add("walk" if rng.random() < 0.6 else "road", (0.2, 0.85), void.clutter)
    void.place_void_vehicles(placer, rng, n_void_vehicles)
    for _ in range(n_unknown):
        _place_unknown(placer, rng)
    return sorted(placer.items, key=lambda item: item[0])
