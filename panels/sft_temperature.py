"""SFT scaling and temperature panel (AceReason-Nemotron 1.1, arXiv:2506.13284).

Every number comes from ``engines.sft_temperature``'s Result: the SFT scaling curves (held-out pass@1 against SFT
traces, the prompts arm beside the responses arm, after SFT and after the same RL, ±1 s.e. over seeds), H_T against
T for each measured checkpoint with the target line and the advised T (the paper's 0.3 nats and T = 0.85 marked),
the RL curves (training reward and rollout entropy) at the low, advised and high temperature, and the
vocabulary-scaling table that says why the toy's target is not 0.3.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QWidget

from panels.base import Panel
from panels.plots import BASELINE, METHOD, NEUTRAL, PAPER, Band, color, paper_line, pen, plot_widget

ARM_COLORS = {"low": BASELINE, "advised": METHOD, "high": "#009e73"}
ARM_LABELS = {"low": "low T", "advised": "advised T", "high": "high T"}


class _Series:
    """Mean points joined by a line, with ±1 s.e. error bars (created once; ``setData`` redraws)."""

    def __init__(self, plot, c: str, name: str, *, dash: bool = False, symbol: str = "o"):
        self.curve = plot.plot([], [], pen=pen(c, 2.0, dash), name=name, symbol=symbol, symbolSize=8, symbolBrush=c,
                               symbolPen=None)
        self.err = pg.ErrorBarItem(x=np.zeros(1), y=np.zeros(1), height=np.zeros(1), pen=pg.mkPen(c, width=1.4), beam=0.08)
        plot.addItem(self.err)

    def setData(self, x, y, e) -> None:  # noqa: N802
        x, y, e = (np.asarray(v, float) for v in (x, y, e))
        ok = np.isfinite(x) & np.isfinite(y)
        self.curve.setData(x[ok], y[ok])
        self.err.setData(x=x[ok], y=y[ok], height=2 * np.nan_to_num(e[ok]))


class SftTemperaturePanel(Panel):
    panel_id = "sft_temperature"
    engine_name = "sft_temperature"
    form_groups = ("Run", "Advisor", "SFT scaling", "RL", "Evaluation")

    def default_source(self) -> str:
        return ("Showing: H_T of the reasoning world checkpoints (resources/reasoning, measured now) beside the recorded study "
                "(resources/sft_temperature, 3 seeds) · mode = study retrains it live")

    # ---- views --------------------------------------------------------------------------------------
    def build_views(self):
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)

        self.scaling_plot = plot_widget("SFT scaling at equal token budgets (±1 s.e. over seeds)", "held-out pass@1",
                                        "SFT traces (= prompts × responses per prompt; log scale)")
        self.scaling = {
            ("prompts", "sft"): _Series(self.scaling_plot, METHOD, "more prompts, after SFT"),
            ("responses", "sft"): _Series(self.scaling_plot, BASELINE, "more responses/prompt, after SFT", symbol="s"),
            ("prompts", "rl"): _Series(self.scaling_plot, METHOD, "more prompts, after RL", dash=True, symbol="t"),
            ("responses", "rl"): _Series(self.scaling_plot, BASELINE, "more responses/prompt, after RL", dash=True, symbol="t"),
        }
        self.scaling_empty = pg.TextItem("", color="#b00020", anchor=(0, 0))
        self.scaling_plot.addItem(self.scaling_empty, ignoreBounds=True)
        self.scaling_plot.plotItem.legend.anchor((0, 0), (0, 0), offset=(60, 30))

        self.entropy_plot = plot_widget("Temperature-adjusted entropy H_T against T", "H_T [nats]", "sampling temperature T")
        self.entropy_curves: list[Band] = []
        self.target_line = pg.InfiniteLine(angle=0, pen=pen(NEUTRAL, 1.6, dash=True), label="target {value:.2f} nats",
                                           labelOpts=dict(color=NEUTRAL, position=0.12))
        self.advised_line = pg.InfiniteLine(angle=90, pen=pen(METHOD, 1.6, dash=True), label="advised T {value:.2f}",
                                            labelOpts=dict(color=METHOD, position=0.9,
                                                                                             fill=pg.mkBrush(255, 255, 255, 200)))
        self.entropy_plot.addItem(self.target_line)
        self.entropy_plot.addItem(self.advised_line)
        paper_line(self.entropy_plot, 0.3, "paper: 0.3 nats at a 152K vocabulary").label.setPosition(0.25)
        paper_line(self.entropy_plot, 0.85, "paper: T = 0.85", vertical=True).label.setPosition(0.97)
        self.entropy_plot.plotItem.legend.anchor((0, 0), (0, 0), offset=(60, 62))

        self.reward_plot = plot_widget("RL at three temperatures: training reward (±1 s.e.)", "reward (mean over rollouts)", "RL step")
        self.arm_entropy_plot = plot_widget("RL at three temperatures: rollout entropy", "H_T of rollouts [nats]", "RL step")
        self.reward_plot.plotItem.legend.anchor((1, 1), (1, 1), offset=(-10, -10))
        self.arm_entropy_plot.plotItem.legend.anchor((1, 0.5), (1, 0.5), offset=(-10, 0))
        self.reward_bands = {a: Band(self.reward_plot, c, ARM_LABELS[a]) for a, c in ARM_COLORS.items()}
        self.arm_entropy_bands = {a: Band(self.arm_entropy_plot, c, ARM_LABELS[a]) for a, c in ARM_COLORS.items()}
        self.arm_target = pg.InfiniteLine(angle=0, pen=pen(NEUTRAL, 1.4, dash=True), label="target",
                                          labelOpts=dict(color=NEUTRAL, position=0.1))
        self.arm_entropy_plot.addItem(self.arm_target)

        grid.addWidget(self.scaling_plot, 0, 0)
        grid.addWidget(self.entropy_plot, 0, 1)
        grid.addWidget(self.reward_plot, 1, 0)
        grid.addWidget(self.arm_entropy_plot, 1, 1)

        self.vocab_plot = plot_widget("Entropy at a given T grows with the vocabulary", "H_T [nats]", "vocabulary size V (log₁₀)",
                                      log_x=True)
        self.vocab_curves: dict = {}
        return [("Study", page), ("Vocabulary scaling", self.vocab_plot)]

    # ---- drawing ------------------------------------------------------------------------------------
    def show_snapshot(self, snap) -> None:
        r = snap.result
        if snap.has_changed("scaling"):
            self._draw_scaling(r)
        if snap.has_changed("advisor") or snap.has_changed("temperature"):
            self._draw_entropy(r)
        if snap.has_changed("rl") or snap.has_changed("temperature"):
            self._draw_rl(r)
        if snap.has_changed("vocab"):
            self._draw_vocab(r)

    def _draw_scaling(self, r) -> None:
        sc = r.scaling()
        if not sc:
            for s in self.scaling.values():
                s.setData([], [], [])
            self.scaling_empty.setText("no recorded study (python -m engines record sft_temperature)")
            self.scaling_empty.setVisible(True)
            return
        self.scaling_empty.setText("")
        self.scaling_empty.setVisible(False)
        for (arm, when), series in self.scaling.items():
            rows = sorted((o for o in sc["starts"] if o["arm"] in ("base", arm)), key=lambda o: o["traces"])
            x = np.log2([o["traces"] for o in rows]) + (0.04 if when == "rl" else 0.0)  # post-RL points nudged right
            y = [np.nan if o[when]["mean"] is None else o[when]["mean"] for o in rows]
            e = [np.nan if o[when]["se"] is None else o[when]["se"] for o in rows]
            series.setData(x, y, e)
        traces = sorted({o["traces"] for o in sc["starts"]})
        self.scaling_plot.getAxis("bottom").setTicks([[(float(np.log2(n)), f"{n:,}") for n in traces]])

    def _draw_entropy(self, r) -> None:
        t = r.temperature()
        curves = r.entropy_curves()
        while len(self.entropy_curves) < len(curves):
            self.entropy_curves.append(Band(self.entropy_plot, color(len(self.entropy_curves) + 2), "", symbol="o"))
        legend = self.entropy_plot.plotItem.legend
        for band in self.entropy_curves:
            legend.removeItem(band.curve)
            band.setData([], [])
        for band, c in zip(self.entropy_curves, curves):
            h, se = np.asarray(c["entropy"], float), np.nan_to_num(np.asarray(c["entropy_se"], float))
            band.setData(c["temperatures"], h, h - se, h + se)
            legend.addItem(band.curve, c["name"])
        self.target_line.setValue(t["target"])
        advised = t.get("advised_T")
        self.advised_line.setVisible(advised is not None)
        if advised is not None:
            self.advised_line.setValue(advised)

    def _draw_rl(self, r) -> None:
        curves = r.rl_curves()
        te = r.temperature()
        temps = te.get("rl", {})
        adv = (te.get("study_advised_T") or {}).get(te.get("rl_start"), {})
        if temps and adv.get("mean") is not None:
            self.reward_plot.setTitle(f"RL reward from {te['rl_start']}: advised T = {adv['mean']:.2f}, 0.7×, 1.2×",
                                      color="#222", size="10pt")
        legend_r, legend_e = self.reward_plot.plotItem.legend, self.arm_entropy_plot.plotItem.legend
        for arm in ARM_COLORS:
            c = curves.get(arm)
            for band, key, legend in ((self.reward_bands[arm], "score", legend_r), (self.arm_entropy_bands[arm], "entropy", legend_e)):
                legend.removeItem(band.curve)
                if c is None:
                    band.setData([], [])
                    continue
                band.setData(c["steps"], c[key]["mean"], c[key]["lo"], c[key]["hi"])
                acc = temps.get(arm, {}).get("acc", {})
                tail = f", pass@1 {acc['mean']:.3f}" if acc.get("mean") is not None and key == "score" else ""
                legend.addItem(band.curve, f"{ARM_LABELS[arm]} = {c['temperature']['mean']:.2f}{tail}")
        self.arm_target.setValue(r.config.target_entropy)
        steps = max((len(c["steps"]) for c in curves.values()), default=0)
        if steps:
            for plot in (self.reward_plot, self.arm_entropy_plot):
                plot.setXRange(1, steps, padding=0.03)

    def _draw_vocab(self, r) -> None:
        v = r.vocab
        if not v:
            return
        if not self.vocab_curves:
            self.vocab_curves["max"] = self.vocab_plot.plot([], [], pen=pen("#000000", 1.4, dash=True), name="ln V (uniform)")
            for i, t in enumerate(v["temperatures"]):
                self.vocab_curves[("g", i)] = self.vocab_plot.plot([], [], pen=pen(color(i), 2.0), symbol="o", symbolSize=6,
                                                                   symbolBrush=color(i), name=f"Gaussian logits σ={v['sigma']:g}, T={t:g}")
                self.vocab_curves[("z", i)] = self.vocab_plot.plot([], [], pen=pen(color(i), 2.0, dash=True), symbol="s", symbolSize=6,
                                                                   symbolBrush=color(i),
                                                                   name=f"Zipf logits s={v['zipf_exponent']:g}, T={t:g}")
            self.vocab_target = paper_line(self.vocab_plot, 0.3, "paper's 0.3 nats")
            self.vocab_plot.addItem(pg.InfiniteLine(pos=np.log10(50), angle=90, pen=pen(METHOD, 1.4, dash=True), label="toy V = 50",
                                                    labelOpts=dict(color=METHOD, position=0.9)))
            self.vocab_plot.addItem(pg.InfiniteLine(pos=np.log10(152_064), angle=90, pen=pen(PAPER, 1.4, dash=True),
                                                    label="Qwen2.5 V = 152K", labelOpts=dict(color=PAPER, position=0.8)))
        x = np.asarray(v["vocab"], float)
        self.vocab_curves["max"].setData(x, v["max_entropy"])
        for i in range(len(v["temperatures"])):
            self.vocab_curves[("g", i)].setData(x, v["gaussian"][i])
            self.vocab_curves[("z", i)].setData(x, v["zipf"][i])
