"""The Sweep action every scan-friendly panel offers: a field, its values, seeds; results drawn as they arrive.

The sweep itself is ``engines.sweeps.stream`` (a process pool or Ray; resumable; failed runs recorded), run as the
panel's ``sweep`` job, so it shows progress in the status bar, can be stopped like any job, and its table is part of
the panel's Export (``sweep/table.csv``). This dialog only turns the growing table into a plot and a table.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from engines import sweeps


def suggested_values(row: dict, current) -> list[str]:
    """A first grid for a field: its choices, both booleans, or five values around the current one within its range."""
    if row["choices"]:
        return [str(c) for c in row["choices"]]
    if row["type"] == "bool":
        return ["true", "false"]
    lo, hi = row["lo"], row["hi"]
    v = float(current)
    picks = [v * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)] if v else [0.0, 0.5, 1.0, 2.0, 4.0]
    picks = [p for p in picks if (lo is None or p >= lo) and (hi is None or p <= hi)] or [v]
    if row["type"] == "int":
        return [str(int(round(p))) for p in dict.fromkeys(int(round(p)) for p in picks)]
    return [f"{p:g}" for p in picks]


def sweep_folder(panel_id: str) -> Path:
    """Where a panel's sweeps keep their runs (a new folder per sweep; rerun one by pointing the CLI at it)."""
    root = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation) or str(Path.home() / ".cache")
    return Path(root) / "paper-workbench" / "sweeps" / panel_id / time.strftime("%Y%m%d-%H%M%S")


class SweepDialog(QDialog):
    """Choose the swept field, its values and seeds; start the panel's ``sweep`` job; draw the rows as they arrive."""

    def __init__(self, panel, fields: tuple[str, ...], parent=None):
        super().__init__(parent or panel)
        self.panel = panel
        self.setWindowTitle(f"Sweep — {panel.title}")
        rows = {r["name"]: r for r in panel.engine.Config.describe()}
        self.rows = {f: rows[f] for f in fields}
        self.result = None

        self.field_box = QComboBox()
        for f in fields:
            self.field_box.addItem(f.replace("_", " ") + (f" [{rows[f]['unit']}]" if rows[f]["unit"] else ""), f)
        self.field_box.setToolTip("The Config field to sweep; every other field keeps the panel's current setting")
        self.values = QLineEdit()
        self.values.setToolTip("Comma-separated values of the swept field (each checked by the Config before any run starts)")
        self.seeds = QSpinBox()
        self.seeds.setRange(0, 100)
        self.seeds.setToolTip("Repeat every value with this many seeds (seed, seed+1, …); 0 = the current seed only")
        self.backend = QComboBox()
        self.backend.addItems(["local", "serial", "ray"])
        self.backend.setToolTip("local: a process pool on this machine; serial: one run after another; ray: a local Ray "
                                "cluster on 127.0.0.1 (set RAY_ADDRESS to use an existing cluster)")
        self.workers = QSpinBox()
        self.workers.setRange(1, 64)
        self.workers.setValue(2)
        self.workers.setToolTip("Worker processes (local) or CPUs of the local Ray cluster")
        self.figure = QComboBox()
        self.figure.setToolTip("The summary figure plotted against the swept field (filled as runs finish)")
        self.figure.currentIndexChanged.connect(self._draw)
        self.figure.textActivated.connect(lambda text: setattr(self, "_picked", text))  # a choice the user made stays
        self._picked = ""
        self.start_button = QPushButton("Start sweep")
        self.start_button.setToolTip("Run the sweep as this panel's 'sweep' job (progress and Stop in the status bar)")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the sweep; finished runs are kept and a new sweep of the same grid skips them")
        self.stop_button.clicked.connect(self.stop)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush("#1f77b4"), pen=None, name="runs")
        self.mean = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2), symbol="s", symbolSize=7, symbolBrush="#d62728", name="mean")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.addItem(self.points)
        self.plot.addItem(self.mean)
        self.table = QTableWidget(0, 0)
        self.table.setToolTip("One row per run: the swept field, status (failed runs keep their error) and the plotted figure")

        form = QFormLayout()
        form.addRow("field", self.field_box)
        form.addRow("values", self.values)
        form.addRow("seeds", self.seeds)
        form.addRow("backend", self.backend)
        form.addRow("workers", self.workers)
        form.addRow("plot", self.figure)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.info)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.table, 1)
        self.field_box.currentIndexChanged.connect(self._suggest)
        self._suggest()
        self.resize(760, 720)

    def field(self) -> str:
        return self.field_box.currentData()

    def _suggest(self) -> None:
        f = self.field()
        current = getattr(self.panel.config_or_error() or self.panel.default_config(), f)
        self.values.setText(",".join(suggested_values(self.rows[f], current)))
        unit = self.rows[f]["unit"]
        self.plot.setLabel("bottom", f.replace("_", " ") + (f" [{unit}]" if unit else ""))

    def start(self):
        """Start the sweep of the chosen field over the typed values with the panel's current settings."""
        cfg = self.panel.config_or_error()
        if cfg is None:
            return None
        cfg = self.panel.sweep_config(cfg)
        f = self.field()
        grid = {f: [v.strip() for v in self.values.text().split(",") if v.strip()]}
        base = {k: str(v) for k, v in cfg.to_dict().items() if k != f and v is not None}
        seeds = self.seeds.value() or None
        try:  # the grid is checked here, before any run starts
            sweeps.configs_for(self.panel.engine_name, grid, seeds, base)
        except sweeps.SweepError as err:
            self.info.setText(f"<span style='color:#b00020'>{err}</span>")
            return None
        out = sweep_folder(self.panel.panel_id)
        backend, workers, name = self.backend.currentText(), self.workers.value(), self.panel.engine_name
        self.info.setText(f"sweeping {f} over {len(grid[f])} values{f' × {seeds} seeds' if seeds else ''} → {out}")
        return self.panel.start_job("sweep", lambda: sweeps.stream(name, grid, out=out, seeds=seeds, base=base, backend=backend,
                                                                    workers=workers), self.panel.sweep_snapshot)

    def stop(self) -> None:
        job = self.panel.job("sweep")
        if job is not None and job.is_running():
            job.stop()

    def show_result(self, result) -> None:
        self.result = result
        fields = {r["name"] for r in self.panel.engine.Config.describe()}
        numeric = [c for c in result.columns() if c not in result.swept and c not in ("run", "status", "error", "wall_s")
                   and any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in result.column(c))]
        numeric.sort(key=lambda c: c in fields)  # the result's figures first, the fixed Config fields after them
        numeric.append("wall_s")
        heads = [c for c in numeric if c.startswith("headline.") and c.endswith(".value")]
        chosen = self._picked if self._picked in numeric else (heads or numeric or [""])[0]
        self.figure.blockSignals(True)
        self.figure.clear()
        self.figure.addItems(numeric)
        self.figure.setCurrentText(chosen)
        self.figure.blockSignals(False)
        failed = sum(r.get("status") == "failed" for r in result.rows)
        self.info.setText(f"{len(result.rows)} of {result.total} runs ({failed} failed, {result.skipped} finished earlier) in {result.out}")
        self._draw()

    def _draw(self) -> None:
        r = self.result
        if r is None or not r.rows:
            return
        f, y_name = self.field(), self.figure.currentText()
        xs_raw = r.column(f)
        labels = list(dict.fromkeys(str(v) for v in xs_raw))
        categorical = not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs_raw)
        xs = np.array([labels.index(str(v)) if categorical else float(v) for v in xs_raw])
        ys = np.array([float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan for v in r.column(y_name)])
        ok = np.isfinite(ys)
        self.points.setData(xs[ok], ys[ok])
        ux = np.unique(xs[ok])
        self.mean.setData(ux, [float(np.mean(ys[ok][xs[ok] == u])) for u in ux])
        self.plot.getAxis("bottom").setTicks([list(enumerate(labels))] if categorical else None)
        self.plot.setLabel("left", y_name)
        cols = [f, "status", y_name, "error"]
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setRowCount(len(r.rows))
        for i, row in enumerate(r.rows):
            for j, c in enumerate(cols):
                v = row.get(c)
                self.table.setItem(i, j, QTableWidgetItem(f"{v:.6g}" if isinstance(v, float) else ("" if v is None else str(v))))
