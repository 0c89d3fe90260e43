"""CoT-Pass@K: Pass@K credits right answers reached by wrong chains; CoT-Pass@K counts only right chains (arXiv:2506.14245).

Every number comes from ``engines.cot_pass_at_k``'s Result: Pass@K (dashed) and CoT-Pass@K (solid, with its bootstrap
band over prompts) against K on a log axis for the compared checkpoints, the K where the base's Pass@K catches up with
the tuned one's marked; the dynamics over every checkpoint along RL; the histogram of P(CC|CA) per prompt; and the
samples whose answer is right through a wrong chain, the failing step in red beside the step it should have been.
With a noisy judge (or a dump's votes) dotted lines
show each checkpoint's CoT-Pass@K under the lenient (any call passes) and strict (all pass) aggregation. The panel
opens on the recorded samples of the default job (a dump the record command writes); ``source = recorded``
samples the checkpoints again; File → Open reads a JSONL dump of your own model's samples.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem

from engines import cot_pass_at_k as cot
from panels.base import Panel
from panels.plots import BASELINE, METHOD, NEUTRAL, Band, Bars, color, paper_line, pen, plot_widget

SAMPLES = cot.SAMPLES


COLUMNS = ("checkpoint", "prompt", "response (failing step in red)", "should be")


class CotPassAtKPanel(Panel):
    panel_id = "cot_pass_at_k"
    engine_name = "cot_pass_at_k"
    form_groups = ("Samples", "Judge", "Estimate")
    file_filter = "Evaluation dumps (*.jsonl *.json);;All files (*)"

    def default_config(self):
        if SAMPLES.is_file():  # the recorded samples of the default job: the views in a second
            return self.engine.Config(source="dump", dump=str(SAMPLES), curves="sft,math,code", tuned="math")
        return self.engine.Config()

    def default_source(self) -> str:
        if SAMPLES.is_file():
            return ("Showing: the recorded samples of the default job (the recorded checkpoints of the reasoning world, held-out math) · "
                    "source = recorded samples them again · File → Open loads your own dump")
        return "Showing: the engine's default job · File → Open loads your own JSONL dump"

    # ---- views -------------------------------------------------------------------------------------------------
    def build_views(self):
        self.kplot = plot_widget("Pass@K (dashed) and CoT-Pass@K (solid, band) per checkpoint", "Pass@K, CoT-Pass@K [fraction]",
                                 "K [samples, log scale]", log_x=True)
        self.kplot.setToolTip("Unbiased estimators averaged over held-out prompts; bands: bootstrap over prompts")
        self.cross = pg.InfiniteLine(pos=0, angle=90, pen=pen(NEUTRAL, 1.4, dash=True))
        self.cross.setVisible(False)
        self.kplot.addItem(self.cross)
        self.cross_text = pg.TextItem("", color="#222", anchor=(1.0, 0.0), fill=pg.mkBrush(255, 255, 255, 220))
        self.cross_text.setVisible(False)
        self.kplot.addItem(self.cross_text)
        self.kplot.setYRange(0, 1.02, padding=0)
        self.kplot.plotItem.legend.anchor((0, 1), (0, 1), offset=(8, -8))
        self.kitems: dict[str, tuple[Band, Band]] = {}
        self.judge_items: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}  # lenient / strict judge, noisy or votes

        self.dplot = plot_widget("Dynamics along RL", "rate [fraction]", "RL step")
        self.dplot.plotItem.legend.anchor((1, 1), (1, 1), offset=(-8, -8))
        self.dplot.setYRange(0, 1.02, padding=0)
        self.dplot.setToolTip("CoT-Pass@K and P(CC|CA) at every evaluated checkpoint (the paper: the gain appears early)")
        self.dyn = {
            "cot_pass_at_1": Band(self.dplot, METHOD, "CoT-Pass@1", symbol="o"),
            "pass_at_1": Band(self.dplot, BASELINE, "Pass@1", dash=True, symbol="o"),
            "cot_pass_at_n": Band(self.dplot, color(3), "CoT-Pass@n", symbol="t"),
            "pass_at_n": Band(self.dplot, color(5), "Pass@n", dash=True, symbol="t"),
            "p_cc_given_ca": Band(self.dplot, color(2), "P(CC|CA)", symbol="s"),
        }

        self.hplot = plot_widget("P(CC|CA) per prompt", "prompts [count]", "P(CC|CA): share of right answers with a right chain")
        self.hplot.setToolTip("Per held-out prompt with at least one right answer: the share of its right answers whose chain is right")
        self.bars: Bars | None = None
        self.hist_names: tuple[str, ...] = ()
        self.mean_line = paper_line(self.hplot, None, "")
        self.mean_line.setVisible(False)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setToolTip("Samples whose answer is right and whose chain is wrong (what Pass@K credits and CoT-Pass@K does not)")
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.verticalHeader().hide()
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table_title = QLabel("")
        self.table_title.setWordWrap(True)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.kplot)
        top.addWidget(self.dplot)
        top.setSizes([620, 380])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.hplot)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.table_title)
        right.addWidget(self.table)
        right.setSizes([30, 300])
        bottom.addWidget(right)
        bottom.setSizes([420, 580])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([430, 330])
        return split

    def show_snapshot(self, snap):
        r = snap.result
        if r is None or not r.correct:
            return
        if snap.has_changed("curves"):
            self._draw_curves(r)
            self._draw_histogram(r)
        if snap.has_changed("dynamics"):
            self._draw_dynamics(r)
        if snap.has_changed("samples"):
            self._draw_table(r)

    def _draw_curves(self, r) -> None:
        curves = r.curves()
        for name in [n for n in self.kitems if n not in curves]:
            for band in self.kitems.pop(name):
                band.setVisible(False)
        for i, (name, c) in enumerate(curves.items()):
            if name not in self.kitems:
                self.kitems[name] = (Band(self.kplot, color(i), f"{name} CoT-Pass@K"), Band(self.kplot, color(i), f"{name} Pass@K",
                                                                                          dash=True, width=1.5))
            solid, dashed = self.kitems[name]
            solid.setVisible(True)
            dashed.setVisible(True)
            solid.setData(c["k"], c["cot_pass_at_k"], c["cot_pass_at_k_lo"], c["cot_pass_at_k_hi"])
            dashed.setData(c["k"], c["pass_at_k"])
            if "cot_pass_at_k_lenient" in c:
                if name not in self.judge_items:
                    dot = pg.mkPen(color(i), width=1.0, style=Qt.PenStyle.DotLine)
                    self.judge_items[name] = (self.kplot.plot([], [], pen=dot), self.kplot.plot([], [], pen=dot))
                lenient, strict = self.judge_items[name]
                lenient.setData(c["k"], c["cot_pass_at_k_lenient"])
                strict.setData(c["k"], c["cot_pass_at_k_strict"])
        for name, items in self.judge_items.items():
            for item in items:
                item.setVisible(name in curves and "cot_pass_at_k_lenient" in curves[name])
        n = r.n()
        ticks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= n} | {n})
        self.kplot.getAxis("bottom").setTicks([[(float(np.log10(k)), str(k)) for k in ticks]])
        ck = r.crossing_k()
        base, tuned = r.base_and_tuned()
        if ck is not None:
            self.cross.setValue(np.log10(ck))
            self.cross_text.setText(f"{base} Pass@K catches up with {tuned}'s at K ≈ {ck:.1f} ")
            self.cross_text.setPos(np.log10(ck), 1.0)
        self.cross.setVisible(ck is not None)
        self.cross_text.setVisible(ck is not None)

    def _draw_histogram(self, r) -> None:
        pcc = r.p_cc_given_ca()
        names = tuple(n for n in r.curve_names() if n in pcc)
        if not names:
            return
        edges = pcc[names[0]]["hist_edges"]
        if names != self.hist_names:
            if self.bars is not None:
                for item in self.bars.items:
                    self.hplot.removeItem(item)
                    self.hplot.plotItem.legend.removeItem(item)
                self.hplot.removeItem(self.bars.err)
            groups = [f"{a:.1f}–" for a in edges[:-1]]
            self.bars = Bars(self.hplot, groups, list(names), [color(i) for i in range(len(names))])
            legend = self.hplot.plotItem.legend
            legend.clear()  # one entry per checkpoint
            for item, name in zip(self.bars.items, names):
                legend.addItem(item, name)
            legend.anchor((0, 0), (0, 0), offset=(8, 8))
            self.hist_names = names
        self.bars.setData(np.stack([pcc[n]["hist_counts"] for n in names], 1))

    def _draw_dynamics(self, r) -> None:
        rows = [row for row in r.dynamics()["rows"] if row["step"] is not None]
        x = np.array([row["step"] for row in rows], float)
        for key, band in self.dyn.items():
            y = [row[key] for row in rows]
            if key == "p_cc_given_ca":
                band.setData(x, y, [row["p_cc_given_ca_lo"] for row in rows], [row["p_cc_given_ca_hi"] for row in rows])
            else:
                band.setData(x, y)
        self.dplot.setTitle(f"Dynamics along RL (n = {r.n()})", color="#222", size="10pt")

    def _draw_table(self, r) -> None:
        rows = r.lucky_samples
        self.table.setRowCount(len(rows))
        for i, s in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(str(s.get("checkpoint", ""))))
            self.table.setItem(i, 1, QTableWidgetItem(str(s.get("prompt", ""))))
            label = QLabel(response_html(s))
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setToolTip(f"failing step: {s.get('failed_step')}")
            self.table.setCellWidget(i, 2, label)
            k, canon = s.get("failed_step"), s.get("canonical") or []
            self.table.setItem(i, 3, QTableWidgetItem(canon[k] if isinstance(k, int) and k < len(canon) else ""))
        lucky = [f"{row['name']} {row['lucky']:.3f}" for row in r.dynamics()["rows"]]
        self.table_title.setText(f"<b>Right answer, wrong chain</b> ({len(rows)} kept) · share of all samples: " + escape(", ".join(lucky)))

    # ---- File → Open -----------------------------------------------------------------------------------------------
    def open_file(self, path: str) -> None:
        try:
            cot.read_dump(path)  # a malformed row is refused here, with its line, before anything changes
            cfg = self.config().replace(source="dump", dump=str(path), checkpoints="", curves="", tuned="")
        except ValueError as err:
            self.show_error(str(err))
            return
        self.set_config(cfg)
        self.set_source(f"Showing: your dump {Path(path).name} (judge: {cfg.judge}) · source = recorded returns to the checkpoints",
                        file=path)
        self.run_job()


def response_html(sample: dict) -> str:
    """The response with its failing step in red (the steps as the verifier split them; the raw text when none)."""
    steps, k = sample.get("steps") or [], sample.get("failed_step")
    if not steps:
        return escape(str(sample.get("response", "")))
    parts = [f"<span style='color:#c00000;font-weight:bold'>{escape(s)}</span>" if i == k else escape(s) for i, s in enumerate(steps)]
    answer = sample.get("answer")
    return ";".join(parts) + (f"&gt;{answer}" if answer is not None else "")
