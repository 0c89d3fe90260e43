"""ρ00 explorer: hadronic rescattering biases the spin alignment of K*0 and ρ0, not of φ (arXiv:2507.00706).

Every number comes from ``engines.spin_alignment``'s Result: the cos θ* histogram of the chosen meson and frame with the
fitted spin-1 curve, Δρ00 of all mesons and frames beside the abstract's numbers, the energy scan (a side job, exported
under ``energy_scan/``) with the abstract's maxima marked, and the transverse map of the pair survival probability (the
almond). File → Open analyses an OSCAR particle list with the same estimators and makes it what the views show: its
histograms, its Δρ00 beside the model's (exported under ``model/``), its event and pair counts, and for a meson without
pairs the reason in words. Run, a control change or "Back to the model" returns to the model.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QGridLayout, QPushButton, QWidget

from engines.spin_alignment import COLORS, ENERGIES, FRAME_LABEL, FRAME_SHORT, FRAMES, MESON_LABEL, MESON_NAMES, PAPER_MAX_DEVIATION
from panels.base import Panel

BAR_X = {f: np.arange(3) + (k - 0.5) * 0.38 for k, f in enumerate(FRAMES[:2])}  # RP and PP bars of each meson


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#222", size="10pt")
    w.setLabel("left", left)
    w.setLabel("bottom", bottom)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.getAxis("left").enableAutoSIPrefix(False)
    return w


def _short(name: str, limit: int = 48) -> str:
    """A file name elided in the middle beyond ``limit`` characters (a long word cannot wrap and would widen the views)."""
    return name if len(name) <= limit else name[: limit // 2 - 1] + "…" + name[-(limit // 2):]


def _pm(value: float, error: float, signed: bool = False) -> str:
    """``value ± error`` as a reader writes it; "n/a" where the result has no number (never "nan" on screen)."""
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:+.4f}" if signed else f"{value:.4f}"
    return text + (f" ± {error:.4f}" if math.isfinite(error) else "")


class SpinAlignmentPanel(Panel):
    panel_id = "spin_alignment"
    engine_name = "spin_alignment"
    live = True
    form_groups = ("Collision", "Rescattering", "Spin", "Acceptance", "Statistics", "Analysis")
    file_filter = "OSCAR particle lists (*.oscar *.oscar1999 *.dat *.txt *.f19);;All files (*)"
    sweep_fields = ("energy", "sigma_pion", "sigma_kaon", "centrality_max", "n_resonances", "pt_max")

    def default_config(self):
        # the panel's default job: fewer resonances than the CLI (≈ 2–3 s on one core, the energy scan ≈ 4 s more);
        # the moment estimator in the headline
        return self.engine.Config(n_resonances=40_000, scan_resonances=6_000, estimator="moment")

    model = None  # the model's last final result: what a file's Δρ00 is compared with
    _auto_scan = True  # start the energy scan once, after the first model result

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._source_tip = self.source_label.toolTip()
        self.meson_box = QComboBox()
        for m in MESON_NAMES:
            self.meson_box.addItem(MESON_LABEL[m], m)
        self.meson_box.setToolTip("Vector meson shown in the cos θ* histogram and the survival map (no re-run)")
        self.frame_box = QComboBox()
        for f in FRAMES:
            self.frame_box.addItem(FRAME_LABEL[f], f)
        self.frame_box.setCurrentIndex(1)
        self.frame_box.setToolTip("Quantization axis of the histogram: reaction-plane normal, production-plane normal ẑ×p̂, "
                                  "or p̂ (no re-run)")
        self.scan_button = QPushButton("Energy scan")
        self.scan_button.setToolTip("Run these settings at all eight BES energies (7.7–200 GeV) as a job with progress; "
                                    "fills the Δρ00 versus √sNN plot")
        self.back_button = QPushButton("Back to the model")
        self.back_button.setToolTip("Leave the opened file and show the model's run with these settings again (as Run does)")
        self.back_button.hide()
        self.meson_box.currentIndexChanged.connect(self._redraw)
        self.frame_box.currentIndexChanged.connect(self._redraw)
        self.scan_button.clicked.connect(lambda: self.run_scan())
        self.back_button.clicked.connect(lambda: self.run_job())
        self.add_controls("View", ("meson", self.meson_box), ("frame", self.frame_box), self.scan_button, self.back_button)

    def default_source(self) -> str:
        return "Showing: the model (Monte Carlo with these settings) · File → Open analyses your own OSCAR particle list"

    # ---- views --------------------------------------------------------------------------------------
    def build_views(self) -> QWidget:
        w = QWidget()
        grid = QGridLayout(w)
        grid.setContentsMargins(0, 0, 0, 0)

        self.hist_plot = _plot("cos θ* distribution", "weighted counts / bin", "cos θ*")
        self.hist_bars = pg.BarGraphItem(x=np.zeros(1), height=np.zeros(1), width=0.09, brush="#9ecae1", pen="#4a7fb0")
        self.hist_err = pg.ErrorBarItem(x=np.zeros(1), y=np.zeros(1), height=np.zeros(1), pen="#333")
        self.fit_curve = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2.5), name="fit (1−ρ00)+(3ρ00−1)cos²θ*")
        self.flat_curve = pg.PlotDataItem(pen=pg.mkPen("#555", width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine), name="ρ00 = 1/3")
        self.hist_plot.addLegend(offset=(-10, -10), labelTextSize="9pt", brush=pg.mkBrush(255, 255, 255, 200))
        for item in (self.hist_bars, self.hist_err, self.fit_curve, self.flat_curve):
            self.hist_plot.addItem(item)
        self.hist_text = pg.TextItem("", color="#111", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 210))
        font = pg.QtGui.QFont()
        font.setPointSize(11)
        self.hist_text.setFont(font)
        self.hist_text.setZValue(10)
        self.hist_plot.addItem(self.hist_text)

        self.bar_plot = _plot("Δρ00 here (bars, ±1σ) vs the abstract's maxima (★)", "ρ00 − 1/3", "")
        self.bar_items, self.model_bars = {}, {}
        for k, f in enumerate(FRAMES[:2]):
            alpha = "88" if k == 0 else "ff"
            self.bar_items[f] = pg.BarGraphItem(x=BAR_X[f], height=np.zeros(3), width=0.36, pen="#333",
                                                brushes=[pg.mkBrush(COLORS[m] + alpha) for m in MESON_NAMES])
            self.model_bars[f] = pg.BarGraphItem(x=BAR_X[f] + 0.09, height=np.zeros(3), width=0.17, pen=pg.mkPen("#777"),
                                                 brushes=[pg.mkBrush(COLORS[m] + "30") for m in MESON_NAMES])
            self.model_bars[f].hide()
            self.bar_plot.addItem(self.bar_items[f])
            self.bar_plot.addItem(self.model_bars[f])
        self.bar_err = pg.ErrorBarItem(x=np.zeros(6), y=np.zeros(6), height=np.zeros(6), pen=pg.mkPen("#000", width=1.5), beam=0.08)
        self.model_err = pg.ErrorBarItem(x=np.zeros(6), y=np.zeros(6), height=np.zeros(6), pen=pg.mkPen("#777", width=1.2), beam=0.05)
        self.model_err.hide()
        self.bar_plot.addItem(self.bar_err)
        self.bar_plot.addItem(self.model_err)
        self.no_pairs = [pg.TextItem("no pairs", color="#b00020", anchor=(0.5, 1.0)) for _ in MESON_NAMES]
        for i, label in enumerate(self.no_pairs):
            label.setPos(float(i), 0.0)
            label.hide()
            self.bar_plot.addItem(label)
        paper_x = [BAR_X[f][MESON_NAMES.index(m)] for m in ("kstar0", "rho0") for f in FRAMES[:2]]
        paper_y = [PAPER_MAX_DEVIATION[m][f] for m in ("kstar0", "rho0") for f in FRAMES[:2]]
        self.bar_plot.addItem(pg.ScatterPlotItem(x=paper_x, y=paper_y, symbol="star", size=16, brush="#ffd400", pen=pg.mkPen("#000")))
        self.bar_plot.addLine(y=0, pen=pg.mkPen("#777"))
        self.bar_plot.getAxis("bottom").setTicks([[(BAR_X[f][i], f"{MESON_LABEL[m]} {FRAME_SHORT[f]}")
                                                   for i, m in enumerate(MESON_NAMES) for f in FRAMES[:2]]])

        self.scan_plot = _plot("Δρ00 vs √sNN (energy scan job), ★ abstract's maxima", "ρ00 − 1/3", "√sNN [GeV]")
        self.scan_plot.setLogMode(x=True, y=False)
        self.scan_plot.getAxis("bottom").setTicks([[(float(np.log10(e)), f"{e:g}") for e in ENERGIES]])
        self.scan_plot.addLegend(offset=(10, 10), labelTextSize="8pt", colCount=2)
        self.scan_curves = {}
        for m in MESON_NAMES:
            dash, solid = pg.QtCore.Qt.PenStyle.DashLine, pg.QtCore.Qt.PenStyle.SolidLine
            for f, sym, style in (("reaction_plane", "o", dash), ("production_plane", "s", solid)):
                pen = pg.mkPen(COLORS[m], width=2, style=style)
                self.scan_curves[(m, f)] = self.scan_plot.plot([], [], pen=pen, symbol=sym, symbolBrush=COLORS[m], symbolSize=7,
                                                               name=f"{MESON_LABEL[m]} {FRAME_SHORT[f]}")
        stars_y = [PAPER_MAX_DEVIATION[m][f] for m in ("kstar0", "rho0") for f in FRAMES[:2]]
        self.scan_plot.plot([200.0] * 4, stars_y, pen=None, symbol="star", symbolSize=16, symbolBrush="#ffd400", symbolPen="#000")
        self.scan_plot.addLine(y=0, pen=pg.mkPen("#777"))

        self.map_plot = _plot("pair survival probability vs decay point", "y [fm]", "x (in reaction plane) [fm]")
        self.map_plot.setAspectLocked(True)
        self.map_img = pg.ImageItem()
        self.map_plot.addItem(self.map_img)
        names = ("1σ almond at hadronization", "at kinetic freeze-out")
        self.almond_curves = [self.map_plot.plot([], [], pen=pg.mkPen(c, width=2, style=st))
                              for c, st in (("#ffffff", pg.QtCore.Qt.PenStyle.SolidLine), ("#ff7f0e", pg.QtCore.Qt.PenStyle.DashLine))]
        self.map_plot.addLegend(offset=(5, 5), labelTextSize="8pt", brush=pg.mkBrush(60, 60, 60, 160), labelTextColor="w")
        for c, n in zip(self.almond_curves, names):
            self.map_plot.getPlotItem().legend.addItem(c, n)
        self.map_bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), label="survival", width=12)
        self.map_bar.setImageItem(self.map_img, insert_in=self.map_plot.getPlotItem())

        grid.addWidget(self.hist_plot, 0, 0)
        grid.addWidget(self.bar_plot, 0, 1)
        grid.addWidget(self.scan_plot, 1, 0)
        grid.addWidget(self.map_plot, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        return w

    # ---- drawing ------------------------------------------------------------------------------------
    def show_snapshot(self, snap) -> None:
        res = snap.result
        if res is None:
            return
        final = snap.progress >= 1.0
        if res.source is None:  # the model is on screen again
            self.results.pop("model", None)
            if final:
                self.model = res
            self.set_source(self.default_source())
            self.source_label.setToolTip(self._source_tip)
        elif final:
            if self.model is not None:
                self.results["model"] = self.model  # the comparison, exported beside the file's result
            src = res.source
            pairs = " · ".join(f"{MESON_LABEL[m]} {src.accepted[i]:,}" for i, m in enumerate(MESON_NAMES))
            counts = f"{src.format}, {src.events:,} events, {src.particles:,} particles; pairs analysed: {pairs}"
            self.set_source(f"Showing: {src.path} — {counts}")  # what Export writes: the whole path
            # on screen the file's name (a long path cannot wrap and would widen the views); the path in the tooltip
            self.source_label.setText(f"Showing: {_short(src.name)} — {counts}")
            self.source_label.setToolTip(src.path)
        self.back_button.setVisible(res.source is not None)
        self._redraw()
        if final and res.source is None and self._auto_scan and "energy_scan" not in self.results:
            self._auto_scan = False
            self.run_scan()

    def headline_html(self, result) -> str:
        """Per meson: Δρ00 in the reaction and production planes (the abstract's numbers beside them); for a file, which
        file, its counts, the reason where a meson has no pairs, and how to go back to the model."""
        head = result.headline()
        src = result.source
        lines = []
        if src is not None:
            lines.append(f"<b>File {_short(src.name)}</b> ({src.format}, {src.events:,} events) — the model's Δρ00 beside it as pale bars. "
                         "<i>Back to the model: Run, or the “Back to the model” button.</i>")
        for i, m in enumerate(MESON_NAMES):
            if src is not None and not src.accepted[i]:
                lines.append(f"<b>{MESON_LABEL[m]}</b>: no pairs — {src.why[i]}; read {src.daughters_read[i]}")
                continue
            rp, pp = (head[f"delta_rho00_{m}_{f}"] for f in FRAMES[:2])
            paper = PAPER_MAX_DEVIATION[m]
            ref = (f" <span style='color:#777'>(abstract {paper['reaction_plane']:+.4f} / {paper['production_plane']:+.4f})</span>"
                   if m != "phi" else " <span style='color:#777'>(abstract: unaffected)</span>")
            count = f" ({src.accepted[i]:,} pairs)" if src is not None else ""
            lines.append(f"<b>{MESON_LABEL[m]}</b>{count} Δρ00 RP {_pm(rp.value, rp.error, True)}, PP {_pm(pp.value, pp.error, True)}{ref}")
        return "<br>".join(lines)

    def _redraw(self) -> None:
        res = self.shown
        if res is None:
            return
        i, j = self.meson_box.currentIndex(), self.frame_box.currentIndex()
        meson, frame = MESON_NAMES[i], FRAMES[j]
        src = res.source
        self._draw_histogram(res, i, j)
        cfg = res.config
        where = (f"the file's {src.accepted[i]:,} pairs" if src is not None else
                 f"{cfg.energy:g} GeV, {cfg.centrality_min:g}–{cfg.centrality_max:g}%, rescattering {'on' if cfg.rescattering else 'off'}")
        self.hist_plot.setTitle(f"{MESON_LABEL[meson]} cos θ*, {FRAME_SHORT[frame]} frame: {where}", color="#222", size="10pt")
        self._draw_bars(res, self.model if src is not None else None)
        self._draw_map(res if src is None else self.model, i)

    def _draw_histogram(self, res, i: int, j: int) -> None:
        src = res.source
        empty = src is not None and not src.accepted[i]
        for item in (self.hist_bars, self.hist_err, self.fit_curve, self.flat_curve, self.hist_plot.plotItem.legend):
            item.setVisible(not empty)
        if empty:  # a meson the file yields no pairs for: the reason, in words, where the histogram would be
            self.hist_text.setText(f"No {MESON_LABEL[MESON_NAMES[i]]} pairs in {_short(src.name)}:\n" + textwrap.fill(src.reasons[i], 44))
            self.hist_plot.setYRange(0, 1, padding=0)
            self.hist_plot.setXRange(-1, 1, padding=0.02)
            self.hist_text.setPos(-0.97, 0.97)
            return
        nb = res.hist.shape[-1]
        edges = np.linspace(-1, 1, nb + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        h, e = res.hist[i, j], res.hist_err[i, j]
        self.hist_bars.setOpts(x=centres, height=h, width=0.9 * (edges[1] - edges[0]))
        self.hist_err.setData(x=centres, y=h, height=2 * e)
        fv, fe = res.rho00_fit[i, j]
        mv, me = res.rho00_moment[i, j]
        fitted = bool(np.isfinite(fv) and res.fit_norm[i, j] > 0)
        if fitted:
            self.fit_curve.setData(*res.curve(i, j))
            self.flat_curve.setData(*res.unaligned_curve(i, j))
        self.fit_curve.setVisible(fitted)
        self.flat_curve.setVisible(fitted)
        text = f"fit ρ00 = {_pm(fv, fe)}\nmoment ρ00 = {_pm(mv, me)}"
        if src is not None:
            text += f"\n{src.accepted[i]:,} pairs from {src.events:,} events"
        self.hist_text.setText(text)
        if h.size and np.isfinite(h).all() and h.max() > 0:
            lo, hi = float((h - e).min()), float((h + e).max())
            span = max(hi - lo, 1e-9)
            top = hi + 0.45 * span
            self.hist_plot.setYRange(lo - 0.05 * span, top, padding=0)
            self.hist_text.setPos(-0.97, top)

    def _draw_bars(self, res, model) -> None:
        """Δρ00 of the result on screen (and, for a file, the model's beside it), RP and PP per meson, ±1σ."""
        compare = model is not None
        shift, width = (-0.09, 0.17) if res.source is not None else (0.0, 0.36)
        xs, ys, hs, mx, my, mh = [], [], [], [], [], []
        for k, f in enumerate(FRAMES[:2]):
            d = np.nan_to_num(res.delta_rho00[:, k, 0])
            self.bar_items[f].setOpts(x=BAR_X[f] + shift, height=d, width=width)
            xs.extend(BAR_X[f] + shift)
            ys.extend(d)
            hs.extend(2 * np.nan_to_num(res.delta_rho00[:, k, 1]))
            self.model_bars[f].setVisible(compare)
            if compare:
                md = np.nan_to_num(model.delta_rho00[:, k, 0])
                self.model_bars[f].setOpts(height=md)
                mx.extend(BAR_X[f] + 0.09)
                my.extend(md)
                mh.extend(2 * np.nan_to_num(model.delta_rho00[:, k, 1]))
        self.bar_err.setData(x=np.array(xs), y=np.array(ys), height=np.array(hs))
        self.model_err.setVisible(compare)
        if compare:
            self.model_err.setData(x=np.array(mx), y=np.array(my), height=np.array(mh))
        for i, label in enumerate(self.no_pairs):
            label.setVisible(res.source is not None and not res.source.accepted[i])
        self.bar_plot.setTitle("Δρ00: the file (solid), the model (pale), ±1σ; ★ abstract"
                               if res.source is not None else "Δρ00 here (bars, ±1σ) vs the abstract's maxima (★)",
                               color="#222", size="10pt")

    def _draw_map(self, model, i: int) -> None:
        """The model's pair survival map of meson ``i`` (a file records which daughters escaped, not the probability)."""
        if model is None:
            self.map_img.clear()
            self.map_plot.setTitle("pair survival: a file has none; Run shows the model's", color="#222", size="10pt")
            return
        smap = np.nan_to_num(model.survival_map[i], nan=1.0)
        ext = float(model.map_extent)
        low = float(np.floor(10 * smap.min()) / 10) if smap.size else 0.0
        self.map_img.setImage(smap, levels=(low, 1), autoLevels=False)
        self.map_bar.setLevels((low, 1))
        self.map_img.setRect(pg.QtCore.QRectF(-ext, -ext, 2 * ext, 2 * ext))
        phi = np.linspace(0, 2 * np.pi, 121)
        for curve, (sx, sy) in zip(self.almond_curves, model.almond):
            curve.setData(sx * np.cos(phi), sy * np.sin(phi))
        mean = model.mean_survival[i]
        tail = f" (mean {mean:.2f})" if math.isfinite(mean) else ""
        whose = " (the model's)" if model is not self.shown else " vs decay point"
        self.map_plot.setTitle(f"{MESON_LABEL[MESON_NAMES[i]]} pair survival{whose}{tail}", color="#222", size="10pt")

    # ---- energy scan (a side job) -------------------------------------------------------------------
    def scan_config(self, cfg):
        """The energy scan of the model with these settings (a few resonances for the 200 GeV part it also runs)."""
        return cfg.replace(scan="energy", n_resonances=300, oscar="")

    def sweep_config(self, cfg):
        """A sweep's runs are the model alone (no extra scan, no opened file)."""
        return cfg.replace(scan="none", oscar="")

    def run_scan(self, config=None):
        cfg = self.config_or_error(config)
        return None if cfg is None else self.run_side("energy_scan", self.scan_config(cfg), self._on_scan_snapshot)

    def _on_scan_snapshot(self, snap) -> None:
        res = snap.result
        if res is None or not len(res.scan_energies) or not snap.has_changed("energy_scan"):
            return
        e = res.scan_energies
        for (m, f), curve in self.scan_curves.items():
            v = res.energy_scan_delta[:, MESON_NAMES.index(m), FRAMES.index(f), 0]
            ok = np.isfinite(v)
            curve.setData(e[ok], v[ok])

    def run_blocking(self, config=None) -> None:
        """The job (default: the controls') in this thread; for the model, then its energy scan (screenshots, tests)."""
        self._auto_scan = False
        cfg = config if config is not None else self.config()
        super().run_blocking(cfg)
        if not cfg.oscar:
            self.run_side_blocking("energy_scan", self.scan_config(cfg), self._on_scan_snapshot)

    # ---- File > Open --------------------------------------------------------------------------------
    def file_config(self, path: str):
        """The controls' settings (acceptance, binning, estimator) applied to the particle list at ``path``."""
        cfg = self.config_or_error()
        return None if cfg is None else cfg.replace(oscar=str(Path(path)))

    def open_file(self, path: str) -> None:
        cfg = self.file_config(path)
        if cfg is not None:
            self.message.setText(f"reading {Path(path).name} …")
            self.run_job(cfg)
