"""The plot pieces every panel draws with: labelled plots, curves with error bands, heatmaps, bars, paper markers.

Each piece is created once and fed with ``setData`` on every snapshot (pyqtgraph's fast path); none holds science.
Colours: ``METHOD`` for the paper's method, ``BASELINE`` for what it is compared with, ``PAPER`` for the paper's own
number, ``CYCLE`` for several compared things (seeds, checkpoints, scalings), readable on white and by the
colour-blind (Okabe–Ito).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

METHOD = "#d55e00"  # vermillion
BASELINE = "#0072b2"  # blue
PAPER = "#e69f00"  # orange: the paper's own figure (dashed line or star)
NEUTRAL = "#555555"
CYCLE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000")


def color(i: int) -> str:
    return CYCLE[i % len(CYCLE)]


def pen(c: str, width: float = 2.0, dash: bool = False):
    return pg.mkPen(c, width=width, style=Qt.PenStyle.DashLine if dash else Qt.PenStyle.SolidLine)


def plot_widget(title: str, left: str, bottom: str, *, log_x: bool = False, log_y: bool = False, legend: bool = True) -> pg.PlotWidget:
    """A white plot with a title, both axes labelled (units in the label, no SI prefixes), a grid and a legend."""
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#222", size="10pt")
    w.setLabel("left", left)
    w.setLabel("bottom", bottom)
    for side in ("left", "bottom"):
        w.getAxis(side).enableAutoSIPrefix(False)
        w.getAxis(side).setTextPen("#222")
        w.getAxis(side).setPen("#444")
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setLogMode(x=log_x, y=log_y)
    if legend:
        w.addLegend(offset=(-8, 8), labelTextSize="9pt", brush=pg.mkBrush(255, 255, 255, 210), labelTextColor="#222")
    return w


class Band:
    """A mean curve with a shaded band (± error, or a bootstrap interval) on ``plot``; ``setData`` redraws both."""

    def __init__(self, plot: pg.PlotWidget, c: str, name: str, *, width: float = 2.0, dash: bool = False, symbol: str | None = None):
        self.curve = plot.plot([], [], pen=pen(c, width, dash), name=name, symbol=symbol, symbolSize=6, symbolBrush=c, symbolPen=None)
        # edges drawn with a transparent pen: with pen=None a PlotDataItem builds no path, and the fill between two
        # empty paths is empty
        self._lo = pg.PlotDataItem([], [], pen=pg.mkPen(0, 0, 0, 0))
        self._hi = pg.PlotDataItem([], [], pen=pg.mkPen(0, 0, 0, 0))
        q = pg.mkColor(c)
        q.setAlpha(55)
        self.fill = pg.FillBetweenItem(self._lo, self._hi, brush=pg.mkBrush(q))
        self.fill.setZValue(-1)  # every band behind every curve
        plot.addItem(self._lo)
        plot.addItem(self._hi)
        plot.addItem(self.fill)
        self._shown = True

    def setData(self, x, y, lo=None, hi=None) -> None:  # noqa: N802 (pyqtgraph's spelling)
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = np.isfinite(x) & np.isfinite(y)
        self.curve.setData(x[ok], y[ok])
        if lo is None or hi is None:
            self._lo.setData([], [])
            self._hi.setData([], [])
            self.fill.setVisible(False)  # the fill keeps its last path when its edges empty
            return
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        ok &= np.isfinite(lo) & np.isfinite(hi)
        self._lo.setData(x[ok], lo[ok])
        self._hi.setData(x[ok], hi[ok])
        self.fill.setVisible(self._shown)

    def setVisible(self, on: bool) -> None:  # noqa: N802
        self._shown = on
        for item in (self.curve, self._lo, self._hi, self.fill):
            item.setVisible(on)


def paper_line(plot: pg.PlotWidget, value: float | None, label: str, *, vertical: bool = False) -> pg.InfiniteLine:
    """The paper's own number as a dashed line with its label (``value=None`` hides it; ``setValue`` moves it)."""
    opts = dict(color=PAPER, position=0.9 if vertical else 0.08, fill=pg.mkBrush(255, 255, 255, 200))
    line = pg.InfiniteLine(pos=0.0 if value is None else value, angle=90 if vertical else 0, pen=pen(PAPER, 1.6, dash=True),
                           label=label, labelOpts=opts)
    line.setVisible(value is not None)
    plot.addItem(line)
    return line


class Bars:
    """Grouped bars with error bars: ``setData(values, errors)`` with arrays shaped (groups, series)."""

    def __init__(self, plot: pg.PlotWidget, groups: list[str], series: list[str], colors: list[str] | None = None, width: float = 0.8):
        self.plot, self.n_groups, self.n_series = plot, len(groups), len(series)
        w = width / max(1, self.n_series)
        self.offsets = (np.arange(self.n_series) - (self.n_series - 1) / 2) * w
        colors = colors or [color(i) for i in range(self.n_series)]
        self.items = []
        for j, name in enumerate(series):
            item = pg.BarGraphItem(x=np.arange(self.n_groups) + self.offsets[j], height=np.zeros(self.n_groups), width=0.92 * w,
                                   brush=colors[j], pen=pg.mkPen("#333", width=0.8), name=name)
            plot.addItem(item)
            if plot.plotItem.legend is not None:
                plot.plotItem.legend.addItem(item, name)
            self.items.append(item)
        self.err = pg.ErrorBarItem(x=np.zeros(1), y=np.zeros(1), height=np.zeros(1), pen=pg.mkPen("#000", width=1.3), beam=0.5 * w)
        plot.addItem(self.err)
        plot.getAxis("bottom").setTicks([list(enumerate(groups))])

    def setData(self, values, errors=None) -> None:  # noqa: N802
        v = np.nan_to_num(np.asarray(values, float).reshape(self.n_groups, self.n_series))
        e = np.zeros_like(v) if errors is None else np.nan_to_num(np.asarray(errors, float).reshape(v.shape))
        xs = []
        for j, item in enumerate(self.items):
            item.setOpts(height=v[:, j])
            xs.append(np.arange(self.n_groups) + self.offsets[j])
        x = np.concatenate(xs)
        self.err.setData(x=x, y=v.T.ravel(), height=2 * e.T.ravel())


class Heatmap:
    """An image over labelled rows and columns with a colour bar: ``setData(z[rows, cols], row_labels, col_labels)``."""

    def __init__(self, title: str, left: str, bottom: str, bar_label: str, levels=(0.0, 1.0), cmap: str = "viridis"):
        self.widget = plot_widget(title, left, bottom, legend=False)
        self.widget.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.widget.addItem(self.image)
        self.levels = levels
        self.bar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(cmap), label=bar_label, width=12, interactive=False)
        self.bar.setImageItem(self.image, insert_in=self.widget.getPlotItem())
        self.texts: list[pg.TextItem] = []

    def setData(self, z, row_labels, col_labels, *, annotate: bool = True, fmt: str = "{:.0f}") -> None:  # noqa: N802
        z = np.asarray(z, float)
        self.image.setImage(np.nan_to_num(z, nan=self.levels[0]), levels=self.levels, autoLevels=False)
        self.image.setRect(0, 0, z.shape[1], z.shape[0])
        self.widget.getAxis("bottom").setTicks([[(j + 0.5, str(c)) for j, c in enumerate(col_labels)]])
        self.widget.getAxis("left").setTicks([[(i + 0.5, str(r)) for i, r in enumerate(row_labels)]])
        for t in self.texts:
            self.widget.removeItem(t)
        self.texts = []
        if annotate and z.size <= 400:
            mid = 0.5 * (self.levels[0] + self.levels[1])
            for i in range(z.shape[0]):
                for j in range(z.shape[1]):
                    if np.isfinite(z[i, j]):
                        t = pg.TextItem(fmt.format(z[i, j]), color="#000" if z[i, j] > mid else "#fff", anchor=(0.5, 0.5))
                        t.setPos(j + 0.5, i + 0.5)
                        self.widget.addItem(t)
                        self.texts.append(t)
        self.widget.setRange(xRange=(0, z.shape[1]), yRange=(0, z.shape[0]), padding=0)
