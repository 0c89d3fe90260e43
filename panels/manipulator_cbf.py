"""Manipulator CBF panel (arXiv:2503.10164): the arm in its plane, the barrier, three controllers side by side.

Tabs: the arm (ghost arms of the three controllers, end-effector trails, impact arrows) beside h, ψ₁, k₁ and τ
against time, with a Player that animates the episode and a cursor in the plots that moves with it (drag either);
the impulse-magnitude sweep; the Monte Carlo min-h histograms (a side job, ``monte_carlo``, started from its tab
and exported with the main result); the QP backends' agreement and latency. All numbers come from the engine's
result; the banner (the base's) is the result's verdict on the paper's claim and its headline.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGraphicsEllipseItem,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.manipulator_cbf import BACKENDS, COLORS, CONTROLLERS, LABELS, MILLI, Result
from panels.base import Panel, Player

IMPACT_COLOR = "#ff7f0e"
BARRIER_COLOR = (140, 86, 75)
PAPER_IMPULSE = Result.PAPER["impulse_ns"]  # the paper's scenario, marked on the sweep


def _pen(color, width=2.0, style=Qt.PenStyle.SolidLine, alpha=255):
    c = QColor(color)
    c.setAlpha(alpha)
    return pg.mkPen(c, width=width, style=style)


class ManipulatorCbfPanel(Panel):
    panel_id = "manipulator_cbf"
    engine_name = "manipulator_cbf"
    live = True
    form_groups = ("Barrier", "Impulses", "Gains", "Arm", "Reference", "Monte Carlo")
    sweep_fields = ("impulse_ns", "k1", "k2", "eps", "relax_rate", "impulse_angle_deg")

    def default_config(self):
        # the Monte Carlo runs as its own job from its tab (256 scenarios: a few seconds); a 9-point sweep and
        # 60 backend samples keep the main job to a few seconds on one core
        return self.engine.Config(mc_scenarios=256, sweep_points=9, backend_samples=60)

    # ---- jobs: the main job leaves the Monte Carlo to its side slot ----------------------------------
    def run_job(self, config=None):
        cfg = self.config_or_error(config)
        if cfg is None:
            return None
        self._mc_stale = True
        if self.tabs.currentWidget() is self.mc_tab:
            QTimer.singleShot(0, self.run_monte_carlo)
        return super().run_job(cfg.replace(mc_scenarios=0))

    def run_blocking(self, config=None) -> None:
        cfg = config if config is not None else self.config()
        super().run_blocking(cfg.replace(mc_scenarios=0))

    def sweep_config(self, cfg):
        """A sweep's runs are the episode alone: no Monte Carlo, impulse sweep or backend comparison in each."""
        return cfg.replace(mc_scenarios=0, sweep_points=0, backend_samples=0)

    def run_monte_carlo(self):
        """Start the batched Monte Carlo (the form's scenario count) as the ``monte_carlo`` side job."""
        cfg = self.config_or_error()
        if cfg is None:
            return None
        if cfg.mc_scenarios == 0:
            self.mc_info.setText("Monte Carlo: set mc scenarios > 0")
            return None
        try:  # the episodes of the side job only need to be as long as the Monte Carlo's
            side = cfg.replace(sweep_points=0, backend_samples=0, duration=min(cfg.duration, cfg.mc_duration))
        except ValueError as err:
            self.show_error(str(err))
            return None
        self._mc_stale = False
        self.mc_info.setText(f"running {cfg.mc_scenarios} scenarios × 3 controllers…")
        return self.run_side("monte_carlo", side, self._on_mc_snapshot)

    def on_tab_shown(self, name: str) -> None:
        if name == "Monte Carlo" and self._mc_stale:
            self.run_monte_carlo()

    # ---- views --------------------------------------------------------------------------------------
    def build_views(self):
        self._mc_stale = True
        self.mc_tab = self._build_mc_tab()
        return [("Arm and barrier", self._build_arm_tab()), ("Impulse sweep", self._build_sweep_tab()), ("Monte Carlo", self.mc_tab),
                ("QP backends", self._build_backend_tab())]

    def _build_arm_tab(self) -> QWidget:
        tab = QWidget()
        outer = QVBoxLayout(tab)
        outer.setContentsMargins(2, 2, 2, 2)
        bar = QHBoxLayout()
        self.show_box = QComboBox()
        self.show_box.addItems(["all three (ghosts)", *[LABELS[c] for c in CONTROLLERS]])
        self.show_box.setCurrentIndex(0)
        self.show_box.setToolTip("Which controller's arm to draw: all three overlaid (the adaptive one solid, the others as ghosts) "
                                 "or one at a time")
        self.show_box.currentIndexChanged.connect(lambda _i: self._draw_frame())
        self.player = Player("the episode (the cursor in the plots moves with it)", interval_ms=33)
        self.player.frame_changed.connect(self._on_frame)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.05, 4.0)
        self.speed.setSingleStep(0.05)
        self.speed.setValue(0.25)
        self.speed.setSuffix(" × real time")
        self.speed.setToolTip("Playback speed of the animation (simulated seconds per wall second)")
        self.speed.valueChanged.connect(lambda _v: self._set_player_step())
        self.time_label = QLabel("t = 0.000 s")
        self.time_label.setMinimumWidth(150)
        for w in (QLabel("Show:"), self.show_box, QLabel("Speed:"), self.speed):
            bar.addWidget(w)
        bar.addWidget(self.player, 1)
        bar.addWidget(self.time_label)
        outer.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QSplitter(Qt.Orientation.Vertical)
        self.arm_plot = pg.PlotWidget()
        self.arm_plot.setTitle("Arm in its vertical plane (gravity down)", size="9pt")
        self.zoom_plot = pg.PlotWidget()
        self.zoom_plot.setTitle("Zoom at the end effector", size="9pt")
        self.scenes = [self._build_scene(self.arm_plot, legend=True), self._build_scene(self.zoom_plot, legend=False)]
        p = self.arm_plot
        self.arrows = []
        for _ in range(3):
            shaft = p.plot([], [], pen=_pen(IMPACT_COLOR, 4))
            head = pg.ArrowItem(angle=90, headLen=18, tipAngle=35, brush=IMPACT_COLOR, pen=None)
            head.setVisible(False)
            p.addItem(head)
            self.arrows.append((shaft, head))
        self.base_mark = p.plot([0.0], [0.0], pen=None, symbol="s", symbolSize=14, symbolBrush="#333")
        self.arm_text = QLabel("")
        self.arm_text.setWordWrap(True)
        self.arm_text.setTextFormat(Qt.TextFormat.RichText)
        left.addWidget(self.arm_plot)
        left.addWidget(self.zoom_plot)
        left.setSizes([430, 260])
        split.addWidget(left)

        plots = pg.GraphicsLayoutWidget()
        self.ts_plots, self.ts_curves, self.cursors, self.impact_lines = [], {}, [], []
        specs = [("h", "min h [mm]", "barrier h (below 0: unsafe)"), ("psi1", "ψ₁ [m/s]", "ψ₁ = dh/dt + k₁·h"),
                 ("gain", "k₁ [1/s]", "HOCBF gain k₁"), ("tau", "τ [N·m]", "joint torques: τ₁ solid, τ₂ dotted, limits dashed")]
        for row, (key, ylabel, title) in enumerate(specs):
            plot = plots.addPlot(row=row, col=0)
            plot.setLabel("left", ylabel)
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.setTitle(title, size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.2)
            if row == len(specs) - 1:
                plot.setLabel("bottom", "time [s]")
            if self.ts_plots:
                plot.setXLink(self.ts_plots[0])
            for c in CONTROLLERS:
                self.ts_curves[(key, c)] = plot.plot([], [], pen=_pen(COLORS[c], 1.6))
                if key == "tau":
                    self.ts_curves[("tau2", c)] = plot.plot([], [], pen=_pen(COLORS[c], 1.4, Qt.PenStyle.DotLine))
            zero = pg.InfiniteLine(pos=0.0, angle=0, pen=_pen("#000", 1))
            plot.addItem(zero)
            cursor = pg.InfiniteLine(pos=0.0, angle=90, movable=True, pen=_pen("#2ca02c", 2), hoverPen=_pen("#2ca02c", 4))
            cursor.sigPositionChanged.connect(self._on_cursor)
            plot.addItem(cursor)
            self.cursors.append(cursor)
            self.ts_plots.append(plot)
        self.tau_limits = [pg.InfiniteLine(pos=v, angle=0, pen=_pen("#555", 1, Qt.PenStyle.DashLine)) for v in (80.0, -80.0)]
        for line in self.tau_limits:
            self.ts_plots[3].addItem(line)
        split.addWidget(plots)
        split.setSizes([470, 480])
        outer.addWidget(split, 1)
        outer.addWidget(self.arm_text)
        return tab

    def _build_scene(self, plot, legend: bool) -> dict:
        """Barrier, reference, trails, arms and impact marks in one plot (the full view and the zoom share the design)."""
        plot.setAspectLocked(True)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setLabel("bottom", "x [m]")
        plot.setLabel("left", "y [m]")
        if legend:
            plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        sc = {}
        sc["floor"] = pg.PlotCurveItem([-2.2, 2.2], [-1.2, -1.2], fillLevel=-2.3, brush=pg.mkBrush(*BARRIER_COLOR, 70),
                                       pen=_pen(QColor(*BARRIER_COLOR), 3))
        plot.addItem(sc["floor"])
        sc["obstacle"] = QGraphicsEllipseItem(0, 0, 1, 1)
        sc["obstacle"].setPen(QPen(QColor(*BARRIER_COLOR), 0))
        sc["obstacle"].setBrush(QBrush(QColor(*BARRIER_COLOR, 110)))
        plot.addItem(sc["obstacle"])
        sc["ref"] = plot.plot([], [], pen=_pen("#222", 1.2, Qt.PenStyle.DashLine), name="reference (dips through the floor)")
        for c in CONTROLLERS:
            sc[("trail", c)] = plot.plot([], [], pen=_pen(COLORS[c], 1.5, alpha=150))
            sc[("arm", c)] = plot.plot([], [], pen=_pen(COLORS[c], 6), symbol="o", symbolSize=9, symbolBrush=COLORS[c], symbolPen=None,
                                       name=LABELS[c])
            sc[("impact", c)] = plot.plot([], [], pen=None, symbol="x", symbolSize=11, symbolPen=_pen(IMPACT_COLOR, 2))
        return sc

    def _build_sweep_tab(self) -> QWidget:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        self.sweep_plot = pg.PlotWidget()
        self.sweep_plot.setTitle("One impact at the first scheduled time: smallest h afterwards vs impulse magnitude")
        self.sweep_plot.setLabel("bottom", "impulse magnitude ‖Λ‖ [N·s]")
        self.sweep_plot.setLabel("left", "min h after the impact [mm]")
        self.sweep_plot.getAxis("left").enableAutoSIPrefix(False)
        self.sweep_plot.showGrid(x=True, y=True, alpha=0.2)
        self.sweep_plot.addLegend(offset=(-10, 10))
        self.sweep_curves = {c: self.sweep_plot.plot([], [], pen=_pen(COLORS[c], 2), symbol="o", symbolSize=7, symbolBrush=COLORS[c],
                                                     name=LABELS[c]) for c in CONTROLLERS}
        self.sweep_plot.addItem(pg.InfiniteLine(pos=0.0, angle=0, pen=_pen("#000", 1.2)))
        self.sweep_paper = pg.InfiniteLine(pos=PAPER_IMPULSE.value, angle=90, pen=_pen(IMPACT_COLOR, 1.5, Qt.PenStyle.DashLine),
                                           label=f"paper's scenario {PAPER_IMPULSE.value:g} {PAPER_IMPULSE.unit}",
                                           labelOpts=dict(position=0.92, color=IMPACT_COLOR))
        self.sweep_plot.addItem(self.sweep_paper)
        self.sweep_current = pg.InfiniteLine(pos=PAPER_IMPULSE.value, angle=90, pen=_pen("#2ca02c", 1.5),
                                             label="this run", labelOpts=dict(position=0.82, color="#2ca02c"))
        self.sweep_plot.addItem(self.sweep_current)
        self.sweep_info = QLabel("")
        self.sweep_info.setWordWrap(True)
        lay.addWidget(self.sweep_plot, 1)
        lay.addWidget(self.sweep_info)
        return tab

    def _build_mc_tab(self) -> QWidget:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        top = QHBoxLayout()
        self.mc_button = QPushButton("Run Monte Carlo")
        self.mc_button.setToolTip("Run the batched torch Monte Carlo: mc scenarios random scenarios (Poisson impact times, uniform "
                                  "magnitudes and directions) for each of the three controllers")
        self.mc_button.clicked.connect(lambda: self.run_monte_carlo())
        self.mc_info = QLabel("Opens with a run of the scenarios set in the Monte Carlo group.")
        self.mc_info.setWordWrap(True)
        top.addWidget(self.mc_button)
        top.addWidget(self.mc_info, 1)
        lay.addLayout(top)
        self.mc_plot = pg.PlotWidget()
        self.mc_plot.setTitle("Smallest h over each random scenario (left of 0: the floor was crossed)")
        self.mc_plot.setLabel("bottom", "min h over the episode [mm]")
        self.mc_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.mc_plot.setLabel("left", "scenarios")
        self.mc_plot.showGrid(x=True, y=True, alpha=0.2)
        self.mc_plot.addLegend(offset=(10, 10))
        self.mc_curves = {}
        for c in CONTROLLERS:
            fill = QColor(COLORS[c])
            fill.setAlpha(60)
            self.mc_curves[c] = self.mc_plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=fill, pen=_pen(COLORS[c], 2),
                                                  name=LABELS[c])
        self.mc_plot.addItem(pg.InfiniteLine(pos=0.0, angle=90, pen=_pen("#000", 1.2)))
        lay.addWidget(self.mc_plot, 1)
        return tab

    def _build_backend_tab(self) -> QWidget:
        tab = QWidget()
        lay = QVBoxLayout(tab)
        box = QGroupBox("The same QPs from this episode, solved by every backend (cvxpy is the reference)")
        inner = QVBoxLayout(box)
        self.backend_table = QTableWidget(4, 4)
        self.backend_table.setHorizontalHeaderLabels(["median [ms]", "p99 [ms]", "max |Δτ| vs cvxpy [N·m]", "failures"])
        self.backend_table.setVerticalHeaderLabels(["closed form (1 row)", "active set (exact)", "DAQP", "cvxpy + Clarabel (DPP)"])
        self.backend_table.horizontalHeader().setStretchLastSection(False)
        self.backend_table.setMinimumHeight(150)
        self.backend_table.setToolTip("Latency per QP in this process and agreement with the cvxpy reference; the closed form "
                                      "solves the first barrier row without torque bounds")
        inner.addWidget(self.backend_table)
        self.backend_info = QLabel("")
        self.backend_info.setWordWrap(True)
        inner.addWidget(self.backend_info)
        lay.addWidget(box)
        lay.addStretch(1)
        return tab

    # ---- drawing ------------------------------------------------------------------------------------
    def show_snapshot(self, snap) -> None:
        r = snap.result
        if r is None:
            return
        if snap.has_changed("episodes"):  # a new run: everything, and the parts it does not have are cleared
            self._draw_static(r)
            self._draw_timeseries(r)
            self.player.set_count(len(r.t))
            self._set_player_step()
            # open on the moment the fixed-gain arm is deepest in the unsafe set: the claim at a glance
            self._show_frame(int(round(r.deepest_t("fixed_gain") / r.config.dt)))
        if snap.has_changed("episodes") or snap.has_changed("sweep"):
            self._draw_sweep(r)
        if snap.has_changed("episodes") or snap.has_changed("backends"):
            self._draw_backends(r)

    def _draw_static(self, r) -> None:
        cfg = r.config
        steps = r.impulse_steps()
        rr = cfg.obstacle_r
        for sc in self.scenes:
            sc["floor"].setData([-3.0, 3.0], [cfg.floor_y, cfg.floor_y])
            sc["floor"].setFillLevel(cfg.floor_y - 3.0)
            sc["floor"].setVisible("floor" in cfg.barrier)
            sc["obstacle"].setRect(cfg.obstacle_x - rr, cfg.obstacle_y - rr, 2 * rr, 2 * rr)
            sc["obstacle"].setVisible("circle" in cfg.barrier)
            sc["ref"].setData(r.ee_ref[:, 0], r.ee_ref[:, 1])
            for i, c in enumerate(CONTROLLERS):
                sc[("trail", c)].setData(r.ee[i, :, 0], r.ee[i, :, 1])
                sc[("impact", c)].setData(r.ee[i, steps, 0], r.ee[i, steps, 1])
        self.ts_plots[0].setLabel("left", f"min h [{r.min_h_milli_unit()}]")
        self.ts_plots[1].setLabel("left", f"ψ₁ [{r.h_units[0]}/s]")
        self.tau_limits[0].setValue(cfg.tau_max)
        self.tau_limits[1].setValue(-cfg.tau_max)
        reach = cfg.l1 + cfg.l2
        self.arm_plot.setRange(xRange=(-0.25 * reach, 0.95 * reach), yRange=(min(cfg.floor_y - 0.25, -0.95 * reach), 0.3 * reach),
                               padding=0)

    def _draw_timeseries(self, r) -> None:
        K = len(r.t) - 1
        hmin = MILLI * r.min_h_series()
        for i, c in enumerate(CONTROLLERS):
            self.ts_curves[("h", c)].setData(r.t, hmin[i])
            self.ts_curves[("psi1", c)].setData(r.t, r.psi1[i, :, 0])
            self.ts_curves[("gain", c)].setData(r.t, r.gain[i, :, 0])
            self.ts_curves[("tau", c)].setData(r.t[:K], r.tau[i, :, 0])
            self.ts_curves[("tau2", c)].setData(r.t[:K], r.tau[i, :, 1])
        for plot, line in self.impact_lines:
            plot.removeItem(line)
        self.impact_lines = []
        for plot in self.ts_plots:
            for ti in r.impulse_t:
                line = pg.InfiniteLine(pos=float(ti), angle=90, pen=_pen(IMPACT_COLOR, 1.2, Qt.PenStyle.DotLine))
                plot.addItem(line)
                self.impact_lines.append((plot, line))
        self.ts_plots[0].setYRange(min(-0.05 * MILLI, 1.15 * float(hmin.min())), 0.3 * float(hmin.max()) + 0.01 * MILLI, padding=0)
        self.ts_plots[1].setYRange(float(np.percentile(r.psi1[..., 0], 0.5)), float(np.percentile(r.psi1[..., 0], 99.5)), padding=0.05)
        self.ts_plots[0].setXRange(0.0, float(r.t[-1]), padding=0)

    def _draw_sweep(self, r) -> None:
        for i, c in enumerate(CONTROLLERS):
            self.sweep_curves[c].setData(r.sweep_ns, MILLI * r.sweep_min_h[i])
        self.sweep_plot.setLabel("left", f"min h after the impact [{r.min_h_milli_unit()}]")
        self.sweep_current.setValue(r.config.impulse_ns)
        if len(r.sweep_ns) == 0:
            self.sweep_info.setText("No impulse sweep in this run (sweep points = 0).")
            return
        sw = r.sweep_summary()

        def fmt(v):
            return "none of the magnitudes" if v is None else f"‖Λ‖ ≤ {v:.2f} N·s"

        self.sweep_info.setText(f"Safe (no step with h < 0 after the impact): adaptive for {fmt(sw['adaptive_safe_up_to_ns'])}, "
                                f"fixed gain for {fmt(sw['fixed_gain_safe_up_to_ns'])}, nominal for {fmt(sw['nominal_safe_up_to_ns'])}.")

    def _draw_backends(self, r) -> None:
        b = r.backends
        if not b:
            self.backend_table.clearContents()
            self.backend_info.setText("No QP backend check in this run (backend samples = 0).")
            return
        for row, name in enumerate(BACKENDS):
            d = b[name]
            vals = [d["median_ms"], d["p99_ms"], d["max_abs_diff_vs_cvxpy"], d["failures"]]
            for col, v in enumerate(vals):
                text = "—" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))
                self.backend_table.setItem(row, col, QTableWidgetItem(text))
        self.backend_table.resizeColumnsToContents()
        speedup = b["speedup_vs_cvxpy"]
        s = r.summary()
        self.backend_info.setText(f"{b['active_set']['solves']} QPs; active set {speedup['active_set']:.0f}× and closed form "
                                  f"{speedup['closed_form']:.0f}× faster than cvxpy (medians); "
                                  f"{b['infeasible_samples']} infeasible samples. The adaptive episode ran "
                                  f"{s['realtime_factor']:.0f}× faster than real time (controller step median "
                                  f"{1e3 * s['controllers']['adaptive']['step_ms_median']:.1f} µs).")

    def _set_player_step(self) -> None:
        """Frames per Player tick for the chosen speed: speed × tick interval / dt."""
        r = self.shown
        if r is not None:
            self.player.step = self.speed.value() * self.player.timer.interval() / 1000.0 / r.config.dt

    def _on_frame(self, k: int) -> None:
        """The Player moved: the cursors in the plots follow and the arms are redrawn."""
        self._show_frame(k, move_player=False)

    def _on_cursor(self, line) -> None:
        r = self.shown
        if r is not None:
            self._show_frame(int(round(float(line.value()) / r.config.dt)))

    def _show_frame(self, k: int, move_player: bool = True) -> None:
        """Frame ``k``: the Player's slider, every plot's cursor and the arms, all at step k."""
        r = self.shown
        if r is None:
            return
        k = int(np.clip(k, 0, len(r.t) - 1))
        if move_player:
            self.player.set_frame(k, emit=False)
        for cur in self.cursors:
            cur.blockSignals(True)
            cur.setValue(float(r.t[k]))
            cur.blockSignals(False)
        self._draw_frame()

    def _draw_frame(self) -> None:
        r = self.shown
        if r is None:
            return
        k = self.player.frame
        elbow = r.elbow()
        cfg = r.config
        choice = self.show_box.currentIndex()
        unit = r.min_h_milli_unit()
        lines = []
        for i, c in enumerate(CONTROLLERS):
            visible = choice == 0 or choice == i + 1
            xe, ye = elbow[i, k]
            ghost = choice == 0 and c != "adaptive"
            for sc in self.scenes:
                sc[("arm", c)].setData([0.0, xe, r.ee[i, k, 0]], [0.0, ye, r.ee[i, k, 1]])
                sc[("arm", c)].setPen(_pen(COLORS[c], 4 if ghost else 7, alpha=120 if ghost else 255))
                for part in ("arm", "trail", "impact"):
                    sc[(part, c)].setVisible(visible)
            color = COLORS[c]
            lines.append(f"<span style='color:{color}'><b>{LABELS[c]}</b></span>: h = {MILLI * r.h[i, k].min():+.1f} {unit}, "
                         f"k₁ = {r.gain[i, k, 0]:.1f} 1/s")
        # impact arrows flash for 0.25 s after each impact, drawn at the shown arms' end effectors
        steps = r.impulse_steps()
        recent = [j for j, s in enumerate(steps) if 0 <= k - s < int(0.25 / cfg.dt)]
        shown = [i for i in range(3) if choice == 0 or choice == i + 1]
        for n, (shaft, head) in enumerate(self.arrows):
            if recent and n < len(shown):
                i = shown[n]
                lam = r.impulse_lambda[recent[-1]]
                tip = r.ee[i, steps[recent[-1]]]
                tail = tip - 0.25 * lam
                shaft.setData([tail[0], tip[0]], [tail[1], tip[1]])
                head.setPos(float(tip[0]), float(tip[1]))
                head.setStyle(angle=float(np.degrees(np.arctan2(lam[1], lam[0]))) + 180.0)
                shaft.setVisible(True)
                head.setVisible(True)
            else:
                shaft.setVisible(False)
                head.setVisible(False)
        t = float(r.t[k])
        self.time_label.setText(f"t = {t:.3f} s" + ("   ◀ impact" if recent else ""))
        self.arm_text.setText(" · ".join(lines))
        # the zoom follows the shown end effectors, 0.36 m across
        near = [i for i in shown if CONTROLLERS[i] != "nominal"] or shown
        centre = r.ee[near, k].mean(axis=0)
        self.zoom_plot.setRange(xRange=(centre[0] - 0.18, centre[0] + 0.18), yRange=(centre[1] - 0.1, centre[1] + 0.1), padding=0)

    # ---- Monte Carlo --------------------------------------------------------------------------------
    def _on_mc_snapshot(self, snap) -> None:
        if snap.progress < 1.0 or snap.result is None:
            return
        r = snap.result
        n = r.mc_min_h.shape[1]
        if n == 0:
            return
        edges, counts = r.mc_histogram(bins=40)
        self.mc_plot.setLabel("bottom", f"min h over the episode [{r.min_h_milli_unit()}]")
        for i, c in enumerate(CONTROLLERS):
            self.mc_curves[c].setData(MILLI * edges, counts[i])
        mc = r.summary()["monte_carlo"]

        def rate(c, key="violation_rate"):
            p, se = mc[key][c], mc[f"{key}_stderr"][c]
            return "—" if p is None else f"{100 * p:.1f} ± {100 * se:.1f} %"

        clear = mc["clear_impact_scenarios"]
        self.mc_info.setText(
            f"{n} scenarios, {mc['duration_s']:g} s each. Violation rate: adaptive {rate('adaptive')}, fixed gain {rate('fixed_gain')}, "
            f"nominal {rate('nominal')}. Scenarios whose impacts all land while h ≥ {mc['clear_h']:g} m: adaptive "
            f"{rate('adaptive', 'violation_rate_clear_impacts')} (n = {clear['adaptive']}), fixed gain "
            f"{rate('fixed_gain', 'violation_rate_clear_impacts')} (n = {clear['fixed_gain']}). "
            "Impacts at the boundary (h ≈ 0) cannot be recovered by any gain."
        )
