"""Score distributions drawn by the server: a histogram of a pool's totals with the selection
cutoff, as numbers an inline SVG in a template draws (no chart library, no script).

Pure. `nice_width` picks a bin width of 1, 2 or 5 x 10^k giving at most `most` bins; `bin_edges`
aligns the bins to multiples of that width so they cover every value and the cutoff (bins are
half-open [lo, hi), the last one holds its upper edge); `histogram` counts the values per bin in
two series (advancing, not advancing), stacks them into bars and lays out the axes and the cutoff
line in a fixed view box (`Frame`), so the template only writes the numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EPS = 1e-9  # values this close above an edge belong to the bin that starts there


@dataclass(frozen=True)
class Frame:
    """The SVG view box and the plot area inside it (the rest holds axis labels)."""

    width: float = 640.0
    height: float = 240.0
    left: float = 44.0
    right: float = 16.0
    top: float = 28.0
    bottom: float = 40.0

    @property
    def plot_width(self) -> float:
        """Width of the plot area."""
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        """Height of the plot area."""
        return self.height - self.top - self.bottom

    @property
    def baseline(self) -> float:
        """y of the x axis."""
        return self.height - self.bottom


@dataclass(frozen=True)
class Bin:
    """One bin [lo, hi) with its count per series (advancing, not advancing)."""

    lo: float
    hi: float
    counts: tuple[int, int]

    @property
    def total(self) -> int:
        """Values in the bin."""
        return sum(self.counts)


@dataclass(frozen=True)
class Bar:
    """One stacked segment of a bin's bar, in view box coordinates."""

    x: float
    y: float
    width: float
    height: float
    series: int  # 0: advancing, 1: not advancing
    count: int
    bin: int


@dataclass(frozen=True)
class Tick:
    """An axis tick: its position (x for the value axis, y for the count axis) and label."""

    at: float
    label: str


@dataclass(frozen=True)
class Histogram:
    """Everything the SVG and its fallback table show."""

    frame: Frame
    bins: tuple[Bin, ...]
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    cutoff: float | None
    cutoff_x: float | None
    cutoff_anchor: str  # "start" or "end": which side of the line its label goes
    count: int  # values drawn
    peak: int  # the fullest bin


def nice_width(span: float, most: int = 12) -> float:
    """The smallest width of 1, 2 or 5 x 10^k that cuts `span` into at most `most` bins."""
    if most < 1:
        raise ValueError("most must be at least 1")
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / most
    k = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * k >= raw - raw * EPS:
            return m * k
    return 10.0 * k  # pragma: no cover - the loop always returns


def _clean(x: float) -> float:
    """`x` without binary noise (0.30000000000000004 -> 0.3)."""
    return float(f"{x:.10g}")


def bin_edges(values: Sequence[float], cutoff: float | None = None, most: int = 12) -> list[float]:
    """Edges lo_0 < lo_1 < ... < hi of bins of one nice width covering `values` and `cutoff`."""
    points = [v for v in values if math.isfinite(v)]
    if cutoff is not None and math.isfinite(cutoff):
        points.append(cutoff)
    if not points:
        return [0.0, 1.0]
    low, high = min(points), max(points)
    width = nice_width(high - low, most)
    start = math.floor(low / width + EPS) * width
    n = max(1, math.floor((high - start) / width + EPS) + 1)
    while n > most and n > 1:  # alignment cost a bin: take the next width
        width = nice_width(width * (most + 1), most)
        start = math.floor(low / width + EPS) * width
        n = max(1, math.floor((high - start) / width + EPS) + 1)
    return [_clean(start + i * width) for i in range(n + 1)]


def bin_index(edges: Sequence[float], value: float) -> int:
    """The bin of `value` ([lo, hi), the last bin closed; values outside go to the end bins)."""
    n = len(edges) - 1
    width = (edges[-1] - edges[0]) / n
    return min(n - 1, max(0, math.floor((value - edges[0]) / width + EPS)))


def _label(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e6 else f"{x:.3g}"


def _count_ticks(peak: int) -> list[int]:
    """0, a nice integer step, ..., at least `peak` (at most about 5 ticks)."""
    if peak <= 0:
        return [0, 1]
    step = max(1, int(nice_width(float(peak), 5)))
    top = math.ceil(peak / step) * step
    return list(range(0, top + 1, step))


def histogram(
    values: Sequence[float],
    advancing: Sequence[bool],
    cutoff: float | None = None,
    most: int = 12,
    frame: Frame | None = None,
) -> Histogram:
    """The histogram of `values` (one per trainee; `advancing[i]`: trainee i advances), with the
    cutoff line at `cutoff` (None: no line)."""
    if len(values) != len(advancing):
        raise ValueError("values and advancing differ in length")
    f = frame or Frame()
    edges = bin_edges(values, cutoff, most)
    n = len(edges) - 1
    counts = [[0, 0] for _ in range(n)]
    shown = 0
    for v, adv in zip(values, advancing, strict=True):
        if math.isfinite(v):
            counts[bin_index(edges, v)][0 if adv else 1] += 1
            shown += 1
    bins = tuple(Bin(edges[i], edges[i + 1], (c[0], c[1])) for i, c in enumerate(counts))
    peak = max((b.total for b in bins), default=0)
    y_values = _count_ticks(peak)
    y_top = y_values[-1]
    lo, hi = edges[0], edges[-1]

    def x_of(v: float) -> float:
        return round(f.left + (v - lo) / (hi - lo) * f.plot_width, 2)

    def height_of(count: int) -> float:
        return round(count / y_top * f.plot_height, 2)

    bars = []
    slot = f.plot_width / n
    gap = min(2.0, slot / 4)
    for i, b in enumerate(bins):
        y = f.baseline
        for series in (0, 1):
            c = b.counts[series]
            if not c:
                continue
            h = height_of(c)
            y = round(y - h, 2)
            bars.append(Bar(x_of(b.lo) + gap / 2, y, round(slot - gap, 2), h, series, c, i))
    every = max(1, math.ceil((n + 1) / 11))  # at most about 11 labels on the value axis
    x_ticks = tuple(Tick(x_of(e), _label(e)) for k, e in enumerate(edges) if k % every == 0)
    y_ticks = tuple(Tick(round(f.baseline - height_of(c), 2), str(c)) for c in y_values)
    cut_x = x_of(cutoff) if cutoff is not None and math.isfinite(cutoff) else None
    anchor = "end" if cut_x is not None and cut_x > f.left + f.plot_width * 0.6 else "start"
    return Histogram(f, bins, tuple(bars), x_ticks, y_ticks, cutoff, cut_x, anchor, shown, peak)
