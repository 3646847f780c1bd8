"""The server-drawn histogram (hub/core/charts.py): nice bin widths, aligned edges that cover the
values and the cutoff, values on edges, stacked bars and the cutoff line in the view box."""

from __future__ import annotations

import random

import pytest

from sadari.hub.core.charts import Frame, bin_edges, bin_index, histogram, nice_width


@pytest.mark.parametrize(
    ("span", "most", "width"),
    [(100, 12, 10), (100, 10, 10), (100, 9, 20), (7, 12, 1), (0.9, 10, 0.1), (3, 12, 0.5),
     (0, 12, 1), (1234, 12, 200)],
)  # fmt: skip
def test_nice_width(span: float, most: int, width: float) -> None:
    assert nice_width(span, most) == pytest.approx(width)


def test_edges_are_aligned_and_cover_values_and_cutoff() -> None:
    assert bin_edges([3, 97], None) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert bin_edges([100], None) == [100, 101]  # one value: one bin of width 1
    assert bin_edges([], None) == [0, 1]
    # a cutoff below every value widens the range to hold the line
    assert bin_edges([60, 70], 40)[0] <= 40 and bin_edges([60, 70], 40)[-1] > 70
    # negative totals (z-scores) and binary noise
    edges = bin_edges([-1.3, 0.2, 1.7], None)
    assert edges[0] <= -1.3 and edges[-1] > 1.7 and all(e == round(e, 9) for e in edges)
    assert len(bin_edges([i * 0.1 for i in range(1000)], None, most=12)) - 1 <= 12


def test_values_on_edges_go_to_the_bin_that_starts_there() -> None:
    edges = bin_edges([0, 100], None)
    assert bin_index(edges, 0) == 0 and bin_index(edges, 10) == 1 and bin_index(edges, 9.99) == 0
    assert bin_index(edges, 100) == len(edges) - 2  # the last bin is closed
    assert bin_index([0.0, 0.1, 0.2, 0.3, 0.4], 0.3) == 3  # 0.3 / 0.1 = 2.9999...


def test_histogram_counts_stacks_and_draws_the_cutoff() -> None:
    totals = [90, 85, 81, 62, 55, 40, 12, 0]
    advancing = [True, True, False, True, False, False, False, False]
    h = histogram(totals, advancing, cutoff=81.0)
    assert h.count == 8 and sum(b.total for b in h.bins) == 8
    eighty = next(b for b in h.bins if b.lo == 80)
    assert eighty.counts == (1, 1)  # 85 advances, 81 was held (an override)
    assert h.peak == 2 and h.y_ticks[0].label == "0" and int(h.y_ticks[-1].label) >= 2
    f = h.frame
    for bar in h.bars:
        assert f.left <= bar.x and bar.x + bar.width <= f.width - f.right + 1e-6
        assert f.top - 1e-6 <= bar.y and bar.y + bar.height <= f.baseline + 1e-6
    # the stacked segments of one bin touch: advancing at the bottom
    seg = [b for b in h.bars if h.bins[b.bin].lo == 80]
    assert [b.series for b in seg] == [0, 1]
    assert seg[0].y + seg[0].height == pytest.approx(f.baseline)
    assert seg[1].y + seg[1].height == pytest.approx(seg[0].y)
    lo, hi = h.bins[0].lo, h.bins[-1].hi
    assert h.cutoff_x == pytest.approx(f.left + (81 - lo) / (hi - lo) * f.plot_width, abs=0.01)
    assert h.cutoff_anchor == "end"  # near the right edge: the label goes to the left
    assert histogram([10, 20], [True, False], cutoff=12).cutoff_anchor == "start"
    assert histogram([10, 20], [True, False]).cutoff_x is None


def test_histogram_of_nobody_and_bad_input() -> None:
    h = histogram([], [])
    assert h.bars == () and h.count == 0 and h.peak == 0 and len(h.bins) == 1
    with pytest.raises(ValueError, match="differ in length"):
        histogram([1.0], [])
    small = Frame(width=300, height=120)
    assert histogram([1, 2, 3], [True] * 3, frame=small).frame.width == 300


def test_ten_thousand_trainees_are_a_dozen_bins_not_ten_thousand_marks() -> None:
    rng = random.Random(17)
    totals = [round(rng.uniform(0, 100), 2) for _ in range(10_000)] + [100.0, 0.0]
    advancing = [t >= 60 for t in totals]
    h = histogram(totals, advancing, cutoff=60.0)
    assert h.count == 10_002 and sum(b.total for b in h.bins) == 10_002
    assert len(h.bins) <= 12 and len(h.bars) <= 2 * len(h.bins)  # one or two per bin
    assert sum(b.count for b in h.bars if b.series == 0) == sum(advancing)
    # the bins hold exactly the values in [lo, hi) (the last one its upper edge too)
    for i, b in enumerate(h.bins):
        last = i == len(h.bins) - 1
        inside = [t for t in totals if b.lo <= t < b.hi or (last and t == b.hi)]
        assert b.total == len(inside)
    assert h.peak == max(b.total for b in h.bins) and int(h.y_ticks[-1].label) >= h.peak
