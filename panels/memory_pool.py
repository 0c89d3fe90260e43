"""Memory pool panel: eLLM's elastic chunk pool against vLLM-style static partitioning.

Every number drawn here comes from the engine's Result (``engines.memory_pool``); the panel only turns
arrays into pixels: the chunk map (one ImageItem, ``setImage`` per frame, played and scrubbed with the base's
Player), stacked memory by category, batch and throughput over time, TTFT/TPOT CDFs with the SLO lines, a
summary table and the sensitivity heatmap. Colours, labels and chunk-map codes are the engine's, by name.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.memory_pool import CATEGORIES, CATEGORY_LABELS, CHUNK_CODES, COLORS, KV_HUES, POLICY_LABELS, RATIO_RANGE
from panels.base import Panel, Player

SHORT_LABELS = {"static_unchunked": "static", "static_chunked": "chunked", "elastic": "elastic"}
EVENT_SYMBOLS = {"offload": ("t", "#8e44ad"), "reload": ("t1", "#27ae60"), "preempt": ("x", "#c0392b"), "lend": ("d", "#2e86de")}
MAP_COLUMNS = 256
PAD_RGB = (255, 255, 255)  # cells past the last chunk of the map's last row
COPY_OPENED_BYTES = 64 * 2**20  # Export copies an opened trace up to this size (larger ones: path and checksum only)


def _rgb(hexcol: str) -> list[int]:
    return [int(hexcol[i : i + 2], 16) for i in (1, 3, 5)]


def _lut() -> np.ndarray:
    """Chunk code -> RGB: each named code in its category colour, each request's KV in its own hue."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    kv0 = CHUNK_CODES["kv_request"]
    for name, code in CHUNK_CODES.items():
        if name != "kv_request":
            lut[code] = _rgb(COLORS[name])
    for r in range(KV_HUES):  # golden-ratio hues, kept away from the greys
        h = (r * 0.618033988749895) % 1.0
        lut[kv0 + r] = [int(255 * c) for c in colorsys.hsv_to_rgb(h, 0.55 + 0.3 * ((r // 7) % 2), 0.85)]
    return lut


LUT = _lut()


def _paint_cells(img: pg.ImageItem, vb: pg.ViewBox, codes: np.ndarray, cols: int, min_rows: int) -> None:
    """Chunk codes row by row, ``cols`` a row, coloured through LUT (the last row padded in white)."""
    rows = max(min_rows, -(-len(codes) // cols))
    rgb = np.empty((rows * cols, 3), dtype=np.uint8)
    rgb[:] = PAD_RGB
    rgb[: len(codes)] = LUT[codes]
    img.setImage(rgb.reshape(rows, cols, 3).transpose(1, 0, 2), autoLevels=False, levels=(0, 255))
    vb.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)


class MemoryPoolPanel(Panel):
    panel_id = "memory_pool"
    engine_name = "memory_pool"
    form_groups = ("Workload", "Hardware", "Policies", "SLOs", "Output")
    sweep_fields = ("rate_rps", "n_requests", "input_median", "gpu_memory_utilization", "burstiness", "cpu_buffer_gib", "seed")
    file_filter = "LLM request traces (*.csv *.jsonl *.json);;All files (*)"

    def default_config(self):
        # the paper's scenario (128K inputs, saturating) with fewer requests than the CLI's 40, plus the chosen
        # model's sensitivity map: the whole job stays under ~10 s on one core
        return self.engine.Config(workload="long_context", n_requests=10, sensitivity="model", n_frames=90, export_snapshot=False)

    def sweep_config(self, cfg):
        """A sweep's runs are the simulation alone: no sensitivity map in each."""
        return cfg.replace(sensitivity="off")

    def default_source(self) -> str:
        return "Showing: the engine's default job (128K-token requests, all arriving at once) · File → Open replays a trace file"

    # ---- views ----------------------------------------------------------------------------------
    def build_views(self):
        clear = QPushButton("Back to the generated workload")
        clear.setToolTip("Forget the opened trace file and run the generated workload of the controls above")
        clear.clicked.connect(self._clear_trace)
        self.clear_button = clear
        self.add_controls("Trace file (File → Open)", clear)
        return [
            ("Memory", self._build_memory_tab()),
            ("Latency", self._build_latency_tab()),
            ("Sensitivity map", self._build_sensitivity_tab()),
        ]

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
        self.map_policy.currentIndexChanged.connect(self._reset_frames)
        self.player = Player("the chunk map over simulated time")
        self.player.frame_changed.connect(self._show_frame)
        top.addWidget(self.map_policy)
        top.addWidget(self.player, 1)
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
        swatches = [(COLORS[k], CATEGORY_LABELS[k]) for k in ("weights", "overhead", "runtime_active", "runtime_idle")]
        swatches += [(COLORS["kv_used"], "KV of requests (map: a hue each)"), (COLORS["kv_free"], CATEGORY_LABELS["kv_free"])]
        swatches += [(COLORS["free"], CATEGORY_LABELS["free"]), (COLORS["beyond_cap"], CATEGORY_LABELS["beyond_cap"])]
        legend = QLabel(
            " ".join(f"<span style='background:{c}; color:{c}'>■■</span>&nbsp;{n}&nbsp;" for c, n in swatches)
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
            for k in CATEGORIES:
                c = pg.PlotCurveItem(pen=pg.mkPen(COLORS[k], width=0.5))
                w.addItem(c)
                w.addItem(pg.FillBetweenItem(prev, c, brush=pg.mkBrush(COLORS[k])))
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
        for p in POLICY_LABELS:
            pen = pg.mkPen(COLORS[p], width=1.5)
            self.batch_curves[p] = self.batch_plot.plot([], [], pen=pen, name=POLICY_LABELS[p], stepMode="center")
            self.tput_curves[p] = self.tput_plot.plot([], [], pen=pen)
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
        for p in POLICY_LABELS:
            pen = pg.mkPen(COLORS[p], width=2)
            self.cdf_curves[p] = (
                self.ttft_plot.plot([], [], pen=pen, name=POLICY_LABELS[p], stepMode="center"),
                self.tpot_plot.plot([], [], pen=pen, stepMode="center"),
            )
        dashed = pg.mkPen("k", width=1.5, style=Qt.PenStyle.DashLine)
        self.ttft_slo = pg.InfiniteLine(angle=90, pen=dashed, label="median TTFT target", labelOpts=dict(position=0.1, color="k"))
        self.tpot_slo = pg.InfiniteLine(angle=90, pen=dashed, label="TPOT target", labelOpts=dict(position=0.1, color="k"))
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
        self.sens_base.addItem(f"vs {POLICY_LABELS['static_unchunked']} (reserve covers the whole prompt)", "static_unchunked")
        self.sens_base.addItem(f"vs {POLICY_LABELS['static_chunked']}", "static_chunked")
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
            values=RATIO_RANGE, colorMap=pg.colormap.get("viridis"), label="throughput ratio [×]", interactive=False
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
        if snap.has_changed("runs"):  # the sensitivity map's progress snapshots leave the runs as they were
            self._draw_table(res)
            self._draw_memory(res)
            self._draw_series(res)
            self._draw_latency(res)
            self.sens_base.setItemText(1, f"vs {res.policy_label('static_chunked')}")
            self._reset_frames()
        if snap.has_changed("sensitivity"):
            names = [str(m) for m in res.sensitivity["models"]] if res.sensitivity is not None else []
            if names != [self.sens_model.itemText(i) for i in range(self.sens_model.count())]:
                self.sens_model.blockSignals(True)
                self.sens_model.clear()
                self.sens_model.addItems(names)
                self.sens_model.blockSignals(False)
            self._draw_sensitivity()
        if snap.progress >= 1.0:
            self.set_source(self._source_of(res))

    def headline_html(self, result) -> str:
        """What the views show (the trace file or the generated workload), then the figures beside the paper's."""
        return f"<b>{result.describe_workload()}</b><br>{super().headline_html(result)}"

    def _source_of(self, res) -> str:
        if res.config.trace:
            return f"Showing: trace file {Path(res.config.trace).name} ({res.config.trace}) · “Back to the generated workload” leaves it"
        if res.config == self.default_config():
            return self.default_source()
        return "Showing: your settings (a generated workload) · File → Open replays a trace file"

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
            t, tops = res.memory_stack(p)
            base.setData(t, np.zeros_like(t))
            for c, k in zip(curves, CATEGORIES):
                c.setData(t, tops[k])
            top = max(top, float(tops[CATEGORIES[-1]].max()))
        for w in self.mem_plots.values():
            w.setYRange(0, top * 1.08 if top else 1, padding=0)
        spots = []
        if "elastic" in res.runs:
            for kind, (sym, col) in EVENT_SYMBOLS.items():
                times = res.event_times("elastic", kind, max_points=200)
                spots += [dict(pos=(float(x), top * 1.03), symbol=sym, brush=pg.mkBrush(col)) for x in times]
        self.events.setData(spots)
        self.mem_plots["elastic"].setTitle("GPU memory — elastic · ▼ offload ▲ reload ✕ preempt ◆ lend", size="9pt")

    def _draw_series(self, res) -> None:
        for p in POLICY_LABELS:
            if p not in res.runs:
                self.batch_curves[p].setData([], [])
                self.tput_curves[p].setData([], [])
                continue
            r = res.runs[p].rec
            self.batch_curves[p].setData(np.r_[0.0, r["t"]], r["batch"])  # a step from each record's start to its end
            self.tput_curves[p].setData(*res.throughput_series(p, n_bins=40))

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
        self.ttft_slo.setValue(res.ttft_target_median_s)
        self.tpot_slo.setValue(1e3 * res.config.tpot_slo_s)

    # ---- chunk map animation --------------------------------------------------------------------
    def _map_policy(self) -> str | None:
        res = self.shown
        if res is None or not res.runs:
            return None
        p = self.map_policy.currentData()
        return p if p in res.runs else next(iter(res.runs))

    def _reset_frames(self) -> None:
        p = self._map_policy()
        if p is None or not len(self.shown.runs[p].frames):
            return
        frame = self.shown.busiest_frame(p)
        self.player.set_count(len(self.shown.runs[p].frames))
        self.player.set_frame(frame, emit=False)
        self._show_frame(frame)

    def _show_frame(self, i: int) -> None:
        p = self._map_policy()
        if p is None:
            return
        run = self.shown.runs[p]
        if not len(run.frames):
            return
        i = int(np.clip(i, 0, len(run.frames) - 1))
        _paint_cells(self.map_img, self.map_vb, run.frames[i], MAP_COLUMNS, min_rows=0)
        cpu = run.cpu_frames[i] if len(run.cpu_frames) else np.zeros(0, np.uint8)
        _paint_cells(self.cpu_img, self.cpu_vb, cpu, 16, min_rows=1)
        info = self.shown.frame_info(p, i)
        for cur in self.mem_cursor.values():
            cur.setValue(info["t"])
        events = ", ".join(f"{n} {k}" for k, n in info["events"].items()) or "none"
        self.map_info.setText(
            f"{self.shown.policy_label(p)} · t = {info['t']:.1f} s · decode batch {info['batch']} · events since last frame: {events}"
        )

    # ---- sensitivity ----------------------------------------------------------------------------
    def _draw_sensitivity(self) -> None:
        res = self.shown
        for t in self.sens_texts:
            self.sens_plot.removeItem(t)
        self.sens_texts = []
        if res is None or res.sensitivity is None:
            self.sens_img.clear()
            self.sens_note.setText("Set 'sensitivity' to model or all_models and run to compute the map.")
            return
        s = res.sensitivity
        i = max(0, self.sens_model.currentIndex())
        shade, text = res.sensitivity_cells(i, self.sens_base.currentData())
        self.sens_img.setImage(np.nan_to_num(shade, nan=RATIO_RANGE[0]).T, levels=RATIO_RANGE)
        for j, row in enumerate(text):
            for k, cell in enumerate(row):
                dark_cell = not np.isfinite(shade[j, k]) or shade[j, k] < 1.8
                item = pg.TextItem(cell, color="w" if dark_cell else "k", anchor=(0.5, 0.5))
                item.setPos(k + 0.5, j + 0.5)
                self.sens_plot.addItem(item)
                self.sens_texts.append(item)
        self.sens_plot.getAxis("bottom").setTicks([[(k + 0.5, f"{t // 1024}K") for k, t in enumerate(s["input_tokens"])]])
        self.sens_plot.getAxis("left").setTicks([[(j + 0.5, f"{m:g}") for j, m in enumerate(s["memory_gb"])]])
        self.sens_plot.setRange(xRange=(0, len(s["input_tokens"])), yRange=(0, len(s["memory_gb"])), padding=0)
        paper = res.PAPER
        self.sens_note.setText(
            f"{s['models'][i]}: activation bytes per prefill token / KV bytes per token = {float(s['activation_to_kv'][i]):.2f}. "
            "Elastic gains where the static reserve for a whole prompt (∝ input × activation bytes) eats a large share of the "
            "KV pool: long inputs, small memory, large activation-to-KV ratio. The paper's "
            f"{paper['decode_throughput_x'].value:g}× throughput and {paper['batch_x'].value:g}× batch sit on that edge; with "
            "plenty of memory or short inputs the ratio is 1 (elastic buys nothing). Saturating arrivals, outputs 1K–4K, "
            "the chosen GPU's compute."
        )

    # ---- files ----------------------------------------------------------------------------------
    def open_file(self, path: str) -> None:
        cfg = self.config_or_error()
        if cfg is None:
            return
        try:
            cfg = cfg.replace(trace=str(path))  # validation reads the file: a bad row is an error naming its line
        except ValueError as err:
            self.show_error(str(err))
            return
        self.set_config(cfg)
        self.run_job()

    def _clear_trace(self) -> None:
        cfg = self.config_or_error()
        if cfg is None:
            return
        self.set_config(cfg.replace(trace=""))
        self.run_job()

    def export(self, out_dir):
        """The base's export, and the trace file the views show: its path, size and SHA-256, and a copy when small."""
        out = super().export(out_dir)
        path = self.shown.config.trace if self.shown is not None else ""
        if path and Path(path).is_file():
            p = Path(path)
            digest = hashlib.sha256()
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            opened = dict(path=str(p.resolve()), bytes=p.stat().st_size, sha256=digest.hexdigest())
            if opened["bytes"] <= COPY_OPENED_BYTES:
                (out / "opened").mkdir(exist_ok=True)
                shutil.copyfile(p, out / "opened" / p.name)
                opened["copy"] = f"opened/{p.name}"
            source = json.loads((out / "source.json").read_text())
            source["opened"] = opened
            (out / "source.json").write_text(json.dumps(source, indent=2) + "\n")
        return out
