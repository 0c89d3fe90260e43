"""Long-context lab panel: RoPE scalings and the UltraLong-style extension in miniature (arXiv:2504.06214).

Every number drawn here comes from the engine's Result (``engines.long_context``): the NIAH grid (length × depth,
one heatmap per selected scaling), needle and local accuracy against length on a log₂ axis, the loss curves, and
the calculator's ModelReport for a real model (a preset or File → Open of an HF ``config.json``): wavelengths per
rotary pair with the interpolated band, KV cache, attention FLOPs and prefill memory over 128K … 4M tokens.

The panel opens on the recorded run (``source=recorded``); Train reruns it, Extend redoes only the continued
training and evaluation from the recorded base model, both as the main job (progress bar, Stop). Calculator
settings re-run the calculator alone as a side job ``calculator`` on the recorded run (a second or so), so a change
there never retrains anything; that job's result is exported under ``calculator/``.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.base import jsonable
from engines.inputs import regular_file
from panels.base import Panel
from panels.plots import BASELINE, METHOD, NEUTRAL, PAPER, Band, Heatmap, paper_line, pen, plot_widget

# display names and colours of the experiment's rows (the engine's SCALINGS, by name); method = YaRN / UltraLong
# (vermillion), baseline = plain RoPE and its plain-RoPE control (blue), the other scalings in their own colours
LABELS = {"none": "plain RoPE", "linear": "linear PI", "dynamic_ntk": "dynamic NTK", "yarn": "YaRN", "llama3": "llama3",
          "ultralong": "UltraLong (YaRN, extended)", "ultralong_control": "plain-RoPE control (extended)"}
COLORS = {"none": BASELINE, "ultralong_control": BASELINE, "yarn": METHOD, "ultralong": METHOD, "linear": "#009e73",
          "dynamic_ntk": "#cc79a7", "llama3": "#7f7f00"}
DASHED = {"ultralong", "ultralong_control"}
SHORT = {**LABELS, "ultralong": "UltraLong (ext.)", "ultralong_control": "plain control (ext.)"}  # heatmap titles
SHOWN_BY_DEFAULT = ("none", "linear", "dynamic_ntk", "yarn", "ultralong", "ultralong_control")
# Config fields the calculator's report depends on: a change to one of them re-runs the calculator side job
CALC_FIELDS = ("model", "model_config", "calc_length", "calc_scaling", "calc_factor", "kv_dtype", "yarn_beta_fast",
               "yarn_beta_slow", "yarn_truncate", "llama3_low_freq", "llama3_high_freq")
GIB = 2.0**30
CONFIG_MAX_BYTES = 16 * 2**20  # the largest config.json File → Open reads


def calc_key(cfg) -> tuple:
    return tuple(getattr(cfg, f) for f in CALC_FIELDS)


def _tokens(n: float) -> str:
    """128K, 1M, 4M: a token count as the paper writes it."""
    n = int(n)
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20}M"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n // 2**10}K"
    return str(n)


def _log2_ticks(plot: pg.PlotWidget, values, fmt) -> None:
    plot.getAxis("bottom").setTicks([[(math.log2(v), fmt(v)) for v in values]])


def _decade_ticks(plot: pg.PlotWidget, values) -> None:
    """Labels at whole decades only on a log y axis (pyqtgraph's minor labels crowd a few-decade range)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return
    lo, hi = math.floor(math.log10(v.min())), math.ceil(math.log10(v.max()))
    plot.getAxis("left").setTicks([[(math.log10(m * 10.0**k), f"{m * 10.0 ** k:g}") for k in range(lo, hi + 1) for m in (1, 2, 5)],
                                   []])


class LongContextPanel(Panel):
    panel_id = "long_context"
    engine_name = "long_context"
    form_groups = ("Run", "Calculator", "UltraLong extension", "Scalings", "Evaluation", "Base training", "Needle task", "Toy model")
    file_filter = "HF model config (config.json *.json);;All files (*)"

    def default_config(self):
        return self.engine.Config(source="recorded")  # the shipped run: heatmaps within seconds

    def default_source(self) -> str:
        return "Showing: the recorded run (resources/long_context) · Train reruns it · File → Open a config.json for the calculator"

    def __init__(self, *args, **kwargs):
        self._main_key: tuple | None = None  # calculator fields of the running / last main job
        self._calc_wanted: tuple | None = None  # calculator fields of the newest calculator request
        self.calc_report = None  # the ModelReport on screen
        self._grid_config = None  # the config of the run the NIAH grid shows
        self.calc_result = None  # the result it came from (Export calculator… writes its calculator tables)
        self._cell_font = QFont()
        self._cell_font.setPointSizeF(7.0)
        super().__init__(*args, **kwargs)
        self.shown_boxes: dict[str, QCheckBox] = {}
        rows = []
        for s in self.engine.SCALINGS:
            box = QCheckBox(LABELS[s])
            box.setChecked(s in SHOWN_BY_DEFAULT)
            box.setToolTip(f"Show {LABELS[s]} in the NIAH heatmaps and the accuracy plots (no re-run)")
            box.toggled.connect(self._redraw_grid)
            self.shown_boxes[s] = box
            rows.append(box)
        self.add_controls("Shown scalings", *rows)
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train the base model at L_train, evaluate every zero-shot scaling, extend UltraLong-style and "
                                     "against the plain-RoPE control, with the settings above (about 4 minutes on one thread; "
                                     "progress below, Stop cancels)")
        self.extend_button = QPushButton("Extend")
        self.extend_button.setToolTip("Start from the recorded base model and redo only the continued training (UltraLong and "
                                      "control) and the evaluation with the settings above (about 2 minutes; Stop cancels)")
        self.recorded_button = QPushButton("Show recorded run")
        self.recorded_button.setToolTip("Show the run shipped in resources/long_context again (seconds)")
        self.train_button.clicked.connect(lambda: self.run_source("train"))
        self.extend_button.clicked.connect(lambda: self.run_source("extend"))
        self.recorded_button.clicked.connect(lambda: self.run_source("recorded"))
        self.exp_stop = QPushButton("Stop")
        self.exp_stop.setToolTip("Stop the running training or extension; the partial grid stays on screen")
        self.exp_stop.clicked.connect(self.stop_jobs)
        self.exp_stop.setEnabled(False)
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        for b in (self.train_button, self.extend_button, self.exp_stop):
            lay.addWidget(b)
        self.exp_progress = QProgressBar()
        self.exp_progress.setRange(0, 1000)
        self.exp_progress.setTextVisible(False)
        self.exp_progress.setMaximumHeight(8)
        self.exp_progress.setToolTip("Progress of the training or extension (token-passes done of the whole experiment)")
        self.exp_message = QLabel("Showing the recorded run; Train reruns it (about 4 minutes), Extend redoes the extension")
        self.exp_message.setWordWrap(True)
        box = self.add_controls("Experiment", row, self.recorded_button, self.exp_progress, self.exp_message)
        # on top of the long form, where it is in sight (the base's Run/Stop and progress sit under the form)
        self._controls_layout.removeWidget(box)
        self._controls_layout.insertWidget(0, box)
        self._calc_timer = QTimer(self)
        self._calc_timer.setSingleShot(True)
        self._calc_timer.setInterval(250)
        self._calc_timer.timeout.connect(self._calc_if_changed)
        self.form.changed.connect(self._calc_timer.start)
        self.form.editor("model").currentIndexChanged.connect(self._preset_from_form)

    # ---- views ----------------------------------------------------------------------------------
    def build_views(self):
        return [("NIAH", self._build_niah_tab()), ("Local skill && training", self._build_local_tab()),
                ("RoPE wavelengths", self._build_wavelength_tab()), ("Calculator", self._build_calculator_tab())]

    def _length_plot(self, title: str, left: str) -> pg.PlotWidget:
        w = plot_widget(title, left, "context length L [tokens] (log₂ axis)", legend=False)
        w.setYRange(0, 104, padding=0)
        self._add_window_lines(w)
        return w

    def _add_window_lines(self, w: pg.PlotWidget) -> None:
        opts = dict(position=0.12, color=NEUTRAL, fill=pg.mkBrush(255, 255, 255, 200))
        w.l_train = pg.InfiniteLine(0.0, angle=90, pen=pen(NEUTRAL, 1.2, dash=True), label="L_train", labelOpts=opts)
        w.window = pg.InfiniteLine(3.0, angle=90, pen=pen(NEUTRAL, 1.0, dash=True), label="extended window",
                                   labelOpts=dict(opts, position=0.22))
        w.addItem(w.l_train)
        w.addItem(w.window)

    def _build_niah_tab(self) -> QWidget:
        page = QWidget()
        lay = QHBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        grid_box = QWidget()
        self.heat_grid = QGridLayout(grid_box)
        self.heat_grid.setContentsMargins(0, 0, 0, 0)
        self.heat_grid.setSpacing(2)
        self.heatmaps: dict[str, Heatmap] = {}
        for s in self.engine.SCALINGS:
            hm = Heatmap(SHORT[s], "needle depth", "L / L_train", "accuracy [%]", levels=(0.0, 100.0))
            hm.widget.setToolTip(f"{LABELS[s]}: needle accuracy [%] per length (columns) and depth (rows: 0 = start of the "
                                 "document, 1 = just before the query); each cell the mean over its documents")
            hm.widget.setMinimumSize(150, 150)
            hm.widget.getPlotItem().layout.removeItem(hm.bar)  # one colour bar for all of them, beside the grid
            hm.bar.hide()
            self.heatmaps[s] = hm
        self.heat_bar_view = pg.GraphicsLayoutWidget()
        self.heat_bar_view.setBackground("w")
        self.heat_bar = pg.ColorBarItem(values=(0.0, 100.0), colorMap=pg.colormap.get("viridis"), label="needle accuracy [%]",
                                        width=14, interactive=False)
        self.heat_bar.getAxis("right").setTextPen("#222")
        self.heat_bar_view.addItem(self.heat_bar)
        self.heat_bar_view.setFixedWidth(72)
        self.heat_bar_view.setToolTip("Colour scale of every heatmap: needle accuracy in %")
        self.acc_plot = self._length_plot("Needle accuracy (mean over depths)", "needle accuracy [%]")
        self.acc_plot.setToolTip("Needle accuracy against length: the paper's method (YaRN, UltraLong) in vermillion, plain RoPE "
                                 "and its control in blue; dashed: after the continued training")
        self.acc_curves = {s: Band(self.acc_plot, COLORS[s], LABELS[s], dash=s in DASHED, symbol="o")
                           for s in self.engine.SCALINGS}
        self.paper_niah = paper_line(self.acc_plot, None, "")
        self.acc_key = self._key_label()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.acc_plot, 1)
        rl.addWidget(self.acc_key)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(grid_box)
        split.addWidget(right)
        split.setSizes([640, 310])
        lay.addWidget(split)
        self._layout_heatmaps()
        return page

    def _key_label(self) -> QLabel:
        key = QLabel("")
        key.setWordWrap(True)
        key.setTextFormat(Qt.TextFormat.RichText)
        key.setToolTip("Which curve is which: the paper's method in vermillion, plain RoPE in blue; dashed = after the continued "
                       "training at the extension length")
        return key

    def _build_local_tab(self) -> QWidget:
        page = QWidget()
        lay = QHBoxLayout(page)
        self.local_plot = self._length_plot("Local skill: determined haystack tokens predicted", "local accuracy [%]")
        self.local_plot.setToolTip("Share of the haystack's determined tokens (x_t = π(x_{t−2})) the model predicts: the "
                                   "short-range skill a scaling must not break")
        self.local_curves = {s: Band(self.local_plot, COLORS[s], LABELS[s], dash=s in DASHED, symbol="o")
                             for s in self.engine.SCALINGS}
        self.loss_plot = plot_widget("Training loss", "cross-entropy [nats]", "step", log_y=True)
        self.loss_plot.setToolTip("Answer loss (solid) and haystack next-token loss (dotted) of the base training and of the two "
                                  "continued trainings")
        self.loss_curves = {}
        for name, c in (("base", NEUTRAL), ("ultralong", METHOD), ("control", BASELINE)):
            self.loss_curves[f"{name}_answer_loss"] = self.loss_plot.plot([], [], pen=pen(c, 1.5), name=f"{name}: answer")
            self.loss_curves[f"{name}_lm_loss"] = self.loss_plot.plot([], [], pen=pg.mkPen(c, width=1.2, style=Qt.PenStyle.DotLine),
                                                                      name=f"{name}: text")
        self.local_key = self._key_label()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.local_plot, 1)
        ll.addWidget(self.local_key)
        lay.addWidget(left)
        lay.addWidget(self.loss_plot)
        return page

    def _build_toy_wavelengths(self) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.toy_length = QComboBox()
        self.toy_length.setToolTip("The evaluated length whose RoPE the toy model's rows ran with (no re-run)")
        self.toy_length.currentIndexChanged.connect(self._draw_toy_wavelengths)
        row.addWidget(QLabel("toy model at length"))
        row.addWidget(self.toy_length, 1)
        lay.addLayout(row)
        self.toy_plot = plot_widget("Toy Llama of this run: RoPE per rotary pair", "wavelength 2π/θ_i [tokens]", "rotary pair i",
                                    log_y=True)
        self.toy_plot.setToolTip("The θ_i each experiment row ran with at the chosen length, as wavelengths, for the ticked "
                                 "scalings; black: the unscaled RoPE the base model was trained with")
        self.toy_plot.plotItem.legend.setOffset((-10, -10))  # bottom right: the wavelengths grow to the right
        self.toy_base = self.toy_plot.plot([], [], pen=pen("#000000", 2.5), name="unscaled (trained)")
        self.toy_curves = {s: self.toy_plot.plot([], [], pen=pen(COLORS[s], 1.6, dash=s in DASHED), name=LABELS[s], symbol="o",
                                                 symbolSize=4, symbolBrush=COLORS[s], symbolPen=None) for s in self.engine.SCALINGS}
        opts = dict(position=0.85, color=NEUTRAL, fill=pg.mkBrush(255, 255, 255, 200))
        self.toy_train = pg.InfiniteLine(0.0, angle=0, pen=pen(NEUTRAL, 1.2, dash=True), label="L_train", labelOpts=opts)
        self.toy_len = pg.InfiniteLine(0.0, angle=0, pen=pen(PAPER, 1.2, dash=True), label="L", labelOpts=dict(opts, position=0.6))
        self.toy_plot.addItem(self.toy_train)
        self.toy_plot.addItem(self.toy_len)
        self.toy_info = QLabel("")
        self.toy_info.setWordWrap(True)
        self.toy_info.setToolTip("The scale s each ticked row used at this length")
        lay.addWidget(self.toy_plot, 1)
        lay.addWidget(self.toy_info)
        return box

    def _build_wavelength_tab(self) -> QWidget:
        page = QWidget()
        outer = QHBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._build_toy_wavelengths(), 1)
        real = QWidget()
        lay = QVBoxLayout(real)
        lay.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(real, 1)
        self.wave_plot = plot_widget("Real model: RoPE per rotary pair", "wavelength λ_i = 2π/θ_i [tokens]", "rotary pair i",
                                     log_y=True)
        self.wave_plot.setToolTip("The calculator's model: unscaled and scaled wavelengths per pair; shaded: the pairs the chosen "
                                  "scaling interpolates (dark: by the full factor, light: blended); set the model and scaling in "
                                  "the Calculator controls")
        self.band_full = pg.LinearRegionItem(orientation="vertical", movable=False, brush=pg.mkBrush(213, 94, 0, 70),
                                             pen=pg.mkPen(None))
        self.band_blend = pg.LinearRegionItem(orientation="vertical", movable=False, brush=pg.mkBrush(213, 94, 0, 28),
                                              pen=pg.mkPen(None))
        for band in (self.band_blend, self.band_full):
            band.setZValue(-10)
            self.wave_plot.addItem(band)
        self.wave_unscaled = self.wave_plot.plot([], [], pen=pen(BASELINE, 2), name="unscaled RoPE", symbol="o", symbolSize=4,
                                                 symbolBrush=BASELINE, symbolPen=None)
        self.wave_scaled = self.wave_plot.plot([], [], pen=pen(METHOD, 2), name="scaled", symbol="o", symbolSize=4,
                                               symbolBrush=METHOD, symbolPen=None)
        opts = dict(position=0.1, color=NEUTRAL, fill=pg.mkBrush(255, 255, 255, 200))
        self.wave_orig = pg.InfiniteLine(0.0, angle=0, pen=pen(NEUTRAL, 1.2, dash=True), label="L_orig", labelOpts=opts)
        self.wave_len = pg.InfiniteLine(0.0, angle=0, pen=pen(PAPER, 1.2, dash=True), label="L", labelOpts=dict(opts, position=0.3))
        self.wave_plot.addItem(self.wave_orig)
        self.wave_plot.addItem(self.wave_len)
        self.wave_plot.plotItem.legend.setOffset((-10, -10))
        self.wave_info = QLabel("")
        self.wave_info.setWordWrap(True)
        self.wave_info.setToolTip("The scaling drawn, its factor and how many pairs it interpolates, blends or keeps")
        lay.addWidget(self.wave_plot, 1)
        lay.addWidget(self.wave_info)
        return page

    def _build_calculator_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        top = QHBoxLayout()
        self.calc_model = QLabel("")
        self.calc_model.setWordWrap(True)
        self.calc_model.setToolTip("The model the calculator describes: a preset (Calculator ▸ model) or an opened config.json")
        self.open_button = QPushButton("Open config.json…")
        self.open_button.setToolTip("Read an HF config.json (as File → Open does); a malformed file is refused naming the key")
        self.open_button.clicked.connect(self.ask_open)
        self.preset_button = QPushButton("Use the preset")
        self.preset_button.setToolTip("Forget the opened config.json and describe the preset chosen in Calculator ▸ model")
        self.preset_button.clicked.connect(self.use_preset)
        self.preset_box = QComboBox()
        for name in self.engine.PRESETS:
            self.preset_box.addItem(name, name)
        self.preset_box.setToolTip("A real model's preset (its config.json facts); the same setting as Calculator ▸ model. "
                                   "Choosing one leaves an opened config.json")
        self.preset_box.currentIndexChanged.connect(self._preset_from_tab)
        top.addWidget(QLabel("preset"))
        top.addWidget(self.preset_box)
        top.addWidget(self.calc_model, 1)
        top.addWidget(self.open_button)
        top.addWidget(self.preset_button)
        self.calc_export_button = QPushButton("Export calculator…")
        self.calc_export_button.setToolTip("Write this model's calculator as CSV (per length; per rotary pair), JSON (every figure "
                                           "and the model's facts) and a PNG of this tab into a folder")
        self.calc_export_button.clicked.connect(self.ask_export_calculator)
        top.addWidget(self.calc_export_button)
        lay.addLayout(top)
        split = QSplitter(Qt.Orientation.Horizontal)
        tables = QWidget()
        tl = QVBoxLayout(tables)
        tl.setContentsMargins(0, 0, 0, 0)
        self.calc_table = QTableWidget(0, 4)
        self.calc_table.setHorizontalHeaderLabels(["tokens", "KV [GiB]", "attn [GFLOP/tok]", "prefill [GiB]"])
        self.calc_table.setToolTip("Per context length: the KV cache of one sequence, the attention FLOPs of the token at that "
                                   "position, and the memory a full-length prefill needs (weights + cache + one layer's "
                                   "activations, FlashAttention); Export writes calculator_lengths.csv")
        self.calc_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.calc_table.verticalHeader().setVisible(False)
        self.calc_table.verticalHeader().setDefaultSectionSize(20)
        self.calc_facts = QTableWidget(0, 2)
        self.calc_facts.setHorizontalHeaderLabels(["at length L", "value"])
        self.calc_facts.setToolTip("The calculator's scalars at the chosen length L (Calculator ▸ calc length)")
        self.calc_facts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.calc_facts.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.calc_facts.verticalHeader().setVisible(False)
        self.calc_facts.verticalHeader().setDefaultSectionSize(20)
        tl.addWidget(self.calc_table, 2)
        tl.addWidget(self.calc_facts, 3)
        plots = QWidget()
        pl = QVBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        self.mem_plot = plot_widget("Memory of one sequence", "memory [GiB] (log axis)", "context length [tokens] (log₂ axis)",
                                    log_y=True)
        self.mem_plot.setToolTip("KV cache and prefill memory against context length; the weights as a dashed line")
        self.kv_curve = self.mem_plot.plot([], [], pen=pen(METHOD), symbol="o", symbolSize=6, symbolBrush=METHOD, name="KV cache")
        self.prefill_curve = self.mem_plot.plot([], [], pen=pen(BASELINE), symbol="s", symbolSize=6, symbolBrush=BASELINE,
                                                name="prefill memory")
        self.weights_line = pg.InfiniteLine(0.0, angle=0, pen=pen(NEUTRAL, 1.2, dash=True), label="weights",
                                            labelOpts=dict(position=0.9, color=NEUTRAL))
        self.mem_plot.addItem(self.weights_line)
        self.flops_plot = plot_widget("Attention FLOPs of the token at position L", "FLOPs per token [GFLOP] (log axis)",
                                      "context length [tokens] (log₂ axis)", log_y=True)
        self.flops_plot.setToolTip("4 · layers · heads · head size · L FLOPs for the attention of one token; dashed: the dense "
                                   "(matrix) FLOPs per token, which do not grow with L")
        self.flops_curve = self.flops_plot.plot([], [], pen=pen(METHOD), symbol="o", symbolSize=6, symbolBrush=METHOD,
                                                name="attention")
        self.dense_line = pg.InfiniteLine(0.0, angle=0, pen=pen(NEUTRAL, 1.2, dash=True), label="dense",
                                          labelOpts=dict(position=0.9, color=NEUTRAL))
        self.flops_plot.addItem(self.dense_line)
        for w in (self.mem_plot, self.flops_plot):
            w.plotItem.legend.setOffset((70, 8))  # top left: the curves rise to the right
        pl.addWidget(self.mem_plot)
        pl.addWidget(self.flops_plot)
        split.addWidget(tables)
        split.addWidget(plots)
        split.setSizes([480, 470])
        lay.addWidget(split, 1)
        return page

    # ---- jobs -----------------------------------------------------------------------------------
    def run_job(self, config=None):
        cfg = self.config_or_error(config)
        if cfg is None:
            return None
        self._main_key = calc_key(cfg)
        if self._calc_wanted is None:
            self._calc_wanted = self._main_key
        if cfg.source != "recorded" and self.shown is not None:
            self.set_source(f"Running: {cfg.source} with these settings (the views fill in as the grid grows) …")
        job = super().run_job(cfg)
        if job is not None:
            self.exp_progress.setValue(0)
            job.progress.connect(lambda p, m, j=job: self._on_exp_progress(j, p, m))
            job.stopped.connect(lambda j=job: self._jobs.get("main") is j and self._on_main_stopped())
            job.failed.connect(lambda msg, tb, j=job: self._jobs.get("main") is j and self.exp_message.setText(f"failed: {msg}"))
            job.ended.connect(lambda: self.exp_stop.setEnabled(self.busy()))
            self.exp_stop.setEnabled(True)
        return job

    def _on_main_stopped(self) -> None:
        self.exp_message.setText("stopped")
        if self.shown is not None and self.shown is not self.result:
            self.set_source(f"Showing: the partial {self.shown.config.source} run, stopped (the banner: the last finished run) · "
                            "Show recorded run returns")

    def _on_exp_progress(self, job, progress: float, message: str) -> None:
        if self._jobs.get("main") is job:
            self.exp_progress.setValue(int(1000 * progress) if math.isfinite(progress) else 0)
            self.exp_message.setText(message)

    def run_blocking(self, config=None) -> None:
        cfg = config if config is not None else self.config()
        self._main_key = calc_key(cfg)
        self._calc_wanted = self._calc_wanted or self._main_key
        super().run_blocking(cfg)

    def set_config(self, config) -> None:
        super().set_config(config)
        if hasattr(self, "preset_box"):  # the tab's preset box shows the form's model
            self.preset_box.blockSignals(True)
            self.preset_box.setCurrentIndex(self.preset_box.findData(config.model))
            self.preset_box.blockSignals(False)

    def run_source(self, source: str):
        """Train / Extend / Show recorded: the controls' settings with ``source`` set, as the main job."""
        cfg = self.config_or_error()
        if cfg is None:
            return None
        cfg = cfg.replace(source=source)
        self.set_config(cfg)
        return self.run_job(cfg)

    def run_calculator(self, config=None):
        """The calculator alone for the controls' settings: a side job on the recorded run (no training)."""
        cfg = self.config_or_error(config)
        if cfg is None:
            return None
        self._calc_wanted = calc_key(cfg)
        return self.run_side("calculator", cfg.replace(source="recorded"), self._on_calc_snapshot)

    def _calc_if_changed(self) -> None:
        try:
            cfg = self.config()
        except ValueError:
            return  # the base shows the field's error
        if calc_key(cfg) != self._calc_wanted:
            self.run_calculator(cfg)

    def _on_calc_snapshot(self, snap) -> None:
        res = snap.result
        if res is not None and snap.progress >= 1.0:
            self._draw_calculator(res)

    # ---- File > Open: an HF config.json -------------------------------------------------------
    def ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model's config.json", "", self.file_filter)
        if path:
            self.open_file(path)

    def open_file(self, path: str) -> None:
        """Check the file with the engine's reader (its error names the key), then describe that model."""
        try:  # a config.json is small: a FIFO, a device or a huge file is refused before it is read (on this thread)
            regular_file(path, self.engine.ModelConfigError, max_bytes=CONFIG_MAX_BYTES)
            self.engine.read_model_config(path)
        except ValueError as err:  # ModelConfigError (an InputError): the file and the missing or bad key
            self.show_error(str(err))
            return
        cfg = self.config_or_error()
        if cfg is None:
            return
        cfg = cfg.replace(model_config=str(Path(path)))
        self.set_config(cfg)
        self.set_source(f"{self._main_source()} · calculator: {Path(path).name} ({path})", file=path)
        self.run_calculator(cfg)
        if self.tabs is not None:
            self.tabs.setCurrentIndex(3)

    def _preset_from_tab(self) -> None:
        """The tab's preset box drives the form's ``model`` control (whose change re-runs the calculator)."""
        box = self.form.editor("model")
        i = box.findData(self.preset_box.currentData())
        if box.currentIndex() != i:
            box.setCurrentIndex(i)
        elif self._base_config.model_config:  # the same preset chosen again while a file is open: back to the preset
            self.use_preset()

    def _preset_from_form(self) -> None:
        """A preset chosen (here or in the form) leaves an opened config.json; the tab's box follows the form."""
        name = self.form.editor("model").currentData()
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(self.preset_box.findData(name))
        self.preset_box.blockSignals(False)
        if self._base_config.model_config:
            try:
                cfg = self.config()
            except ValueError:
                return
            self.set_config(cfg.replace(model_config=""))
            self.set_source(self._main_source())
            self._calc_timer.start()

    def use_preset(self) -> None:
        cfg = self.config_or_error()
        if cfg is None:
            return
        cfg = cfg.replace(model_config="")
        self.set_config(cfg)
        self.set_source(self._main_source())
        self.run_calculator(cfg)

    def ask_export_calculator(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the calculator to folder")
        if folder:
            try:
                out = self.export_calculator(folder)
            except OSError as err:
                self.show_error(f"export to {folder}: {err}")
                return
            self.message.setText(f"calculator exported to {out}")

    def export_calculator(self, out_dir) -> Path:
        """calculator_lengths.csv and calculator_wavelengths.csv (the result's own tables), calculator.json, calculator.png."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        res = self.calc_result
        if res is None:
            raise OSError("nothing to export yet: the calculator has not answered")
        for stem, columns in res.tables().items():
            if stem.startswith("calculator_"):
                names = list(columns)
                data = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
                np.savetxt(out / f"{stem}.csv", data, delimiter=",", header=",".join(names), comments="", fmt="%.9g")
        record = {"model_config": self._base_config.model_config or None, **res.calculator.to_dict()}
        (out / "calculator.json").write_text(json.dumps(jsonable(record), indent=2) + "\n")
        page = self.tabs.widget(3) if self.tabs is not None else self.views
        page.grab().save(str(out / "calculator.png"))
        return out

    # ---- drawing --------------------------------------------------------------------------------
    def show_snapshot(self, snap) -> None:
        res = snap.result
        if res is None:
            return
        final = snap.progress >= 1.0
        if snap.has_changed("heatmap") or res.config != self._grid_config:  # a new job's first snapshot: no stale grid
            self._grid_config = res.config
            self._redraw_grid()
        if snap.has_changed("training"):
            for name, arr in res.curves().items():
                self.loss_curves[name].setData(np.arange(1, len(arr) + 1), arr) if len(arr) else self.loss_curves[name].setData([], [])
        if (final or snap.has_changed("calculator")) and (self.calc_report is None or self._main_key == self._calc_wanted):
            self._draw_calculator(res)
        if final:
            self.set_source(self._main_source(), file=self.source_file)

    def _main_source(self) -> str:
        res = self.result
        if res is None:
            return self.default_source()
        src = res.config.source
        if src == "recorded":
            prov = res.provenance or {}
            threads = (prov.get("threads") or {}).get("torch_threads")
            where = res.config.recorded_dir or "resources/long_context"
            bits = [f"commit {str(prov.get('commit', '?'))[:8]}", f"{prov.get('wall_time_s', '?')} s on {prov.get('device', '?')}"]
            if threads:
                bits[-1] += f", {threads} torch thread{'s' if threads != 1 else ''}"
            return (f"Showing: the recorded run in {where} — made by `{prov.get('command', 'python -m engines record long_context')}` "
                    f"({', '.join(bits)}) · Train reruns it, Extend redoes the extension")
        if src == "extend":
            return ("Showing: the recorded base model extended now with these settings "
                    f"({res.timings.get('total_s', float('nan')):.0f} s) · Show recorded run returns")
        return (f"Showing: a run trained now with these settings (seed {res.config.seed}, {res.timings.get('total_s', float('nan')):.0f} s)"
                " · Show recorded run returns")

    def selected(self) -> list[str]:
        return [s for s, box in self.shown_boxes.items() if box.isChecked()] if hasattr(self, "shown_boxes") else list(SHOWN_BY_DEFAULT)

    def _layout_heatmaps(self) -> None:
        for hm in self.heatmaps.values():
            self.heat_grid.removeWidget(hm.widget)
            hm.widget.setParent(None)
        chosen = self.selected()
        cols = len(chosen) if len(chosen) <= 3 else math.ceil(len(chosen) / 2)
        for k, s in enumerate(chosen):
            self.heat_grid.addWidget(self.heatmaps[s].widget, k // cols, k % cols)
            self.heatmaps[s].widget.show()
        self.heat_grid.removeWidget(self.heat_bar_view)
        self.heat_grid.addWidget(self.heat_bar_view, 0, cols, max(1, math.ceil(len(chosen) / cols)) if chosen else 1, 1)

    def _redraw_grid(self) -> None:
        self._layout_heatmaps()
        res = self.shown
        if res is None:
            return
        chosen = set(self.selected())
        ratios = [float(r) for r in res.length_ratio]
        x = np.log2(res.length_ratio)
        for i, s in enumerate(res.scalings):
            if s in self.heatmaps:
                z = res.heatmap[i].T  # rows: depths, columns: lengths
                self.heatmaps[s].setData(z, [f"{d:.2f}" for d in res.depths], [f"{r:g}×" for r in ratios])
                for t in self.heatmaps[s].texts:
                    t.setFont(self._cell_font)
            for curves, y in ((self.acc_curves, res.accuracy(s)), (self.local_curves, res.local_accuracy[i])):
                curves[s].setData(x, y)
                curves[s].setVisible(s in chosen)
        keys = " &nbsp;".join(f"<span style='color:{COLORS[s]}'>{'╍╍' if s in DASHED else '━━'}</span>&nbsp;{escape(LABELS[s])}"
                              for s in res.scalings if s in chosen)
        for key in (self.acc_key, self.local_key):
            key.setText(keys)
        window = math.log2(res.config.extend_factor)
        for w in (self.acc_plot, self.local_plot):
            w.getAxis("bottom").setTicks([[(float(v), str(int(n))) for v, n in zip(x, res.lengths)]])
            w.l_train.setValue(0.0)
            w.l_train.label.setFormat(f"L_train = {res.config.train_length}")
            w.window.setValue(window)
            w.window.label.setFormat(f"extended window {res.config.extend_factor}×")
            w.setXRange(float(x.min()) - 0.3, float(x.max()) + 0.3, padding=0)
        labels = [f"{int(n)} tokens ({r:g}× L_train)" for n, r in zip(res.lengths, ratios)]
        if labels != [self.toy_length.itemText(k) for k in range(self.toy_length.count())]:
            self.toy_length.blockSignals(True)
            self.toy_length.clear()
            self.toy_length.addItems(labels)
            self.toy_length.setCurrentIndex(len(labels) - 1)  # the longest: where the scalings differ most
            self.toy_length.blockSignals(False)
        self._draw_toy_wavelengths()
        ref = res.PAPER["niah_ultralong"]
        self.paper_niah.setValue(ref.value)
        self.paper_niah.label.setFormat(f"paper: UltraLong-8B NIAH {ref.value:g} {ref.unit}")
        self.paper_niah.setVisible(True)

    def _draw_toy_wavelengths(self) -> None:
        res = self.shown
        j = self.toy_length.currentIndex()
        if res is None or j < 0 or j >= len(res.lengths):
            return
        chosen = set(self.selected())
        pairs = np.arange(len(res.base_theta))
        self.toy_base.setData(pairs, 2 * np.pi / res.base_theta)
        scales = []
        for i, s in enumerate(res.scalings):
            theta = res.theta[i, j]
            ok = np.all(np.isfinite(theta)) and s in chosen
            self.toy_curves[s].setData(pairs, 2 * np.pi / theta) if ok else self.toy_curves[s].setData([], [])
            self.toy_curves[s].setVisible(bool(ok))
            if ok:
                scales.append(f"{LABELS[s]} s = {res.scale[i, j]:.3g}")
        legend = self.toy_plot.plotItem.legend
        legend.clear()
        legend.addItem(self.toy_base, "unscaled (trained)")
        for s in res.scalings:
            if self.toy_curves[s].isVisible():
                legend.addItem(self.toy_curves[s], LABELS[s])
        self.toy_train.setValue(math.log10(res.config.train_length))
        self.toy_train.label.setFormat(f"L_train = {res.config.train_length}")
        self.toy_len.setValue(math.log10(float(res.lengths[j])))
        self.toy_len.label.setFormat(f"L = {int(res.lengths[j])}")
        rows = " · ".join(scales) or "not evaluated yet"
        self.toy_info.setText(f"d_head {2 * len(pairs)}, RoPE base {res.config.rope_theta:g}: {rows}")

    def _draw_calculator(self, res) -> None:
        self.calc_result, self.calc_report = res, res.calculator  # the result whose calculator is on screen
        rep = res.calculator
        f = rep.facts
        params = rep.rope_parameters
        kind = params.get("rope_type", "default")
        opened = self._base_config.model_config
        self.calc_model.setText(f"<b>{escape(f.name)}</b> — " + (f"config.json {escape(opened)}" if opened else "preset")
                                + f" · {f.num_hidden_layers} layers, {f.num_attention_heads} heads ({f.num_key_value_heads} KV) of "
                                f"{f.head_dim}, {rep.parameters / 1e9:.3g} B parameters, window {_tokens(f.max_position_embeddings)}"
                                + (" · " + escape("; ".join(f.notes)) if f.notes else ""))
        # wavelengths and the interpolated band
        self.wave_unscaled.setData(rep.pair, rep.wavelength)
        self.wave_scaled.setData(rep.pair, rep.scaled_wavelength)
        self.wave_plot.plotItem.legend.items[1][1].setText(f"{kind} (s = {rep.factor:.4g})")
        full = rep.pair[rep.interpolation >= 0.999]
        blend = rep.pair[(rep.interpolation > 0.001) & (rep.interpolation < 0.999)]
        for band, pairs in ((self.band_full, full), (self.band_blend, blend)):
            band.setVisible(len(pairs) > 0)
            if len(pairs):
                band.setRegion((float(pairs.min()) - 0.5, float(pairs.max()) + 0.5))
        self.wave_orig.setValue(math.log10(f.original_window))
        self.wave_orig.label.setFormat(f"L_orig = {_tokens(f.original_window)}")
        self.wave_len.setValue(math.log10(rep.length))
        self.wave_len.label.setFormat(f"L = {_tokens(rep.length)}")
        a = rep.at_length
        self.wave_info.setText(f"{f.name}, scaling {rep.scaling} → rope_type {kind}, s = {rep.factor:.4g}, attention factor "
                               f"{rep.attention_factor:.4g}: {a['interpolated_pairs']} of {len(rep.pair)} pairs interpolated "
                               f"(dark band), {a['blended_pairs']} blended (light), {a['extrapolated_pairs']} kept")
        # the table and the plots over 128K … 4M
        n = len(rep.kv_lengths)
        self.calc_table.setRowCount(n)
        for i in range(n):
            cells = (_tokens(rep.kv_lengths[i]), f"{rep.kv_cache_bytes[i] / GIB:,.2f}", f"{rep.attention_flops_per_token[i] / 1e9:,.2f}",
                     f"{rep.prefill_memory_bytes[i] / GIB:,.2f}")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.calc_table.setItem(i, j, item)
        facts = [
            ("length L [tokens]", f"{rep.length:,} ({_tokens(rep.length)})" + ("" if a["within_window"] else " — beyond the window")),
            ("KV cache per token [bytes]", f"{rep.kv_bytes_per_token:,}"),
            ("KV cache at L [GiB]", f"{a['kv_cache_bytes'] / GIB:,.3f}"),
            ("weights [GiB]", f"{a['weights_bytes'] / GIB:,.3f}"),
            ("prefill memory at L [GiB]", f"{a['prefill_memory_bytes'] / GIB:,.3f}"),
            ("eager attention scores, one layer [GiB]", f"{a['eager_scores_bytes'] / GIB:,.3f}"),
            ("attention FLOPs per token at L [GFLOP]", f"{a['attention_flops_per_token'] / 1e9:,.3f}"),
            ("dense FLOPs per token [GFLOP]", f"{a['dense_flops_per_token'] / 1e9:,.3f}"),
            ("attention share of a token's FLOPs [%]", f"{100 * a['attention_share']:.1f}"),
            ("prefill FLOPs at L [PFLOP]", f"{a['prefill_flops'] / 1e15:,.3f}"),
            ("RoPE pairs interpolated / blended / kept", f"{a['interpolated_pairs']} / {a['blended_pairs']} / {a['extrapolated_pairs']}"),
        ]
        self.calc_facts.setRowCount(len(facts))
        for i, (name, value) in enumerate(facts):
            self.calc_facts.setItem(i, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(value)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.calc_facts.setItem(i, 1, item)
        x = np.log2(rep.kv_lengths.astype(float))
        self.kv_curve.setData(x, rep.kv_cache_bytes / GIB)
        self.prefill_curve.setData(x, rep.prefill_memory_bytes / GIB)
        self.weights_line.setValue(math.log10(a["weights_bytes"] / GIB))
        self.flops_curve.setData(x, rep.attention_flops_per_token / 1e9)
        self.dense_line.setValue(math.log10(a["dense_flops_per_token"] / 1e9))
        for w, values in ((self.mem_plot, np.r_[rep.kv_cache_bytes, rep.prefill_memory_bytes, a["weights_bytes"]] / GIB),
                          (self.flops_plot, np.r_[rep.attention_flops_per_token, a["dense_flops_per_token"]] / 1e9)):
            _log2_ticks(w, [int(v) for v in rep.kv_lengths], _tokens)
            _decade_ticks(w, values)

    # ---- the banner -----------------------------------------------------------------------------
    def headline_html(self, result) -> str:
        """YaRN − plain RoPE at 8× and the UltraLong miniature's short-context accuracy against the base model, the NIAH
        figure beside the paper's, then the paper's recipe figures; the issue's two checks first."""
        h, paper = result.headline(), result.PAPER
        acc = result.acceptance()
        checks = []
        if acc["yarn_beats_none_by_50_at_8x"] is not None:
            checks.append(("✓" if acc["yarn_beats_none_by_50_at_8x"] else "✗") + " YaRN beats plain RoPE at 8× by ≥ 50 points")
        if acc["ultralong_keeps_1x_within_2"] is not None:
            checks.append(("✓" if acc["ultralong_keeps_1x_within_2"] else "✗") + " UltraLong keeps 1× within 2 points")
        gain = h["yarn_minus_none"]
        r = result.compare_ratio
        ul, base, ctl = (result.short_accuracy(s) for s in ("ultralong", "none", "ultralong_control"))
        niah, ref = h["niah_ultralong"], paper["niah_ultralong"]

        def num(v: float, fmt: str = "{:.1f}") -> str:
            return fmt.format(v) if v is not None and math.isfinite(v) else "n/a"

        recipe = {"yarn_scale": "YaRN s (1M, from 8K)", "yarn_beta_fast": "β", "extend_steps": "continued pretraining",
                  "extend_tokens": "on"}
        others = " · ".join(f"{recipe.get(k, k)} {paper[k].value:g}{' ' + paper[k].unit if paper[k].unit else ''}"
                            for k in paper if k != "niah_ultralong")
        lines = [
            f"<b>YaRN − plain RoPE at {r:g}× L_train: {num(gain.value, '{:+.1f}')} points</b> "
            f"(zero-shot: YaRN {num(result.at('yarn', r))} %, plain {num(result.at('none', r))} %)"
            f" · <b>UltraLong at 1×: {num(ul)} % vs base {num(base)} % ({num(h['ultralong_short_change'].value, '{:+.1f}')} points)</b>"
            f" · plain-RoPE control {num(ctl)} % ({num(h['control_short_change'].value, '{:+.1f}')})",
            f"UltraLong miniature NIAH ≤ {result.config.extend_factor}× L_train: <b>{num(niah.value)} {escape(niah.unit)}</b> "
            f"<span style='color:#777'>(paper: {ref.value:g} {escape(ref.unit)}, UltraLong-8B NIAH up to 1M/2M/4M) · "
            f"Paper's recipe: {escape(others)}</span>",
        ]
        if checks:
            lines.insert(0, escape(" · ".join(checks)))
        return "<br>".join(lines)
