"""Long-CoT steering panel: a few last-layer MLP units amplified after "wait", and "wait" forced (arXiv:2505.17697).

Every number comes from ``engines.long_cot_steering``'s Result: the activation trajectory of the selected units
around a "wait" (unamplified, with ±1 SE, and under the control) with both fitted decay laws and the control's
f(t); the selected units (P − N score, coloured by layer); length, reflection rate and accuracy per condition with
error bars; generations of the same prompts side by side, without control and with it, reflection segments
highlighted. The model selector is the form's Model field: the task-world Llama, or SmolLM2-135M-Instruct when
installed (the panel says how to get it when it is not).
"""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QTextBrowser, QWidget

from engines.long_cot_steering import CONDITIONS, HOW_TO_GET, smollm2_available
from panels.base import Panel
from panels.plots import BASELINE, CYCLE, METHOD, PAPER, Band, pen, plot_widget

COND_COLORS = {"baseline": BASELINE, "constant": CYCLE[2], "forced_wait": CYCLE[3], "control": METHOD}
COND_LABELS = {"baseline": "baseline", "constant": "constant", "forced_wait": "forced wait", "control": "control"}
TICKS = {"baseline": "baseline", "constant": "const.", "forced_wait": "wait only", "control": "control"}
LAYER_COLORS = ("#56b4e9", "#009e73", "#cc79a7", "#000000", "#e69f00", "#0072b2")
METRICS = (("mean_length", "Length", "length [tokens]"), ("reflection_rate", "Reflection rate", "share of responses"),
           ("accuracy", "Accuracy", "share right"))
HIGHLIGHT = "#ffd8a8"


class LongCotSteeringPanel(Panel):
    panel_id = "long_cot_steering"
    engine_name = "long_cot_steering"
    form_groups = ("Model", "Selection", "Control", "Forced wait", "Evaluation")

    def default_config(self):
        return self.engine.Config(recorded=True)  # the recorded run: a second; untick "recorded" to run live

    def default_source(self) -> str:
        return "Showing: the recorded run of the task-world model (python -m engines record long_cot_steering)"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        have = smollm2_available()
        text = ("SmolLM2-135M-Instruct is installed: choose model = smollm2" if have
                else f"SmolLM2-135M-Instruct is not installed: {HOW_TO_GET}")
        self.smol_label = QLabel(text)
        self.smol_label.setWordWrap(True)
        self.smol_label.setToolTip("The real model the same method runs on (Model field above); the task-world model needs nothing")
        self.right_box = QComboBox()
        for c in CONDITIONS[1:]:
            self.right_box.addItem(COND_LABELS[c], c)
        self.right_box.setCurrentIndex(len(CONDITIONS) - 2)
        self.right_box.setToolTip("The condition shown beside the baseline in the Generations tab (no re-run)")
        self.right_box.currentIndexChanged.connect(lambda _i: self._draw_texts())
        self.add_controls("Models and view", self.smol_label, ("beside baseline", self.right_box))

    # ---- views --------------------------------------------------------------------------------------
    def build_views(self):
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        self.traj_plot = plot_widget("Selected units around a \"wait\" (± 1 SE)",
                                     "relative rise m(k)/m̄ − 1", "tokens after the trigger [tokens]")
        self.traj = Band(self.traj_plot, BASELINE, "measured, unamplified", symbol="o")
        self.traj_ctrl = Band(self.traj_plot, METHOD, "measured, under control", width=1.5)
        self.fit_log = self.traj_plot.plot([], [], pen=pen(CYCLE[2], 2.5), name="log fit")
        self.fit_exp = self.traj_plot.plot([], [], pen=pen(CYCLE[3], 2.0, dash=True), name="exp fit")
        self.law = self.traj_plot.plot([], [], pen=pen(PAPER, 2.0, dash=True), name="paper's f(t)")
        self.traj_plot.addLine(x=0.5, pen=pg.mkPen("#999", width=1))
        self.traj_plot.getAxis("left").setWidth(52)

        self.unit_plot = plot_widget("Selected units: P − N", "mean activation difference P − N",
                                     "unit (layer:index), by score", legend=True)
        self.unit_plot.getAxis("left").setWidth(64)
        self.unit_bars: list[pg.BarGraphItem] = []

        bars = QWidget()
        row = QHBoxLayout(bars)
        row.setContentsMargins(0, 0, 0, 0)
        self.metric_plots = {}
        for key, title, label in METRICS:
            p = plot_widget(f"{title} per condition (± 1 SE)", label, "", legend=False)
            p.getAxis("left").setWidth(52)  # fixed: the layout must not move when tick labels change width
            item = pg.BarGraphItem(x=np.arange(len(CONDITIONS)), height=np.zeros(len(CONDITIONS)), width=0.7,
                                   brushes=[COND_COLORS[c] for c in CONDITIONS], pen=pg.mkPen("#333", width=0.8))
            err = pg.ErrorBarItem(x=np.arange(len(CONDITIONS)), y=np.zeros(len(CONDITIONS)), height=np.zeros(len(CONDITIONS)),
                                  pen=pg.mkPen("#000", width=1.3), beam=0.3)
            p.addItem(item)
            p.addItem(err)
            p.getAxis("bottom").setTicks([[(i, TICKS[c]) for i, c in enumerate(CONDITIONS)]])
            self.metric_plots[key] = (p, item, err)
            row.addWidget(p)
        grid.addWidget(self.traj_plot, 0, 0)
        grid.addWidget(self.unit_plot, 0, 1)
        grid.addWidget(bars, 1, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 5)
        grid.setRowStretch(1, 4)

        texts = QWidget()
        tl = QGridLayout(texts)
        tl.setContentsMargins(0, 0, 0, 0)
        self.left_title, self.right_title = QLabel("<b>baseline</b>"), QLabel("<b>control</b>")
        self.left_text, self.right_text = QTextBrowser(), QTextBrowser()
        for w in (self.left_text, self.right_text):
            w.setToolTip("The same held-out prompts and random numbers; reflection segments highlighted; ✓ right answer, ✗ wrong")
        tl.addWidget(self.left_title, 0, 0)
        tl.addWidget(self.right_title, 0, 1)
        tl.addWidget(self.left_text, 1, 0)
        tl.addWidget(self.right_text, 1, 1)
        return [("Steering", page), ("Generations", texts)]

    # ---- drawing -------------------------------------------------------------------------------------
    def show_snapshot(self, snap):
        r = snap.result
        if r is None:
            return
        if snap.has_changed("selection"):
            self._draw_units(r)
        if snap.has_changed("conditions"):
            self._draw_conditions(r)
            self._draw_texts()
        if snap.has_changed("decay"):
            self._draw_trajectory(r)
        if snap.progress >= 1.0:
            n = r.conditions().get("baseline", {}).get("responses", 0)
            how = "recorded run" if r.recorded else "live run"
            self.set_source(f"Showing: {how} · {r.model_source} · {n} responses per condition, same prompts and seeds · "
                            f"{len(r.unit_score)} units in layers {', '.join(str(x) for x in r.layers)}")

    def _draw_trajectory(self, r):
        if not len(r.offsets):
            for item in (self.traj, self.traj_ctrl):
                item.setData([], [])
            return
        x = np.asarray(r.offsets, float)
        self.traj.setData(x, r.trajectory, r.trajectory - r.trajectory_se, r.trajectory + r.trajectory_se)
        self.traj_ctrl.setData(x, r.trajectory_control)
        t = np.asarray(r.decay.get("t", []), float) + r.decay.get("peak_offset", 1) - 1
        for item, law in ((self.fit_log, "log"), (self.fit_exp, "exp")):
            y = r.fitted(law)
            item.setData(t, y) if y is not None else item.setData([], [])
        if len(r.law_curve):
            ok = x >= 1
            self.law.setData(x[ok], np.asarray(r.law_curve)[ok])
        lg, ex = r.decay.get("log"), r.decay.get("exp")
        if lg and ex:
            self.traj_plot.setTitle(f"{r.triggers} \"wait\"s: rmse log {lg['rmse']:.2g}, exp {ex['rmse']:.2g}", color="#222",
                                    size="10pt")

    def _draw_units(self, r):
        for b in self.unit_bars:
            self.unit_plot.removeItem(b)
        self.unit_bars = []
        legend = self.unit_plot.plotItem.legend
        if legend is not None:
            legend.clear()
        order = np.argsort(-np.asarray(r.unit_score))
        layers = [int(x) for x in r.layers]
        for k, layer in enumerate(layers):
            idx = [i for i, j in enumerate(order) if int(r.unit_layer[j]) == layer]
            if not idx:
                continue
            item = pg.BarGraphItem(x=np.array(idx, float), height=np.asarray(r.unit_score)[order][idx], width=0.75,
                                   brush=LAYER_COLORS[k % len(LAYER_COLORS)], pen=pg.mkPen("#333", width=0.6))
            self.unit_plot.addItem(item)
            if legend is not None:
                legend.addItem(item, f"layer {layer}: {len(idx)} units")
            self.unit_bars.append(item)
        step = max(1, -(-len(order) // 8))
        ticks = [(i, f"{int(r.unit_layer[j])}:{int(r.unit_index[j])}") for i, j in enumerate(order) if i % step == 0]
        self.unit_plot.getAxis("bottom").setTicks([ticks])

    def _draw_conditions(self, r):
        rows = r.conditions()
        for key, (plot, item, err) in self.metric_plots.items():
            v = np.array([np.nan if rows.get(c, {}).get(key) is None else rows[c][key] for c in CONDITIONS], float)
            e = np.array([np.nan if rows.get(c, {}).get(key + "_se") is None else rows[c][key + "_se"] for c in CONDITIONS], float)
            item.setOpts(height=np.nan_to_num(v))
            err.setData(x=np.arange(len(CONDITIONS)), y=np.nan_to_num(v), height=2 * np.nan_to_num(e))
            top = np.nanmax(np.nan_to_num(v + e)) if np.isfinite(v).any() else 1.0
            plot.setYRange(0, max(top * 1.12, 1e-6), padding=0)

    def _draw_texts(self):
        r = self.shown
        if r is None:
            return
        right = self.right_box.currentData()
        self.right_title.setText(f"<b>{escape(COND_LABELS[right])}</b>")
        self.left_text.setHtml(_examples_html(r.examples.get("baseline", [])))
        self.right_text.setHtml(_examples_html(r.examples.get(right, [])))


def _examples_html(examples: list[dict]) -> str:
    out = []
    for ex in examples:
        mark = "<span style='color:#1a7f37'>✓</span>" if ex.get("correct") else "<span style='color:#b00020'>✗</span>"
        body = "".join(f"<span style='background:{HIGHLIGHT}'>{escape(t)}</span>" if refl else escape(t)
                       for t, refl in ex.get("segments", []))
        out.append(f"<p><span style='color:#555'>{escape(ex.get('prompt', ''))}</span> → answer {ex.get('answer', '')} {mark}<br>"
                   f"<tt>{body.replace(chr(10), '<br>')}</tt></p>")
    return "".join(out) or "<i>no responses yet</i>"
