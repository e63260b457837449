"""The street's lateral layout and where objects may stand on it: shared by the scene and the sprites."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from owslib.data.embedded.canvas import Painter, View

Rng = np.random.Generator
Draw = Callable[[Painter], None]


@dataclass(frozen=True)
class Street:
    """Lateral layout (world units): road edges, lane centres, sidewalk and verge widths."""

    road_left: float
    road_right: float
    lanes: tuple[float, ...]
    walk: float
    verge_left: float
    verge_right: float

    @property
    def facade_left(self) -> float:
        return self.road_left - self.walk - self.verge_left

    @property
    def facade_right(self) -> float:
        return self.road_right + self.walk + self.verge_right


def spans(st: Street) -> dict[str, list[tuple[float, float]]]:
    """Lateral ranges (world X) where each kind of object may stand."""
    walks = [
        (st.road_left - st.walk + 0.3, st.road_left - 0.3),
        (st.road_right + 0.3, st.road_right + st.walk - 0.3),
    ]
    verges = (
        [(st.facade_left + 0.5, st.facade_left + st.verge_left - 0.5)] if st.verge_left > 1 else []
    )
    if st.verge_right > 1:
        verges.append((st.facade_right - st.verge_right + 0.5, st.facade_right - 0.5))
    return {
        "road": [(st.road_left + 0.8, st.road_right - 0.8)],
        "edge": [
            (st.road_left + 0.5, st.road_left + 1.2),
            (st.road_right - 1.2, st.road_right - 0.5),
        ],
        "walk": walks,
        "kerb0": [(st.road_left - 0.45, st.road_left - 0.35)],
        "kerb1": [(st.road_right + 0.35, st.road_right + 0.45)],
        "green": verges or [(st.road_left - st.walk + 0.2, st.road_left - st.walk + 0.5)],
    }


class Placer:
    """Collects ``(inverse depth, draw)`` pairs at random spots of the named lateral spans."""

    def __init__(self, rng: Rng, view: View, st: Street) -> None:
        self.rng, self.view, self.spans = rng, view, spans(st)
        self.items: list[tuple[float, Draw]] = []

    def add(self, where: str, s_range: tuple[float, float], fn: Callable, **kw: object) -> None:
        spans = self.spans[where]
        lo, hi = spans[int(self.rng.integers(len(spans)))]
        s = self.rng.uniform(*s_range)
        x, y = self.view.point(self.rng.uniform(lo, hi), 0.0, s)
        self.items.append((s, partial(fn, rng=self.rng, x=x, y=y, u=self.view.px(s), **kw)))
