"""The engine's views: its exact frame against the method's (split, difference, either one) with the RC hit map, and the
per-frame plots of blending work and PSNR along the camera path. They draw a Result; they compute nothing."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engines import splatting as sp

VIEW_MODES = ("split", "difference", "method", "exact")


class EngineImageView(QWidget):
    """The newest frame of a Result as exact | method, |method − exact| × 10, or either frame, with the RC hit map over it."""

    render_requested = Signal()  # "Render this view": the panel renders the viewport's pose with the engine

    def __init__(self, parent=None):
        super().__init__(parent)
        self.result = None
        rv = QVBoxLayout(self)
        rv.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("<b>Engine</b> (torch tile rasteriser): exact | method")
        rv.addWidget(self.title)
        self.plot = pg.PlotWidget()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.hit_item = pg.ImageItem(axisOrder="row-major")
        self.hit_item.setOpacity(0.45)
        self.split_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffffff", width=1, style=Qt.PenStyle.DashLine))
        for it in (self.image_item, self.hit_item, self.split_line):
            self.plot.addItem(it)
        self.label = pg.TextItem("", color="#ffffff", anchor=(0, 0), fill=pg.mkBrush(0, 0, 0, 140))
        self.plot.addItem(self.label)
        rv.addWidget(self.plot, 1)
        row = QHBoxLayout()
        self.view_box = QComboBox()
        self.view_box.addItems(list(VIEW_MODES))
        self.view_box.setToolTip("Engine view: exact left / method right (split), |method − exact| × 10, or either frame alone")
        self.view_box.currentIndexChanged.connect(lambda _: self.draw())
        self.hit_box = QCheckBox("RC hit map")
        kinds = sp.HIT_KINDS
        self.hit_box.setToolTip(f"Overlay which pixels skipped blending: green = {kinds[1]}, blue = {kinds[2]}, red = {kinds[3]}")
        self.hit_box.toggled.connect(lambda _: self.draw())
        self.pose_button = QPushButton("Render this view")
        self.pose_button.setToolTip("Render the viewport's current pose with the torch engine, exact and with the method")
        self.pose_button.clicked.connect(self.render_requested)
        for w in (self.view_box, self.hit_box, self.pose_button):
            row.addWidget(w)
        row.addStretch(1)
        rv.addLayout(row)

    def show_result(self, result) -> None:
        self.result = result
        self.draw()

    def draw(self) -> None:
        r = self.result
        if r is None or not r.frames_done:
            return
        mode = self.view_box.currentText()
        ex, me = np.clip(r.rgb_exact, 0, 1), np.clip(r.rgb_method, 0, 1)
        H, W = ex.shape[:2]
        method = r.method_label
        label = {"split": f"exact | {method}", "difference": "|method − exact| × 10", "method": method, "exact": "exact"}[mode]
        if mode == "split":
            img = ex.copy()
            img[:, W // 2:] = me[:, W // 2:]
        elif mode == "difference":
            img = np.repeat(np.clip(10 * np.abs(me - ex).mean(axis=2, keepdims=True), 0, 1), 3, axis=2)
        else:
            img = me if mode == "method" else ex
        self.image_item.setImage((img * 255).astype(np.uint8), levels=(0, 255))
        self.split_line.setVisible(mode == "split")
        self.split_line.setPos(W / 2)
        if self.hit_box.isChecked() and r.hitmap.any():
            rgba = np.zeros((H, W, 4), np.uint8)
            for k, c in sp.HIT_COLORS.items():
                rgba[r.hitmap == k] = (*c, 255)
            if mode == "split":
                rgba[:, : W // 2] = 0
            self.hit_item.setImage(rgba, levels=(0, 255))
            self.hit_item.setVisible(True)
        else:
            self.hit_item.setVisible(False)
        ps = r.psnr_db[r.frames_done - 1]
        self.label.setText(f"{label}   {ps:.1f} dB" if np.isfinite(ps) else label)
        self.label.setPos(2, 2)
        self.title.setText(f"<b>Engine</b> (torch tile rasteriser, {r.width}×{r.height}): {label}")


class FramePlots(QWidget):
    """Blending work (exact and method) and the method's PSNR against exact, per frame of the path, with the target line."""

    def __init__(self, parent=None):
        super().__init__(parent)
        ph = QHBoxLayout(self)
        ph.setContentsMargins(0, 0, 0, 0)
        colors = sp.COLORS
        self.work_plot = pg.PlotWidget(title="blending work per frame")
        self.work_plot.setToolTip("Pixel–Gaussian exponent evaluations the blender computed per frame: machine-independent work "
                                  "(the wall-clock milliseconds are in the headline's tooltip)")
        self.work_plot.setLabel("bottom", "frame")
        self.work_plot.setLabel("left", "pixel–Gaussian evaluations [million]")
        self.work_plot.addLegend(offset=(-5, 5))
        self.exact_curve = self.work_plot.plot([], pen=pg.mkPen(colors["exact"], width=2), symbol="o", symbolSize=6,
                                               symbolBrush=colors["exact"], name="exact")
        self.method_curve = self.work_plot.plot([], pen=pg.mkPen(colors["method"], width=2), symbol="s", symbolSize=6,
                                                symbolBrush=colors["method"], name="method")
        self.psnr_plot = pg.PlotWidget(title="PSNR of the method against exact")
        self.psnr_plot.setLabel("bottom", "frame")
        self.psnr_plot.setLabel("left", "PSNR [dB]")
        for plot in (self.work_plot, self.psnr_plot):
            plot.getAxis("bottom").setTickSpacing(1, 1)
        self.psnr_curve = self.psnr_plot.plot([], pen=pg.mkPen(colors["method"], width=2), symbol="s", symbolSize=6,
                                              symbolBrush=colors["method"])
        target = sp.TARGET["psnr_mean_db"].value
        self.psnr_plot.addItem(pg.InfiniteLine(pos=target, angle=0, pen=pg.mkPen(colors["target"], width=1, style=Qt.PenStyle.DashLine),
                                               label=f"{target:g} dB target", labelOpts=dict(color=colors["target"], position=0.15)))
        ph.addWidget(self.work_plot)
        ph.addWidget(self.psnr_plot)

    def show_result(self, r) -> None:
        n = r.frames_done
        x = np.arange(n)
        self.exact_curve.setData(x, r.exact_evals[:n] / 1e6)
        self.method_curve.setData(x, r.method_evals[:n] / 1e6)
        self.work_plot.setYRange(0, 1.1 * max(r.exact_evals[:n].max(), r.method_evals[:n].max(), 1.0) / 1e6, padding=0)
        self.psnr_curve.setData(x, np.minimum(r.psnr_db[:n], 100.0))
        legend = self.work_plot.plotItem.legend
        if legend is not None:  # the legend names the method this result ran
            for sample, text in legend.items:
                if sample.item is self.method_curve:
                    text.setText(r.method_label)
