"""Memory pool panel: eLLM's elastic chunk pool against vLLM-style static partitioning.

Every number drawn here comes from the engine's Result (``engines.memory_pool``); the panel only
turns arrays into pixels: the chunk map (one ImageItem, ``setImage`` per frame), stacked memory by
category, batch and throughput over time, TTFT/TPOT CDFs with the SLO lines, a summary table and the
sensitivity heatmap.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engines.memory_pool.simulator import EVENT_KINDS
from panels.base import Panel

POLICY_COLORS = {"static_unchunked": "#d62728", "static_chunked": "#ff7f0e", "elastic": "#1f77b4"}
POLICY_LABELS = {"static_unchunked": "static, unchunked", "static_chunked": "static, chunked 8K", "elastic": "elastic (eLLM)"}
SHORT_LABELS = {"static_unchunked": "static", "static_chunked": "static 8K", "elastic": "elastic"}
CATEGORY_COLORS = {
    "weights": "#4d4d4d",
    "overhead": "#9a9a9a",
    "runtime_active": "#e67e22",
    "runtime_idle": "#f8cf9f",
    "kv_used": "#2e86de",
    "kv_free": "#b9d7f5",
    "free": "#eeeeee",
}
CATEGORY_LABELS = {
    "weights": "weights",
    "overhead": "CUDA ctx/graphs",
    "runtime_active": "runtime (in use)",
    "runtime_idle": "runtime (idle)",
    "kv_used": "KV (requests)",
    "kv_free": "KV (unused)",
    "free": "free",
}
# chunk-map codes (engines.memory_pool.simulator): 0 free, 1 weights, 2 overhead, 3 runtime active,
# 4 runtime idle, 5 beyond the utilization cap, 6 KV unused, 8+ KV of request (r % 240)
MAP_COLORS = {0: "#eeeeee", 1: "#4d4d4d", 2: "#9a9a9a", 3: "#e67e22", 4: "#f8cf9f", 5: "#2b2b2b", 6: "#b9d7f5", 7: "#ffffff"}
EVENT_STYLE = {"offload": ("t", "#8e44ad"), "reload": ("t1", "#27ae60"), "preempt": ("x", "#c0392b"), "lend": ("d", "#2e86de")}
MAP_COLUMNS = 256


def _lut() -> np.ndarray:
    lut = np.zeros((256, 3), dtype=np.uint8)
    for code, hexcol in MAP_COLORS.items():
        lut[code] = [int(hexcol[i : i + 2], 16) for i in (1, 3, 5)]
    for r in range(240):  # KV of each request: golden-ratio hues, kept away from the greys
        h = (r * 0.618033988749895) % 1.0
        lut[8 + r] = [int(255 * c) for c in colorsys.hsv_to_rgb(h, 0.55 + 0.3 * ((r // 7) % 2), 0.85)]
    return lut


LUT = _lut()


def _paint_cells(img: pg.ImageItem, vb: pg.ViewBox, codes: np.ndarray, cols: int, min_rows: int) -> None:
    """Chunk codes row by row, ``cols`` a row (the last row padded with code 7), coloured through LUT."""
    rows = max(min_rows, -(-len(codes) // cols))
    pad = np.full(rows * cols, 7, dtype=np.uint8)
    pad[: len(codes)] = codes
    img.setImage(LUT[pad.reshape(rows, cols)].transpose(1, 0, 2), autoLevels=False, levels=(0, 255))
    vb.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)


class MemoryPoolPanel(Panel):
    panel_id = "memory_pool"
    engine_name = "memory_pool"
    form_groups = ("Workload", "Hardware", "Policies", "SLOs", "Output")
    file_filter = "LLM request traces (*.csv *.jsonl *.json);;All files (*)"

    def default_config(self):
        # the acceptance scenario (128K inputs, saturating) with fewer requests than the CLI's 40, plus the chosen
        # model's sensitivity map: the whole job stays under ~10 s on one core
        return self.engine.Config(workload="long_context", n_requests=10, sensitivity="model", n_frames=90, export_snapshot=False)

    # ---- views ----------------------------------------------------------------------------------
    def build_views(self) -> QWidget:
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self._advance)

        tabs = QTabWidget()
        tabs.addTab(self._build_memory_tab(), "Memory")
        tabs.addTab(self._build_latency_tab(), "Latency")
        tabs.addTab(self._build_sensitivity_tab(), "Sensitivity map")
        self.tabs = tabs
        views = QWidget()
        vl = QVBoxLayout(views)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.setSpacing(2)
        vl.addWidget(tabs, 1)

        self.trace_label = QLabel("generated (File → Open replays a trace)")
        self.trace_label.setWordWrap(True)
        self.trace_label.setToolTip(
            "Azure LLM trace CSV, BurstGPT CSV or Mooncake JSONL opened with File → Open; replayed at its real rate"
        )
        clear = QPushButton("Clear")
        clear.setToolTip("Forget the opened trace file and go back to the generated workload")
        clear.clicked.connect(self._clear_trace)
        self.add_controls("Trace file", self.trace_label, clear)
        return views

    def _plot(self, title: str, x: str, y: str) -> pg.PlotWidget:
        w = pg.PlotWidget()
        w.setTitle(title, size="9pt")
        w.setLabel("bottom", x)
        w.setLabel("left", y)
        w.showGrid(x=True, y=True, alpha=0.25)
        return w

    def _build_memory_tab(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setSpacing(4)

        # chunk map + CPU buffer + player
        mapbox = QWidget()
        mv = QVBoxLayout(mapbox)
        mv.setContentsMargins(0, 0, 0, 0)
        mv.setSpacing(2)
        top = QHBoxLayout()
        self.map_policy = QComboBox()
        for p in ("elastic", "static_unchunked", "static_chunked"):
            self.map_policy.addItem(POLICY_LABELS[p], p)
        self.map_policy.setToolTip("Which policy's chunk map to animate")
        self.map_policy.currentIndexChanged.connect(self._on_map_policy)
        self.play = QPushButton("▶ Play")
        self.play.setToolTip("Animate the chunk map over simulated time (pause to inspect a frame)")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Simulated time of the chunk-map frame shown")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._show_frame)
        top.addWidget(self.map_policy)
        top.addWidget(self.play)
        top.addWidget(self.slider, 1)
        mv.addLayout(top)
        self.map_info = QLabel("")
        self.map_info.setToolTip("Time, batch and the events since the previous frame")
        mv.addWidget(self.map_info)
        maps = QHBoxLayout()
        self.map_view = pg.GraphicsLayoutWidget()
        self.map_vb = self.map_view.addViewBox(lockAspect=False, invertY=True, enableMouse=False)
        self.map_img = pg.ImageItem()
        self.map_vb.addItem(self.map_img)
        self.map_view.setToolTip("Every 2 MiB chunk of GPU memory, row by row, coloured by owner")
        self.cpu_view = pg.GraphicsLayoutWidget()
        self.cpu_vb = self.cpu_view.addViewBox(lockAspect=False, invertY=True, enableMouse=False)
        self.cpu_img = pg.ImageItem()
        self.cpu_vb.addItem(self.cpu_img)
        self.cpu_view.setFixedWidth(70)
        self.cpu_view.setToolTip("The CPU buffer for offloaded KV pages (elastic only), 2 MiB per cell")
        maps.addWidget(self.map_view, 1)
        maps.addWidget(self.cpu_view)
        mv.addLayout(maps, 1)
        legend = QLabel(
            " ".join(
                f"<span style='background:{c}; color:{c}'>■■</span>&nbsp;{n}&nbsp;"
                for c, n in (
                    (MAP_COLORS[1], "weights"),
                    (MAP_COLORS[2], "CUDA ctx"),
                    (MAP_COLORS[3], "runtime busy"),
                    (MAP_COLORS[4], "runtime idle"),
                    (CATEGORY_COLORS["kv_used"], "KV of requests (map: a hue each)"),
                    (MAP_COLORS[6], "KV unused"),
                    (MAP_COLORS[0], "free"),
                    (MAP_COLORS[5], "above util cap"),
                )
            )
            + " &nbsp;| map right: CPU buffer; colours shared with the plots below"
        )
        legend.setTextFormat(Qt.TextFormat.RichText)
        legend.setWordWrap(True)
        mv.addWidget(legend)

        self.table = QTableWidget(0, 3)
        self.table.setToolTip("The summary of each policy on the same trace and cost model")
        self.table.verticalHeader().setDefaultSectionSize(18)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        top_split = QSplitter(Qt.Orientation.Horizontal)
        top_split.addWidget(mapbox)
        top_split.addWidget(self.table)
        top_split.setSizes([560, 380])
        grid.addWidget(top_split, 0, 0, 1, 2)

        # stacked memory: static (unchunked) and elastic side by side
        self.mem_plots, self.mem_curves, self.mem_cursor = {}, {}, {}
        for col, p in enumerate(("static_unchunked", "elastic")):
            w = self._plot(f"GPU memory — {POLICY_LABELS[p]}", "simulated time [s]", "memory [GiB]")
            curves = []
            base = pg.PlotCurveItem(pen=pg.mkPen(None))
            w.addItem(base)
            prev = base
            for k in CATEGORY_COLORS:
                c = pg.PlotCurveItem(pen=pg.mkPen(CATEGORY_COLORS[k], width=0.5))
                w.addItem(c)
                fill = pg.FillBetweenItem(prev, c, brush=pg.mkBrush(CATEGORY_COLORS[k]))
                w.addItem(fill)
                curves.append(c)
                prev = c
            self.mem_curves[p] = (base, curves)
            cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#000000", width=1, style=Qt.PenStyle.DashLine))
            w.addItem(cursor)
            self.mem_cursor[p] = cursor
            self.mem_plots[p] = w
            grid.addWidget(w, 1, col)
        self.events = pg.ScatterPlotItem(size=8, pen=None)
        self.mem_plots["elastic"].addItem(self.events)
        self.mem_plots["elastic"].setYLink(self.mem_plots["static_unchunked"])

        # batch and throughput over time
        self.batch_plot = self._plot("Decode batch (requests on the GPU decoding)", "simulated time [s]", "batch [requests]")
        self.tput_plot = self._plot("Decode throughput", "simulated time [s]", "throughput [tokens/s]")
        self.batch_plot.addLegend(offset=(-5, 5), labelTextSize="7pt", brush=pg.mkBrush(255, 255, 255, 210))
        self.batch_curves, self.tput_curves = {}, {}
        for p, col in POLICY_COLORS.items():
            self.batch_curves[p] = self.batch_plot.plot([], [], pen=pg.mkPen(col, width=1.5), name=POLICY_LABELS[p], stepMode="center")
            self.tput_curves[p] = self.tput_plot.plot([], [], pen=pg.mkPen(col, width=1.5))
        grid.addWidget(self.batch_plot, 2, 0)
        grid.addWidget(self.tput_plot, 2, 1)
        grid.setRowStretch(0, 5)
        grid.setRowStretch(1, 4)
        grid.setRowStretch(2, 3)
        return page

    def _build_latency_tab(self) -> QWidget:
        page = QWidget()
        lay = QHBoxLayout(page)
        self.ttft_plot = self._plot("Time to first token (CDF)", "TTFT [s]", "fraction of requests")
        self.tpot_plot = self._plot("Time per output token (CDF)", "TPOT [ms]", "fraction of requests")
        for w in (self.ttft_plot, self.tpot_plot):
            w.getAxis("bottom").enableAutoSIPrefix(False)
        self.ttft_plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.cdf_curves = {}
        for p, col in POLICY_COLORS.items():
            self.cdf_curves[p] = (
                self.ttft_plot.plot([], [], pen=pg.mkPen(col, width=2), name=POLICY_LABELS[p], stepMode="center"),
                self.tpot_plot.plot([], [], pen=pg.mkPen(col, width=2), stepMode="center"),
            )
        self.ttft_slo = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("k", width=1.5, style=Qt.PenStyle.DashLine),
            label="median TTFT target",
            labelOpts=dict(position=0.1, color="k"),
        )
        self.tpot_slo = pg.InfiniteLine(
            angle=90, pen=pg.mkPen("k", width=1.5, style=Qt.PenStyle.DashLine), label="TPOT target", labelOpts=dict(position=0.1, color="k")
        )
        self.ttft_plot.addItem(self.ttft_slo)
        self.tpot_plot.addItem(self.tpot_slo)
        lay.addWidget(self.ttft_plot)
        lay.addWidget(self.tpot_plot)
        return page

    def _build_sensitivity_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        row = QHBoxLayout()
        self.sens_model = QComboBox()
        self.sens_model.setToolTip("Model whose map is shown (set 'sensitivity' to all_models to compute every model)")
        self.sens_model.currentIndexChanged.connect(self._draw_sensitivity)
        self.sens_base = QComboBox()
        self.sens_base.addItem("vs static, unchunked (reserve covers the whole prompt)", "static_unchunked")
        self.sens_base.addItem("vs static, chunked 8K", "static_chunked")
        self.sens_base.setToolTip("The static baseline the elastic policy is divided by")
        self.sens_base.currentIndexChanged.connect(self._draw_sensitivity)
        row.addWidget(QLabel("model"))
        row.addWidget(self.sens_model)
        row.addWidget(self.sens_base, 1)
        lay.addLayout(row)
        self.sens_plot = self._plot(
            "Elastic / static decode throughput (cell text: throughput ×, batch ×)", "input length [tokens]", "GPU memory [GB]"
        )
        self.sens_img = pg.ImageItem()
        self.sens_plot.addItem(self.sens_img)
        self.sens_bar = pg.ColorBarItem(
            values=(0.9, 2.5), colorMap=pg.colormap.get("viridis"), label="throughput ratio [×]", interactive=False
        )
        self.sens_bar.setImageItem(self.sens_img, insert_in=self.sens_plot.getPlotItem())
        self.sens_texts: list[pg.TextItem] = []
        lay.addWidget(self.sens_plot, 1)
        self.sens_note = QLabel("")
        self.sens_note.setWordWrap(True)
        lay.addWidget(self.sens_note)
        return page

    # ---- drawing --------------------------------------------------------------------------------
    def show_snapshot(self, snap) -> None:
        res = snap.result
        if res is None:
            return
        if res is not getattr(self, "result_view", None):
            # the sensitivity map's progress snapshots carry this same Result: its runs are drawn once
            self.result_view = res
            self._draw_table(res)
            self._draw_memory(res)
            self._draw_series(res)
            self._draw_latency(res)
            self._reset_frames()
            summary = res.summary()
            self.paper = summary["paper"]
            self._headline(summary)
        names = [str(m) for m in res.sensitivity["models"]] if res.sensitivity is not None else []
        self.sens_model.blockSignals(True)
        self.sens_model.clear()
        self.sens_model.addItems(names)
        self.sens_model.blockSignals(False)
        self._draw_sensitivity()

    def _headline(self, s: dict) -> None:
        pol = s["policies"]
        if "elastic" not in pol or "static_unchunked" not in pol:
            self.set_headline("")
            return
        r = s["ratios"]["elastic_vs_static_unchunked"]
        e, u = pol["elastic"], pol["static_unchunked"]
        chunked = s["ratios"].get("elastic_vs_static_chunked", {}).get("decode_throughput")
        extra = f"; vs chunked static <b>{chunked:.2f}×</b>" if chunked is not None else ""
        paper = s["paper"]
        self.set_headline(
            f"<b>Elastic vs static (unchunked)</b>: decode throughput <b>{e['decode_tokens_per_s']:.1f}</b> vs "
            f"{u['decode_tokens_per_s']:.1f} tokens/s = <b>{r['decode_throughput']:.2f}×</b> (paper: {paper['decode_throughput_x']:g}×); "
            f"max decode batch <b>{e['max_batch']}</b> vs {u['max_batch']} requests = <b>{r['max_batch']:.2f}×</b> "
            f"(paper: {paper['batch_x']:g}×){extra}."
        )

    def _draw_table(self, res) -> None:
        rows = [
            ("decode [tok/s]", "decode_tokens_per_s", "{:.1f}"),
            ("goodput [req/s]", "goodput_rps", "{:.4f}"),
            ("met both SLOs", "slo_attainment", "{:.0%}"),
            ("max batch", "max_batch", "{}"),
            ("max admitted", "max_admitted", "{}"),
            ("preemptions", "preemptions", "{}"),
            ("offloads", "offloads", "{}"),
            ("TTFT p50/p99 [s]", ("ttft_p50_s", "ttft_p99_s"), "{:.3g}/{:.3g}"),
            ("TPOT p50/p99 [ms]", ("tpot_p50_s", "tpot_p99_s"), "ms"),
            ("map+unmap calls", ("chunk_maps", "chunk_unmaps"), "calls"),
            ("act. reserve [GiB]", "static_reserve_gib", "{:.2f}"),
            ("KV cap. [K tok]", "kv_capacity_tokens", "k"),
        ]
        pols = [p for p in ("static_unchunked", "static_chunked", "elastic") if p in res.runs]
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(pols))
        self.table.setHorizontalHeaderLabels([SHORT_LABELS[p] for p in pols])
        self.table.setVerticalHeaderLabels([r[0] for r in rows])
        for j, p in enumerate(pols):
            st = res.runs[p].stats
            for i, (_, key, fmt) in enumerate(rows):
                if fmt == "ms":
                    text = f"{1e3 * st[key[0]]:.1f}/{1e3 * st[key[1]]:.1f}"
                elif fmt == "calls":
                    text = f"{st[key[0]] + st[key[1]]:,}"
                elif fmt == "k":
                    text = f"{st[key] / 1000:.0f}"
                elif isinstance(key, tuple):
                    text = fmt.format(*(st[k] for k in key))
                else:
                    text = fmt.format(st[key])
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)

    def _draw_memory(self, res) -> None:
        top = 0.0
        for p, (base, curves) in self.mem_curves.items():
            if p not in res.runs:
                base.setData([], [])
                for c in curves:
                    c.setData([], [])
                continue
            t, cats = res.memory_series(p)
            t = np.r_[0.0, t]
            acc = np.zeros_like(t)
            base.setData(t, acc.copy())
            for c, k in zip(curves, CATEGORY_COLORS):
                acc = acc + np.r_[cats[k][0], cats[k]]
                c.setData(t, acc.copy())
            top = max(top, float(acc.max()))
        for w in self.mem_plots.values():
            w.setYRange(0, top * 1.08 if top else 1, padding=0)
        if "elastic" in res.runs:
            ev = res.runs["elastic"].events
            spots = []
            for name in EVENT_STYLE:
                sel = ev["kind"] == EVENT_KINDS.index(name) if len(ev["kind"]) else np.zeros(0, bool)
                times = np.asarray(ev["t"])[sel]
                if name == "lend" and len(times) > 200:
                    times = times[:: len(times) // 200 + 1]
                sym, col = EVENT_STYLE[name]
                spots += [dict(pos=(float(x), top * 1.03), symbol=sym, brush=pg.mkBrush(col)) for x in times]
            self.events.setData(spots)
            self.mem_plots["elastic"].setTitle("GPU memory — elastic · ▼ offload ▲ reload ✕ preempt ◆ lend", size="9pt")

    def _draw_series(self, res) -> None:
        for p in POLICY_COLORS:
            if p not in res.runs:
                self.batch_curves[p].setData([], [])
                self.tput_curves[p].setData([], [])
                continue
            r = res.runs[p].rec
            t = np.r_[0.0, r["t"]]
            self.batch_curves[p].setData(t, r["batch"])
            x, y = res.throughput_series(p, n_bins=40)
            self.tput_curves[p].setData(x, y)

    def _draw_latency(self, res) -> None:
        for p, (c1, c2) in self.cdf_curves.items():
            if p not in res.runs:
                c1.setData([], [])
                c2.setData([], [])
                continue
            for curve, metric, scale in ((c1, "ttft", 1.0), (c2, "tpot", 1e3)):
                x, y = res.cdf(p, metric)
                # a CDF is a staircase: y[i] holds from x[i] to x[i+1] (the last step drawn to the largest value)
                curve.setData(scale * np.r_[x, x[-1:]] if len(x) else [], y)
        self.ttft_slo.setValue(float(np.median(res.ttft_target_s)))
        self.tpot_slo.setValue(1e3 * res.config.tpot_slo_s)

    # ---- chunk map animation --------------------------------------------------------------------
    def _run_for_map(self):
        res = getattr(self, "result_view", None)
        if res is None:
            return None
        p = self.map_policy.currentData()
        if p not in res.runs:
            p = next(iter(res.runs))
        return res.runs[p]

    def _reset_frames(self) -> None:
        run = self._run_for_map()
        if run is None or not len(run.frames):
            return
        n = len(run.frames)
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        # default frame: the elastic policy's busiest moment (most KV in use), else the middle
        t = run.rec["t"]
        k = int(np.argmax(run.rec["kv_used"])) if len(t) else 0
        frame = int(np.clip(np.searchsorted(run.frame_t, t[k] if len(t) else 0), 0, n - 1))
        self.slider.setValue(frame)
        self.slider.blockSignals(False)
        self._show_frame(frame)

    def _show_frame(self, i: int) -> None:
        run = self._run_for_map()
        if run is None or not len(run.frames):
            return
        i = int(np.clip(i, 0, len(run.frames) - 1))
        _paint_cells(self.map_img, self.map_vb, run.frames[i], MAP_COLUMNS, min_rows=0)
        cpu = run.cpu_frames[i] if len(run.cpu_frames) else np.zeros(0, np.uint8)
        _paint_cells(self.cpu_img, self.cpu_vb, cpu, 16, min_rows=1)
        t = float(run.frame_t[i])
        for cur in self.mem_cursor.values():
            cur.setValue(t)
        rec_i = int(np.clip(np.searchsorted(run.rec["t"], t), 0, max(0, len(run.rec["t"]) - 1)))
        batch = int(run.rec["batch"][rec_i]) if len(run.rec["t"]) else 0
        t0 = float(run.frame_t[i - 1]) if i else 0.0
        ev = run.events
        sel = (np.asarray(ev["t"]) > t0) & (np.asarray(ev["t"]) <= t) if len(ev["t"]) else np.zeros(0, bool)
        counts = {}
        for k in np.asarray(ev["kind"])[sel]:
            counts[EVENT_KINDS[int(k)]] = counts.get(EVENT_KINDS[int(k)], 0) + 1
        evtext = ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"
        self.map_info.setText(f"{POLICY_LABELS[run.policy]} · t = {t:.1f} s · decode batch {batch} · events since last frame: {evtext}")

    def _advance(self) -> None:
        if self.slider.maximum() <= 0:
            return
        self.slider.setValue((self.slider.value() + 1) % (self.slider.maximum() + 1))

    def _on_play(self, on: bool) -> None:
        self.play.setText("❚❚ Pause" if on else "▶ Play")
        self._timer.start() if on else self._timer.stop()

    def _on_map_policy(self) -> None:
        self._reset_frames()

    # ---- sensitivity ----------------------------------------------------------------------------
    def _draw_sensitivity(self) -> None:
        res = getattr(self, "result_view", None)
        for t in self.sens_texts:
            self.sens_plot.removeItem(t)
        self.sens_texts = []
        if res is None or res.sensitivity is None:
            self.sens_img.clear()
            self.sens_note.setText("Set 'sensitivity' to model or all_models and run to compute the map.")
            return
        s = res.sensitivity
        i = max(0, self.sens_model.currentIndex())
        base = self.sens_base.currentData()
        z = s[f"tps_ratio_vs_{base}"][i]
        b = s[f"batch_ratio_vs_{base}"][i]
        img = np.where(np.isfinite(z), z, np.where(z == np.inf, 2.5, np.nan))
        self.sens_img.setImage(np.nan_to_num(img, nan=0.9).T, levels=(0.9, 2.5))
        inputs = s["input_tokens"]
        mems = s["memory_gb"]
        for k in range(z.shape[1]):
            for j in range(z.shape[0]):
                served = s[f"served_{base}"][i, j, k]
                if np.isfinite(z[j, k]) and served < 1:
                    text = f"{z[j, k]:.2f}×\nstatic serves {served:.0%}"
                elif np.isfinite(z[j, k]):
                    text = f"{z[j, k]:.2f}×\nbatch {b[j, k]:.2g}×"
                elif z[j, k] == np.inf:
                    text = "static\ncannot serve"
                else:
                    text = "nobody\nfits"
                dark_cell = np.isnan(z[j, k]) or z[j, k] < 1.8
                item = pg.TextItem(text, color="w" if dark_cell else "k", anchor=(0.5, 0.5))
                item.setPos(k + 0.5, j + 0.5)
                self.sens_plot.addItem(item)
                self.sens_texts.append(item)
        ax = self.sens_plot.getAxis("bottom")
        ax.setTicks([[(k + 0.5, f"{t // 1024}K") for k, t in enumerate(inputs)]])
        self.sens_plot.getAxis("left").setTicks([[(j + 0.5, f"{m:g}") for j, m in enumerate(mems)]])
        self.sens_plot.setRange(xRange=(0, len(inputs)), yRange=(0, len(mems)), padding=0)
        ratio = float(s["activation_to_kv"][i])
        self.sens_note.setText(
            f"{s['models'][i]}: activation bytes per prefill token / KV bytes per token = {ratio:.2f}. Elastic gains where the static "
            "reserve for a whole prompt (∝ input × activation bytes) eats a large share of the KV pool: long inputs, small memory, "
            f"large activation-to-KV ratio. The paper's {self.paper['decode_throughput_x']:g}× throughput and "
            f"{self.paper['batch_x']:g}× batch sit on that edge; with plenty of memory or short "
            "inputs the ratio is 1 (elastic buys nothing). Saturating arrivals, outputs 1K–4K, the chosen GPU's compute."
        )

    # ---- files ----------------------------------------------------------------------------------
    def open_file(self, path: str) -> None:
        try:
            self.set_config(self.config().replace(trace=str(path)))
        except ValueError as err:  # a malformed trace: say which line, keep the current workload
            self.show_error(str(err))
            return
        self.trace_label.setText(f"replaying {Path(path).name}")
        self.run_job()

    def _clear_trace(self) -> None:
        self.set_config(self.config().replace(trace=""))
        self.trace_label.setText("generated (File → Open replays a trace)")
