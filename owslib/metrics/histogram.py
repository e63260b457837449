"""Score quantisation for streaming anomaly metrics: bin grids, the adaptive dyadic range, regridding.

A grid maps a score ``s`` to bin ``clamp(floor((s - lo) * scale) - k0, 0, bins - 1)``. The map is
monotone non-decreasing (IEEE rounding is monotone), so a histogram is *exactly* the ranking of the
quantised scores: every ranking metric computed from it equals the exact metric of the scores with
the ties inside each bin added, and the error against unquantised scores is bounded by what happens
inside single bins (see :func:`owslib.metrics.ranking.quantisation_error_bounds`).

Two grids are used:

* **linear** ``[lo, hi]`` (a user's fixed ``range``, or one image's own min/max):
  ``scale = bins / (hi - lo)``, ``k0 = 0``; scores below ``lo`` / above ``hi`` are clamped into the
  first / last bin.
* **dyadic** (the adaptive default of the pooled accumulator): bins of width ``2**e`` anchored at 0,
  ``lo = 0``, ``scale = 2**-e``, ``k0`` = index of the first bin; the first batch's valid scores
  are centred in the grid. Scaling by a power of two and flooring are exact, and dyadic grids nest:
  when a batch falls outside, the grid moves to cover the non-empty bins and the new scores,
  doubling its width (merging pairs of bins, losslessly) only as often as the span requires. The
  same arithmetic aligns the grids of different processes before a DDP all-reduce.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Float64 integers are exact below 2**53: keep ``|score| / 2**e`` below that.
_MANTISSA_BITS = 52
#: Keep ``2**-e`` a finite float64.
_MIN_EXP = -1000


def dyadic_grid(lo: float, hi: float, bins: int, min_exp: int | None = None) -> tuple[int, int]:
    """The finest dyadic grid ``(e, k0)`` of ``bins`` bins of width ``2**e`` covering ``[lo, hi]``.

    ``e >= min_exp`` (so an existing grid is only ever coarsened) and ``e`` is large enough that
    ``|score| * 2**-e`` stays in float64's exact integer range. The width is at most twice
    ``(hi - lo) / (bins - 1)`` unless one of those two constraints binds. The data is centred: spare
    bins are split between both ends, so later batches reaching a little further fit as they are.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        raise ValueError(f"dyadic_grid: need finite lo <= hi, got [{lo}, {hi}]")
    e = max(math.frexp(max(abs(lo), abs(hi)))[1] - _MANTISSA_BITS, _MIN_EXP)
    if hi > lo:
        e = max(e, math.ceil(math.log2((hi - lo) / (bins - 1))))
    if min_exp is not None:
        e = max(e, min_exp)
    while math.floor(math.ldexp(hi, -e)) - math.floor(math.ldexp(lo, -e)) >= bins:
        e += 1
    k_lo, k_hi = math.floor(math.ldexp(lo, -e)), math.floor(math.ldexp(hi, -e))
    return e, k_lo - (bins - 1 - (k_hi - k_lo)) // 2


def dyadic_bounds(grid: tuple[int, int], bins: int) -> tuple[float, float]:
    """Start of the first and of the last bin of a dyadic grid (it covers ``[lo, hi + 2**e)``)."""
    e, k0 = grid
    return math.ldexp(k0, e), math.ldexp(k0 + bins - 1, e)


def occupied_bounds(hist: Tensor, grid: tuple[int, int]) -> tuple[float, float] | None:
    """Start of the first and of the last non-empty bin of a ``(2, bins)`` dyadic histogram."""
    nonzero = hist.sum(0).nonzero()
    if nonzero.numel() == 0:
        return None
    e, k0 = grid
    return math.ldexp(k0 + int(nonzero[0]), e), math.ldexp(k0 + int(nonzero[-1]), e)


def covering_grid(
    bins: int, lo: float, hi: float, *states: tuple[tuple[int, int] | None, Tensor]
) -> tuple[int, int]:
    """The finest dyadic grid covering ``[lo, hi]`` and the non-empty bins of every
    ``(grid, hist)`` state, never finer than those grids (so each can be :func:`regrid`-ed)."""
    min_exp = None
    for grid, hist in states:
        bounds = None if grid is None else occupied_bounds(hist, grid)
        if bounds is not None:
            min_exp = grid[0] if min_exp is None else max(min_exp, grid[0])
            lo, hi = min(lo, bounds[0]), max(hi, bounds[1])
    return dyadic_grid(lo, hi, bins, min_exp)


def regrid(hist: Tensor, old: tuple[int, int], new: tuple[int, int]) -> Tensor:
    """Move a ``(2, bins)`` histogram from dyadic grid ``old = (e, k0)`` to the coarser ``new``.

    Each old bin lies inside exactly one new bin, so nothing is approximated; the caller guarantees
    that ``new`` covers the non-empty bins of ``old`` (as :func:`covering_grid` does).
    """
    (e, k0), (e2, k02) = old, new
    if e2 < e:
        raise ValueError(f"regrid: new bin width 2**{e2} is finer than the old 2**{e}")
    bins = hist.shape[-1]
    absolute = torch.arange(bins, device=hist.device, dtype=torch.int64) + k0
    index = torch.div(absolute, 2 ** min(e2 - e, 62), rounding_mode="floor") - k02
    used = index[hist.sum(0) != 0]
    if used.numel() and (int(used.min()) < 0 or int(used.max()) >= bins):
        raise ValueError(f"regrid: grid {new} does not cover the counts of grid {old}")
    return torch.zeros_like(hist).index_add_(-1, index.clamp_(0, bins - 1), hist)


class Workspace:
    """Reusable scratch buffers for :func:`histogram_counts`.

    On CPU, allocating the ~30 MB of temporaries of a 1024x2048 batch afresh costs more than the
    arithmetic (the allocator returns large blocks to the OS and every page faults back in), so
    the accumulator keeps them; their size follows the largest batch, not the pixel count.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    @property
    def nbytes(self) -> int:
        """Bytes held by the scratch buffers."""
        return sum(b.numel() * b.element_size() for b in self._buffers.values())

    def get(
        self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
    ) -> Tensor:
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n or buf.dtype != dtype or buf.device != device:
            buf = self._buffers[name] = torch.empty(n, dtype=dtype, device=device)
        return buf[:n].view(shape)


def histogram_counts(
    scores: Tensor,
    codes: Tensor,
    lo: Tensor | float,
    scale: Tensor | float,
    k0: int,
    bins: int,
    workspace: Workspace | None = None,
    finite: bool = False,
) -> Tensor:
    """``(n, 2, bins)`` int64 counts (``[:, 0]`` known, ``[:, 1]`` anomaly) of ``(n, P)`` inputs.

    ``codes`` come from :func:`label_codes`; ``lo`` and ``scale`` are floats or ``(n, 1)`` tensors
    (one grid per row). The hot path is one ``bincount`` over ``row * 3 * bins + code * bins + bin``
    computed in place: ignored pixels (code 0) fill a slice that is dropped, so no masked copy of
    the scores is made. ``finite=True`` promises no NaN score (not even ignored), saving a pass.
    """
    ws = workspace or Workspace()
    n = scores.shape[0]
    stride = 3 * bins
    index_dtype = torch.int32 if n * stride < 2**31 else torch.int64
    # float32 scores are binned in float32 (half the memory traffic) unless a dyadic grid's bin
    # indices reach 2**24: below that, scaling by 2**-e, flooring and subtracting k0 stay exact
    # (linear grids only need monotone rounding, which float32 gives)
    small = scores.dtype in (torch.float16, torch.bfloat16, torch.float32)
    work = torch.float32 if small and abs(k0) + bins < 2**24 else torch.float64
    q = ws.get("q", scores.shape, work, scores.device)
    src = scores if scores.dtype == work else q.copy_(scores)
    if isinstance(lo, float) and lo == 0.0:
        torch.mul(src, scale, out=q)
    else:
        torch.sub(src, lo, out=q).mul_(scale)
    q.floor_()
    if k0:
        q.sub_(k0)
    if not finite:
        q.nan_to_num_(nan=0.0)  # NaN only at ignored pixels (callers reject the rest): any bin
    q.clamp_(0, bins - 1)
    idx = ws.get("idx", scores.shape, index_dtype, scores.device).copy_(q)
    idx.add_(codes, alpha=bins)
    if n > 1:
        rows = torch.arange(n, device=idx.device, dtype=index_dtype).mul_(stride)
        idx.add_(rows[:, None])
    counts = torch.bincount(idx.reshape(-1), minlength=n * stride).view(n, 3, bins)
    return counts[:, 1:]


def label_codes(labels: Tensor, ignore_index: int, workspace: Workspace | None = None) -> Tensor:
    """Validate labels (0 known, 1 anomaly, ``ignore_index``) and code them 1, 2, 0 (uint8).

    Raises ``ValueError`` naming the offending values. For the usual ``uint8`` labels with ignore
    255 this is one wrapping add (255 + 1 = 0) and one max.
    """
    ws = workspace or Workspace()
    codes = ws.get("codes", tuple(labels.shape), torch.uint8, labels.device)
    if labels.dtype == torch.bool:
        return codes.copy_(labels).add_(1)
    if labels.dtype == torch.uint8 and ignore_index == 255:
        ok = int(torch.add(labels, 1, out=codes).amax()) <= 2 if labels.numel() else True
    else:
        codes.copy_(labels == 0).add_(labels == 1, alpha=2)
        ok = not bool(((codes == 0) & (labels != ignore_index)).any())
    if not ok:
        bad = (labels != 0) & (labels != 1) & (labels != ignore_index)
        found = torch.unique(labels[bad])[:10].tolist()
        raise ValueError(
            f"anomaly labels must be 0 (known), 1 (anomaly) or ignore_index={ignore_index}; "
            f"found {found}"
        )
    return codes


def valid_minmax(scores: Tensor, ignored: Tensor, dim: int | None = None) -> tuple[Tensor, Tensor]:
    """Min and max (float64) of the non-ignored scores; ``+inf`` / ``-inf`` where there are none."""
    s = scores.to(torch.float64)
    inf = torch.tensor(math.inf, dtype=torch.float64, device=s.device)
    lo = torch.where(ignored, inf, s)
    hi = torch.where(ignored, -inf, s)
    if dim is None:
        return lo.amin(), hi.amax()
    return lo.amin(dim), hi.amax(dim)


def check_finite(scores: Tensor, codes: Tensor, allow_inf: bool) -> bool:
    """Raise ``ValueError`` if a non-ignored score (code != 0) is NaN (or infinite, unless
    ``allow_inf``); return whether *every* score, ignored ones included, is finite."""
    lo, hi = torch.aminmax(scores.reshape(-1))
    if math.isfinite(float(lo)) and math.isfinite(float(hi)):
        return True  # the common case costs one reduction
    bad = torch.isnan(scores) if allow_inf else ~torch.isfinite(scores)
    if bool((bad & (codes != 0)).any()):
        what = "NaN" if allow_inf else "NaN or infinite"
        hint = "" if allow_inf else " (pass range=(lo, hi) to clamp infinite scores into end bins)"
        raise ValueError(f"anomaly scores hold {what} values at non-ignored pixels{hint}")
    return False
