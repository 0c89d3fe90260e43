"""RL training dashboard: on-policy GRPO, math-only RL then code-only RL, in the reasoning world (AceReason, arXiv:2505.16400).

Every number drawn here comes from ``engines.acereason``'s Result; the panel only turns it into pixels:

- *Training curves*: reward (``critic/score/mean``), held-out math and code pass@1, response length, entropy and the
  share of no-signal groups against the RL step, each seed a thin line and the mean ± s.e. over seeds a band; the
  stage boundaries as vertical lines (SFT, math-only, the length raises, code-only); the SFT end as the baseline line
  of the pass@1 plots; the updates-per-batch ablation's entropy (1 vs k updates per batch, same lr, same prompts).
- *Updates per batch*: the ablation in full (entropy, reward, PPO clip fraction of both arms).
- *Stages*: math/code pass@1, entropy and steps at the end of every phase and stage, over seeds.
- *Samples*: the most recent completions, each step of the chain marked right or wrong, the failing step highlighted.

The default job opens the recorded run (resources/reasoning/, ``python -m engines record acereason``); Train reruns
it live; "Train from checkpoint" starts RL from one of the run's checkpoints (weights only, see its tooltip).
File → Open draws a TRL ``trainer_state.json``, a veRL JSONL log or our ``metrics.jsonl`` with the same views and
follows it while it grows (the engine's ``LogFollower`` polled off the GUI thread when the file's size or time
changes); a malformed log shows the reader's error (file and line) and the views keep what they showed.
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.base import Snapshot
from panels.base import Panel
from panels.plots import BASELINE, METHOD, NEUTRAL, Band, color, pen, plot_widget

# (key in the Result's curves, plot title, y label); pass@1 keys are resolved per result (a foreign log names its own sets)
CURVE_VIEWS = (
    ("score", "Reward (critic/score/mean)", "mean reward [0–1]"),
    ("pass1/math", "Held-out math pass@1", "pass@1 [0–1]"),
    ("pass1/code", "Held-out code pass@1", "pass@1 [0–1]"),
    ("response_length", "Response length", "length [tokens]"),
    ("entropy", "Entropy (actor/entropy)", "H [nats / token]"),
    ("no_signal", "No-signal groups", "share of groups [0–1]"),
)
STEP_AXIS = "RL step"
PHASE_LABEL = {"sft": "SFT", "math": "math-only", "code": "code-only"}
MAX_SAMPLE_ROWS = 80
OK_BG, BAD_BG, FAIL_BG = QColor("#d9f2e3"), QColor("#fbe3e1"), QColor("#e06666")
MAX_SEEDS = 5  # the Config allows 1–5 seeds


def _pm(mean, se, digits: int = 3) -> str:
    """``mean ± se`` as a reader writes it; "n/a" where there is no number."""
    if mean is None or not math.isfinite(mean):
        return "n/a"
    text = f"{mean:.{digits}f}"
    return text + (f" ± {se:.{digits}f}" if se is not None and math.isfinite(se) else "")


def _signed(fig) -> str:
    if fig.value is None or not math.isfinite(fig.value):
        return "n/a"
    text = f"{fig.value:+.3f}"
    return text + (f" ± {fig.error:.3f}" if fig.error is not None and math.isfinite(fig.error) else "")


def _kind(result) -> str:
    """``live``, ``log`` (an opened file) or ``recorded``."""
    rec = result.recorded
    if rec is None:
        return "live"
    return "log" if "log" in rec else "recorded"


class CurvePlot:
    """One metric: a thin line per seed, the mean ± s.e. band, stage lines, optionally the SFT baseline line."""

    def __init__(self, key: str, title: str, ylabel: str, legend: bool):
        self.key, self.title = key, title
        self.widget = plot_widget(title, ylabel, STEP_AXIS, legend=legend)
        self.widget.setTitle(title, color="#222", size="9pt")
        self.widget.setToolTip(f"{title} per RL step: thin lines are seeds, the band is the mean ± standard error over seeds; "
                               "vertical lines mark the stages (≤N: the stage's response-length limit in tokens)")
        if legend:
            self.widget.plotItem.legend.setOffset((-8, -8))  # bottom right: the pass@1 curves sit higher
        sparse = key.startswith("pass1/")
        self.seed_curves: list[pg.PlotDataItem] = []  # made as seeds appear (plot items are slow to build)
        self.band = Band(self.widget, METHOD, "mean ± s.e. over seeds", width=2.2, symbol="o" if sparse else None)
        self.baseline = None
        self.stage_lines: list[pg.InfiniteLine] = []
        self._bounds_key = None

    def add_baseline(self) -> None:
        self.baseline = pg.InfiniteLine(angle=0, pen=pen(BASELINE, 1.6, dash=True), label="SFT start",
                                        labelOpts=dict(color=BASELINE, position=0.75, anchors=[(0.5, 0), (0.5, 0)],
                                                       fill=pg.mkBrush(255, 255, 255, 200)))
        self.baseline.setVisible(False)
        self.widget.addItem(self.baseline)

    def set_curve(self, curve: dict, seeds: list[int]) -> None:
        steps = curve["steps"]
        while len(self.seed_curves) < min(len(seeds), MAX_SEEDS):
            c = self.widget.plot([], [], pen=pen(color(len(self.seed_curves) + 2), 1.0), name=None)
            c.setZValue(-1)  # under the mean and its band
            self.seed_curves.append(c)
        for i, c in enumerate(self.seed_curves):
            vals = curve["seeds"].get(seeds[i]) if i < len(seeds) else None
            if vals is None:
                c.setData([], [])
                continue
            ok = np.isfinite(vals)
            c.setData(steps[ok], vals[ok])
        multi = len(seeds) > 1
        self.band.setData(steps, curve["mean"], curve["lo"] if multi else None, curve["hi"] if multi else None)

    def set_baseline(self, value: float | None) -> None:
        if self.baseline is None:
            return
        ok = value is not None and math.isfinite(value)
        self.baseline.setVisible(ok)
        if ok:
            self.baseline.setValue(value)
            self.baseline.label.setFormat(f"SFT start {value:.3f}")

    def set_stages(self, bounds: list[dict]) -> None:
        key = tuple((b["name"], b["start"]) for b in bounds)
        if key == self._bounds_key:
            return
        self._bounds_key = key
        for line in self.stage_lines:
            self.widget.removeItem(line)
        self.stage_lines = []
        if len(bounds) <= 1 and (not bounds or bounds[0]["phase"] not in PHASE_LABEL):
            return  # a foreign log: one stage, nothing to mark
        font = QFont()
        font.setPointSize(7)
        prev_phase = None
        for b in bounds:
            first_of_phase = b["phase"] != prev_phase
            prev_phase = b["phase"]
            sft = b["phase"] == "sft"
            x = 0.0 if sft else b["start"] - 0.5  # the SFT end is evaluated at step 0; a stage starts between steps
            limit = f" ≤{b['max_new_tokens']}" if b.get("max_new_tokens") else ""
            text = (PHASE_LABEL.get(b["phase"], b["phase"]) + limit.replace(" ", "\n")) if first_of_phase else limit.strip()
            where = dict(position=0.04, anchors=[(0, 1), (0, 1)]) if sft else dict(position=0.97, anchors=[(0, 0), (0, 0)])
            line = pg.InfiniteLine(pos=x, angle=90, pen=pen(NEUTRAL, 1.2 if first_of_phase else 0.8, dash=not first_of_phase),
                                   label=text, labelOpts=dict(color="#333", fill=pg.mkBrush(255, 255, 255, 190), **where))
            line.label.setFont(font)
            self.widget.addItem(line)
            self.stage_lines.append(line)


class RlDashboardPanel(Panel):
    panel_id = "rl_dashboard"
    engine_name = "acereason"
    form_groups = ("Run", "RL stages", "GRPO", "SFT", "Model", "Evaluation", "Ablation")
    file_filter = "RL training logs (trainer_state.json *.json *.jsonl events.out.tfevents*);;All files (*)"
    follow_interval_ms = 1000

    def default_config(self):
        return self.engine.Config(recorded=True)  # the recorded 3-seed run: a quarter of a second, no torch

    def default_source(self) -> str:
        return "Showing: the recorded run · Train reruns it live · File → Open follows a TRL, veRL or own log"

    # ---- views ------------------------------------------------------------------------------------------------
    def build_views(self):
        self._follower = None
        self._follow_stamp = None
        self._follow_job = None
        self._samples_stale = False
        self.follow_timer = QTimer(self)
        self.follow_timer.setInterval(self.follow_interval_ms)
        self.follow_timer.timeout.connect(self._follow_tick)
        self._build_controls()
        return [
            ("Training curves", self._build_curves_tab()),
            ("Updates per batch", self._ablation_page()),
            ("Stages", self._build_stages_tab()),
            ("Samples", self._build_samples_tab()),
        ]

    def _build_controls(self) -> None:
        self.run_button.setToolTip("Run with these settings: the recorded run while 'recorded' is ticked, else train live "
                                   "(off the GUI thread)")
        self.train_button = QPushButton("Train (live)")
        self.train_button.setToolTip("Rerun the recipe live with these settings (SFT, math-only RL, code-only RL; 'recorded' "
                                     "ignored): the curves grow as metrics.jsonl is written; Stop keeps what was drawn")
        self.train_button.clicked.connect(self.train)
        self.checkpoint_box = QComboBox()
        self.checkpoint_box.setToolTip("A checkpoint of the run on screen (seed, RL step, stage) to start RL from")
        self.resume_button = QPushButton("Train from checkpoint")
        self.resume_button.setToolTip("Start RL from the chosen checkpoint's weights (model = that folder, no SFT): the stage "
                                      "schedule of the controls runs from step 1 again. The engine saves weights only (no "
                                      "optimizer state or RL step counter), so this is a warm start, not an exact resume")
        self.resume_button.clicked.connect(self.train_from_checkpoint)
        self.resume_button.setEnabled(False)
        self.back_button = QPushButton("Back to the recorded run")
        self.back_button.setToolTip("Stop following an opened log and show the recorded run again")
        self.back_button.clicked.connect(self.show_recorded)
        self.add_controls("Training", self.train_button, ("from", self.checkpoint_box), self.resume_button, self.back_button)

    def _build_curves_tab(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        self.plots: dict[str, CurvePlot] = {}
        for i, (key, title, ylabel) in enumerate(CURVE_VIEWS):
            p = CurvePlot(key, title, ylabel, legend=(key == "pass1/math"))  # row 0: four plots; row 1: two, the ablation, the summary
            if key.startswith("pass1/"):
                p.add_baseline()
            self.plots[key] = p
            grid.addWidget(p.widget, i // 4, i % 4)
        self.mini_ablation = plot_widget("Entropy, updates per batch", "H [nats / token]", STEP_AXIS)
        self.mini_ablation.setToolTip("The ablation: entropy of the on-policy run (1 update per batch) and of the arm with "
                                      "k PPO-clipped updates per batch, same lr, same first prompts (first seed)")
        self.mini_arms = {"updates_1": self.mini_ablation.plot([], [], pen=pen(METHOD, 2.0), name="1 update"),
                          "updates_k": self.mini_ablation.plot([], [], pen=pen(BASELINE, 2.0), name="k updates")}
        grid.addWidget(self.mini_ablation, 1, 2)
        self.stage_note = QLabel("")
        self.stage_note.setWordWrap(True)
        self.stage_note.setTextFormat(Qt.TextFormat.RichText)
        self.stage_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.stage_note.setStyleSheet("font-size: 9pt; padding: 4px;")
        self.stage_note.setToolTip("Held-out pass@1 at the end of each phase (full evaluation), mean ± s.e. over seeds")
        grid.addWidget(self.stage_note, 1, 3)
        for c in range(4):
            grid.setColumnStretch(c, 1)
        return page

    def _ablation_page(self) -> QWidget:
        """The ablation tab's page; its plots are built when the tab is first shown (keeps opening under 2 s)."""
        self.ab_page = QWidget()
        self.ab_plots: dict[str, pg.PlotWidget] = {}
        self.ab_curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        QGridLayout(self.ab_page).setContentsMargins(0, 0, 0, 0)
        return self.ab_page

    def on_tab_shown(self, name: str) -> None:
        if name == "Updates per batch" and not self.ab_plots:
            self._build_ablation_tab()
            if self.shown is not None:
                self._draw_ablation(self.shown)
        if name == "Samples" and self._samples_stale and self.shown is not None:
            self._draw_samples(self.shown)

    def _build_ablation_tab(self) -> None:
        lay = self.ab_page.layout()
        self.ab_plots = {
            "entropy": plot_widget("Entropy per RL step: 1 vs k updates per batch", "H [nats / token]", STEP_AXIS),
            "score": plot_widget("Training reward", "mean reward [0–1]", STEP_AXIS, legend=False),
            "clipfrac": plot_widget("PPO clip fraction (binds only when k > 1)", "share of tokens clipped [0–1]", STEP_AXIS,
                                    legend=False),
        }
        for name, w in self.ab_plots.items():
            w.setToolTip(f"The updates-per-batch ablation ({name}): the main run's first steps (1 update per batch, strictly "
                         "on-policy) against the arm with k updates per batch, same lr and first rollout, first seed")
        self.ab_curves = {(m, arm): self.ab_plots[m].plot([], [], pen=pen(METHOD if arm == "updates_1" else BASELINE, 2.0),
                                                          name=None)
                          for m in self.ab_plots for arm in ("updates_1", "updates_k")}
        self.ab_note = QLabel("")
        self.ab_note.setWordWrap(True)
        self.ab_note.setToolTip("The ablation's figures from the Result (entropy_drop = H(step 1) − mean H over later steps)")
        lay.addWidget(self.ab_plots["entropy"], 0, 0, 1, 2)
        lay.addWidget(self.ab_plots["score"], 1, 0)
        lay.addWidget(self.ab_plots["clipfrac"], 1, 1)
        lay.addWidget(self.ab_note, 2, 0, 1, 2)
        lay.setRowStretch(0, 3)
        lay.setRowStretch(1, 2)

    def _build_stages_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.stages_table = QTableWidget(0, 5)
        self.stages_table.setHorizontalHeaderLabels(["math pass@1", "code pass@1", "held-out entropy [nats]", "steps",
                                                     "seeds"])
        self.stages_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.stages_table.setToolTip("At the end of each phase (full evaluation) and stage (light evaluation): mean ± standard "
                                     "error over seeds (one seed: the evaluation's own error over prompts); steps: SFT steps "
                                     "in the SFT row, RL steps elsewhere")
        self.stages_note = QLabel("")
        self.stages_note.setWordWrap(True)
        lay.addWidget(self.stages_table, 1)
        lay.addWidget(self.stages_note)
        return page

    def _build_samples_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.samples_note = QLabel("Each written step of the chain: green = right, pink = wrong, red = the first wrong step "
                                   "(where the chain failed). ✓/✗ after the answer: the answer reward.")
        self.samples_note.setWordWrap(True)
        self.samples_table = QTableWidget(0, 0)
        self.samples_table.setToolTip("The most recent sample completions of the run, newest first, checked step by step by "
                                      "the verifier")
        self.samples_table.verticalHeader().setVisible(False)
        self.samples_table.verticalHeader().setDefaultSectionSize(20)
        lay.addWidget(self.samples_note)
        lay.addWidget(self.samples_table, 1)
        return page

    # ---- drawing ----------------------------------------------------------------------------------------------
    def show_snapshot(self, snap: Snapshot) -> None:
        res = snap.result
        if res is None:
            return
        if snap.has_changed("curves"):
            stages = res.stages()
            self._draw_curves(res, stages)
            self._draw_ablation(res)
            self._draw_stages(res, stages)
            self._samples_stale = True
            if self.tabs.tabText(self.tabs.currentIndex()) == "Samples":  # else drawn when the tab is shown
                self._draw_samples(res)
        if snap.has_changed("checkpoints"):
            self._fill_checkpoints(res)
        self._show_source(res)
        if snap.progress < 1.0 and snap.has_changed("summary"):  # a live run's banner fills in as its phases end
            self.headline.setText(self.headline_html(res))

    def _pass1_keys(self, res) -> dict[str, str]:
        """Which pass@1 series the math and code plots show: ours, else the first held-out sets a foreign log names."""
        if _kind(res) != "log":  # our runs evaluate math and code by construction
            return {"pass1/math": "pass1/math", "pass1/code": "pass1/code"}
        names = [n for n in res.log().metric_names() if n.startswith("pass1/")]
        out = {}
        others = [n for n in names if n not in ("pass1/math", "pass1/code")]
        for key in ("pass1/math", "pass1/code"):
            out[key] = key if key in names or not others else others.pop(0)
        return out

    def _draw_curves(self, res, stages: dict) -> None:
        seeds = res.seeds()
        bounds = res.stage_bounds()
        sft = stages.get("sft", {})
        keys = self._pass1_keys(res)
        missing = ": not logged" if _kind(res) == "log" else ": no steps yet"
        drawn = {}
        for key, plot in self.plots.items():
            name = keys.get(key, key)
            curve = drawn[key] = res.curve(name)
            plot.set_curve(curve, seeds)
            plot.set_stages(bounds)
            title = plot.title
            if key in keys:
                title = f"Held-out {name.split('/', 1)[1]} pass@1"
                plot.set_baseline(sft.get(f"{name.split('/', 1)[1]}_pass1", {}).get("mean"))
            empty = not np.isfinite(curve["mean"]).any()
            if empty:
                title = title.split(" (")[0].replace("Held-out ", "") + missing  # short enough to fit the plot
            plot.widget.setTitle(title, color="#777" if empty else "#222", size="9pt")
        host = self.plots["pass1/math"]
        legend = host.widget.plotItem.legend
        legend.clear()
        for i, s in enumerate(seeds[:MAX_SEEDS]):
            legend.addItem(host.seed_curves[i], f"seed {s}")
        legend.addItem(host.band.curve, "mean ± s.e." if len(seeds) > 1 else "mean")
        legend.setVisible(bool(np.isfinite(drawn["pass1/math"]["mean"]).any()))  # no legend on an empty plot
        lines = []
        for phase in ("sft", "math", "code"):
            st = stages.get(phase)
            if st:
                lines.append(f"<b>{PHASE_LABEL[phase]}</b> end: math {_pm(st['math_pass1']['mean'], st['math_pass1']['se'])}, "
                             f"code {_pm(st['code_pass1']['mean'], st['code_pass1']['se'])}")
        t = res.transfer()
        if t["mean"] is not None:
            lines.append(f"code pass@1 change during math-only RL (transfer): <b>{_pm(t['mean'], t['se'])}</b>")
        if not lines:
            lines.append("This log has no SFT and math-only phases (no held-out evaluations named like ours): the curves show "
                         "its metrics as logged.")
        self.stage_note.setText("<br>".join(lines))

    def _draw_ablation(self, res) -> None:
        arms = res.ablation_curves()
        empty = {"steps": [], "entropy": [], "score": [], "clipfrac": []}
        for (m, arm), curve in self.ab_curves.items():
            c = arms.get(arm, empty)
            curve.setData(c["steps"], c[m])
        for arm, curve in self.mini_arms.items():
            c = arms.get(arm, empty)
            curve.setData(c["steps"], c["entropy"])
        none = not arms
        self.mini_ablation.setTitle("Updates per batch: no ablation" if none else "Entropy, updates per batch",
                                    color="#777" if none else "#222", size="9pt")
        legend = self.mini_ablation.plotItem.legend
        legend.clear()
        for arm, curve in self.mini_arms.items():
            if arm in arms:
                n = arms[arm]["updates"]
                legend.addItem(curve, f"{n} update{'s' * (n != 1)}/batch")
        if not self.ab_plots:  # the tab has not been shown yet
            return
        big = self.ab_plots["entropy"].plotItem.legend
        big.clear()
        for arm in self.mini_arms:
            if arm in arms:
                n = arms[arm]["updates"]
                big.addItem(self.ab_curves[("entropy", arm)], f"{n} update{'s' * (n != 1)} per batch"
                            + (" (on-policy, the paper's recipe)" if n == 1 else " (PPO-clipped)"))
        ab = res.ablation()
        if ab:
            (u1, uk), (d1, dk) = ab["updates"], ab["entropy_drop"]
            self.ab_note.setText(f"Over {ab['steps']} steps: entropy drop {d1:.4f} nats with {u1} update per batch, {dk:.4f} with "
                                 f"{uk}; entropy at the end {ab['entropy_end'][0]:.3f} vs {ab['entropy_end'][1]:.3f} nats — "
                                 + ("falls faster with more updates (the paper's warning)." if ab["faster_with_more_updates"]
                                    else "does not fall faster with more updates here."))
        else:
            self.ab_note.setText("No ablation arm in this run (ablation_steps = 0, or a foreign log).")

    def _draw_stages(self, res, stages: dict) -> None:
        n = len(res.seeds())
        self.stages_table.setRowCount(len(stages))
        self.stages_table.setVerticalHeaderLabels([PHASE_LABEL.get(k, k) for k in stages])
        for i, st in enumerate(stages.values()):
            cells = [_pm(st["math_pass1"]["mean"], st["math_pass1"]["se"]), _pm(st["code_pass1"]["mean"], st["code_pass1"]["se"]),
                     _pm(st["entropy"]["mean"], st["entropy"]["se"]), str(st["steps"]), str(n)]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.stages_table.setItem(i, j, item)
        g, t = res.math_gain(), res.transfer()
        self.stages_note.setText(f"Math-only RL over SFT: math pass@1 {_pm(g['mean'], g['se'])}, code pass@1 (transfer) "
                                 f"{_pm(t['mean'], t['se'])} ({n} seed{'s' * (n != 1)}).")

    def _draw_samples(self, res) -> None:
        self._samples_stale = False
        rows = list(reversed(res.samples[-MAX_SAMPLE_ROWS:]))
        width = max([len(s.get("steps") or []) for s in rows] or [0])
        heads = ["seed", "RL step", "stage", "prompt", "answer", "reward"] + [f"step {k + 1}" for k in range(width)]
        t = self.samples_table
        t.clearContents()
        t.setColumnCount(len(heads))
        t.setHorizontalHeaderLabels(heads)
        t.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for i, s in enumerate(rows):
            steps, ok = s.get("steps") or [], s.get("step_ok") or []
            failed = s.get("failed_step")
            cells = [str(s.get("seed", "")), str(s.get("step", "")), str(s.get("stage", "")), str(s.get("prompt", ""))]
            for j, text in enumerate(cells):
                t.setItem(i, j, QTableWidgetItem(text))
            for k in range(width):
                if k >= len(steps):
                    t.setItem(i, 6 + k, QTableWidgetItem(""))
                    continue
                right = k < len(ok) and bool(ok[k])
                item = QTableWidgetItem(f"{'✓' if right else '✗'} {steps[k]}")
                item.setBackground(FAIL_BG if k == failed else OK_BG if right else BAD_BG)
                if k == failed:
                    item.setFont(bold)
                    item.setForeground(QColor("#ffffff"))
                    item.setToolTip("the first wrong step: the chain failed here")
                t.setItem(i, 6 + k, item)
            answer = QTableWidgetItem(f"{s.get('answer', '')} {'✓' if s.get('answer_correct') else '✗'}"
                                      + (" (lucky)" if s.get("answer_correct") and not s.get("chain_correct") else ""))
            answer.setBackground(OK_BG if s.get("answer_correct") else BAD_BG)
            if failed is not None and failed >= len(steps):
                answer.setToolTip(f"the chain stopped before step {failed + 1}")
            t.setItem(i, 4, answer)
            t.setItem(i, 5, QTableWidgetItem(f"{s.get('reward', 0):g}"))
        t.resizeColumnsToContents()

    def _fill_checkpoints(self, res) -> None:
        self.checkpoint_box.clear()
        for c in res.checkpoints:
            self.checkpoint_box.addItem(f"seed {c.get('seed', 0)} · {c.get('name', '')} (RL step {c.get('step', 0)}, "
                                        f"{c.get('stage', '')})", c.get("path", ""))
        self.resume_button.setEnabled(self.checkpoint_box.count() > 0)

    def _show_source(self, res) -> None:
        kind = _kind(res)
        if kind == "recorded":
            p = res.recorded
            seeds = p.get("seeds", [])
            self.set_source(f"Showing: the recorded run ({len(seeds)} seeds × {p.get('sft_steps', '?')} SFT + {p.get('rl_steps', '?')} "
                            f"RL steps, {p.get('wall_s', 0) / 60:.0f} min on {p.get('machine', '?')}, commit "
                            f"{str(p.get('commit', ''))[:7]}) · reproduce: {p.get('command', '?')} · Train reruns it live")
        elif kind == "log":
            rec = res.recorded
            following = " · following: redrawn while the file grows" if self._follower is not None else ""
            self.set_source(f"Showing: {rec['format']} log {rec['log']} ({len(res.rows)} rows){following}", file=rec["log"])
        else:
            start = f" from {Path(res.config.model).name}" if res.config.model else ""
            self.set_source(f"Showing: live training{start}, {res.config.seeds} seed(s), metrics.jsonl in {res.run_dir}")

    def headline_html(self, result) -> str:
        """The math pass@1 gain over SFT and the transfer to code with their errors, the ablation ratio; the paper's numbers."""
        kind = {"recorded": "Recorded run", "live": "Live run", "log": "Opened log"}[_kind(result)]
        h, paper = result.headline(), result.PAPER
        n = len(result.seeds())
        ours = [f"<b>math pass@1 gain over SFT {_signed(h['math_gain'])}</b>",
                f"<b>code pass@1 change during math-only RL {_signed(h['transfer'])}</b>"]
        if "entropy_drop_ratio" in h and h["entropy_drop_ratio"].value is not None:
            ours.append(f"entropy drop, {result.ablation()['updates'][1]} vs 1 updates per batch: {h['entropy_drop_ratio'].value:.2f}×")
        theirs = [f"{ref.value:+.3f} ({100 * ref.value:+.1f} points) {ref.what}" for ref in paper.values()]
        return (f"{kind} ({n} seed{'s' * (n != 1)}, held-out pass@1 as a fraction): " + " · ".join(ours)
                + "<br><span style='color:#777'>Paper: " + escape("; ".join(theirs)) + "</span>")

    # ---- jobs -------------------------------------------------------------------------------------------------
    def run_job(self, config=None):
        self.stop_following()
        return super().run_job(config)

    def train(self):
        cfg = self.config_or_error()
        return None if cfg is None else self.run_job(cfg.replace(recorded=False))

    def train_from_checkpoint(self):
        cfg = self.config_or_error()
        path = self.checkpoint_box.currentData()
        if cfg is None or not path:
            return None
        return self.run_job(cfg.replace(recorded=False, model=str(path), sft_steps=0))

    def show_recorded(self):
        cfg = self.config_or_error()
        return None if cfg is None else self.run_job(cfg.replace(recorded=True))

    # ---- File → Open: read and follow a log -------------------------------------------------------------------
    def open_file(self, path: str) -> None:
        """Draw the log at ``path`` (TRL, veRL, own) and follow it while it grows; a malformed log: the reader's error."""
        self.stop_following()
        try:
            follower = self.engine.LogFollower(path)  # resolves the file and sniffs its format (its first line only)
        except (ValueError, OSError) as err:
            self.show_error(f"{type(err).__name__}: {err}")
            return
        self.message.setText(f"reading {Path(path).name} …")
        self._follower = follower
        self._poll(first=True)

    def stop_jobs(self) -> None:
        """Stop: the running job, and following an opened log (the views keep what they show)."""
        super().stop_jobs()
        if self._follower is not None:
            self.stop_following()
            self.message.setText("stopped following the log")

    def stop_following(self) -> None:
        self.follow_timer.stop()
        self._follower = None
        self._follow_stamp = None

    def _stamp(self, follower) -> tuple | None:
        p = follower.path
        try:
            files = [p] if p.is_file() else sorted(p.glob("events.out.tfevents*"))
            return tuple((str(f), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files)
        except OSError:
            return None

    def _poll(self, first: bool = False) -> None:
        follower = self._follower
        self._follow_stamp = self._stamp(follower)
        engine = self.engine

        def make_stream():
            new = follower.poll()  # the engine's reader, in the job's worker thread
            yield Snapshot(1.0, f"{follower.format} log: {len(follower.run.rows)} rows ({len(new)} new)",
                           engine.log_result(follower.run))

        job = self.start_job("main", make_stream, lambda snap: self._on_log_snapshot(follower, snap))
        self._follow_job = job
        job.failed.connect(lambda msg, tb: self._on_log_failed(follower, msg, first))

    def _on_log_snapshot(self, follower, snap: Snapshot) -> None:
        if follower is not self._follower:
            return
        self._on_main_snapshot(snap)
        if not self.follow_timer.isActive():
            self.follow_timer.start()

    def _on_log_failed(self, follower, message: str, first: bool) -> None:
        if follower is not self._follower:
            return
        if first or follower.format in ("verl", "own"):
            # an appended bad line cannot be read again: stop, say so, keep what the views show
            self.stop_following()
            self.show_error(message + ("" if first else " — following stopped; the views keep the rows read before"))
        else:
            # a whole-file format (TRL state, event files) caught mid-write: the next change re-reads it
            self.show_error(message + " — will re-read when the file changes")

    def _follow_tick(self) -> None:
        if self._follower is None or (self._follow_job is not None and self._follow_job.is_running()):
            return
        stamp = self._stamp(self._follower)
        if stamp is None or stamp == self._follow_stamp:
            return
        old = dict((name, size) for name, size, _ in self._follow_stamp or ())
        if any(size < old.get(name, 0) for name, size, _ in stamp):
            # the file shrank: a restarted run rewrote it; read it again from the start (the reader keeps a byte offset)
            try:
                self._follower = self.engine.LogFollower(self._follower.path, self._follower.format)
            except (ValueError, OSError) as err:
                self.stop_following()
                self.show_error(f"{type(err).__name__}: {err}")
                return
        self._poll()
