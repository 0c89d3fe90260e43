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


def test_a_band_shades_the_area_between_its_edges(qtbot):
    w = plot_widget("t", "y", "x")
    qtbot.addWidget(w)
    w.resize(400, 300)
    w.show()
    band = Band(w, "#d55e00", "method")
    band.curve.setVisible(False)  # only the shading

    def tinted() -> int:
        qtbot.wait(50)
        img = w.grab().toImage()
        px = [img.pixelColor(x, y) for x in range(0, img.width(), 4) for y in range(0, img.height(), 4)]
        return sum(1 for c in px if c.red() - c.blue() > 20)  # orange-ish over a white background

    band.setData([0, 1, 2], [1, 1, 1], [0, 0, 0], [2, 2, 2])
    w.setXRange(0, 2, padding=0.1)
    w.setYRange(-1, 3, padding=0)
    shaded = tinted()
    band.setData([0, 1, 2], [1, 1, 1])  # no band: nothing shaded
    assert shaded > 500 and tinted() < shaded / 10
