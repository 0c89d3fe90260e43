"""ρ00 explorer: hadronic rescattering biases the spin alignment of K*0 and ρ0, not of φ (arXiv:2507.00706).

Every number comes from ``engines.spin_alignment``: the cos θ* histogram of the chosen meson and frame with the fitted
spin-1 curve, Δρ00 of all mesons and frames beside the abstract's numbers, the energy scan (a job of its own, with
progress) with the abstract's maxima marked, and the transverse map of the pair survival probability (the almond).
File > Open analyses an OSCAR particle list with the same estimators.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QPushButton, QWidget

from app.jobs import get_device
from engines.spin_alignment import ENERGIES, FRAMES, MESON_NAMES, PAPER_MAX_DEVIATION
from engines.spin_alignment.analysis import THIRD
from engines.spin_alignment.result import COLOURS, MESON_LABEL
from engines.spin_alignment.result import FRAME_LABEL as FRAME_SHORT
from panels.base import Panel

FRAME_LABEL = {"reaction_plane": "reaction plane", "production_plane": "production plane", "helicity": "helicity"}


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="#222", size="10pt")
    w.setLabel("left", left)
    w.setLabel("bottom", bottom)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.getAxis("left").enableAutoSIPrefix(False)
    return w


class SpinAlignmentPanel(Panel):
    panel_id = "spin_alignment"
    engine_name = "spin_alignment"
    live = True
    form_groups = ("Collision", "Rescattering", "Spin", "Acceptance", "Statistics", "Analysis")
    file_filter = "OSCAR particle lists (*.oscar *.dat *.txt *.f19);;All files (*)"

    def default_config(self):
        # the panel's default job: fewer resonances than the CLI (≈ 2–3 s on one core, the energy scan ≈ 4 s more);
        # the moment estimator in the headline
        return self.engine.Config(n_resonances=40_000, scan_resonances=6_000, estimator="moment")

    scan_result = None  # the last finished energy scan
    _auto_scan = True  # start the energy scan once, after the first main job

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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
        self.meson_box.currentIndexChanged.connect(self._redraw)
        self.frame_box.currentIndexChanged.connect(self._redraw)
        self.scan_button.clicked.connect(self.run_scan)
        self.file_label = QLabel("")
        self.file_label.setWordWrap(True)
        self.file_label.setToolTip("ρ00 of the last OSCAR file opened with File > Open (moment estimator, Ψ_RP = 0)")
        self.add_controls("View", ("meson", self.meson_box), ("frame", self.frame_box), self.scan_button, self.file_label)

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
        self.bar_items = {}
        for k, f in enumerate(FRAMES[:2]):
            brushes = [pg.mkBrush(COLOURS[m] + ("88" if k == 0 else "ff")) for m in MESON_NAMES]
            self.bar_items[f] = pg.BarGraphItem(x=np.arange(3) + (k - 0.5) * 0.38, height=np.zeros(3), width=0.36,
                                                brushes=brushes, pen="#333")
            self.bar_plot.addItem(self.bar_items[f])
        self.bar_err = pg.ErrorBarItem(x=np.zeros(6), y=np.zeros(6), height=np.zeros(6), pen=pg.mkPen("#000", width=1.5), beam=0.08)
        self.bar_plot.addItem(self.bar_err)
        paper_x, paper_y = [], []
        for i, m in enumerate(("kstar0", "rho0")):
            for k, f in enumerate(FRAMES[:2]):
                paper_x.append([0, 2][i] + (k - 0.5) * 0.38)
                paper_y.append(PAPER_MAX_DEVIATION[m][f])
        self.bar_plot.addItem(pg.ScatterPlotItem(x=paper_x, y=paper_y, symbol="star", size=16, brush="#ffd400", pen=pg.mkPen("#000")))
        self.bar_plot.addLine(y=0, pen=pg.mkPen("#777"))
        ax = self.bar_plot.getAxis("bottom")
        ax.setTicks([[(i + d, f"{MESON_LABEL[m]} {t}") for i, m in enumerate(MESON_NAMES) for d, t in ((-0.19, "RP"), (0.19, "PP"))]])

        self.scan_plot = _plot("Δρ00 vs √sNN (energy scan job), ★ abstract's maxima", "ρ00 − 1/3", "√sNN [GeV]")
        self.scan_plot.setLogMode(x=True, y=False)
        self.scan_plot.getAxis("bottom").setTicks([[(float(np.log10(e)), f"{e:g}") for e in ENERGIES]])
        self.scan_plot.addLegend(offset=(10, 10), labelTextSize="8pt", colCount=2)
        self.scan_curves = {}
        for m in MESON_NAMES:
            dash, solid = pg.QtCore.Qt.PenStyle.DashLine, pg.QtCore.Qt.PenStyle.SolidLine
            for f, sym, style in (("reaction_plane", "o", dash), ("production_plane", "s", solid)):
                self.scan_curves[(m, f)] = self.scan_plot.plot([], [], pen=pg.mkPen(COLOURS[m], width=2, style=style), symbol=sym,
                                                               symbolBrush=COLOURS[m], symbolSize=7,
                                                               name=f"{MESON_LABEL[m]} {'RP' if f == 'reaction_plane' else 'PP'}")
        stars_x = [200.0] * 4
        stars_y = [PAPER_MAX_DEVIATION[m][f] for m in ("kstar0", "rho0") for f in FRAMES[:2]]
        self.scan_plot.plot(stars_x, stars_y, pen=None, symbol="star", symbolSize=16, symbolBrush="#ffd400", symbolPen="#000")
        self.scan_plot.addLine(y=0, pen=pg.mkPen("#777"))

        self.map_plot = _plot("pair survival probability vs decay point", "y [fm]", "x (in reaction plane) [fm]")
        self.map_plot.setAspectLocked(True)
        self.map_img = pg.ImageItem()
        self.map_plot.addItem(self.map_img)
        self.almond_curves = [self.map_plot.plot([], [], pen=pg.mkPen(c, width=2, style=st), name=n)
                              for c, st, n in (("#ffffff", pg.QtCore.Qt.PenStyle.SolidLine, "1σ almond at hadronization"),
                                               ("#ff7f0e", pg.QtCore.Qt.PenStyle.DashLine, "at kinetic freeze-out"))]
        self.map_plot.addLegend(offset=(5, 5), labelTextSize="8pt", brush=pg.mkBrush(60, 60, 60, 160), labelTextColor="w")
        for c, n in zip(self.almond_curves, ("1σ almond at hadronization", "at kinetic freeze-out")):
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
        if snap.result is not None:
            self._last = snap.result
            self._redraw()

    def _redraw(self) -> None:
        res = getattr(self, "_last", None)
        if res is None:
            return
        i, j = self.meson_box.currentIndex(), self.frame_box.currentIndex()
        meson, frame = MESON_NAMES[i], FRAMES[j]
        nb = res.hist.shape[-1]
        edges = np.linspace(-1, 1, nb + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        h, e = res.hist[i, j], res.hist_err[i, j]
        self.hist_bars.setOpts(x=centres, height=h, width=0.9 * (edges[1] - edges[0]))
        self.hist_err.setData(x=centres, y=h, height=2 * e)
        fv, fe = res.rho00_fit[i, j]
        mv, me = res.rho00_moment[i, j]
        if np.isfinite(fv) and res.fit_norm[i, j] > 0:
            self.fit_curve.setData(*res.curve(i, j))
            self.flat_curve.setData(*res.curve(i, j, THIRD))
        rs = "on" if res.config.get("rescattering") else "off"
        self.hist_plot.setTitle(f"{MESON_LABEL[meson]} cos θ*, {FRAME_SHORT[frame]} frame: {res.config.get('energy'):g} GeV, "
                                f"{res.config.get('centrality_min'):g}–{res.config.get('centrality_max'):g}%, rescattering {rs}",
                                color="#222", size="10pt")
        self.hist_text.setText(f"fit ρ00 = {fv:.4f} ± {fe:.4f}\nmoment ρ00 = {mv:.4f} ± {me:.4f}")
        if h.size and np.isfinite(h).all() and h.max() > 0:
            lo, hi = float((h - e).min()), float((h + e).max())
            span = max(hi - lo, 1e-9)
            top = hi + 0.45 * span
            self.hist_plot.setYRange(lo - 0.05 * span, top, padding=0)
            self.hist_text.setPos(-0.97, top)
        # Δρ00 bars (RP, PP)
        xs, ys, hs = [], [], []
        est = res.estimate()
        for k, f in enumerate(FRAMES[:2]):
            d = est[:, k, 0] - THIRD
            err = est[:, k, 1]
            self.bar_items[f].setOpts(height=np.nan_to_num(d))
            xs.extend(np.arange(3) + (k - 0.5) * 0.38)
            ys.extend(np.nan_to_num(d))
            hs.extend(2 * np.nan_to_num(err))
        self.bar_err.setData(x=np.array(xs), y=np.array(ys), height=np.array(hs))
        # survival map of the chosen meson
        smap = np.nan_to_num(res.survival_map[i], nan=1.0)
        ext = float(res.map_extent)
        low = float(np.floor(10 * smap.min()) / 10) if smap.size else 0.0
        self.map_img.setImage(smap, levels=(low, 1), autoLevels=False)
        self.map_bar.setLevels((low, 1))
        self.map_img.setRect(pg.QtCore.QRectF(-ext, -ext, 2 * ext, 2 * ext))
        phi = np.linspace(0, 2 * np.pi, 121)
        for curve, (sx, sy) in zip(self.almond_curves, res.almond):
            curve.setData(sx * np.cos(phi), sy * np.sin(phi))
        self.map_plot.setTitle(f"{MESON_LABEL[meson]} pair survival vs decay point (mean {res.mean_survival[i]:.2f})", color="#222",
                               size="10pt")
        self._headline(res)

    def _headline(self, res) -> None:
        parts = []
        est = res.estimate()
        for i, m in enumerate(MESON_NAMES):
            rp, pp = est[i, 0], est[i, 1]
            paper = PAPER_MAX_DEVIATION[m]
            ref = (f" <span style='color:#777'>(abstract {paper['reaction_plane']:+.4f} / {paper['production_plane']:+.4f})</span>"
                   if m != "phi" else " <span style='color:#777'>(abstract: unaffected)</span>")
            parts.append(f"<b>{MESON_LABEL[m]}</b> Δρ00 RP {rp[0] - THIRD:+.4f} ± {rp[1]:.4f}, PP {pp[0] - THIRD:+.4f} ± {pp[1]:.4f}{ref}")
        self.set_headline("<br>".join(parts))

    # ---- energy scan job ----------------------------------------------------------------------------
    def _scan_config(self, cfg):
        return cfg.replace(scan="energy", n_resonances=300)

    def run_scan(self, config=None):
        try:
            cfg = self._scan_config(config if config is not None else self.config())
        except ValueError as err:
            self.show_error(str(err))
            return None
        return self.start_stream("scan", cfg, self._on_scan_snapshot)

    def _on_scan_snapshot(self, snap) -> None:
        res = snap.result
        if res is None or not len(res.scan_energies):
            return
        if snap.progress >= 1.0:
            self.scan_result = res
        e = res.scan_energies
        for (m, f), curve in self.scan_curves.items():
            v = res.energy_scan[:, MESON_NAMES.index(m), FRAMES.index(f), 0] - THIRD
            ok = np.isfinite(v)
            curve.setData(e[ok], v[ok])

    def _on_main_snapshot(self, snap) -> None:
        super()._on_main_snapshot(snap)
        if snap.progress >= 1.0 and self._auto_scan and self.scan_result is None and "scan" not in self._jobs:
            self._auto_scan = False
            self.run_scan()

    def run_blocking(self, config=None) -> None:
        """The default job and then the energy scan, both in this thread (screenshots and tests)."""
        self._auto_scan = False
        super().run_blocking(config)
        self._on_scan_snapshot(self.final_snapshot(self._scan_config(config if config is not None else self.config())))

    def export(self, out_dir):
        """The base export (views PNG, result JSON/CSV/NPZ/figures) plus the energy scan in ``energy_scan/``."""
        out = super().export(out_dir)
        if self.scan_result is not None:
            self.scan_result.save(Path(out) / "energy_scan")
        return out

    # ---- File > Open --------------------------------------------------------------------------------
    def open_file(self, path: str) -> None:
        cfg = self.config()
        device = get_device()
        self.file_label.setText(f"reading {Path(path).name} …")
        self.start_job("file", lambda: self.engine.stream_file(path, cfg, device=device), self._on_file_snapshot)

    def _on_file_snapshot(self, snap) -> None:
        if snap.progress < 1.0 or snap.result is None:
            return
        out = snap.result
        lines = [f"<b>{Path(out['path']).name}</b> ({out['format']}, {out['events']} events)"]
        for m in MESON_NAMES:
            rp, pp = out["rho00"][m]["reaction_plane"], out["rho00"][m]["production_plane"]
            lines.append(f"{MESON_LABEL[m]} (n={rp['n']}): RP {rp['value']:.4f} ± {rp['error']:.4f}, "
                         f"PP {pp['value']:.4f} ± {pp['error']:.4f}")
        self.file_label.setText("<br>".join(lines))
