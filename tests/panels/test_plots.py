"""The shared plot pieces take data once built, survive NaN, and draw what they are given."""

from __future__ import annotations

import numpy as np

from panels.plots import Band, Bars, Heatmap, paper_line, plot_widget


def test_band_bars_heatmap_and_paper_line_draw_their_data(qtbot):
    w = plot_widget("t", "accuracy [%]", "length [tokens]", log_x=True)
    qtbot.addWidget(w)
    band = Band(w, "#0072b2", "yarn")
    band.setData([1, 2, 4], [90, np.nan, 70], [85, 80, 60], [95, 90, 80])
    assert list(band.curve.xData) == [1, 4], "a NaN point is dropped, not drawn as a gap at 0"
    line = paper_line(w, 0.3, "paper 0.3")
    assert line.value() == 0.3 and line.isVisible()
    assert not paper_line(w, None, "none").isVisible()

    b = plot_widget("bars", "rate", "", legend=True)
    qtbot.addWidget(b)
    bars = Bars(b, ["baseline", "control"], ["length", "accuracy"])
    bars.setData([[1, 2], [3, 4]], [[0.1, 0.2], [0.3, 0.4]])
    assert list(bars.items[1].opts["height"]) == [2, 4]

    h = Heatmap("niah", "depth [%]", "length", "accuracy [%]", levels=(0, 100))
    qtbot.addWidget(h.widget)
    h.setData(np.array([[100, 50], [np.nan, 0]]), ["0", "50"], ["128", "256"])
    assert len(h.texts) == 3 and h.image.image.shape == (2, 2)
